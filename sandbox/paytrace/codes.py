"""PayTrace v1 response codes, error messages and the error envelope they travel in."""
from __future__ import annotations

from typing import Any

# Success status messages [C] (VCR, AM, DOC-EXP) unless marked.
MSG_APPROVED = "Your transaction was successfully approved."
MSG_DECLINED = "Your transaction was not approved."
MSG_CAPTURED = "Your transaction was successfully captured."
MSG_VOIDED = "Your transaction was successfully voided."
MSG_REFUNDED = "Your transaction was successfully refunded."
MSG_EXPORTED = "Your request has been successfully completed."
MSG_SETTLED = "The batch was successfully settled."  # [I] text not found in any source
MSG_ERRORS = "One or more errors has occurred."
# Check (ACH) answers: the codes are [C] (§6), every text [I] (none was found).
MSG_CHECK_PROCESSED = "Your check was successfully processed."
MSG_CHECK_NOT_PROCESSED = "Your check was not successfully processed."
MSG_CHECK_REFUNDED = "Your check was successfully refunded."
MSG_CHECK_MANAGED = "Your check was successfully managed."

# Approval texts keep PayTrace's odd whitespace verbatim [C].
APPROVED_EXACT = "EXACT MATCH - Approved and completed"
APPROVED_NO_MATCH = "  NO  MATCH - Approved and completed"

# Amount-triggered declines [C] (AM remote test, LOGS, AM2 fixture).
DECLINE_TRIGGERS = {
    "0.21": "    DECLINE - Insufficient funds",
    "0.29": "  EXPIRED CARD - Expired card",
    "1.12": "    DECLINE - Do not honor",
}

# [I] Amount-triggered check failures ("not processed", 125), reusing the card trigger amounts
# with NACHA return codes; PayTrace's own ACH triggers were not found.
ACH_DECLINE_TRIGGERS = {
    "0.21": ("R01", "Insufficient Funds"),
    "0.29": ("R02", "Account Closed"),
    "1.12": ("R03", "No Account/Unable to Locate Account"),
}

# Error keys [C] (reference §6) unless marked [I]. Invented keys are kept together here so
# one check against a real sandbox can correct them in one place.
E_CUSTOMER_NOT_FOUND = "30"
E_CARD_NUMBER = "35"
E_EXP_MONTH = "43"
E_EXP_YEAR = "44"  # key [C] (MOQUI), message wording [I]
E_ACCOUNT_NUMBER = "45"
E_ROUTING_NUMBER = "46"
E_CHECK_NOT_FOUND = "80"  # key [C]; also used for a malformed check id [I]
E_AMOUNT = "48"  # [I] no amount-validation key was found in any source
E_TRANSACTION_ID = "58"
E_DUPLICATE_CUSTOMER = "171"
E_START_DATE = "990"  # [I] invented: date-format errors were not found in any source
E_END_DATE = "991"  # [I] invented
E_BATCH_NOT_FOUND = "992"  # [I] invented
E_BAD_BODY = "993"  # [I] invented: a body that is not a JSON object
E_CHECK_NOT_FUNDABLE = "994"  # [I] invented: funding anything but a held check
E_CHECK_NOT_VOIDABLE = "995"  # [I] invented: voiding a settled, returned or voided check
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
    E_CHECK_NOT_FOUND: "The Check ID that you provided was not found.",
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


# [I] The reference quotes these three only from "…could not be …" onward; the
# "The Transaction ID, N," prefix follows the wording of key 30.
def not_capturable(txn_id: int) -> str:
    return (f"The Transaction ID, {txn_id}, could not be captured. "
            "Only uncaptured, approved authorizations can be captured.")


def not_refundable(txn_id: int) -> str:
    return (f"The Transaction ID, {txn_id}, could not be refunded. Only settled transactions "
            "can be refunded. Please try to void the transaction instead.")


def not_voidable(txn_id: int) -> str:
    return (f"The Transaction ID, {txn_id}, could not be voided. "
            "Only transactions that are pending settlement can be voided.")


# [I] wording modelled on the card messages (816-818); no check text was found.
def check_not_fundable(check_id: int) -> str:
    return f"The Check ID, {check_id}, could not be funded. Only held checks can be funded."


def check_not_voidable(check_id: int) -> str:
    return (f"The Check ID, {check_id}, could not be voided. "
            "Only held checks and checks pending settlement can be voided.")


def check_not_refundable(check_id: int) -> str:
    return (f"The Check ID, {check_id}, could not be refunded. Only settled checks can be "
            "refunded. Please try to void the check instead.")


def batch_not_found(number: Any) -> str:
    return f"The Batch Number, {number}, was not found."  # [I] wording invented


def missing(param: str) -> str:
    return f"Param is missing or the value is empty: {param}"


class ApiError(Exception):
    """A PayTrace error envelope: `errors` maps numeric-string codes to lists of messages."""

    def __init__(self, errors: dict[str, list[str]], status: int = 400) -> None:
        super().__init__(errors)
        self.errors = errors
        self.status = status  # [I] 400 is the reference's best reading, not confirmed

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

    def raise_if_any(self) -> None:
        if self.errors:
            raise ApiError(self.errors)
