"""Reading the environment into Settings: each system's frozen config filled from its keys, every mistake kept."""
from __future__ import annotations

import os
from decimal import Decimal
from pathlib import Path

from environs import Env, EnvValidationError
from marshmallow.validate import OneOf, Range

from config.settings_checks import cross_checks
from config.settings_model import DEFAULT_HOME, DEMO_ID_HASH_KEY, ERP_KINDS, MODES, Settings
from connectors.errors import ConfigurationError, SettingsError
from connectors.paytrace.config import PayTraceConfig, PayTraceLayout
from connectors.sage50.config import Sage50Config
from connectors.sage_pro.config import SageProConfig
from connectors.sage_x3.config import SageX3Config, SageX3Layout
from connectors.secret import Secret

_MAPPING = "comes from the integration pair's mapping file now (docs/mapping.md): remove it here and set "
#: Keys read once and no longer: each fact is the mapping file's, and a key that silently does nothing
#: is the misconfiguration a person never notices.
RETIRED = {
    **{f"{p}_{k}": _MAPPING + what for p in ("SAGE50", "SAGEX3", "SAGEPRO")
       for k, what in (("CASH_ACCOUNT", "accounts.cash"), ("CLEARING_ACCOUNT", "accounts.clearing"),
                       ("DEFAULT_ITEM", "items.default"), ("PAYMENT_METHOD", "payment_types"))},
    "SAGE50_BANK_ACCOUNT": _MAPPING + "accounts.bank",
    **{f"SAGEX3_{k}": _MAPPING + f"defaults.{v}" for k, v in (
        ("SALES_SITE", "sales_site"), ("ORDER_TYPE", "order_type"), ("INVOICE_TYPE", "invoice_type"),
        ("PAYMENT_TYPE", "payment_type"), ("BANK", "bank"), ("JOURNAL", "journal_code"))},
    "SAGEX3_CURRENCY": _MAPPING + "currency.base",
}


