"""Sage Pro ERP simulator: the company's tables on any SQLAlchemy URL, as a SQL Server edition would hold them.

Nothing here imports paysync code: the schema is written from ../shared/reference/sage.md §3.
"""
from .schema import EMPTY_DATE, FIELDS, KEYS, blank_row, metadata_for, table_name
from .tables import ExclusiveUse, add_item, exclusive_use, install, key_value, lock, state, unlock

__all__ = ["EMPTY_DATE", "FIELDS", "KEYS", "ExclusiveUse", "add_item", "blank_row", "exclusive_use", "install",
           "key_value", "lock", "metadata_for", "state", "table_name", "unlock"]
