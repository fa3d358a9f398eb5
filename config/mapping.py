"""Mapping files: load and route them (docs/mapping.md); the rules they give live in config/mapping_rules.py.

`load_mapping` refuses a broken file with every error and its path; `load_mappings` routes a
directory of them by PayTrace account. The pure rules of a loaded `Mapping` are re-exported here,
so a flow imports one module: the flows call them, never read the file's dataclasses directly.
"""
from __future__ import annotations

import codecs
import hashlib
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import yaml
from marshmallow import ValidationError

from config.mapping_rules import (Conversion, _resolve, account_for, convert, erp_date, item_for, local_date,
                                  normalize_address, payment_type_for, paytrace_status, rates_for, read_rates,
                                  reference_for, status_for)
from config.settings import ERP_KINDS, Settings
from connectors.errors import MappingError, UnmappableError
from schemas.mapping import Mapping, error_lines, parse_mapping

__all__ = ["DEFAULT_MAPPINGS_DIR", "Mapping", "MappingError", "UnmappableError", "MappingSet", "Conversion", "load_mapping",
           "parse_mapping_text", "load_mappings", "checksum", "short_checksum", "account_for",
           "item_for", "payment_type_for", "reference_for", "status_for", "paytrace_status", "convert",
           "read_rates", "rates_for", "erp_date", "local_date", "normalize_address", "active_mapping"]

SHORT_CHECKSUM_LENGTH = 12
#: Where the shipped mapping files live (one per ERP, all for the sandbox's PayTrace account "demo").
DEFAULT_MAPPINGS_DIR = Path(__file__).resolve().parent / "mappings"


# -- reading files ------------------------------------------------------------------------------
def _canonical(raw: bytes) -> bytes:
    """The bytes a checksum is taken of: no BOM, LF line ends, one final newline; so a Windows
    editor's save of the same text keeps the checksum, and any other change gives a new one."""
    if raw.startswith(codecs.BOM_UTF8):
        raw = raw[len(codecs.BOM_UTF8):]
    return raw.replace(b"\r\n", b"\n").replace(b"\r", b"\n").rstrip(b"\n") + b"\n"


def checksum(source: str | bytes | os.PathLike) -> str:
    """sha256 (64 hex digits) of a mapping file's canonical bytes: a path is read, str or bytes is the text."""
    if isinstance(source, os.PathLike):
        raw = Path(source).read_bytes()
    elif isinstance(source, str):
        raw = source.encode("utf-8")
    else:
        raw = bytes(source)
    return hashlib.sha256(_canonical(raw)).hexdigest()


def short_checksum(digest: str) -> str:
    """The form shown to people (like a short git hash)."""
    return digest[:SHORT_CHECKSUM_LENGTH]


class _Loader(yaml.BaseLoader):
    """YAML with every scalar kept as text (so `cash: 0100` stays "0100" and `country: NO` stays "NO";
    the schema decides types) and duplicate keys remembered instead of the last silently winning."""

    def __init__(self, stream) -> None:
        super().__init__(stream)
        self.duplicates: list[str] = []

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if isinstance(key, str) and key in seen:
                self.duplicates.append(f"line {key_node.start_mark.line + 1}: key {key!r} appears twice "
                                       "(only one may stay)")
            seen.add(key if isinstance(key, str) else id(key_node))
        return super().construct_mapping(node, deep=deep)


def parse_mapping_text(text: str, *, name: str = "<mapping>", base_dir: str | os.PathLike | None = None) -> Mapping:
    """Validate a mapping file's text; raises MappingError naming `name` with every mistake."""
    loader = _Loader(text)
    try:
        data = loader.get_single_data()
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        raise MappingError(name, [f"{name}: {where}not valid YAML ({getattr(exc, 'problem', None) or exc})"]) \
            from None
    finally:
        loader.dispose()
    problems = [f"{name}: {line}" for line in loader.duplicates]
    mapping = None
    try:
        mapping = parse_mapping(data)
    except ValidationError as exc:
        problems += [f"{name}: {path}: {message}" for path, message in error_lines(exc.messages)]
    if mapping is not None and mapping.currency.rates.kind == "file":
        try:
            read_rates(_resolve(mapping.currency.rates.location, base_dir))
        except (OSError, UnmappableError) as exc:
            problems.append(f"{name}: currency.rates.file: {exc}")
    if problems:
        raise MappingError(name, problems)
    return replace(mapping, source=name, checksum=checksum(text))


