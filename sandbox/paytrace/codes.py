"""PayTrace v1 response codes, error messages and the error envelope they travel in."""
from __future__ import annotations

from typing import Any

# Success status messages [C] (VCR, AM, DOC-EXP) unless marked.
MSG_APPROVED = "Your transaction was successfully approved."
MSG_DECLINED = "Your transaction was not approved."
MSG_CAPTURED = "Your transaction was successfully captured."
MSG_VOIDED = "Your transaction was successfully voided."
MSG_REFUNDED = "Your transaction was successfully refunded."  # [C] AM remote test_successful_refund
MSG_EXPORTED = "Your request has been successfully completed."
MSG_SETTLED = "The batch was successfully settled."  # [I] text not found in any source
MSG_ERRORS = "One or more errors has occurred."
# Check (ACH) answers: codes and texts [C] (AM unit fixtures; AM remote tests assert "processed").
MSG_CHECK_PROCESSED = "Your check was successfully processed."
MSG_CHECK_NOT_PROCESSED = "Your check was NOT successfully processed."
MSG_CHECK_REFUNDED = "Your check was successfully refunded."
MSG_CHECK_MANAGED = "Your check was successfully managed."
# Ping: PayTrace/paytrace_py requires {"status": "success"} from GET /v1/ping [C].
PING = {"status": "success"}


def level_three_added(txn_id: int, lines: int) -> str:
    """Response 170 [C] (AM unit fixtures, verbatim wording)."""
    return (f"Visa/MasterCard enhanced data was successfully added to Transaction ID {txn_id}. "
            f"{lines} line item records were created.")


# Approval texts keep PayTrace's odd whitespace verbatim [C].
APPROVED_EXACT = "EXACT MATCH - Approved and completed"
APPROVED_NO_MATCH = "  NO  MATCH - Approved and completed"

# Amount-triggered declines [C] (AM remote test, LOGS, AM2 fixture).
DECLINE_TRIGGERS = {
    "0.21": "    DECLINE - Insufficient funds",
    "0.29": "  EXPIRED CARD - Expired card",
    "1.12": "    DECLINE - Do not honor",
}

# [I] Amount-triggered check failures ("not processed", 125), reusing the card trigger amounts;
# PayTrace's own ACH triggers were not found. The answer carries `ach_code` 0 and an empty
# `ach_message`, as the one recorded refusal does [C] (AM unit fixture): ach_code is a number.
ACH_DECLINE_TRIGGERS = frozenset({"0.21", "0.29", "1.12"})

# Error keys [C] (reference §6) unless marked [I]. Invented keys are kept together here so
# one check against a real sandbox can correct them in one place.
E_CUSTOMER_NOT_FOUND = "30"
E_CARD_NUMBER = "35"
E_EXP_MONTH = "43"
E_EXP_YEAR = "44"  # key [C] (MOQUI), message wording [I]; never for a well-formed past year (1999 -> 35, 43 [C])
E_ACCOUNT_NUMBER = "45"
E_ROUTING_NUMBER = "46"
E_CHECK_NOT_FOUND = "80"  # key and both texts [C] (AM unit fixtures); also for a malformed check id [I]
E_AMOUNT = "48"  # [I] no amount-validation key was found in any source
E_TRANSACTION_ID = "58"
E_DUPLICATE_CUSTOMER = "171"
E_START_DATE = "990"  # [I] invented: date-format errors were not found in any source
E_END_DATE = "991"  # [I] invented
E_BATCH_NOT_FOUND = "992"  # [I] invented
E_BAD_BODY = "993"  # [I] invented: a body that is not a JSON object
E_CHECK_NOT_REFUNDABLE = "996"  # [I] invented: refunding an unsettled check (cards: 817)
E_NOT_FOUND = "811"
E_NOT_CAPTURABLE = "816"
E_NOT_REFUNDABLE = "817"
E_NOT_VOIDABLE = "818"
E_MISSING = "970"
E_INTEGRATOR = "971"

