"""`sandbox`: the local Klaviyo emulator, for development, demos, tests and benchmarks."""

from __future__ import annotations

import argparse
import os

from app.config import Config


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "sandbox",
        help="run the local Klaviyo emulator (nothing leaves this machine)",
        description="Serve the Klaviyo sandbox. Keys: SANDBOX_API_KEYS (comma-separated); "
        "limits: SANDBOX_RATE_LIMITS=off|klaviyo.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=None, help="default: SANDBOX_PORT, or 8100")
    parser.set_defaults(func=run_sandbox)


def run_sandbox(config: Config, args: argparse.Namespace) -> int:
    from app.sandbox.config import SandboxConfig
    from app.sandbox.server import serve

    port = config.sandbox_port if args.port is None else args.port
    serve(args.host, port, SandboxConfig.from_environ(os.environ))
    return 0