def load_mapping(path: str | os.PathLike) -> Mapping:
    """Read and validate one mapping file; raises MappingError listing every error with its path."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise MappingError(path, [f"{path}: cannot read the file ({exc.strerror or exc})"]) from None
    try:
        text = _canonical(raw).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MappingError(path, [f"{path}: not UTF-8 text (byte {exc.start})"]) from None
    mapping = parse_mapping_text(text, name=str(path), base_dir=path.parent)
    return replace(mapping, checksum=checksum(raw))


# -- several pairs in one deployment ------------------------------------------------------------
@dataclass(frozen=True)
class MappingSet:
    """The active mappings of a deployment, one per PayTrace account."""

    mappings: tuple[Mapping, ...]
    inactive: tuple[Mapping, ...] = ()  # valid files for an ERP this deployment does not run

    def for_account(self, account: str) -> Mapping:
        """The mapping serving a PayTrace account (API user name, compared without case)."""
        wanted = account.strip().casefold()
        for mapping in self.mappings:
            if mapping.paytrace.account.casefold() == wanted:
                return mapping
        known = ", ".join(m.paytrace.account for m in self.mappings) or "none"
        raise KeyError(f"no mapping serves PayTrace account {account!r} (accounts: {known})")

    @property
    def accounts(self) -> tuple[str, ...]:
        return tuple(m.paytrace.account for m in self.mappings)

    def __iter__(self) -> Iterator[Mapping]:
        return iter(self.mappings)

    def __len__(self) -> int:
        return len(self.mappings)


def load_mappings(directory: str | os.PathLike, *, erps: Iterable[str] | None = None) -> MappingSet:
    """Every `*.yaml`/`*.yml` file of `directory`, validated together and routed by PayTrace account.

    All files are validated (a broken one anywhere is refused); those whose `erp` is in `erps`
    (default: every ERP) are active, and no two active files may claim one PayTrace account.
    """
    directory = Path(directory)
    wanted = tuple(erps) if erps is not None else ERP_KINDS
    unknown = [e for e in wanted if e not in ERP_KINDS]
    if unknown:
        raise ValueError(f"unknown ERP kind(s) {', '.join(unknown)}; known: {', '.join(ERP_KINDS)}")
    files = sorted(p for p in directory.glob("*") if p.suffix in (".yaml", ".yml") and p.is_file()) \
        if directory.is_dir() else []
    if not files:
        raise MappingError(directory, [f"{directory}: no mapping files (*.yaml) found"])
    problems: list[str] = []
    loaded: list[Mapping] = []
    for path in files:
        try:
            loaded.append(load_mapping(path))
        except MappingError as exc:
            problems.extend(exc.errors)
    for m in loaded:
        if m.erp not in ERP_KINDS:  # the schema's list and the deployment's registry drifted apart
            problems.append(f"{m.source}: erp: {m.erp} has no connector in this deployment")
    active = [m for m in loaded if m.erp in wanted]
    claimed: dict[str, Mapping] = {}
    for m in active:
        key = m.paytrace.account.casefold()
        if key in claimed:
            problems.append(f"{m.source}: paytrace.account: {m.paytrace.account} is already served by "
                            f"{claimed[key].source}")
        claimed.setdefault(key, m)
    if problems:
        raise MappingError(directory, problems)
    return MappingSet(tuple(active), tuple(m for m in loaded if m not in active))


def active_mapping(settings: Settings) -> Mapping:
    """The mapping this deployment posts with: its ERP's file for its PayTrace account.

    Every file in the directory is validated, so one broken file stops the workers with every
    error listed (MappingError) instead of letting them run half-configured.
    """
    directory = settings.mappings_dir or DEFAULT_MAPPINGS_DIR
    mappings = load_mappings(directory, erps=[settings.erp])
    try:
        mapping = mappings.for_account(settings.paytrace.username)
    except KeyError:
        raise MappingError(directory, [f"no {settings.erp} mapping for PayTrace account "
                                       f"{settings.paytrace.username!r} (paytrace.account)"]) from None
    return mapping
