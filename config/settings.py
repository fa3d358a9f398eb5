"""The environment, read once into one frozen, validated Settings.

Every key is read before any is judged, so a bad deployment hears about all of its mistakes in
one error instead of one per restart. Secrets are wrapped so they never show in a repr or a log.
"""
from __future__ import annotations

import base64
import binascii
import ipaddress
import os
import re
import zoneinfo
from dataclasses import dataclass, field, replace
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Mapping

from environs import Env, EnvValidationError
from marshmallow.validate import OneOf, Range

from connectors.errors import SettingsError

ERP_KINDS = ("sage50", "sage_x3", "sage_pro")
#: PAYSYNC_ENV: production (the default) refuses a missing address or credential; demo and test
#: fill them with the sandboxes' values, which mean nothing anywhere else.
MODES = ("production", "demo", "test")
#: The id-hash key of the demo and the tests: published here, so it protects nothing (docs: README).
DEMO_ID_HASH_KEY = "paysync-demo-id-hash-key-not-a-secret"
DEFAULT_HOME = Path(os.environ.get("PAYSYNC_HOME", "var"))


class Secret(str):
    """A string that keeps its value out of repr() and str() in logs."""

    def __repr__(self) -> str:
        return "Secret('***')" if self else "Secret('')"

    def reveal(self) -> str:
        return str.__str__(self)


@dataclass(frozen=True)
class PayTraceSettings:
    """How to reach the PayTrace v1 API."""

    base_url: str
    username: str
    password: Secret = field(repr=False)
    integrator_id: str
    timeout: float
    #: Also read the account's checks (ACH) [I: the v1 check export endpoints are inferred, docs/paytrace.md].
    ach: bool = True
    #: The export field naming a refund's sale, if the account's records carry one [I: no public source
    #: shows one]; "" links refunds by invoice id, customer and card only (flows/refund_links.py).
    refund_link_field: str = "original_transaction_id"
    # JSON overrides of the PayTrace names no public source confirms (connectors/paytrace/config.py PayTraceLayout).
    layout: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Sage50Settings:
    """How to reach the Sage 50 bridge agent, and the accounts and item it posts to."""

    base_url: str
    api_key: Secret = field(repr=False)
    cash_account: str
    clearing_account: str
    default_item: str
    payment_method: str
    timeout: float
    bank_account: str = "1020"  # where a settled batch is deposited (the settlement journal's debit)


@dataclass(frozen=True)
class SageX3Settings:
    """How to reach Sage X3 (SOAP classic web services to write, REST api1 to read) and its codes.

    Field names marked [I] in ../shared/reference/sage.md are configurable here so a site can
    correct them without a code change.
    """

    base_url: str  # the Syracuse server, e.g. http://x3:8124
    username: str
    password: Secret = field(repr=False)
    pool_alias: str
    code_lang: str
    endpoint: str  # the api1 endpoint (folder), e.g. SEED
    pub_customer: str
    pub_sales_order: str
    pub_invoice: str
    pub_payment: str
    pub_journal: str
    sales_site: str
    order_type: str
    invoice_type: str
    payment_type: str
    bank: str
    currency: str
    journal_code: str
    cash_account: str
    clearing_account: str
    default_item: str
    payment_method: str
    timeout: float
    # JSON overrides of the names sage.md marks [I] (connectors/sage_x3/config.py SageX3Layout).
    layout: dict = field(default_factory=dict)


