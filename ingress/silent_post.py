"""Who may send a silent post, and how often: PayTrace's legacy push is unsigned, so it is only a hint.

An optional address allowlist (SILENT_POST_ALLOW, addresses or networks), an optional shared
token (SILENT_POST_TOKEN, given as `?token=` in the silent-post URL configured at PayTrace [I]),
and a rate per source address (SILENT_POST_RATE_LIMIT, counted in Redis so every gunicorn worker
shares it). A post that passes still only names a transaction the worker re-reads from PayTrace.
"""
from __future__ import annotations

import hmac
import ipaddress
import logging
import time
from dataclasses import dataclass

from limits import RateLimitItemPerSecond
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

from config.settings import Settings, parse_rate

log = logging.getLogger("paysync.ingress")


@dataclass(frozen=True)
class Refusal:
    """Why a silent post is not taken: the status to answer, the reason, and any extra headers."""

    status: int
    reason: str
    headers: tuple[tuple[str, str], ...] = ()


class SilentPostGuard:
    """Allowlist, token and rate limit of the silent-post routes, read once from Settings."""

    def __init__(self, settings: Settings, storage_uri: str | None = None) -> None:
        self.networks = tuple(ipaddress.ip_network(a, strict=False) for a in settings.silent_post_allow)
        self.token = settings.silent_post_token.reveal()
        count, seconds = parse_rate(settings.silent_post_rate_limit)
        self.rate = RateLimitItemPerSecond(count, seconds)
        uri = storage_uri or settings.redis_url or "memory://"
        self.limiter = MovingWindowRateLimiter(storage_from_string(uri, key_prefix="paysync:silent_post"))

    def refuse(self, address: str | None, token: str | None) -> Refusal | None:
        """None when the post may go on; else what to answer."""
        try:
            ip = ipaddress.ip_address(address or "")
        except ValueError:
            ip = None
        if self.networks and (ip is None or not any(ip in net for net in self.networks)):
            return Refusal(403, "this address may not send silent posts")
        if self.token and not hmac.compare_digest((token or "").encode(), self.token.encode()):
            return Refusal(403, "missing or wrong silent-post token")
        try:
            allowed = self.limiter.hit(self.rate, str(ip or address or "unknown"))
        except Exception as exc:  # the limit is a courtesy; the hint is still re-read before use
            log.warning("silent-post rate limit unavailable (%s); letting the post through", type(exc).__name__)
            return None
        if not allowed:
            reset = self.limiter.get_window_stats(self.rate, str(ip or address or "unknown")).reset_time
            retry = max(1, int(reset - time.time()))
            return Refusal(429, "too many silent posts from this address; retry later",
                           (("Retry-After", str(retry)),))
        return None
