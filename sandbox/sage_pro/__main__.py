"""Install a Sage Pro company and print its tables: python -m sandbox.sage_pro --url sqlite:///var/sagepro.sqlite3."""
from __future__ import annotations

import argparse
from pathlib import Path

from sqlalchemy.engine import make_url

from .tables import install, state


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m sandbox.sage_pro", description=__doc__)
    parser.add_argument("--url", default="sqlite:///var/sagepro.sqlite3", help="any SQLAlchemy URL")
    parser.add_argument("--company", default="01", help="the two-digit table suffix")
    parser.add_argument("--no-seed", action="store_true", help="create the tables only")
    args = parser.parse_args(argv)
    url = make_url(args.url)
    if url.get_backend_name() == "sqlite" and url.database:
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    install(args.url, args.company, seed=not args.no_seed)
    for base, rows in state(args.url, args.company).items():
        print(f"{base}{args.company}: {len(rows)} rows")


if __name__ == "__main__":
    main()