@dataclass(frozen=True)
class SageProSettings:
    """How to reach the Sage Pro tables over SQL, and the codes paysync posts with."""

    database_url: str = field(repr=False)
    company: str  # the two-digit table suffix: arcust01, somast01, ...
    cash_table: str  # [I] not publicly documented; modelled, configurable
    gl_table: str  # [I] likewise
    cash_account: str
    clearing_account: str
    default_item: str
    payment_method: str
    lock_timeout_seconds: float
    # [I] column renames for a site whose tables differ from the modelled ones: "arcash.REFNO" -> "CHKNO"
    columns: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Settings:
    """Everything paysync reads from its environment, validated."""

    database_url: str
    redis_url: str | None
    erp: str
    paytrace: PayTraceSettings
    sage50: Sage50Settings
    sage_x3: SageX3Settings
    sage_pro: SageProSettings
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

    def pairs(self) -> list["Settings"]:
        """One Settings per integration pair, the default first."""
        return [self.for_pair(name) for name in self.pair_names]

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
    paytrace: PayTraceSettings
    sage50: Sage50Settings
    sage_x3: SageX3Settings
    sage_pro: SageProSettings


#: Keys a pair may set for itself, as PAYSYNC_PAIR_<NAME>_<KEY>; everything else is shared.
PAIR_KEYS = ("PAYSYNC_ERP", "PAYTRACE_", "SAGE50_", "SAGEX3_", "SAGEPRO_", "ALERT_", "SHOPIFY_")
_PAIR_NAME = re.compile(r"^[a-z][a-z0-9_]{0,30}$")


def _positive(value: float) -> bool:
    return value > 0


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Read and validate the environment; raise SettingsError listing every bad key."""
    source = dict(os.environ if environ is None else environ)
    names = [n.strip() for n in source.get("PAYSYNC_PAIRS", "").split(",") if n.strip()]
    if not names:
        return _read_env(source)
    errors: dict[str, list[str]] = {}
    bad = [n for n in names if not _PAIR_NAME.match(n)]
    if bad or len(set(names)) != len(names):
        errors["PAYSYNC_PAIRS"] = [f"pair names are lower-case letters, digits and _ (at most 31), each once; "
                                   f"got {', '.join(names)}"]
    prefixes = {n: f"PAYSYNC_PAIR_{n.upper()}_" for n in names}
    stray = sorted(k for k in source if k.startswith("PAYSYNC_PAIR_")
                   and not any(k.startswith(p) for p in prefixes.values()))
    for key in stray:
        errors[key] = [f"names no pair in PAYSYNC_PAIRS ({', '.join(names)})"]
    parts: list[tuple[str, PairPart]] = []
    base: Settings | None = None
    for name, prefix in prefixes.items():
        own = {k[len(prefix):]: v for k, v in source.items() if k.startswith(prefix)}
        for key in own:
            if not key.startswith(PAIR_KEYS):
                errors[prefix + key] = [f"a pair sets only its own {', '.join(k.rstrip('_') + '*' for k in PAIR_KEYS)}"]
        merged = {k: v for k, v in source.items() if not k.startswith("PAYSYNC_PAIR_")}
        merged.update({k: v for k, v in own.items() if k.startswith(PAIR_KEYS)})
        try:
            settings = _read_env(merged)
        except SettingsError as exc:
            for key, messages in exc.errors.items():
                errors[(prefix + key) if key.startswith(PAIR_KEYS) and key in own else key] = messages
            continue
        base = base or settings
        parts.append((name, PairPart(settings.erp, settings.paytrace, settings.sage50, settings.sage_x3,
                                     settings.sage_pro)))
    books: dict[tuple[str, ...], str] = {}
    for name, part in parts:
        # References (PT<id>-...) are unique per PayTrace account, not across accounts: two pairs
        # writing into one ERP company could take each other's documents for their own.
        book = _erp_company(part)
        if book in books:
            errors[prefixes[name] + "PAYSYNC_ERP"] = [
                f"pair {name!r} writes to the same {part.erp} company as pair {books[book]!r}; give each its own"]
        books.setdefault(book, name)
    accounts: dict[str, str] = {}
    for name, part in parts:
        account = part.paytrace.username.casefold()
        if account in accounts:
            errors[prefixes[name] + "PAYTRACE_USERNAME"] = [
                f"PayTrace account {part.paytrace.username!r} is already pair {accounts[account]!r}'s"]
        accounts.setdefault(account, name)
    if errors or base is None:
        raise SettingsError(errors or {"PAYSYNC_PAIRS": ["no pair could be read"]})
    return replace(base, pair_parts=tuple(parts)).for_pair(names[0])


def _erp_company(part: PairPart) -> tuple[str, ...]:
    """Where a pair's documents land: its ERP kind and the company (address, folder, tables) it writes."""
    if part.erp == "sage50":
        return (part.erp, part.sage50.base_url.rstrip("/").lower())
    if part.erp == "sage_x3":
        return (part.erp, part.sage_x3.base_url.rstrip("/").lower(), part.sage_x3.endpoint.upper())
    return (part.erp, part.sage_pro.database_url, part.sage_pro.company)


