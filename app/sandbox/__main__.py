"""`python -m app.sandbox --port N`: run the Klaviyo sandbox on its own."""

from __future__ import annotations

import argparse
import os

from app.sandbox.config import SandboxConfig
from app.sandbox.server import serve


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m app.sandbox", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8100)
    args = parser.parse_args()
    serve(args.host, args.port, SandboxConfig.from_environ(os.environ))


if __name__ == "__main__":
    main()
