"""How to reach one PayTrace account: the one frozen config of PayTrace (config/settings_read.py fills it)."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from connectors.errors import ConfigurationError
from connectors.secret import Secret

# Renew this long before PayTrace's 7200 s token runs out (paytrace.md §1 [C]), so a call never
# leaves with a token that dies in flight.
TOKEN_RENEW_MARGIN_SECONDS = 300


@dataclass(frozen=True)
class PayTraceLayout:
    """The PayTrace names no public source confirms [I] (docs/fidelity.md): each can be set per site with
    PAYTRACE_LAYOUT='{"name": value, ...}' (per pair: PAYSYNC_PAIR_<NAME>_PAYTRACE_LAYOUT)."""

    # No v1 check export is public: the legacy API's ExportCheck and v3's GET /v3/checks/transactions
    # suggest one; these paths and the record's array and id names are the sandbox's model.
    check_export_by_id: str = "checks/export/by_id"
    check_export_by_date_range: str = "checks/export/by_date_range"
    checks_array: str = "checks"
    check_id_field: str = "check_transaction_id"
    # The export filter narrowing a lookup by invoice id (a name PIPE uses [C]; what it searches [I]).
    # Blank: every lookup reads the customer's whole range.
    including_text: str = "including_text"

    @classmethod
    def from_overrides(cls, overrides: dict[str, Any] | None) -> "PayTraceLayout":
        """The defaults with a site's overrides; an unknown key or a non-text value is a ConfigurationError."""
        overrides = dict(overrides or {})
        known = {f.name for f in dataclasses.fields(cls)}
        bad = sorted(k for k, v in overrides.items() if k not in known or not isinstance(v, str)
                     or (not v.strip() and k != "including_text"))
        if bad:
            raise ConfigurationError(f"PAYTRACE_LAYOUT: unknown or mistyped key(s) {', '.join(bad)}",
                                     system="paytrace", operation="config")
        return cls(**{k: v.strip().strip("/") for k, v in overrides.items()})


@dataclass(frozen=True)
class PayTraceConfig:
    """How to reach one PayTrace account."""

    base_url: str
    username: str
    password: Secret = field(repr=False)
    integrator_id: str
    timeout: float = 10.0
    retries: int = 2
    layout: PayTraceLayout = field(default_factory=PayTraceLayout)
    #: Also read the account's checks (ACH) [I: the v1 check export endpoints are inferred, docs/paytrace.md].
    ach: bool = True
    #: The export field naming a refund's sale, if the account's records carry one [I: no public source
    #: shows one]; "" links refunds by invoice id, customer and card only (flows/refund_links.py).
    refund_link_field: str = "original_transaction_id"
