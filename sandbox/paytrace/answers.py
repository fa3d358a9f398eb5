"""Where real PayTrace accounts may answer differently: sandbox knobs that make this account do so.

Defaults follow the public evidence (shared/reference/evidence.md). A test (and `paysync doctor`'s
own tests) turns a knob to rehearse an account that answers the other way:

- `batch_totals`: batches/export carries totals (transaction_count, net_amount, sales_amount...)
  beside `number`. Only `number` is confirmed, so by default it does not [I].
- `settled_status`: "GB" writes a settled card's status_code as GB<batch> [C]; "Settled" writes the
  text form a public client reads a settled status from (mantle-paytrace) [C].
- `omit_fields`: top-level fields left out of every transaction export record (e.g. invoice_id,
  customer_id, credit_card), for an account whose records carry less.
- `checks_api`: False makes the v1 check export endpoints unknown (404), as on an account whose
  API has none [I: no v1 check export is public].
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

SETTLED_STYLES = ("GB", "Settled")


@dataclass
class Answers:
    """The account's answering habits (see the module doc)."""

    batch_totals: bool = False
    settled_status: str = "GB"
    omit_fields: list[str] = field(default_factory=list)
    checks_api: bool = True

    def update(self, body: Any) -> dict[str, Any]:
        """Apply a /_sandbox/answers body: all or nothing; ValueError names what is wrong."""
        if not isinstance(body, dict):
            raise ValueError("the body must be a JSON object")
        unknown = sorted(set(body) - set(asdict(self)))
        if unknown:
            raise ValueError(f"unknown answer setting(s): {', '.join(unknown)}")
        new = dict(body)
        for flag in ("batch_totals", "checks_api"):
            if flag in new and not isinstance(new[flag], bool):
                raise ValueError(f"{flag} must be true or false")
        if "settled_status" in new and new["settled_status"] not in SETTLED_STYLES:
            raise ValueError(f"settled_status must be one of {', '.join(SETTLED_STYLES)}")
        if "omit_fields" in new and not (isinstance(new["omit_fields"], list)
                                         and all(isinstance(f, str) for f in new["omit_fields"])):
            raise ValueError("omit_fields must be a list of field names")
        for key, value in new.items():
            setattr(self, key, list(value) if isinstance(value, list) else value)
        return self.snapshot()

    def snapshot(self) -> dict[str, Any]:
        return asdict(self)

    def record(self, record: dict[str, Any]) -> dict[str, Any]:
        """An export record as this account writes it."""
        status = str(record.get("status_code") or "")
        if self.settled_status == "Settled" and status.startswith("GB"):
            record = {**record, "status_code": "Settled", "status_message": "Settled"}
        return {k: v for k, v in record.items() if k not in self.omit_fields} if self.omit_fields else record
