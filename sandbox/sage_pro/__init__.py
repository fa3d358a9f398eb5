"""Sage Pro ERP simulator: the company's tables on any SQLAlchemy URL, as a SQL Server edition would hold them.

Nothing here imports paysync code: the schema is written from ../shared/reference/sage.md §3.
"""
from .rules import violations
from .schema import CREDIT_MEMO, EMPTY_DATE, FIELDS, KEYS, REFUND, REVERSAL, blank_row, metadata_for, table_name
from .tables import (ExclusiveUse, add_item, check, edit_customer, exclusive_use, install, key_value, lock, state,
                     unlock)

__all__ = ["CREDIT_MEMO", "EMPTY_DATE", "FIELDS", "KEYS", "REFUND", "REVERSAL", "ExclusiveUse", "add_item",
           "blank_row", "check", "edit_customer", "exclusive_use", "install", "key_value", "lock", "metadata_for",
           "state", "table_name", "unlock", "violations"]