def _read_env(source: dict[str, str]) -> Settings:
    saved = os.environ.copy()
    # environs reads os.environ; swap it in for the duration so callers can pass a mapping.
    os.environ.clear()
    os.environ.update(source)
    try:
        return _read(Env(eager=False))
    finally:
        os.environ.clear()
        os.environ.update(saved)


def _read(env: Env) -> Settings:
    mode = env.str("PAYSYNC_ENV", "production", validate=OneOf(MODES))
    missing: list[str] = []

    def sandbox(key: str, demo_value: str, production_value: str | None = None) -> str:
        """The demo's value in demo and test; in production a real default or a missing key."""
        if mode in ("demo", "test") or production_value is not None:
            return demo_value if mode in ("demo", "test") else production_value
        if not os.environ.get(key):
            missing.append(key)
        return ""

    home = Path(env.str("PAYSYNC_HOME", str(DEFAULT_HOME)))
    database_url = env.str("DATABASE_URL", sandbox("DATABASE_URL", f"sqlite:///{home / 'paysync.sqlite3'}"))
    redis_url = env.str("REDIS_URL", "") or None
    if mode == "production" and not redis_url:
        missing.append("REDIS_URL")
    erp = env.str("PAYSYNC_ERP", "sage50", validate=OneOf(ERP_KINDS))
    paytrace = PayTraceSettings(
        base_url=env.str("PAYTRACE_BASE_URL", sandbox("PAYTRACE_BASE_URL", "http://127.0.0.1:8701",
                                                      "https://api.paytrace.com")).rstrip("/"),
        username=env.str("PAYTRACE_USERNAME", sandbox("PAYTRACE_USERNAME", "demo")),
        password=Secret(env.str("PAYTRACE_PASSWORD", sandbox("PAYTRACE_PASSWORD", "demo"))),
        integrator_id=env.str("PAYTRACE_INTEGRATOR_ID", sandbox("PAYTRACE_INTEGRATOR_ID", "PAYSYNC1")),
        timeout=env.float("PAYTRACE_TIMEOUT", 10.0, validate=Range(min=0.1, max=120)),
        ach=env.bool("PAYTRACE_ACH", True),
        refund_link_field=env.str("PAYTRACE_REFUND_LINK_FIELD", "original_transaction_id").strip(),
        layout=env.json("PAYTRACE_LAYOUT", {}) or {},
    )

    def erp_default(kind: str, key: str, demo_value: str) -> str:
        """Only the chosen ERP's address and credentials are required; the others keep the demo's."""
        return sandbox(key, demo_value) if erp == kind else demo_value

    sage50 = Sage50Settings(
        base_url=env.str("SAGE50_BASE_URL", erp_default("sage50", "SAGE50_BASE_URL", "http://127.0.0.1:8702")
                         ).rstrip("/"),
        api_key=Secret(env.str("SAGE50_API_KEY", erp_default("sage50", "SAGE50_API_KEY", "demo-key"))),
        cash_account=env.str("SAGE50_CASH_ACCOUNT", "1200"),
        clearing_account=env.str("SAGE50_CLEARING_ACCOUNT", "1205"),
        default_item=env.str("SAGE50_DEFAULT_ITEM", "PAYMENT"),
        payment_method=env.str("SAGE50_PAYMENT_METHOD", "Credit Card"),
        timeout=env.float("SAGE50_TIMEOUT", 10.0, validate=Range(min=0.1, max=120)),
        bank_account=env.str("SAGE50_BANK_ACCOUNT", "1020"),
    )
    sage_x3 = SageX3Settings(
        base_url=env.str("SAGEX3_BASE_URL", erp_default("sage_x3", "SAGEX3_BASE_URL", "http://127.0.0.1:8124")
                         ).rstrip("/"),
        username=env.str("SAGEX3_USERNAME", erp_default("sage_x3", "SAGEX3_USERNAME", "admin")),
        password=Secret(env.str("SAGEX3_PASSWORD", erp_default("sage_x3", "SAGEX3_PASSWORD", "admin"))),
        pool_alias=env.str("SAGEX3_POOL_ALIAS", "SEED"),
        code_lang=env.str("SAGEX3_CODE_LANG", "ENG"),
        endpoint=env.str("SAGEX3_ENDPOINT", "SEED"),
        pub_customer=env.str("SAGEX3_PUB_CUSTOMER", "WSBPC"),
        pub_sales_order=env.str("SAGEX3_PUB_SALES_ORDER", "WSSOH"),
        pub_invoice=env.str("SAGEX3_PUB_INVOICE", "WSSIH"),
        pub_payment=env.str("SAGEX3_PUB_PAYMENT", "WSPAY"),
        pub_journal=env.str("SAGEX3_PUB_JOURNAL", "WSGAS"),
        sales_site=env.str("SAGEX3_SALES_SITE", "NA011"),
        order_type=env.str("SAGEX3_ORDER_TYPE", "SON"),
        invoice_type=env.str("SAGEX3_INVOICE_TYPE", "INV"),
        payment_type=env.str("SAGEX3_PAYMENT_TYPE", "RCPCB"),
        bank=env.str("SAGEX3_BANK", "BOA"),
        currency=env.str("SAGEX3_CURRENCY", "USD"),
        journal_code=env.str("SAGEX3_JOURNAL", "MISC"),
        cash_account=env.str("SAGEX3_CASH_ACCOUNT", "10500"),
        clearing_account=env.str("SAGEX3_CLEARING_ACCOUNT", "10510"),
        default_item=env.str("SAGEX3_DEFAULT_ITEM", "PAYMENT"),
        payment_method=env.str("SAGEX3_PAYMENT_METHOD", "CB"),
        timeout=env.float("SAGEX3_TIMEOUT", 15.0, validate=Range(min=0.1, max=120)),
        layout=env.json("SAGEX3_LAYOUT", {}) or {},
    )
    sage_pro = SageProSettings(
        database_url=env.str("SAGEPRO_DATABASE_URL",
                             erp_default("sage_pro", "SAGEPRO_DATABASE_URL", f"sqlite:///{home / 'sagepro.sqlite3'}")),
        company=env.str("SAGEPRO_COMPANY", "01"),
        cash_table=env.str("SAGEPRO_CASH_TABLE", "arcash"),
        gl_table=env.str("SAGEPRO_GL_TABLE", "gltran"),
        cash_account=env.str("SAGEPRO_CASH_ACCOUNT", "1200-00"),
        clearing_account=env.str("SAGEPRO_CLEARING_ACCOUNT", "1205-00"),
        default_item=env.str("SAGEPRO_DEFAULT_ITEM", "PAYMENT"),
        payment_method=env.str("SAGEPRO_PAYMENT_METHOD", "CC"),
        lock_timeout_seconds=env.float("SAGEPRO_LOCK_TIMEOUT", 5.0, validate=Range(min=0.1, max=120)),
        columns=tuple(sorted(env.dict("SAGEPRO_COLUMNS", {}).items())),
    )
    secrets = tuple(Secret(s.strip()) for s in env.list("WEBHOOK_SECRETS", []) if s.strip())
    report_dir = env.str("RECONCILE_REPORT_DIR", "")
    settings = Settings(
        database_url=database_url,
        redis_url=redis_url,
        erp=erp,
        paytrace=paytrace,
        sage50=sage50,
        sage_x3=sage_x3,
        sage_pro=sage_pro,
        webhook_secrets=secrets,
        webhook_tolerance_seconds=env.int("WEBHOOK_TOLERANCE_SECONDS", 300, validate=Range(min=1, max=3600)),
        max_body_bytes=env.int("MAX_BODY_BYTES", 64 * 1024, validate=Range(min=1024, max=10 * 1024 * 1024)),
        retry_max_attempts=env.int("RETRY_MAX_ATTEMPTS", 8, validate=Range(min=1, max=50)),
        retry_backoff_base=env.float("RETRY_BACKOFF_BASE", 2.0, validate=Range(min=0.01, max=600)),
        retry_backoff_max=env.float("RETRY_BACKOFF_MAX", 300.0, validate=Range(min=0.01, max=3600)),
        http_retries=env.int("HTTP_RETRIES", 2, validate=Range(min=0, max=10)),
        visibility_timeout=env.int("VISIBILITY_TIMEOUT", 3600, validate=Range(min=5)),
        task_time_limit=env.int("TASK_TIME_LIMIT", 300, validate=Range(min=1)),
        poll_interval_seconds=env.float("POLL_INTERVAL_SECONDS", 60.0, validate=Range(min=0.5)),
        poll_overlap_days=env.int("POLL_OVERLAP_DAYS", 1, validate=Range(min=0, max=31)),
        sweep_interval_seconds=env.float("SWEEP_INTERVAL_SECONDS", 60.0, validate=Range(min=0.5)),
        sweep_stall_seconds=env.int("SWEEP_STALL_SECONDS", 900, validate=Range(min=1)),
        merchant_timezone=env.str("MERCHANT_TIMEZONE", "America/Los_Angeles"),
        currency=env.str("PAYSYNC_CURRENCY", "USD", validate=OneOf(("USD", "CAD"))),
        home=home,
        reconcile_hour=env.int("RECONCILE_HOUR", 21, validate=Range(min=0, max=23)),
        reconcile_minute=env.int("RECONCILE_MINUTE", 30, validate=Range(min=0, max=59)),
        reconcile_days_back=env.int("RECONCILE_DAYS_BACK", 0, validate=Range(min=0, max=7)),
        reconcile_expires_seconds=env.int("RECONCILE_EXPIRES_SECONDS", 6 * 3600, validate=Range(min=60, max=86000)),
        reconcile_lock_ttl=env.int("RECONCILE_LOCK_TTL", 600, validate=Range(min=5, max=86400)),
        reconcile_time_limit=env.int("RECONCILE_TIME_LIMIT", 4 * 3600, validate=Range(min=10)),
        reconcile_chunk_size=env.int("RECONCILE_CHUNK_SIZE", 500, validate=Range(min=1, max=10000)),
        reconcile_erp_concurrency=env.int("RECONCILE_ERP_CONCURRENCY", 4, validate=Range(min=1, max=64)),
        reconcile_report_dir=Path(report_dir) if report_dir else None,
        reconcile_fee_rate=env.decimal("RECONCILE_FEE_RATE", Decimal("0"), validate=Range(min=0, max=1)),
        reconcile_fee_fixed=env.decimal("RECONCILE_FEE_FIXED", Decimal("0"), validate=Range(min=0)),
        reconcile_fee_account=env.str("RECONCILE_FEE_ACCOUNT", ""),
        refund_link_wait_seconds=env.int("REFUND_LINK_WAIT_SECONDS", 900, validate=Range(min=0, max=7 * 86400)),
        recurring_hour=env.int("RECURRING_HOUR", 6, validate=Range(min=0, max=23)),
        customer_sync_interval_seconds=env.float("CUSTOMER_SYNC_INTERVAL_SECONDS", 900.0,
                                                 validate=Range(min=10, max=86400)),
        mappings_dir=Path(mappings) if (mappings := env.str("PAYSYNC_MAPPINGS", "")) else None,
        mode=mode,
        id_hash_key=Secret(env.str("PAYSYNC_ID_HASH_KEY", DEMO_ID_HASH_KEY if mode != "production" else "")),
        ingress_read_timeout=env.float("INGRESS_READ_TIMEOUT", 10.0, validate=Range(min=0.5, max=300)),
        db_connect_timeout=env.int("DATABASE_CONNECT_TIMEOUT", 3, validate=Range(min=2, max=120)),
        db_statement_timeout=env.float("DATABASE_STATEMENT_TIMEOUT", 30.0, validate=Range(min=0, max=86400)),
        db_pool_timeout=env.float("DATABASE_POOL_TIMEOUT", 3.0, validate=Range(min=0.1, max=120)),
        silent_post_rate_limit=env.str("SILENT_POST_RATE_LIMIT", "60/minute"),
        silent_post_token=Secret(env.str("SILENT_POST_TOKEN", "")),
        silent_post_allow=tuple(a.strip() for a in env.list("SILENT_POST_ALLOW", []) if a.strip()),
        silent_post_confirm_seconds=env.float("SILENT_POST_CONFIRM_SECONDS", 120.0, validate=Range(min=0, max=86400)),
    )
    errors: dict[str, list[str]] = {}
    try:
        env.seal()
    except EnvValidationError as exc:
        errors.update({k: list(v) for k, v in exc.error_messages.items()})
    for key in missing:
        errors.setdefault(key, []).append("required in production (the sandboxes' values are only for "
                                          "PAYSYNC_ENV=demo or test)")
    for key, messages in _cross_checks(settings).items():
        errors.setdefault(key, messages)  # a key environs refused already says why
    if errors:
        raise SettingsError(errors)
    return settings


