"""PostgreSQL (or SQLite) memory of paysync: inbox, sync runs, step ledger, dead letters."""
