"""Shopify connector settings: the shop's Admin API endpoint, token and location, frozen."""
from __future__ import annotations

from dataclasses import dataclass, field

from config.settings import Secret
from config.store import StoreSettings


@dataclass(frozen=True)
class ShopifyConfig:
    """One shop reached through its GraphQL Admin API."""

    endpoint: str  # https://<shop>/admin/api/<version>/graphql.json
    access_token: Secret = field(repr=False)
    location_id: str = ""
    timeout: float = 10.0
    retries: int = 2

    @classmethod
    def from_settings(cls, store: StoreSettings, http_retries: int = 2) -> "ShopifyConfig":
        return cls(store.admin_endpoint, store.access_token, store.location_id, store.timeout, http_retries)
