"""Run the store simulator in the foreground: python -m sandbox.shop --port 8705."""
from __future__ import annotations

import argparse

from ..server import SandboxServer
from .app import create_app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m sandbox.shop", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8705)
    parser.add_argument("--token", default="shpat_sandbox_token", help="the Admin API access token")
    args = parser.parse_args(argv)
    server = SandboxServer(create_app(access_token=args.token), host=args.host, port=args.port)
    print(f"Shopify store simulator on {server.url}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
