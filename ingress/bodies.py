"""What every ingress route does with a body before it is stored: strict JSON in UTF-8, storable, answered clearly."""
from __future__ import annotations

import json

from flask import jsonify

from schemas.masking import mask_text

MAX_DEPTH = 32


class UnsupportedBody(ValueError):
    """The body is not JSON in UTF-8 at all (answered 415, not 400)."""


def _refuse_duplicates(pairs: list[tuple[str, object]]) -> dict:
    # Two parsers may keep different copies of a repeated key (another transaction id): refuse it.
    seen: dict = {}
    for key, value in pairs:
        if key in seen:
            raise ValueError(f"key {mask_text(key)[:40]!r} appears twice in one object")
        seen[key] = value
    return seen


def parse_json_object(body: bytes) -> dict:
    """The body as a JSON object that every layer below can store, or ValueError saying why."""
    def refuse_constant(name: str):
        raise ValueError(f"{name} is not a JSON number")

    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise UnsupportedBody("body is not UTF-8") from None
    if text.startswith("\ufeff"):
        raise UnsupportedBody("body starts with a byte-order mark; send plain UTF-8 JSON")
    try:
        payload = json.loads(text, parse_constant=refuse_constant, object_pairs_hook=_refuse_duplicates)
    except RecursionError:
        raise ValueError("body is nested too deeply") from None
    except ValueError as exc:  # includes undecodable bytes
        raise ValueError(f"body is not JSON: {str(exc)[:80]}") from None
    if not isinstance(payload, dict):
        raise ValueError("body is not a JSON object")
    _check_storable(payload, 0)
    return payload


def _check_storable(value, depth: int) -> None:
    """No NUL characters or lone surrogates (PostgreSQL refuses them), no absurd nesting."""
    if depth > MAX_DEPTH:
        raise ValueError(f"body is nested more than {MAX_DEPTH} levels deep")
    if isinstance(value, dict):
        for key, item in value.items():
            _check_storable(key, depth + 1)
            _check_storable(item, depth + 1)
    elif isinstance(value, list):
        for item in value:
            _check_storable(item, depth + 1)
    elif isinstance(value, str):
        if "\x00" in value:
            raise ValueError("body holds a NUL character")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError("body holds an unpaired surrogate") from None


def problem(status: int, reason: str, headers=(), **extra):
    answer = jsonify({"error": reason, **extra})
    answer.status_code = status
    answer.headers.extend(list(headers))
    return answer


def json_media_type(mimetype: str, charset: str | None) -> bool:
    """JSON in UTF-8, or no media type at all (then the body itself must be UTF-8 JSON)."""
    return (mimetype in ("", "application/json") or mimetype.endswith("+json")) and charset in (None, "utf-8", "utf8")


