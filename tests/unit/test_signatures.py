"""Our verifier agrees with the Standard Webhooks reference signer and never crashes on junk."""
from __future__ import annotations

import time
from datetime import datetime, timezone

import pytest
from hypothesis import given, settings, strategies as st
from standardwebhooks import Webhook

from ingress.signatures import SignatureError, sign, verify

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


def headers_for(secret, msg_id, body, when=None):
    when = when or datetime.now(timezone.utc)
    return {"webhook-id": msg_id, "webhook-timestamp": str(int(when.timestamp())),
            "webhook-signature": Webhook(secret).sign(msg_id, when, body)}


def test_reference_signatures_verify_and_ours_match_theirs():
    body = '{"type":"transaction.sale","data":{"transaction_id":1}}'
    h = headers_for(SECRET, "msg_1", body)
    assert verify(body.encode(), h, [SECRET]) == "msg_1"
    assert sign(SECRET, "msg_1", int(h["webhook-timestamp"]), body.encode()) == h["webhook-signature"]
    Webhook(SECRET).verify(body, h)  # and the library accepts what we would send


def test_any_of_several_secrets_is_accepted_and_none_else():
    body = b"{}"
    h = headers_for(SECRET, "m", body.decode())
    assert verify(body, h, ["whsec_b3RoZXJvdGhlcm90aGVy", SECRET]) == "m"
    with pytest.raises(SignatureError):
        verify(body, h, ["whsec_b3RoZXJvdGhlcm90aGVy"])


@pytest.mark.parametrize("skew", [-301, 301])
def test_timestamps_outside_tolerance_both_ways_are_refused(skew):
    body = b"{}"
    h = headers_for(SECRET, "m", "{}")
    with pytest.raises(SignatureError, match="window"):
        verify(body, h, [SECRET], now=time.time() + skew)


@settings(max_examples=300)
@given(st.dictionaries(st.sampled_from(["webhook-id", "webhook-timestamp", "webhook-signature", "x"]),
                       st.text(max_size=80)), st.binary(max_size=200))
def test_arbitrary_headers_and_bodies_only_ever_raise_signature_error(headers, body):
    try:
        verify(body, headers, [SECRET])
    except SignatureError:
        pass  # the only acceptable failure
