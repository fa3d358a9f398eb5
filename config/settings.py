"""The environment, read once into one frozen, validated Settings.

Every key is read before any is judged, so a bad deployment hears about all of its mistakes in
one error instead of one per restart. Secrets are wrapped so they never show in a repr or a log.
The settings are the systems' own frozen configs (config/settings_model.py), read by
config/settings_read.py and checked by config/settings_checks.py; several integration pairs
(PAYSYNC_PAIRS) are routed here.
"""
from __future__ import annotations

import os
import re
from dataclasses import replace
from functools import lru_cache
from typing import Mapping

from environs import Env

from config.settings_checks import parse_rate  # noqa: F401  (the ingress reads SILENT_POST_RATE_LIMIT with it)
from config.settings_model import (DEFAULT_HOME, DEMO_ID_HASH_KEY, ERP_KINDS, MODES, PairPart,  # noqa: F401
                                   Settings)
from config.settings_read import read
from connectors.errors import SettingsError
from connectors.secret import Secret  # noqa: F401  (re-exported: callers take Secret from the settings)

#: Keys a pair may set for itself, as PAYSYNC_PAIR_<NAME>_<KEY>; everything else is shared.
PAIR_KEYS = ("PAYSYNC_ERP", "PAYTRACE_", "SAGE50_", "SAGEX3_", "SAGEPRO_", "ALERT_", "SHOPIFY_")
_PAIR_NAME = re.compile(r"^[a-z][a-z0-9_]{0,30}$")


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Read and validate the environment; raise SettingsError listing every bad key."""
    source = dict(os.environ if environ is None else environ)
    names = [n.strip() for n in source.get("PAYSYNC_PAIRS", "").split(",") if n.strip()]
    if not names:
        return _read_env(source)
    errors: dict[str, list[str]] = {}
    bad = [n for n in names if not _PAIR_NAME.match(n)]
    if bad or len(set(names)) != len(names):
        errors["PAYSYNC_PAIRS"] = [f"pair names are lower-case letters, digits and _ (at most 31), each once; "
                                   f"got {', '.join(names)}"]
    prefixes = {n: f"PAYSYNC_PAIR_{n.upper()}_" for n in names}
    stray = sorted(k for k in source if k.startswith("PAYSYNC_PAIR_")
                   and not any(k.startswith(p) for p in prefixes.values()))
    for key in stray:
        errors[key] = [f"names no pair in PAYSYNC_PAIRS ({', '.join(names)})"]
    parts: list[tuple[str, PairPart]] = []
    base: Settings | None = None
    for name, prefix in prefixes.items():
        own = {k[len(prefix):]: v for k, v in source.items() if k.startswith(prefix)}
        for key in own:
            if not key.startswith(PAIR_KEYS):
                errors[prefix + key] = [f"a pair sets only its own {', '.join(k.rstrip('_') + '*' for k in PAIR_KEYS)}"]
        merged = {k: v for k, v in source.items() if not k.startswith("PAYSYNC_PAIR_")}
        merged.update({k: v for k, v in own.items() if k.startswith(PAIR_KEYS)})
        try:
            settings = _read_env(merged)
        except SettingsError as exc:
            for key, messages in exc.errors.items():
                errors[(prefix + key) if key.startswith(PAIR_KEYS) and key in own else key] = messages
            continue
        base = base or settings
        parts.append((name, PairPart(settings.erp, settings.paytrace, settings.sage50, settings.sage_x3,
                                     settings.sage_pro)))
    books: dict[tuple[str, ...], str] = {}
    for name, part in parts:
        # References (PT<id>-...) are unique per PayTrace account, not across accounts: two pairs
        # writing into one ERP company could take each other's documents for their own.
        book = _erp_company(part)
        if book in books:
            errors[prefixes[name] + "PAYSYNC_ERP"] = [
                f"pair {name!r} writes to the same {part.erp} company as pair {books[book]!r}; give each its own"]
        books.setdefault(book, name)
    accounts: dict[str, str] = {}
    for name, part in parts:
        account = part.paytrace.username.casefold()
        if account in accounts:
            errors[prefixes[name] + "PAYTRACE_USERNAME"] = [
                f"PayTrace account {part.paytrace.username!r} is already pair {accounts[account]!r}'s"]
        accounts.setdefault(account, name)
    if errors or base is None:
        raise SettingsError(errors or {"PAYSYNC_PAIRS": ["no pair could be read"]})
    return replace(base, pair_parts=tuple(parts)).for_pair(names[0])


def _erp_company(part: PairPart) -> tuple[str, ...]:
    """Where a pair's documents land: its ERP kind and the company (address, folder, tables) it writes."""
    if part.erp == "sage50":
        return (part.erp, part.sage50.base_url.rstrip("/").lower())
    if part.erp == "sage_x3":
        return (part.erp, part.sage_x3.base_url.rstrip("/").lower(), part.sage_x3.endpoint.upper())
    return (part.erp, part.sage_pro.database_url, part.sage_pro.company)


def _read_env(source: dict[str, str]) -> Settings:
    saved = os.environ.copy()
    # environs reads os.environ; swap it in for the duration so callers can pass a mapping.
    os.environ.clear()
    os.environ.update(source)
    try:
        return read(Env(eager=False))
    finally:
        os.environ.clear()
        os.environ.update(saved)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process's settings, read on first use."""
    return load_settings()
