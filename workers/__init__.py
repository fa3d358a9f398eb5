"""Thin Celery tasks around flow steps, the house task class, poller, sweeper, dead letters."""
