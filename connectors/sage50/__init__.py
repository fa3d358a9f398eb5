"""Sage 50 (US) through its bridge agent's REST API (docs/sage50-bridge-api.md)."""
from connectors.sage50.config import Sage50Config
from connectors.sage50.connector import Sage50Connector

__all__ = ["Sage50Config", "Sage50Connector"]
