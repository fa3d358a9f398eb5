"""Standard Webhooks signatures: HMAC-SHA256 over `id.timestamp.body`, several secrets, ±tolerance.

We verify with our own few lines instead of `standardwebhooks.Webhook.verify` because that one
raises ValueError/binascii.Error on a malformed signature header (a 500 instead of a 401) and
fixes the tolerance at 5 minutes; the library stays our reference signer in the tests.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import time
from typing import Iterable, Mapping

#: A unix time as senders write it: decimal digits only (no sign, no spaces, no leading zero).
_STAMP = re.compile(r"[1-9][0-9]{0,11}")


class SignatureError(Exception):
    """The request is not signed by anyone we trust; the message says why (safe to return)."""


def _key(secret: str) -> bytes:
    raw = secret[len("whsec_"):] if secret.startswith("whsec_") else secret
    try:
        return base64.b64decode(raw + "=" * (-len(raw) % 4), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError("webhook secret is not base64") from exc


def _mac(secret: str, msg_id: str, stamp: str, body: bytes) -> bytes:
    return hmac.new(_key(secret), f"{msg_id}.{stamp}.".encode() + body, hashlib.sha256).digest()


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """The `v1,<base64>` signature a sender puts in `webhook-signature`."""
    return "v1," + base64.b64encode(_mac(secret, msg_id, str(timestamp), body)).decode()


def verify(body: bytes, headers: Mapping[str, str], secrets: Iterable[str], *, tolerance: int = 300,
           now: float | None = None) -> str:
    """Return the webhook id if any signature matches any secret; raise SignatureError otherwise."""
    msg_id = headers.get("webhook-id", "")
    stamp = headers.get("webhook-timestamp", "")
    signatures = headers.get("webhook-signature", "")
    if not (msg_id and stamp and signatures):
        raise SignatureError("missing webhook-id, webhook-timestamp or webhook-signature header")
    if len(msg_id) > 200:
        raise SignatureError("webhook-id is too long")
    if not _STAMP.fullmatch(stamp):
        # int() would read "+17...", "017..." or "17...\t" as the same time: the signature covers
        # the header's own text, so anything but plain digits is refused.
        raise SignatureError("webhook-timestamp is not a unix time")
    timestamp = int(stamp)
    now = time.time() if now is None else now
    if abs(now - timestamp) > tolerance:
        # Too old is a replay; too new is a sender whose clock we should not trust either.
        raise SignatureError("webhook-timestamp outside the allowed window")
    offered = []
    for part in signatures.split():
        version, _, value = part.partition(",")
        if version != "v1" or not value:
            continue
        try:
            offered.append(base64.b64decode(value, validate=True))
        except (binascii.Error, ValueError):
            continue
    for secret in secrets:
        expected = _mac(secret, msg_id, stamp, body)
        for candidate in offered:
            if hmac.compare_digest(expected, candidate):
                return msg_id
    raise SignatureError("no valid signature")
