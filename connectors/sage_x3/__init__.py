"""Sage X3 through its SOAP classic web services (writes) and REST api1 (reads): docs/sage-x3.md."""
from connectors.sage_x3.config import SageX3Config, SageX3Layout
from connectors.sage_x3.connector import SageX3Connector

__all__ = ["SageX3Config", "SageX3Connector", "SageX3Layout"]
