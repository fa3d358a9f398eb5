"""PayTrace v1 JSON API: the gateway paysync reads transactions from."""
from connectors.paytrace.client import PayTraceClient
from connectors.paytrace.connector import PayTraceGateway

__all__ = ["PayTraceClient", "PayTraceGateway"]