def read(env: Env) -> Settings:
    """Every key of the environment (environs reads os.environ), into Settings; SettingsError lists every bad key."""
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
    http_retries = env.int("HTTP_RETRIES", 2, validate=Range(min=0, max=10))
    merchant_timezone = env.str("MERCHANT_TIMEZONE", "America/Los_Angeles")
    problems: dict[str, list[str]] = {}

    def built(key: str, make, fallback):
        """A system's config, or (its mistake listed under `key`) the fallback so the rest is still judged."""
        try:
            return make()
        except (ConfigurationError, TypeError, ValueError) as exc:
            problems.setdefault(key, []).append(getattr(exc, "message", str(exc)))
            return fallback

    paytrace = PayTraceConfig(
        base_url=env.str("PAYTRACE_BASE_URL", sandbox("PAYTRACE_BASE_URL", "http://127.0.0.1:8701",
                                                      "https://api.paytrace.com")).rstrip("/"),
        username=env.str("PAYTRACE_USERNAME", sandbox("PAYTRACE_USERNAME", "demo")),
        password=Secret(env.str("PAYTRACE_PASSWORD", sandbox("PAYTRACE_PASSWORD", "demo"))),
        integrator_id=env.str("PAYTRACE_INTEGRATOR_ID", sandbox("PAYTRACE_INTEGRATOR_ID", "PAYSYNC1")),
        timeout=env.float("PAYTRACE_TIMEOUT", 10.0, validate=Range(min=0.1, max=120)),
        retries=http_retries,
        layout=built("PAYTRACE_LAYOUT", lambda: PayTraceLayout.from_overrides(env.json("PAYTRACE_LAYOUT", {}) or {}),
                     PayTraceLayout()),
        ach=env.bool("PAYTRACE_ACH", True),
        refund_link_field=env.str("PAYTRACE_REFUND_LINK_FIELD", "original_transaction_id").strip(),
    )

    def erp_default(kind: str, key: str, demo_value: str) -> str:
        """Only the chosen ERP's address and credentials are required; the others keep the demo's."""
        return sandbox(key, demo_value) if erp == kind else demo_value

    sage50 = Sage50Config(
        base_url=env.str("SAGE50_BASE_URL", erp_default("sage50", "SAGE50_BASE_URL", "http://127.0.0.1:8702")
                         ).rstrip("/"),
        api_key=Secret(env.str("SAGE50_API_KEY", erp_default("sage50", "SAGE50_API_KEY", "demo-key"))),
        timeout=env.float("SAGE50_TIMEOUT", 10.0, validate=Range(min=0.1, max=120)),
        retries=http_retries,
        status_field=env.str("SAGE50_STATUS_FIELD", Sage50Config.status_field),
        full_name_field=env.str("SAGE50_FULL_NAME_FIELD", Sage50Config.full_name_field),
    )
    sage_x3 = SageX3Config(
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
        timeout=env.float("SAGEX3_TIMEOUT", 15.0, validate=Range(min=0.1, max=120)),
        retries=http_retries,
        layout=built("SAGEX3_LAYOUT", lambda: SageX3Layout.from_overrides(env.json("SAGEX3_LAYOUT", {}) or {}),
                     SageX3Layout()),
    )
    pro = dict(database_url=env.str("SAGEPRO_DATABASE_URL", erp_default(
                   "sage_pro", "SAGEPRO_DATABASE_URL", f"sqlite:///{home / 'sagepro.sqlite3'}")),
               company=env.str("SAGEPRO_COMPANY", "01"), cash_table=env.str("SAGEPRO_CASH_TABLE", "arcash"),
               gl_table=env.str("SAGEPRO_GL_TABLE", "gltran"),
               lock_timeout_seconds=env.float("SAGEPRO_LOCK_TIMEOUT", 5.0, validate=Range(min=0.1, max=120)) or 5.0,
               columns=tuple(sorted(env.dict("SAGEPRO_COLUMNS", {}).items())), timezone=merchant_timezone)
    # The company and table names are judged here by their own keys; the config is built with sound ones.
    if not (len(pro["company"]) == 2 and pro["company"].isdigit()):
        problems["SAGEPRO_COMPANY"] = ["must be the two-digit company number, e.g. 01"]
        pro["company"] = "01"
    for key, name in (("SAGEPRO_CASH_TABLE", "cash_table"), ("SAGEPRO_GL_TABLE", "gl_table")):
        if not pro[name].isidentifier():
            problems[key] = [f"not a table name: {pro[name]!r}"]
            pro[name] = SageProConfig.__dataclass_fields__[name].default
    sage_pro = built("SAGEPRO_COLUMNS", lambda: SageProConfig(**pro), SageProConfig(database_url=pro["database_url"]))
    for key in RETIRED:
        if key in os.environ:
            problems[key] = [RETIRED[key]]
    visibility = env.int("VISIBILITY_TIMEOUT", 3600, validate=Range(min=5))
    stall = env.int("SWEEP_STALL_SECONDS", 900, validate=Range(min=1))
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
        http_retries=http_retries,
        visibility_timeout=visibility,
        task_time_limit=env.int("TASK_TIME_LIMIT", 300, validate=Range(min=1)),
        poll_interval_seconds=env.float("POLL_INTERVAL_SECONDS", 60.0, validate=Range(min=0.5)),
        poll_overlap_days=env.int("POLL_OVERLAP_DAYS", 1, validate=Range(min=0, max=31)),
        poll_older_every_seconds=env.float("POLL_OLDER_EVERY_SECONDS", 600.0, validate=Range(min=0, max=86400)),
        poll_page_size=env.int("POLL_PAGE_SIZE", 1000, validate=Range(min=10, max=10000)),
        sweep_interval_seconds=env.float("SWEEP_INTERVAL_SECONDS", 60.0, validate=Range(min=0.5)),
        sweep_stall_seconds=stall,
        # a marker outlives the visibility timeout (a dead worker's message still counts) by a stall period
        live_message_ttl_seconds=env.int("LIVE_MESSAGE_TTL_SECONDS", (visibility or 3600) + (stall or 900),
                                         validate=Range(min=5)),
        merchant_timezone=merchant_timezone,
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
        erp_max_concurrent=env.int("ERP_MAX_CONCURRENT", None, validate=Range(min=0, max=1024)),
        erp_rate_limit=env.str("ERP_RATE_LIMIT", None),
        paytrace_max_concurrent=env.int("PAYTRACE_MAX_CONCURRENT", 8, validate=Range(min=0, max=1024)),
        paytrace_rate_limit=env.str("PAYTRACE_RATE_LIMIT", "0"),
        gate_max_wait_seconds=env.float("GATE_MAX_WAIT_SECONDS", 30.0, validate=Range(min=0.1, max=600)),
        gate_rate_pad_seconds=env.float("GATE_RATE_PAD_SECONDS", 0.15, validate=Range(min=0, max=10)),
    )
    errors: dict[str, list[str]] = {}
    try:
        env.seal()
    except EnvValidationError as exc:
        errors.update({k: list(v) for k, v in exc.error_messages.items()})
    for key in missing:
        errors.setdefault(key, []).append("required in production (the sandboxes' values are only for "
                                          "PAYSYNC_ENV=demo or test)")
    for key, messages in {**problems, **cross_checks(settings)}.items():
        errors.setdefault(key, messages)  # a key environs refused already says why
    if errors:
        raise SettingsError(errors)
    return settings