def _cross_checks(s: Settings) -> dict[str, list[str]]:
    """Rules that tie keys together; each names the key to change."""
    errors: dict[str, list[str]] = {}
    # A key environs refused reads as None and is listed already: rules that need it wait for it.
    timing = (s.retry_backoff_base, s.retry_backoff_max, s.task_time_limit, s.visibility_timeout,
              s.sweep_stall_seconds)
    if None not in timing:
        errors.update(_timing_checks(s))
    if s.mode == "production":
        key = s.id_hash_key.reveal()
        if key and (len(key) < 16 or key == DEMO_ID_HASH_KEY):
            errors["PAYSYNC_ID_HASH_KEY"] = ["must be a secret of 16 or more characters (e.g. "
                                             "`python -c 'import secrets; print(secrets.token_urlsafe(32))'`)"]
        elif not key:
            errors["PAYSYNC_ID_HASH_KEY"] = ["required in production: the key that hashes ids carrying card-like "
                                             "numbers (16+ random characters)"]
    for cidr in s.silent_post_allow:
        try:
            ipaddress.ip_network(cidr, strict=False)
        except ValueError:
            errors.setdefault("SILENT_POST_ALLOW", []).append(f"not an address or network: {cidr!r}")
    try:
        parse_rate(s.silent_post_rate_limit)
    except ValueError as exc:
        errors["SILENT_POST_RATE_LIMIT"] = [str(exc)]
    return errors | _address_checks(s)


