"""Run the Sage 50 bridge simulator in the foreground: python -m sandbox.sage50 --port 8702."""
from __future__ import annotations

import argparse

from ..server import SandboxServer
from .app import create_app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m sandbox.sage50", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8702)
    parser.add_argument("--api-key", default="demo-key", help="the Bearer key clients must send")
    parser.add_argument("--no-seed", action="store_true", help="start without accounts/products")
    parser.add_argument("--seed", type=int, default=None, help="seed Keys and fault draws")
    args = parser.parse_args(argv)
    app = create_app(api_key=args.api_key, seed=not args.no_seed, seed_rng=args.seed)
    server = SandboxServer(app, host=args.host, port=args.port)
    print(f"Sage 50 bridge simulator on {server.url} (api key {args.api_key!r})", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
