"""Sage Pro, read-only: every table and column paysync uses is there, of the type paysync writes."""
from __future__ import annotations

from sqlalchemy import create_engine, inspect
from sqlalchemy.exc import SQLAlchemyError

from cli.preflight.checks import FAILS, Check, Checks
from config.settings import Settings
from connectors.sage_pro.client import build_tables
from db.session import normalize_url

TABLE_SETTINGS = {"arcash": "SAGEPRO_CASH_TABLE", "gltran": "SAGEPRO_GL_TABLE"}


def run(settings: Settings) -> list[Check]:
    c = Checks("Sage Pro")
    cfg = settings.sage_pro
    # A plain engine of its own: the connector's SQLite engine begins every transaction IMMEDIATE (a write lock).
    engine = create_engine(normalize_url(cfg.database_url))
    try:
        try:
            inspector = inspect(engine)
            present = {name.lower() for name in inspector.get_table_names()}
        except SQLAlchemyError as exc:
            c.add("the Sage Pro database answers", FAILS, str(exc).splitlines()[0][:200], "SAGEPRO_DATABASE_URL")
            return c.found
        for base, table in build_tables(cfg).items():
            if table.name.lower() not in present:
                c.add(f"table {table.name} exists", FAILS, f"no {table.name} in the database",
                      TABLE_SETTINGS.get(base, "SAGEPRO_COMPANY"))
                continue
            columns = {col["name"].upper(): col["type"] for col in inspector.get_columns(table.name)}
            lacking, wrong = [], []
            for column in table.c:
                found = columns.get(column.name.upper())
                if found is None:
                    lacking.append(column.key if column.key == column.name else f"{column.key} ({column.name})")
                    continue
                problem = _type_problem(column, found)
                if problem:
                    wrong.append(f"{column.key}: {problem}")
            what = f"table {table.name} has the {len(table.c)} columns paysync uses, of its types"
            detail = "; ".join(filter(None, [f"missing {', '.join(lacking)}" if lacking else "",
                                             "; ".join(wrong)]))
            c.verdict(what, not lacking and not wrong, detail,
                      f"SAGEPRO_COLUMNS {base}.<COLUMN>=<site name>[ D|C(n)]")
    finally:
        engine.dispose()
    return c.found


def _type_problem(column, found) -> str:
    """Why the site's column cannot take what paysync writes ("" when it can)."""
    kind = column.info["kind"]
    try:
        python_type = found.python_type
    except NotImplementedError:
        return ""
    if kind == "D" and python_type is str:
        return f"character on this install, a date to paysync: add {column.key} C({getattr(found, 'length', 10) or 10})"
    if kind == "C" and python_type is not str:
        return f"{python_type.__name__} on this install, character to paysync"
    length = getattr(found, "length", None)
    if kind == "C" and length and length < column.info["width"]:
        return f"C({length}) on this install, C({column.info['width']}) to paysync"
    return ""
