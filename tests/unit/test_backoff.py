"""compute_backoff: exponential ceiling, full jitter, capped, Retry-After as a floor."""
from __future__ import annotations

import random

import pytest
from hypothesis import given, strategies as st

from connectors.backoff import compute_backoff


def test_ceiling_doubles_until_the_cap():
    rng = random.Random(1)
    means = [sum(compute_backoff(a, base=1, cap=30, rng=rng) for _ in range(200)) / 200 for a in range(1, 8)]
    assert means[0] < means[1] < means[2] < means[3] < means[4]
    assert all(m <= 30 for m in means)


def test_retry_after_is_a_floor_but_never_beyond_the_cap():
    assert compute_backoff(1, base=0.1, cap=60, retry_after=7, rng=random.Random(0)) >= 7
    assert compute_backoff(1, base=0.1, cap=5, retry_after=3600, rng=random.Random(0)) == 5


@given(st.integers(1, 60), st.floats(0.01, 10), st.floats(0.01, 600), st.one_of(st.none(), st.floats(0, 10_000)))
def test_always_within_zero_and_cap(attempt, base, cap, retry_after):
    wait = compute_backoff(attempt, base=base, cap=cap, retry_after=retry_after, rng=random.Random(attempt))
    assert 0 <= wait <= cap + 0.001


def test_attempt_counts_from_one():
    with pytest.raises(ValueError):
        compute_backoff(0, base=1, cap=2)
