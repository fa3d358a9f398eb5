"""Clients and connectors for the systems paysync talks to: PayTrace and the Sage ERPs."""
