"""The console in-process on SQLite: who may see and do what, what each page tells, and no card data."""
from __future__ import annotations

import re

import pytest

from db.models import ConsoleAudit, ConsoleUser, DeadLetter, ReviewItem
from db.session import session_scope
from tests.console.conftest import PASSWORD, csrf, sign_in
from tests.console.seed import LEAKED_PAN

PAGES = ("/today", "/days/2026-11-21", "/payments?q=Ada", "/payments/default/paytrace/1002",
         "/payments/default/paytrace/1001", "/dead-letters", "/dead-letters/1", "/review?status=all",
         "/reconciliation", "/reconciliation/1", "/mapping", "/audit")


def text(response) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", response.get_data(as_text=True)).split())


def audit_rows(db_url: str) -> list[tuple[str, str, str, str]]:
    with session_scope(db_url) as s:
        return [(a.user, a.action, a.subject, a.outcome) for a in s.query(ConsoleAudit).order_by(ConsoleAudit.id)]


def test_given_no_session_when_a_page_is_asked_then_the_sign_in_page_answers(app, seeded):
    client = app.test_client()
    for path in PAGES:
        response = client.get(path)
        assert response.status_code == 302 and "/login" in response.headers["Location"], path


def test_given_a_wrong_password_then_refused_and_audited_and_the_hash_is_not_the_password(app, users, db_url):
    client = app.test_client()
    assert sign_in(client, "olive", "not the password").status_code == 401
    assert sign_in(client, "nobody", "whatever it is").status_code == 401
    assert client.get("/today").status_code == 302
    assert ("olive", "login", "", "refused") in audit_rows(db_url)
    with session_scope(db_url) as s:
        stored = s.query(ConsoleUser).filter_by(name="olive").one().password_hash
    assert PASSWORD not in stored and stored.startswith(("scrypt:", "pbkdf2:"))


def test_given_a_post_without_its_csrf_token_then_400_and_nothing_changes(operator, seeded, db_url, replays):
    # when a form is posted from elsewhere (no token, or a wrong one)
    for token in (None, "forged"):
        data = {"note": "done"} | ({"csrf_token": token} if token else {})
        assert operator.post(f"/review/{seeded['item']}/resolve", data=data).status_code == 400
        assert operator.post(f"/dead-letters/{seeded['letter']}/replay", data=data).status_code == 400
    # then nothing was resolved or replayed
    with session_scope(db_url) as s:
        assert s.get(ReviewItem, seeded["item"]).status == "open"
    assert replays == []


def test_given_a_signed_in_viewer_then_every_page_reads_but_replay_and_resolve_are_403_and_audited(viewer, seeded,
                                                                                                   db_url, replays):
    for path in PAGES:
        assert viewer.get(path).status_code == 200, path
    page = viewer.get("/dead-letters").get_data(as_text=True)
    assert "Replay</button>" not in page  # a viewer is not offered the button
    token = csrf(page)
    assert viewer.post(f"/dead-letters/{seeded['letter']}/replay", data={"csrf_token": token}).status_code == 403
    assert viewer.post(f"/review/{seeded['item']}/resolve",
                       data={"csrf_token": token, "note": "looked"}).status_code == 403
    assert replays == []
    denied = [row for row in audit_rows(db_url) if row[3] == "denied"]
    assert [row[0] for row in denied] == ["vic", "vic"]


def test_no_page_shows_a_card_number_even_one_that_reached_a_free_text_column(operator, seeded):
    # given the seed put a full test card number into a step error and a review reason
    for path in PAGES:
        body = operator.get(path).get_data(as_text=True)
        assert LEAKED_PAN not in body, path
        assert not re.search(r"(?<!\d)4111[ -]?1111[ -]?1111[ -]?1111(?!\d)", body), path
    story = text(operator.get("/payments/default/paytrace/1002"))
    assert "411111xxxxxx1111" in story  # masked, first six and last four: what may be shown


@pytest.mark.parametrize("query", ["1002", "PT1002-SO", "INV-1002", "grace", "$80.00", "80"])
def test_search_by_id_reference_invoice_customer_or_amount_finds_the_payment(operator, seeded, query):
    response = operator.get(f"/payments?q={query}")
    if response.status_code == 302:  # one match: straight to its story
        assert response.headers["Location"].endswith("/payments/default/paytrace/1002")
    else:
        assert "/payments/default/paytrace/1002" in response.get_data(as_text=True)


def test_a_payments_story_has_its_events_steps_documents_retries_letter_review_and_settlement(operator, seeded):
    synced = text(operator.get("/payments/default/paytrace/1001"))
    for expected in ("$125.50", "Ada Lovelace", "INV-1001", "signed webhook", "sales order",
                     "PT1001-INV", "PT1001-JE", "Retries 1", "anomaly: amount", "Batch 77", "PTB77-SET posted",
                     "Refund 1004"):
        assert expected in synced, expected
    dead = text(operator.get("/payments/default/paytrace/1002"))
    assert "Dead letter 1" in dead and "GADGET-9" in dead and "Replay from “order”" in dead


