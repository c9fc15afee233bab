-- Better-Auth's own tables, created only when absent: a standalone install gets them, a database
-- shared with the platform's Better-Auth deployment is left exactly as that deployment made it.
-- The module only reads them (the `admin token` command writes them for local use).

CREATE TABLE IF NOT EXISTS "user" (
    id text PRIMARY KEY,
    name text NOT NULL,
    email text NOT NULL UNIQUE,
    "emailVerified" boolean NOT NULL DEFAULT false,
    image text,
    "createdAt" timestamptz NOT NULL DEFAULT now(),
    "updatedAt" timestamptz NOT NULL DEFAULT now(),
    role text,
    banned boolean DEFAULT false,
    "banReason" text,
    "banExpires" timestamptz
);

CREATE TABLE IF NOT EXISTS "session" (
    id text PRIMARY KEY,
    "expiresAt" timestamptz NOT NULL,
    token text NOT NULL UNIQUE,
    "createdAt" timestamptz NOT NULL DEFAULT now(),
    "updatedAt" timestamptz NOT NULL DEFAULT now(),
    "ipAddress" text,
    "userAgent" text,
    "userId" text NOT NULL REFERENCES "user" (id) ON DELETE CASCADE,
    "impersonatedBy" text
);