def parse_rate(text: str) -> tuple[int, int]:
    """"60/minute" -> (60, 60): how many requests per how many seconds."""
    count, _, per = text.partition("/")
    seconds = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}.get(per.strip().lower().rstrip("s"))
    if not count.strip().isdigit() or int(count) < 1 or seconds is None:
        raise ValueError(f"must read like 60/minute (a count per second, minute, hour or day), got {text!r}")
    return int(count), seconds


def _timing_checks(s: Settings) -> dict[str, list[str]]:
    """Retry, lease and sweep times that must fit inside each other."""
    errors: dict[str, list[str]] = {}
    longest_wait = s.retry_backoff_max + s.task_time_limit
    if s.visibility_timeout <= longest_wait:
        # A countdown longer than the visibility timeout makes Redis deliver the task again
        # while it still waits (celery#2599): keep every countdown well inside it.
        errors["VISIBILITY_TIMEOUT"] = [
            f"must exceed RETRY_BACKOFF_MAX + TASK_TIME_LIMIT ({longest_wait:g} s), got {s.visibility_timeout}"
        ]
    if s.sweep_stall_seconds <= s.retry_backoff_max + s.task_time_limit:
        errors["SWEEP_STALL_SECONDS"] = [
            "must exceed RETRY_BACKOFF_MAX + TASK_TIME_LIMIT so the sweeper never races a waiting retry"
        ]
    if s.retry_backoff_base > s.retry_backoff_max:
        errors["RETRY_BACKOFF_BASE"] = ["must not exceed RETRY_BACKOFF_MAX"]
    return errors


