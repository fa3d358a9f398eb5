"""Shopify store simulator: orders out as signed webhooks, the GraphQL Admin API in (docs/store.md)."""
from .app import create_app
from .webhooks import sign

__all__ = ["create_app", "sign"]