MESSAGES = {
    E_CARD_NUMBER: "Please provide a valid Credit Card Number.",
    E_EXP_MONTH: "Please provide a valid Expiration Month.",
    E_EXP_YEAR: "Please provide a valid Expiration Year.",
    E_ACCOUNT_NUMBER: "Please provide a valid Checking Account Number.",
    E_ROUTING_NUMBER: "Please provide a valid Transit Routing Number.",
    E_AMOUNT: "Please provide a valid Amount.",
    E_TRANSACTION_ID: "Please provide a valid Transaction ID.",
    E_CHECK_NOT_FOUND: "The Check ID that you provided was not found in the PayTrace record.",
    E_DUPLICATE_CUSTOMER: "Please provide a unique customer ID.",
    E_START_DATE: "Please provide a valid Start Date in MM/DD/YYYY format.",
    E_END_DATE: "Please provide a valid End Date in MM/DD/YYYY format.",
    E_BAD_BODY: "The request body must be a JSON object.",
    E_NOT_FOUND: "The Transaction ID that you provided was not found.",
    E_INTEGRATOR: "Please provide a valid integrator_id.",
}


def customer_not_found(customer_id: str) -> str:
    """Message for key 30, worded as in AM's fixture."""
    return f"Customer ID, {customer_id}, was not found or is incomplete."


# 817 verbatim, two spaces before "Please" included [C] (AM remote test_failed_refund). 816 and 818
# are quoted only from "could not be" onward; their start follows 817's [I].
NOT_REFUNDABLE = ("The Transaction ID that you provided could not be refunded. Only settled transactions can be "
                  "refunded.  Please try to void the transaction instead.")
NOT_CAPTURABLE = ("The Transaction ID that you provided could not be captured. "
                  "Only uncaptured, approved authorizations can be captured.")
NOT_VOIDABLE = ("The Transaction ID that you provided could not be voided. "
                "Only transactions that are pending settlement can be voided.")
# Funding or voiding a check that is not there, or no longer can be [C] (AM unit fixture, verbatim).
CHECK_NOT_MANAGEABLE = ("The Check ID that you have provided was not found in the PayTrace records. "
                        "It may already be voided or settled.")


# [I] wording modelled on the card messages; no text was found for refunding an unsettled check.
def check_not_refundable(check_id: int) -> str:
    return (f"The Check ID, {check_id}, could not be refunded. Only settled checks can be "
            "refunded. Please try to void the check instead.")


def batch_not_found(number: Any) -> str:
    return f"The Batch Number, {number}, was not found."  # [I] wording invented


def missing(param: str) -> str:
    return f"Param is missing or the value is empty: {param}"


class ApiError(Exception):
    """A PayTrace error envelope: `errors` maps numeric-string codes to lists of messages.

    `extra` adds fields real answers carry beside the errors, e.g. `masked_card_number` on card
    requests (the vendor's samples read it from the error body [C], AM's 171 fixture has it).
    """

    def __init__(self, errors: dict[str, list[str]], status: int = 400, extra: dict | None = None) -> None:
        super().__init__(errors)
        self.errors = errors
        self.status = status  # [I] 400 is the reference's best reading, not confirmed
        self.extra = dict(extra or {})

    @classmethod
    def one(cls, code: str, message: str | None = None) -> "ApiError":
        return cls({code: [message or MESSAGES[code]]})

    def body(self) -> dict[str, Any]:
        return {
            "success": False,
            "response_code": 1,
            "status_message": MSG_ERRORS,
            "errors": self.errors,
            "external_transaction_id": "",
            **self.extra,
        }


class Problems:
    """Collects several validation errors so one response can carry them all, as PayTrace does."""

    def __init__(self) -> None:
        self.errors: dict[str, list[str]] = {}

    def add(self, code: str, message: str | None = None) -> None:
        text = message or MESSAGES[code]
        bucket = self.errors.setdefault(code, [])
        if text not in bucket:
            bucket.append(text)

    def add_missing(self, param: str) -> None:
        self.add(E_MISSING, missing(param))

    def raise_if_any(self, extra: dict | None = None) -> None:
        if self.errors:
            raise ApiError(self.errors, extra=extra)
