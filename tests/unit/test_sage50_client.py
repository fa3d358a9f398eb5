"""The Sage 50 client's metrics name routes, never records (a label per customer would grow without end)."""
from connectors.sage50.client import route_of


def test_a_record_key_in_the_path_becomes_id_and_the_action_stays():
    assert route_of("GET /v1/customers/PTC-BAQ7CBMWR3JRDY6D") == "GET /v1/customers/{id}"
    assert route_of("PATCH /v1/invoices/8f3c-11/status") == "PATCH /v1/invoices/{id}/status"
    assert route_of("POST /v1/payments") == "POST /v1/payments"
