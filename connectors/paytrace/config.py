"""PayTrace connection settings, taken from the one validated Settings."""
from __future__ import annotations

from dataclasses import dataclass, field

from config.settings import Secret, Settings

# Renew this long before PayTrace's 7200 s token runs out (paytrace.md §1 [C]), so a call never
# leaves with a token that dies in flight.
TOKEN_RENEW_MARGIN_SECONDS = 300


@dataclass(frozen=True)
class PayTraceConfig:
    """How to reach one PayTrace account."""

    base_url: str
    username: str
    password: Secret = field(repr=False)
    integrator_id: str
    timeout: float = 10.0
    retries: int = 2

    @classmethod
    def from_settings(cls, settings: Settings) -> "PayTraceConfig":
        p = settings.paytrace
        return cls(p.base_url, p.username, p.password, p.integrator_id, p.timeout, settings.http_retries)
