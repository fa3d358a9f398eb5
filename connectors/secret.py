"""A secret value (password, API key) that stays out of repr() and str() in logs and tracebacks."""
from __future__ import annotations


class Secret(str):
    """A string that keeps its value out of repr() and str() in logs."""

    def __repr__(self) -> str:
        return "Secret('***')" if self else "Secret('')"

    def reveal(self) -> str:
        return str.__str__(self)
