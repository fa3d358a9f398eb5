"""Settings: one frozen object, every bad key reported at once, secrets kept out of repr."""
from __future__ import annotations

import dataclasses

import pytest

from config.settings import SettingsError, load_settings


def test_defaults_are_the_embedded_demo():
    s = load_settings({})
    assert s.database_url.startswith("sqlite:///") and s.redis_url is None and s.erp == "sage50"
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.erp = "x"


def test_every_bad_key_is_listed_in_one_error():
    with pytest.raises(SettingsError) as caught:
        load_settings({"RETRY_MAX_ATTEMPTS": "lots", "PAYSYNC_ERP": "quickbooks", "DATABASE_URL": "mysql://x",
                       "VISIBILITY_TIMEOUT": "10", "MERCHANT_TIMEZONE": "Mars/Olympus", "WEBHOOK_SECRETS": "plain"})
    assert set(caught.value.errors) >= {"RETRY_MAX_ATTEMPTS", "PAYSYNC_ERP", "DATABASE_URL", "VISIBILITY_TIMEOUT",
                                        "MERCHANT_TIMEZONE", "WEBHOOK_SECRETS"}
    for key in caught.value.errors:
        assert key in str(caught.value)


def test_secrets_never_show_in_repr():
    s = load_settings({"PAYTRACE_PASSWORD": "hunter2-secret", "SAGE50_API_KEY": "sage-key-123",
                       "WEBHOOK_SECRETS": "whsec_c2VjcmV0c2VjcmV0c2VjcmV0"})
    text = repr(s)
    assert "hunter2-secret" not in text and "sage-key-123" not in text and "c2VjcmV0" not in text
    assert s.paytrace.password.reveal() == "hunter2-secret"


def test_visibility_timeout_must_outlive_the_longest_countdown():
    with pytest.raises(SettingsError) as caught:
        load_settings({"RETRY_BACKOFF_MAX": "600", "TASK_TIME_LIMIT": "300", "VISIBILITY_TIMEOUT": "800"})
    assert "VISIBILITY_TIMEOUT" in caught.value.errors


# -- several integration pairs -------------------------------------------------------------------
def test_each_pair_has_its_own_paytrace_account_and_erp_and_shares_the_rest():
    settings = load_settings({"PAYSYNC_PAIRS": "default,east", "DATABASE_URL": "sqlite:///x.db",
                              "PAYSYNC_PAIR_EAST_PAYTRACE_USERNAME": "east-store",
                              "PAYSYNC_PAIR_EAST_PAYSYNC_ERP": "sage_x3",
                              "PAYSYNC_PAIR_EAST_SAGEX3_BASE_URL": "http://x3.east:8124"})
    default, east = settings.pairs()
    assert (settings.pair, default.pair, east.pair) == ("default", "default", "east")
    assert (default.erp, default.paytrace.username) == ("sage50", "demo")
    assert (east.erp, east.paytrace.username, east.sage_x3.base_url) == ("sage_x3", "east-store", "http://x3.east:8124")
    assert east.database_url == default.database_url == "sqlite:///x.db"
    with pytest.raises(KeyError):
        settings.for_pair("west")


def test_pair_mistakes_are_all_reported_at_once():
    with pytest.raises(SettingsError) as caught:
        load_settings({"PAYSYNC_PAIRS": "default,East,b", "PAYSYNC_PAIR_B_DATABASE_URL": "sqlite:///y.db",
                       "PAYSYNC_PAIR_NORTH_PAYTRACE_USERNAME": "n"})
    errors = caught.value.errors
    assert "PAYSYNC_PAIRS" in errors  # East is not a pair name
    assert "PAYSYNC_PAIR_NORTH_PAYTRACE_USERNAME" in errors  # names no pair
    assert "PAYSYNC_PAIR_B_DATABASE_URL" in errors  # shared, not a pair's own


def test_two_pairs_may_not_share_a_paytrace_account_or_an_erp_company():
    with pytest.raises(SettingsError) as caught:
        load_settings({"PAYSYNC_PAIRS": "a,b"})
    assert set(caught.value.errors) == {"PAYSYNC_PAIR_B_PAYTRACE_USERNAME", "PAYSYNC_PAIR_B_PAYSYNC_ERP"}
