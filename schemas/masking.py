"""Card data never passes this point: PANs are truncated to first 6 / last 4, CSC and track dropped.

Bank account numbers (ACH) are not Luhn numbers, so text scanning cannot find them: they are
masked by key instead, to their last four, wherever an `account_number` (or a close name) appears.

PCI DSS 3.3.1 forbids keeping sensitive authentication data after authorisation and 3.4.1 limits
what may be shown to the BIN and last four (../shared/reference/reliability.md §4). Every inbound
payload goes through `mask_payload` before it is written to the database, a log or a queue.
"""
from __future__ import annotations

import hashlib
import hmac
import logging
import re
from typing import Any
from urllib.parse import unquote

# Keys whose values are sensitive authentication data whatever they look like: exact names, and
# fragments that mark a name as one (`cvv_number`, `CardSecurityCode`, `track2_data`). Matching a
# fragment over-redacts now and then (a parcel's tracking number): that is the safe side.
_SECRET_KEYS = frozenset({"cid", "pin", "track", "swipe"})
_SECRET_FRAGMENTS = ("cvv", "cvc", "csc", "securitycode", "security_code", "cardcode", "card_code", "track1",
                     "track2", "track_data", "trackdata", "encrypted_swipe", "pin_block", "pinblock")
# Keys that hold a full card number; their value is truncated, not kept.
_NUMBER_KEYS = frozenset({"number", "card_number", "pan", "cc_number", "encrypted_number"})
# Keys that hold a bank account number: only the last four survive (a BIN-like prefix means
# nothing for an account, so none is kept). `check.account_number` is PayTrace's [C].
_ACCOUNT_KEYS = frozenset({"account_number", "bank_account_number", "checking_account_number",
                           "dda_number", "encrypted_account_number"})
# An account number already masked ("xxxxxx6789", "****6789"): at most four digits left.
_MASKED_ACCOUNT = re.compile(r"^[xX*•]+\d{0,4}$")
# Digits with up to three separators of any usual kind between them (spaces, tabs, no-break
# spaces, dots, dashes, underscores, slashes): "4111  1111.1111-1111" is still a card number.
_SEPARATORS = r"[\s\u00a0.\-_/]{0,3}"
_DIGIT_RUN = re.compile(rf"(?<!\d)(?:\d{_SEPARATORS}){{12,}}\d(?!\d)")
REDACTED = "[redacted]"
# A card security code named in free text: "cvv 123", "CVV2: 123", "security code 123", "csc=123",
# "card code #1234", "CVC/CVV2 is 123". The label stays (a person sees what was removed), the digits go.
_CSC_LABEL = (r"(?:cvv2?|cvc2?|cvn2?|cav2|cid|csc|v-?code|sec(?:urity)?[\s_.-]*code|card[\s_.-]*code|"
              r"(?:card[\s_.-]*)?verification[\s_.-]*(?:code|value|number|no\.?))")
_CSC_PHRASE = re.compile(rf"(?i)(?<![a-z])({_CSC_LABEL}(?:[\s/]*{_CSC_LABEL})*"
                         rf"(?:[\s:=#._\-]|no\b|num(?:ber)?\b|is\b|was\b){{0,12}}?)\d{{3,4}}(?!\d)")


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def looks_like_pan(digits: str) -> bool:
    """Any Luhn-valid run of 13 to 19 digits, whatever its first digit.

    Brands come and go (Mastercard's 2-series since 2017, UnionPay's 62/81): masking every
    Luhn-valid run costs a few false positives and never lets a new range through.
    """
    return 13 <= len(digits) <= 19 and luhn_ok(digits)


def _secret_key(key: str) -> bool:
    k = key.lower()
    return k in _SECRET_KEYS or any(f in k for f in _SECRET_FRAGMENTS)


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
    """Replace every digit run (spaces or dashes allowed) that contains a card number, and every
    card security code named in the text ("cvv 123" becomes "cvv [redacted]")."""

    def _sub(match: re.Match[str]) -> str:
        digits = re.sub(r"\D", "", match.group(0))
        if looks_like_pan(digits):
            return truncate_pan(digits)
        if _hides_pan(digits):
            return "x" * (len(digits) - 4) + digits[-4:]
        return match.group(0)

    return _CSC_PHRASE.sub(lambda m: m.group(1) + REDACTED, _DIGIT_RUN.sub(_sub, text))


