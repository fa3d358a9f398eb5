"""Marshmallow schemas of what comes in, and plain dataclasses of the domain."""
