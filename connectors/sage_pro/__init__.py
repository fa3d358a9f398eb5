"""Sage Pro ERP through its tables over SQL with SQLAlchemy Core (docs/sage-pro.md)."""
from connectors.sage_pro.config import SageProConfig
from connectors.sage_pro.connector import SageProConnector

__all__ = ["SageProConfig", "SageProConnector"]
