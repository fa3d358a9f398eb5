"""Shopify connector settings: the shop's Admin API endpoint, token and location, frozen."""
from __future__ import annotations

from dataclasses import dataclass, field

from connectors.secret import Secret


@dataclass(frozen=True)
class ShopifyConfig:
    """One shop reached through its GraphQL Admin API."""

    endpoint: str  # https://<shop>/admin/api/<version>/graphql.json
    access_token: Secret = field(repr=False)
    location_id: str = ""
    timeout: float = 10.0
    retries: int = 2
