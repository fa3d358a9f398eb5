"""Prometheus metrics: counters the processes keep, gauges read from the database at scrape time."""
