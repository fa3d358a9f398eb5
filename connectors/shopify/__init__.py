"""Shopify as the store paysync tells: order statuses and inventory through the GraphQL Admin API."""
from connectors.shopify.config import ShopifyConfig
from connectors.shopify.connector import ShopifyConnector

__all__ = ["ShopifyConfig", "ShopifyConnector"]
