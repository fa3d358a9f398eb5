"""Run the PayTrace simulator in the foreground: `python -m sandbox.paytrace --port 8701`."""
from __future__ import annotations

import argparse
import json
import logging

from ..server import SandboxServer
from .app import create_app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m sandbox.paytrace",
                                     description="PayTrace v1 JSON API simulator")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8701)
    parser.add_argument("--username", default="demo")
    parser.add_argument("--password", default="demo")
    parser.add_argument("--integrator-id", default="PAYSYNC1")
    parser.add_argument("--token-ttl", type=int, default=7200, help="token lifetime, seconds")
    parser.add_argument("--first-transaction-id", type=int, default=100000000)
    parser.add_argument("--first-batch-number", type=int, default=1)
    parser.add_argument("--first-check-id", type=int, default=None,
                        help="first check (ACH) id; by default the first transaction id, on purpose")
    parser.add_argument("--seed", type=int, default=None, help="seed for fault injection")
    parser.add_argument("--answers", type=json.loads, default=None,
                        help='how the account answers, as JSON, e.g. \'{"batch_totals": true}\' (answers.py)')
    parser.add_argument("--quiet", action="store_true",
                        help="no per-request log lines (they cost throughput under load)")
    args = parser.parse_args(argv)
    if args.quiet:
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
    app = create_app(username=args.username, password=args.password,
                     integrator_id=args.integrator_id, token_ttl=args.token_ttl,
                     first_transaction_id=args.first_transaction_id,
                     first_batch_number=args.first_batch_number, seed=args.seed,
                     first_check_id=args.first_check_id, answers=args.answers)
    server = SandboxServer(app, args.host, args.port)
    print(f"PayTrace sandbox listening on {server.url}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass  # Ctrl-C is the normal way to stop a foreground sandbox


if __name__ == "__main__":
    main()
