"""Alerts that leave the process: ALERT records on `paysync.alert` become webhooks and emails.

    flows / workers ── log.error("ALERT ...", extra={"alert": {...}}) ──> AlertHandler (logging)
        └─ queue (never blocks a step) ──> dispatcher thread ── rules: is it worth telling? (thresholds)
                                               └─ limits: quiet period per alert, at most N per pair an hour
                                               └─ channels: Slack-compatible webhook, SMTP email
"""
