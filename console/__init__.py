"""The operator's web console: payments and their story, the day, dead letters, review, reconciliation, mapping."""