def keyed_id(raw: str, key: bytes, limit: int = 200) -> str:
    """An identifier from outside, safe to store and show, that still tells repeats apart.

    A clean id is kept as it is. One that holds card data is shown masked and keyed by an HMAC of
    the raw id (the key is a secret of the deployment, so the number cannot be found again by
    hashing every PAN): the same raw id always gives the same key, two ids that mask alike do not.
    """
    masked = mask_text(raw)
    if masked == raw:
        return raw[:limit]
    digest = hmac.new(key, raw.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()[:32]
    return f"{masked[:limit - 35]}~h:{digest}"


def mask_url(target: str) -> str:
    """A request target fit for a log: the path (decoded, then scanned), never the query string."""
    path, sep, query = target.partition("?")
    return mask_text(unquote(path, errors="replace")) + ("?[query]" if sep and query else "")


class MaskingLogFilter(logging.Filter):
    """Masks every log record, its arguments and its traceback, before any handler writes it."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string still must not leak its arguments
            message = str(record.msg)
        record.msg, record.args = mask_text(message), None
        if record.exc_info:
            record.exc_text = mask_text(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        elif record.exc_text:
            record.exc_text = mask_text(record.exc_text)
        if record.stack_info:
            record.stack_info = mask_text(record.stack_info)
        return True


def install_log_masking(*loggers: logging.Logger) -> None:
    """Put the masking filter on every handler of `loggers` (the root logger when none is named)."""
    for logger in loggers or (logging.getLogger(),):
        for handler in logger.handlers:
            if not any(isinstance(f, MaskingLogFilter) for f in handler.filters):
                handler.addFilter(MaskingLogFilter())


def _mask_number_value(value: Any) -> Any:
    digits = re.sub(r"\D", "", str(value))
    if len(digits) >= 10 and digits == re.sub(r"[ -]", "", str(value)):
        return truncate_pan(digits) if len(digits) >= 13 else "x" * (len(digits) - 4) + digits[-4:]
    return REDACTED if value not in (None, "") else value


def mask_account_number(value: Any) -> Any:
    """"xxxxxx" + the last four digits of an account number; already masked values are kept.

    A value with four digits or fewer, or with anything but digits, spaces and dashes, is
    redacted whole: its last four would be all of it, or it is not a number we understand.
    """
    if value in (None, "") or isinstance(value, bool):
        return value
    raw = str(value).strip()
    if _MASKED_ACCOUNT.match(raw):
        return raw
    digits = re.sub(r"[\s-]", "", raw)
    if digits.isascii() and digits.isdigit() and len(digits) > 4:
        return "x" * 6 + digits[-4:]
    return REDACTED


def mask_payload(value: Any) -> Any:
    """A deep copy of `value` that holds no PAN, CSC or track data (in values or in keys)."""
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            k = str(key).lower()
            safe_key = mask_text(key) if isinstance(key, str) else key
            if _secret_key(k):
                out[safe_key] = REDACTED if item not in (None, "") else item
            elif k in _ACCOUNT_KEYS and not isinstance(item, (dict, list)):
                out[safe_key] = mask_account_number(item)
            elif k in _NUMBER_KEYS and isinstance(item, (str, int)):
                out[safe_key] = _mask_number_value(item)
            else:
                out[safe_key] = mask_payload(item)
        return out
    if isinstance(value, list):
        return [mask_payload(v) for v in value]
    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value >= 10**12:
        return mask_text(str(value)) if _hides_pan(str(value)) else value
    if isinstance(value, float) and abs(value) >= 1e12:
        # A card number sent as a JSON number arrives as a float; its digits are what count.
        digits = f"{value:.0f}"
        return mask_text(digits) if _hides_pan(digits) else value
    return value


def find_card_data(value: Any, path: str = "$") -> list[str]:
    """Paths in `value` that hold something mask_payload would change (for refusing or auditing)."""
    hits: list[str] = []
    if isinstance(value, dict):
        for key, item in value.items():
            k = str(key).lower()
            if (isinstance(key, str) and mask_text(key) != key) or ((_secret_key(k) or k in _NUMBER_KEYS or k in _ACCOUNT_KEYS)
                                                                  and item not in (None, "")
                                                                  and mask_payload({key: item}) != {key: item}):
                hits.append(f"{path}.{mask_text(str(key))}")  # the path itself must not carry the number
            else:
                hits.extend(find_card_data(item, f"{path}.{mask_text(str(key))}"))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            hits.extend(find_card_data(item, f"{path}[{i}]"))
    elif value == value and mask_payload(value) != value:  # NaN equals nothing, itself included
        hits.append(path)
    return hits
