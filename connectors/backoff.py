"""The one backoff rule: exponential, capped, with full jitter, and the server's Retry-After wins."""
from __future__ import annotations

import random


def compute_backoff(attempt: int, *, base: float, cap: float, retry_after: float | None = None,
                    rng: random.Random | None = None) -> float:
    """Seconds to wait before try number `attempt + 1` (attempt counts from 1).

    Full jitter (a uniform draw under the exponential ceiling) spreads a herd of retries across
    the window instead of bunching them at its edge. A Retry-After from the server is a floor:
    we never come back sooner than asked, but never later than `cap` either, so one misbehaving
    header cannot park a task past the broker's visibility timeout.
    """
    if attempt < 1:
        raise ValueError("attempt counts from 1")
    ceiling = min(cap, base * (2 ** (attempt - 1)))
    draw = (rng or random).uniform(ceiling / 2, ceiling)
    if retry_after is not None and retry_after > 0:
        draw = max(draw, min(float(retry_after), cap))
    return round(min(draw, cap), 3)
