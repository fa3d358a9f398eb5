"""Sage 50 (US) bridge-agent simulator: the REST contract of docs/sage50-bridge-api.md with Sage 50's rules."""
from .app import create_app

__all__ = ["create_app"]