def _address_checks(s: Settings) -> dict[str, list[str]]:
    """Addresses, names and secrets that must have the right shape."""
    errors: dict[str, list[str]] = {}
    if (s.reconcile_fee_rate or s.reconcile_fee_fixed) and not s.reconcile_fee_account:
        errors["RECONCILE_FEE_ACCOUNT"] = ["required when RECONCILE_FEE_RATE or RECONCILE_FEE_FIXED is set"]
    try:
        zoneinfo.ZoneInfo(s.merchant_timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        errors["MERCHANT_TIMEZONE"] = [f"unknown time zone {s.merchant_timezone!r}"]
    urls = {"PAYTRACE_BASE_URL": s.paytrace.base_url, "SAGE50_BASE_URL": s.sage50.base_url,
            "SAGEX3_BASE_URL": s.sage_x3.base_url}
    erp_url = {"sage50": "SAGE50_BASE_URL", "sage_x3": "SAGEX3_BASE_URL"}
    for key, url in urls.items():
        if key in erp_url.values() and erp_url.get(s.erp) != key and not url:
            continue  # another ERP's address, left blank (docker-compose passes every key): not used
        if not url.startswith(("http://", "https://")):
            errors[key] = [f"must be an http(s) URL, got {url!r}"]
    if not (len(s.sage_pro.company) == 2 and s.sage_pro.company.isdigit()):
        errors["SAGEPRO_COMPANY"] = ["must be the two-digit company number, e.g. 01"]
    for key, name in (("SAGEPRO_CASH_TABLE", s.sage_pro.cash_table), ("SAGEPRO_GL_TABLE", s.sage_pro.gl_table)):
        if not name.isidentifier():
            errors[key] = [f"not a table name: {name!r}"]
    if s.database_url and not s.database_url.startswith(("sqlite", "postgresql")):
        errors["DATABASE_URL"] = ["must be a sqlite:// or postgresql:// URL"]
    if s.redis_url and not s.redis_url.startswith(("redis://", "rediss://", "unix://")):
        errors["REDIS_URL"] = ["must be a redis://, rediss:// or unix:// URL"]
    for number, secret in enumerate(s.webhook_secrets, 1):
        raw = secret.reveal()[len("whsec_"):] if secret.startswith("whsec_") else None
        try:
            key = base64.b64decode(raw + "=" * (-len(raw) % 4), validate=True) if raw is not None else b""
        except (binascii.Error, ValueError):
            key = b""
        if len(key) < 16:
            # Which one, never its value: the error is printed and logged.
            errors.setdefault("WEBHOOK_SECRETS", []).append(
                f"secret #{number} is not a Standard Webhooks secret (whsec_ and base64 of 16+ random bytes)")
    return errors


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process's settings, read on first use."""
    return load_settings()
