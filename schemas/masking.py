"""Card data never passes this point: PANs are truncated to first 6 / last 4, CSC and track dropped.

PCI DSS 3.3.1 forbids keeping sensitive authentication data after authorisation and 3.4.1 limits
what may be shown to the BIN and last four (../shared/reference/reliability.md §4). Every inbound
payload goes through `mask_payload` before it is written to the database, a log or a queue.
"""
from __future__ import annotations

import re
from typing import Any

# Keys whose values are sensitive authentication data whatever they look like.
_SECRET_KEYS = frozenset(
    {"csc", "cvv", "cvv2", "cvc", "cvc2", "cid", "card_code", "security_code", "encrypted_csc",
     "swipe", "encrypted_swipe", "track", "track1", "track2", "track_data", "pin", "pin_block"}
)
# Keys that hold a full card or account number; their value is truncated, not kept.
_NUMBER_KEYS = frozenset({"number", "card_number", "pan", "account_number", "cc_number", "encrypted_number"})
_DIGIT_RUN = re.compile(r"(?<!\d)(?:\d[ -]?){12,}\d(?!\d)")
REDACTED = "[redacted]"


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def looks_like_pan(digits: str) -> bool:
    return 13 <= len(digits) <= 19 and digits[0] in "3456" and luhn_ok(digits)


def truncate_pan(digits: str) -> str:
    """First 6 and last 4 at most, the rest as x (PCI SSC FAQ #1091)."""
    return digits[:6] + "x" * (len(digits) - 10) + digits[-4:]


def _hides_pan(digits: str) -> bool:
    """True when any 13-19 digit window of `digits` is a plausible PAN (Luhn, major-brand prefix).

    Checking every window means a digit glued before or after a card number cannot hide it.
    """
    if len(digits) > 64:
        return True  # no payment field is that long; redacting it loses nothing we need
    return any(looks_like_pan(digits[i:i + n]) for n in range(13, 20) for i in range(len(digits) - n + 1))


def mask_text(text: str) -> str:
    """Replace every digit run (spaces or dashes allowed) that contains a card number."""

    def _sub(match: re.Match[str]) -> str:
        digits = re.sub(r"\D", "", match.group(0))
        if looks_like_pan(digits):
            return truncate_pan(digits)
        if _hides_pan(digits):
            return "x" * (len(digits) - 4) + digits[-4:]
        return match.group(0)

    return _DIGIT_RUN.sub(_sub, text)


def _mask_number_value(value: Any) -> Any:
    digits = re.sub(r"\D", "", str(value))
    if len(digits) >= 10 and digits == re.sub(r"[ -]", "", str(value)):
        return truncate_pan(digits) if len(digits) >= 13 else "x" * (len(digits) - 4) + digits[-4:]
    return REDACTED if value not in (None, "") else value


def mask_payload(value: Any) -> Any:
    """A deep copy of `value` that holds no PAN, CSC or track data."""
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            k = str(key).lower()
            if k in _SECRET_KEYS:
                out[key] = REDACTED if item not in (None, "") else item
            elif k in _NUMBER_KEYS and isinstance(item, (str, int)):
                out[key] = _mask_number_value(item)
            else:
                out[key] = mask_payload(item)
        return out
    if isinstance(value, list):
        return [mask_payload(v) for v in value]
    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, int) and not isinstance(value, bool) and value >= 10**12:
        return mask_text(str(value)) if _hides_pan(str(value)) else value
    return value


def find_card_data(value: Any, path: str = "$") -> list[str]:
    """Paths in `value` that hold something mask_payload would change (for refusing or auditing)."""
    hits: list[str] = []
    if isinstance(value, dict):
        for key, item in value.items():
            k = str(key).lower()
            if (k in _SECRET_KEYS or k in _NUMBER_KEYS) and item not in (None, "") and mask_payload({key: item}) != {key: item}:
                hits.append(f"{path}.{key}")
            else:
                hits.extend(find_card_data(item, f"{path}.{key}"))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            hits.extend(find_card_data(item, f"{path}[{i}]"))
    elif mask_payload(value) != value:
        hits.append(path)
    return hits
