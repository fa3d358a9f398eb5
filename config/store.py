"""Where the online store is and how it signs: read from the environment like config/settings.py.

One store per integration pair: the default pair reads SHOPIFY_* and STORE_*; a pair of
PAYSYNC_PAIRS may set its own as PAYSYNC_PAIR_<NAME>_SHOPIFY_* (config/settings.py PAIR_KEYS).
Every key is read before any is judged, and all bad keys are reported together.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Mapping

from config.settings import Secret, SettingsError
from connectors.shopify.config import ShopifyConfig

VERSIONS = ("2024-10", "2025-01", "2025-04", "2025-07", "2025-10", "2026-01")


@dataclass(frozen=True)
class StoreSettings:
    """One pair's store: its Shopify shop (Admin API and webhook secret) and the generic senders' secrets."""

    shop_domain: str
    admin_url: str  # https://<shop>.myshopify.com, or the simulator
    access_token: Secret = field(repr=False)
    api_version: str = "2025-07"
    webhook_secrets: tuple[Secret, ...] = field(default=(), repr=False)  # Shopify app client secrets (rotation)
    location_id: str = ""  # gid://shopify/Location/<id> whose quantities paysync sets
    timeout: float = 10.0
    #: Standard Webhooks secrets (whsec_...) of the generic order format; by default WEBHOOK_SECRETS.
    order_secrets: tuple[Secret, ...] = field(default=(), repr=False)
    push_interval_seconds: float = 5.0
    stock_interval_seconds: float = 60.0
    stock_batch: int = 50  # quantities per inventorySetQuantities call
    stock_calls_per_run: int = 20  # calls per stock run at most: the rest waits for the next run

    @property
    def admin_endpoint(self) -> str:
        return f"{self.admin_url.rstrip('/')}/admin/api/{self.api_version}/graphql.json"


def _float(source: Mapping[str, str], key: str, default: float, low: float, high: float, errors: dict) -> float:
    raw = source.get(key, "")
    try:
        value = float(raw) if raw else default
    except ValueError:
        errors[key] = [f"not a number: {raw!r}"]
        return default
    if not low <= value <= high:
        errors[key] = [f"must be between {low:g} and {high:g}"]
    return value


def load_store_settings(pair: str = "default", environ: Mapping[str, str] | None = None,
                        first_pair: str | None = None) -> StoreSettings:
    """The store settings of `pair`; SettingsError lists every bad key."""
    base = dict(os.environ if environ is None else environ)
    own = {}
    if pair != (first_pair or pair) or base.get("PAYSYNC_PAIRS"):
        prefix = f"PAYSYNC_PAIR_{pair.upper()}_"
        own = {k[len(prefix):]: v for k, v in base.items() if k.startswith(prefix)}
    source = {**base, **own}
    errors: dict[str, list[str]] = {}
    domain = source.get("SHOPIFY_SHOP_DOMAIN", "paysync-demo.myshopify.com").strip()
    admin_url = source.get("SHOPIFY_ADMIN_URL", "").strip() or f"https://{domain}"
    if not admin_url.startswith(("http://", "https://")):
        errors["SHOPIFY_ADMIN_URL"] = [f"must be an http(s) URL, got {admin_url!r}"]
    version = source.get("SHOPIFY_API_VERSION", "2025-07").strip()
    if version not in VERSIONS:
        errors["SHOPIFY_API_VERSION"] = [f"one of {', '.join(VERSIONS)}"]
    location = source.get("SHOPIFY_LOCATION_ID", "").strip()
    if location and not location.startswith("gid://shopify/Location/"):
        errors["SHOPIFY_LOCATION_ID"] = ["a Location global id, gid://shopify/Location/<number>"]
    secrets = tuple(Secret(s.strip()) for s in source.get("SHOPIFY_WEBHOOK_SECRET", "").split(",") if s.strip())
    order_secrets = tuple(Secret(s.strip()) for s in (source.get("STORE_WEBHOOK_SECRETS")
                                                      or source.get("WEBHOOK_SECRETS", "")).split(",") if s.strip())
    settings = StoreSettings(
        shop_domain=domain, admin_url=admin_url, access_token=Secret(source.get("SHOPIFY_ACCESS_TOKEN", "")),
        api_version=version, webhook_secrets=secrets, location_id=location,
        timeout=_float(source, "SHOPIFY_TIMEOUT", 10.0, 0.1, 120, errors), order_secrets=order_secrets,
        push_interval_seconds=_float(source, "STORE_PUSH_INTERVAL_SECONDS", 5.0, 0.5, 3600, errors),
        stock_interval_seconds=_float(source, "STOCK_SYNC_INTERVAL_SECONDS", 60.0, 1, 86400, errors),
        stock_batch=int(_float(source, "STOCK_PUSH_BATCH", 50, 1, 250, errors)),
        stock_calls_per_run=int(_float(source, "STOCK_PUSH_CALLS", 20, 1, 1000, errors)))
    if errors:
        raise SettingsError(errors)
    return settings


@lru_cache(maxsize=16)
def store_settings(pair: str = "default") -> StoreSettings:
    """The process's store settings of a pair, read on first use."""
    from config.settings import get_settings

    return load_store_settings(pair, first_pair=get_settings().pair_names[0])


def shopify_config(store: StoreSettings, http_retries: int = 2) -> ShopifyConfig:
    """The Shopify connector's frozen config of a pair's store settings."""
    return ShopifyConfig(store.admin_endpoint, store.access_token, store.location_id, store.timeout, http_retries)
