"""The HTTP front door: verify, validate, store, enqueue, answer 202."""
