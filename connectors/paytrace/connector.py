"""PayTrace as paysync uses it: transactions, checks (ACH) and vault profiles by id and by date, and
the one money call paysync makes itself, a sale to a vault customer."""
from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Iterator

from connectors.errors import NotFoundError
from connectors.paytrace.client import PayTraceClient
from connectors.paytrace.mapping import SYSTEM, export_date
from schemas.masking import find_card_data, mask_payload

CENT = Decimal("0.01")
#: The billing_address fields of a v1 request (paytrace.md §2 [C]).
ADDRESS_KEYS = frozenset({"name", "street_address", "street_address2", "city", "state", "zip", "country"})


class PayTraceGateway:
    """PayTrace for paysync: export records as dicts (card-masked by PayTrace) and vault sales.

    Card transactions and checks have separate id spaces that overlap: a check id is only ever
    looked up with `check`, a card transaction id only with `transaction`.
    """

    def __init__(self, client: PayTraceClient) -> None:
        self.client = client

    # -- card transactions ------------------------------------------------------------------
    def transaction(self, transaction_id: int) -> dict:
        """The export record of one transaction (export/by_id, element [0])."""
        body = self.client.call("transactions/export/by_id",
                                {"transaction_id": int(transaction_id), "include_bin": True}, idempotent=True)
        records = body.get("transactions") or []
        if not records:
            raise NotFoundError(f"transaction {transaction_id} not in export", system=SYSTEM,
                                operation="transactions/export/by_id")
        return records[0]

    def transactions_between(self, start: date, end: date) -> list[dict]:
        """Every transaction created from `start` to `end` inclusive (merchant-local dates)."""
        body = self.client.call("transactions/export/by_date_range",
                                {"start_date": export_date(start), "end_date": export_date(end),
                                 "include_bin": True}, idempotent=True)
        return list(body.get("transactions") or [])

    def batches(self, start: date, end: date | None = None) -> list[dict]:
        """The settled batches closed from `start` to `end` (PayTrace's dates, MM/DD/YYYY)."""
        body = self.client.call("batches/export", {"start_date": export_date(start),
                                                   "end_date": export_date(end or start)}, idempotent=True)
        return list(body.get("batches") or [])

    def batch_transactions(self, batch_number: int) -> Iterator[dict]:
        """The settled transactions of one batch, streamed: a batch may hold a million of them."""
        return self.client.stream("batches/transaction_list", {"batch_number": int(batch_number),
                                                               "include_bin": True}, array="transactions")

    def batch_transaction_blocks(self, batch_number: int, struct: type) -> Iterator[list]:
        """The same, in lists of `struct` keeping only its fields (client.stream_blocks: NotBlockShaped
        when the answer cannot be cut; read it with batch_transactions then)."""
        return self.client.stream_blocks("batches/transaction_list", {"batch_number": int(batch_number),
                                                                      "include_bin": True},
                                         array="transactions", struct=struct)

    # -- vault sales (recurring billing) ----------------------------------------------------
    def sale_by_customer(self, customer_id: str, amount: Decimal, *, invoice_id: str,
                         description: str = "") -> dict:
        """Charge a vault customer once; PayTrace's answer, approved *or declined* (check `success`).

        Never retried blindly (client.transact): after a timeout or a crash, ask
        `sales_for_invoice` whether the charge happened before charging again. `invoice_id` is
        what that question is answered by, so it is required.
        """
        if isinstance(amount, bool) or not isinstance(amount, (Decimal, int)):
            raise TypeError(f"amount must be a Decimal, not {type(amount).__name__}")
        cents = Decimal(amount).quantize(CENT)
        if cents != amount or cents <= 0:
            raise ValueError(f"amount must be positive whole cents, not {amount}")
        if not str(invoice_id).strip():
            raise ValueError("invoice_id is required: it is how a charge is found again after a crash")
        body = {"customer_id": customer_id, "amount": f"{cents:f}", "invoice_id": str(invoice_id)}
        if description:
            body["description"] = description
        return self.client.transact("transactions/sale/by_customer", body)

    def sales_for_invoice(self, customer_id: str, invoice_id: str, start: date, end: date) -> list[dict]:
        """Export records of `customer_id` from `start` to `end` whose invoice_id is exactly `invoice_id`.

        Every type is returned (SALE, DECLINED, REFUND, VOID...): the caller decides what counts
        as charged. The search is narrowed with `including_text` [C name], whose meaning (a
        substring of invoice_id, description or customer_reference_id) is [I]; so when that finds
        nothing, the customer's whole range is read once more and matched here, and a wrong guess
        about `including_text` can never hide a charge and cause a second one.
        """
        body = {"start_date": export_date(start), "end_date": export_date(end), "customer_id": customer_id,
                "include_bin": True}

        def matching(filters: dict) -> list[dict]:
            answer = self.client.call("transactions/export/by_date_range", filters, idempotent=True)
            return [r for r in answer.get("transactions") or [] if str(r.get("invoice_id") or "") == invoice_id]

        narrowing = self.client.config.layout.including_text
        return (matching({**body, narrowing: invoice_id}) if narrowing else []) or matching(body)

    # -- checks (ACH) [I: no v1 check export was found; see docs/paytrace.md] ---------------
    def check(self, check_transaction_id: int) -> dict:
        """The export record of one check (checks/export/by_id [I], element [0]); NotFoundError if none."""
        lay = self.client.config.layout
        body = self.client.call(lay.check_export_by_id, {lay.check_id_field: int(check_transaction_id)},
                                idempotent=True)
        records = body.get(lay.checks_array) or []
        if not records:
            raise NotFoundError(f"check {check_transaction_id} not in export", system=SYSTEM,
                                operation=lay.check_export_by_id)
        # Masked again here: the record shape is a guess, so nothing vouches that PayTrace masks it.
        return self._check_record(records[0])

    def checks_between(self, start: date, end: date) -> list[dict]:
        """Every check created from `start` to `end` inclusive (merchant-local dates)."""
        lay = self.client.config.layout
        body = self.client.call(lay.check_export_by_date_range,
                                {"start_date": export_date(start), "end_date": export_date(end)}, idempotent=True)
        return [self._check_record(r) for r in body.get(lay.checks_array) or []]

    def _check_record(self, record: dict) -> dict:
        """A check record masked, its id under the name paysync reads (check_transaction_id) whatever the site's."""
        name = self.client.config.layout.check_id_field
        if name != "check_transaction_id" and name in record:
            record = {**{k: v for k, v in record.items() if k != name}, "check_transaction_id": record[name]}
        return mask_payload(record)

    # -- vault profiles ---------------------------------------------------------------------
    def customers(self, customer_id: str | None = None) -> list[dict]:
        """Vault profiles (customer/export): all of them, or the one `customer_id` ([] if unknown).

        Each carries email, phone, billing_address and shipping_address; payment data masked.
        """
        body = {} if customer_id is None else {"customer_id": customer_id}
        try:
            answer = self.client.call("customer/export", body, idempotent=True)
        except NotFoundError:
            if customer_id is None:
                raise
            return []  # PayTrace answers key 30 for an unknown id: no such profile
        return [mask_payload(r) for r in answer.get("customers") or []]

    def update_customer(self, customer_id: str, *, email: str | None = None, phone: str | None = None,
                        billing_address: dict | None = None) -> dict:
        """Change a profile's contact details (None: leave as is); never sends payment data.

        Repeating it is harmless (the same values again), so short retries are allowed.
        """
        body: dict = {"customer_id": customer_id}
        if email is not None:
            body["email"] = str(email)
        if phone is not None:
            body["phone"] = str(phone)
        if billing_address is not None:
            unknown = set(billing_address) - ADDRESS_KEYS
            if unknown:
                raise ValueError(f"not billing address fields: {', '.join(sorted(unknown))}")
            body["billing_address"] = {k: "" if v is None else str(v) for k, v in billing_address.items()}
        if len(body) == 1:
            raise ValueError("nothing to update: give email, phone or billing_address")
        if find_card_data(body):
            raise ValueError("refusing to send what looks like card or account data in a profile update")
        return self.client.call("customer/update", body, idempotent=True)