def test_the_day_page_counts_in_synced_failed_and_declined_with_cash_by_brand_and_the_position(operator, seeded):
    day = text(operator.get("/days/2026-11-21"))
    for expected in ("3 payments in", "1 synced", "1 failed", "1 declined", "Visa $125.50", "Refunds (1) $25.50",
                     "PayTrace will deposit (before fees) $180.00", "The ERP holds $100.00",
                     "Not in the ERP yet $80.00", "Saturday, November 21, 2026"):
        assert expected in day, expected
    assert "No payment taken" in text(operator.get("/days/2026-11-20"))


def test_an_operator_replays_through_the_workers_task_once_and_a_replayed_letter_is_not_sent_again(
        operator, seeded, db_url, replays):
    token = csrf(operator.get("/dead-letters").get_data(as_text=True))
    response = operator.post(f"/dead-letters/{seeded['letter']}/replay", data={"csrf_token": token})
    assert response.status_code == 302
    assert replays == [seeded["letter"]]
    assert ("olive", "replay", f"dead letter {seeded['letter']}", "ok") in audit_rows(db_url)
    # when the worker has replayed it (the letter is no longer open), a second click sends nothing
    with session_scope(db_url) as s:
        s.get(DeadLetter, seeded["letter"]).status = "replayed"
    operator.post(f"/dead-letters/{seeded['letter']}/replay", data={"csrf_token": token})
    assert replays == [seeded["letter"]]
    assert "not open" in text(operator.get("/dead-letters"))


def test_a_replay_the_broker_cannot_take_says_so_and_is_audited_as_failed(users, seeded, db_url, tmp_path):
    from config.console import load_console_settings
    from config.settings import load_settings
    from console.app import create_app

    def broker_down(letter_id: int) -> None:
        raise ConnectionError("redis is down")

    # given a console whose broker cannot be reached
    env = {"PAYSYNC_ENV": "test", "DATABASE_URL": db_url, "PAYSYNC_HOME": str(tmp_path)}
    down = create_app(load_settings(env), load_console_settings(env), send_replay=broker_down).test_client()
    sign_in(down, "olive")
    token = csrf(down.get("/dead-letters").get_data(as_text=True))
    # when an operator replays, then the page says nothing was sent, and the letter stays open
    down.post(f"/dead-letters/{seeded['letter']}/replay", data={"csrf_token": token})
    assert "could not be reached" in text(down.get("/dead-letters"))
    assert ("olive", "replay", f"dead letter {seeded['letter']}", "failed") in audit_rows(db_url)
    with session_scope(db_url) as s:
        assert s.get(DeadLetter, seeded["letter"]).status == "open"


def test_an_operator_resolves_a_review_item_with_a_note_masked_and_audited(operator, seeded, db_url):
    token = csrf(operator.get("/review").get_data(as_text=True))
    assert operator.post(f"/review/{seeded['item']}/resolve", data={"csrf_token": token, "note": ""}).status_code == 302
    with session_scope(db_url) as s:
        assert s.get(ReviewItem, seeded["item"]).status == "open"  # a note is required
    note = f"customer confirmed by phone, card {LEAKED_PAN}"
    operator.post(f"/review/{seeded['item']}/resolve", data={"csrf_token": token, "note": note})
    with session_scope(db_url) as s:
        item = s.get(ReviewItem, seeded["item"])
        assert item.status == "resolved" and item.resolved_by == "olive"
        assert LEAKED_PAN not in item.note and "411111xxxxxx1111" in item.note
    assert ("olive", "resolve", f"review item {seeded['item']}", "ok") in audit_rows(db_url)


def test_the_mapping_page_shows_the_file_its_checksum_and_the_check_preview_of_stored_payments(operator, seeded):
    from config.mapping import DEFAULT_MAPPINGS_DIR, load_mapping

    page = text(operator.get("/mapping"))
    shipped = load_mapping(DEFAULT_MAPPINGS_DIR / "paytrace-sage50.yaml")
    assert shipped.short_checksum in page and shipped.checksum in page
    assert "PT1001-SO" in page and "PT1001-JE" in page  # the sale's documents, as mapping check builds them
    assert "nothing is posted to cash" in page  # the decline sample
    assert "policies:" in page  # the file itself


def test_sign_out_ends_the_session(operator):
    token = csrf(operator.get("/today").get_data(as_text=True))
    assert operator.post("/logout", data={"csrf_token": token}).status_code == 302
    assert operator.get("/today").status_code == 302


def test_an_open_redirect_after_sign_in_is_refused(app, users):
    client = app.test_client()
    token = csrf(client.get("/login").get_data(as_text=True))
    response = client.post("/login?next=//evil.example/x", data={"name": "olive", "password": PASSWORD,
                                                                 "csrf_token": token})
    assert response.headers["Location"] in ("/today", "http://localhost/today")
