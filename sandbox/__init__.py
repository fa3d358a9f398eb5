"""Simulators of the systems paysync talks to: PayTrace, and the Sage ERPs.

Each simulator is written from the API's published facts (../shared/reference), never from
paysync's own clients or schemas, so a misreading on one side fails a test instead of hiding
in shared code. Nothing in this package imports from connectors/, schemas/, flows/ or workers/.
"""
