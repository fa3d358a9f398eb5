"""A recurring-billing run in a process of its own, SIGKILLed right after PayTrace answers a charge.

tests/integration/test_recurring.py starts it as `python -m tests.integration.recurring_child SPEC`
(SPEC: JSON with the environment, the recurring settings and the day). The kill is wrapped around
this process's gateway only, here: production code carries no hook for it.
"""
from __future__ import annotations

import json
import os
import signal
import sys
from dataclasses import replace
from datetime import date

from schemas.mapping import Recurring


def recurring_context(env: dict[str, str], recurring: Recurring):
    """A FlowContext from an environment, with recurring billing switched on as given."""
    from config.settings import load_settings
    from workers.context import build_context

    ctx = build_context(load_settings(env))
    ctx.mapping = replace(ctx.mapping, recurring=recurring)
    return ctx


def main(spec: dict) -> int:
    from flows.recurring import run_recurring

    r = spec["recurring"]
    ctx = recurring_context(spec["env"], Recurring(r["enabled"], tuple(r["retry_days"]), r["dunning_status"],
                                                   r["max_age_days"]))
    charge = ctx.gateway.sale_by_customer

    def charged_then_killed(*args, **kwargs):
        charge(*args, **kwargs)  # PayTrace has charged and answered; we die before recording it
        os.kill(os.getpid(), signal.SIGKILL)

    ctx.gateway.sale_by_customer = charged_then_killed
    run_recurring(ctx, date.fromisoformat(spec["day"]))
    return 3  # reached only if nothing was charged


if __name__ == "__main__":
    sys.exit(main(json.loads(sys.argv[1])))
