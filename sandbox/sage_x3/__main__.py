"""Run the Sage X3 simulator in the foreground: python -m sandbox.sage_x3 --port 8703."""
from __future__ import annotations

import argparse

from ..server import SandboxServer
from .app import create_app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m sandbox.sage_x3", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8703)
    parser.add_argument("--username", default="admin", help="the Basic auth user clients must send")
    parser.add_argument("--password", default="admin")
    parser.add_argument("--pool-alias", default="SEED", help="the SOAP pool alias (callContext.poolAlias)")
    parser.add_argument("--endpoint", default="SEED", help="the api1 endpoint (folder)")
    parser.add_argument("--no-seed", action="store_true", help="start without customers/items/stock")
    parser.add_argument("--seed", type=int, default=None, help="seed the fault draws")
    args = parser.parse_args(argv)
    app = create_app(username=args.username, password=args.password, pool_alias=args.pool_alias,
                     endpoint=args.endpoint, seed=not args.no_seed, seed_rng=args.seed)
    server = SandboxServer(app, host=args.host, port=args.port)
    print(f"Sage X3 simulator on {server.url} (user {args.username!r}, pool {args.pool_alias!r}, "
          f"endpoint {args.endpoint!r})", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
