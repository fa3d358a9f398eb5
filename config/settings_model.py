"""What paysync's settings are: one frozen Settings, holding each system's own frozen config.

Each system's config is defined once, by its connector (connectors/*/config.py); config/settings_read.py
fills them from the environment and config/settings.py validates and routes them per pair.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from decimal import Decimal
from pathlib import Path
from typing import Any

from connectors.errors import SettingsError
from connectors.paytrace.config import PayTraceConfig
from connectors.sage50.config import Sage50Config
from connectors.sage_pro.config import SageProConfig
from connectors.sage_x3.config import SageX3Config
from connectors.secret import Secret

ERP_KINDS = ("sage50", "sage_x3", "sage_pro")
#: PAYSYNC_ENV: production (the default) refuses a missing address or credential; demo and test
#: fill them with the sandboxes' values, which mean nothing anywhere else.
MODES = ("production", "demo", "test")
#: The id-hash key of the demo and the tests: published here, so it protects nothing (docs: README).
DEMO_ID_HASH_KEY = "paysync-demo-id-hash-key-not-a-secret"
DEFAULT_HOME = Path(os.environ.get("PAYSYNC_HOME", "var"))
#: Each ERP's share when nothing is set [I: no public figure; docs/scaling.md]: calls at once, and calls per
#: time ("0": no rate limit, a site sets its own). A Sage 50 bridge serves one company file; X3's
#: web-service pool is sized by the site; a Sage Pro database takes its locks.
ERP_GATE_DEFAULTS = {"sage50": (4, "0"), "sage_x3": (8, "0"), "sage_pro": (8, "0")}


@dataclass(frozen=True)
class Settings:
    """Everything paysync reads from its environment, validated."""

    database_url: str
    redis_url: str | None
    erp: str
    paytrace: PayTraceConfig
    sage50: Sage50Config
    sage_x3: SageX3Config
    sage_pro: SageProConfig
    webhook_secrets: tuple[Secret, ...] = field(repr=False)
    webhook_tolerance_seconds: int
    max_body_bytes: int
    retry_max_attempts: int
    retry_backoff_base: float
    retry_backoff_max: float
    http_retries: int
    visibility_timeout: int
    task_time_limit: int
    poll_interval_seconds: float
    poll_overlap_days: int
    sweep_interval_seconds: float
    sweep_stall_seconds: int
    merchant_timezone: str
    currency: str
    home: Path
    #: Directory of mapping files (config/mappings by default); the one for PAYSYNC_ERP and this
    #: PayTrace account is the one the workers post with.
    mappings_dir: Path | None = None
    # -- nightly reconciliation (flows/settlement.py) ------------------------------------
    reconcile_hour: int = 21  # merchant-local wall clock; after PayTrace's 8 PM Pacific batch close
    reconcile_minute: int = 30
    reconcile_days_back: int = 0  # 1 for a morning run that reconciles yesterday
    reconcile_expires_seconds: int = 6 * 3600  # a beat message older than this is dropped
    reconcile_lock_ttl: int = 600  # the Redis lock expires this long after its holder stops renewing
    reconcile_time_limit: int = 4 * 3600
    reconcile_chunk_size: int = 500
    reconcile_erp_concurrency: int = 4
    reconcile_report_dir: Path | None = None  # default <PAYSYNC_HOME>/reports
    reconcile_fee_rate: Decimal = Decimal("0")  # fraction of the batch's sales amount, e.g. 0.029
    reconcile_fee_fixed: Decimal = Decimal("0")  # per settled transaction
    reconcile_fee_account: str = ""
    #: How long a refund nothing links to a sale waits for its sale to arrive before it is posted on account.
    refund_link_wait_seconds: int = 900
    #: Merchant-local hour of the daily recurring-billing run (flows/recurring.py).
    recurring_hour: int = 6
    #: How often beat runs the two-way customer sync (flows/customers.py).
    customer_sync_interval_seconds: float = 900.0
    # -- several integration pairs in one deployment (docs/pairs.md) -----------------------
    #: The pair these settings speak for; its PayTrace account, ERP and ERP settings are the ones above.
    pair: str = "default"
    #: Every pair's own part (ERP, PayTrace, ERP settings), in PAYSYNC_PAIRS order; the first is the default.
    pair_parts: tuple[tuple[str, "PairPart"], ...] = ()
    # -- trust: hostile input and careless operators (issue 11) ------------------------------
    #: production | demo | test (PAYSYNC_ENV): only demo and test get the sandboxes' defaults.
    mode: str = "production"
    #: HMAC key for ids from outside that carry a card-like number (schemas.masking.keyed_id).
    id_hash_key: Secret = field(default=Secret(""), repr=False)
    #: Seconds a client may take to send a whole request (headers and body) to the ingress.
    ingress_read_timeout: float = 10.0
    #: Seconds to wait for a database connection, a statement, and a free pooled connection.
    db_connect_timeout: int = 3
    db_statement_timeout: float = 30.0
    db_pool_timeout: float = 3.0
    #: Silent posts (unsigned hints): per-address rate, optional token and address allowlist, and
    #: how long PayTrace may take to show the transaction before the hint is dropped quietly.
    silent_post_rate_limit: str = "60/minute"
    silent_post_token: Secret = field(default=Secret(""), repr=False)
    silent_post_allow: tuple[str, ...] = ()
    silent_post_confirm_seconds: float = 120.0
    # -- scale: the gate every worker shares through Redis (workers/gate.py, docs/scaling.md) ---------
    #: Calls to the ERP at once and per time ("20/second"; "0": none), from every worker on every host.
    #: None: each ERP kind's own default (ERP_GATE_DEFAULTS), so pairs on different ERPs keep theirs.
    erp_max_concurrent: int | None = None
    erp_rate_limit: str | None = None
    paytrace_max_concurrent: int = 8
    paytrace_rate_limit: str = "0"
    #: How long a call waits for its slot before its task gives the step back and retries later.
    gate_max_wait_seconds: float = 30.0
    #: The rate's window is this much longer than it says, so calls that leave a busy worker late
    #: still arrive within the rate at the ERP (workers/gate.py).
    gate_rate_pad_seconds: float = 0.15
    # -- the poller (workers/poller.py, docs/scaling.md) -------------------------------------
    #: How often a tick also re-reads the overlap's older days (POLL_OVERLAP_DAYS); every tick reads today.
    poll_older_every_seconds: float = 600.0
    #: Export records per page: one query finds a page's known ids, one statement writes its new ones.
    poll_page_size: int = 1000

    # -- the sweeper (workers/sweeper.py, workers/live.py) --------------------------------------
    #: How long a run's live-message marker lasts unless a worker starts or sends its message again:
    #: longer than VISIBILITY_TIMEOUT (by default by SWEEP_STALL_SECONDS), so a killed worker's message counts.
    live_message_ttl_seconds: int = 4500

    @property
    def pair_names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.pair_parts) or (self.pair,)

    def for_pair(self, name: str) -> "Settings":
        """These settings as pair `name` sees them (its PayTrace account, ERP and ERP settings)."""
        if not self.pair_parts and name == self.pair:
            return self
        for pair, part in self.pair_parts:
            if pair == name:
                return replace(self, pair=pair, erp=part.erp, paytrace=part.paytrace, sage50=part.sage50,
                               sage_x3=part.sage_x3, sage_pro=part.sage_pro)
        raise KeyError(f"no integration pair {name!r} (pairs: {', '.join(self.pair_names)})")

    def erp_limit(self, kind: str) -> tuple[int, str]:
        """(calls at once, rate) for every ERP of `kind`: the setting where it is set, else the kind's default."""
        concurrent, rate = ERP_GATE_DEFAULTS.get(kind, (4, "0"))
        return (concurrent if self.erp_max_concurrent is None else self.erp_max_concurrent,
                rate if self.erp_rate_limit is None else self.erp_rate_limit)

    def pairs(self) -> list["Settings"]:
        """One Settings per integration pair, the default first."""
        return [self.for_pair(name) for name in self.pair_names]

    @property
    def erp_config(self) -> Any:
        """The frozen config of this pair's ERP (Sage50Config, SageX3Config or SageProConfig)."""
        return getattr(self, self.erp)

    @property
    def reports_dir(self) -> Path:
        return self.reconcile_report_dir or self.home / "reports"

    @property
    def broker_url(self) -> str:
        if not self.redis_url:
            raise SettingsError({"REDIS_URL": ["not set, and this sends work to the workers: set REDIS_URL to "
                                               "their broker (redis://host:6379/0)"]})
        return self.redis_url

    @property
    def money_quantum(self) -> Decimal:
        return Decimal("0.01")


@dataclass(frozen=True)
class PairPart:
    """What an integration pair has of its own: its PayTrace account, its ERP and how to reach it."""

    erp: str
    paytrace: PayTraceConfig
    sage50: Sage50Config
    sage_x3: SageX3Config
    sage_pro: SageProConfig
