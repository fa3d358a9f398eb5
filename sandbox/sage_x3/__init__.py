"""Sage X3 simulator: the CAdxWebServiceXmlCC SOAP service to write, REST api1 to read, X3's rules."""
from .app import create_app

__all__ = ["create_app"]
