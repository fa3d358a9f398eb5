"""Settings: one frozen object, every bad key reported at once, secrets kept out of repr."""
from __future__ import annotations

import dataclasses

import pytest

from config.settings import SettingsError, load_settings


def test_defaults_are_the_embedded_demo():
    s = load_settings({"PAYSYNC_ENV": "test"})
    assert s.database_url.startswith("sqlite:///") and s.redis_url is None and s.erp == "sage50"
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.erp = "x"


def test_every_bad_key_is_listed_in_one_error():
    with pytest.raises(SettingsError) as caught:
        load_settings({"PAYSYNC_ENV": "test", "RETRY_MAX_ATTEMPTS": "lots", "PAYSYNC_ERP": "quickbooks", "DATABASE_URL": "mysql://x",
                       "VISIBILITY_TIMEOUT": "10", "MERCHANT_TIMEZONE": "Mars/Olympus", "WEBHOOK_SECRETS": "plain"})
    assert set(caught.value.errors) >= {"RETRY_MAX_ATTEMPTS", "PAYSYNC_ERP", "DATABASE_URL", "VISIBILITY_TIMEOUT",
                                        "MERCHANT_TIMEZONE", "WEBHOOK_SECRETS"}
    for key in caught.value.errors:
        assert key in str(caught.value)


def test_secrets_never_show_in_repr():
    s = load_settings({"PAYSYNC_ENV": "test", "PAYTRACE_PASSWORD": "hunter2-secret", "SAGE50_API_KEY": "sage-key-123",
                       "WEBHOOK_SECRETS": "whsec_c2VjcmV0c2VjcmV0c2VjcmV0"})
    text = repr(s)
    assert "hunter2-secret" not in text and "sage-key-123" not in text and "c2VjcmV0" not in text
    assert s.paytrace.password.reveal() == "hunter2-secret"


def test_visibility_timeout_must_outlive_the_longest_countdown():
    with pytest.raises(SettingsError) as caught:
        load_settings({"PAYSYNC_ENV": "test", "RETRY_BACKOFF_MAX": "600", "TASK_TIME_LIMIT": "300", "VISIBILITY_TIMEOUT": "800"})
    assert "VISIBILITY_TIMEOUT" in caught.value.errors


# -- several integration pairs -------------------------------------------------------------------
def test_each_pair_has_its_own_paytrace_account_and_erp_and_shares_the_rest():
    settings = load_settings({"PAYSYNC_ENV": "test", "PAYSYNC_PAIRS": "default,east", "DATABASE_URL": "sqlite:///x.db",
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
        load_settings({"PAYSYNC_ENV": "test", "PAYSYNC_PAIRS": "default,East,b", "PAYSYNC_PAIR_B_DATABASE_URL": "sqlite:///y.db",
                       "PAYSYNC_PAIR_NORTH_PAYTRACE_USERNAME": "n"})
    errors = caught.value.errors
    assert "PAYSYNC_PAIRS" in errors  # East is not a pair name
    assert "PAYSYNC_PAIR_NORTH_PAYTRACE_USERNAME" in errors  # names no pair
    assert "PAYSYNC_PAIR_B_DATABASE_URL" in errors  # shared, not a pair's own


def test_two_pairs_may_not_share_a_paytrace_account_or_an_erp_company():
    with pytest.raises(SettingsError) as caught:
        load_settings({"PAYSYNC_ENV": "test", "PAYSYNC_PAIRS": "a,b"})
    assert set(caught.value.errors) == {"PAYSYNC_PAIR_B_PAYTRACE_USERNAME", "PAYSYNC_PAIR_B_PAYSYNC_ERP"}


# -- issue 11: an operator's first hour ---------------------------------------------------------------------
@pytest.mark.parametrize("value", ["abc", "-5", "1.5.2"])
def test_a_non_numeric_or_negative_timing_key_is_listed_not_a_type_error(value):
    keys = ("VISIBILITY_TIMEOUT", "RETRY_BACKOFF_MAX", "RETRY_BACKOFF_BASE", "TASK_TIME_LIMIT", "SWEEP_STALL_SECONDS")
    with pytest.raises(SettingsError) as caught:
        load_settings({"PAYSYNC_ENV": "test", **{key: value for key in keys}})
    assert set(caught.value.errors) >= set(keys)
    for key in keys:  # one at a time, too: the rest of the check still runs
        with pytest.raises(SettingsError) as one:
            load_settings({"PAYSYNC_ENV": "test", key: value})
        assert key in one.value.errors


PRODUCTION = {"DATABASE_URL": "postgresql://u:p@db/paysync", "REDIS_URL": "redis://redis:6379/0",
              "PAYTRACE_USERNAME": "api-user", "PAYTRACE_PASSWORD": "pw", "PAYTRACE_INTEGRATOR_ID": "ABC123",
              "SAGE50_BASE_URL": "https://bridge.example:8443", "SAGE50_API_KEY": "k",
              "PAYSYNC_ID_HASH_KEY": "a-long-random-secret-of-the-deployment"}


def test_production_is_the_default_and_refuses_each_missing_key_on_its_own_line():
    with pytest.raises(SettingsError) as caught:
        load_settings({})
    required = {"DATABASE_URL", "REDIS_URL", "PAYTRACE_USERNAME", "PAYTRACE_PASSWORD", "PAYTRACE_INTEGRATOR_ID",
                "SAGE50_BASE_URL", "SAGE50_API_KEY", "PAYSYNC_ID_HASH_KEY"}
    assert set(caught.value.errors) == required
    lines = str(caught.value).splitlines()[1:]
    assert len(lines) == len(required) and all(line.strip().split(":")[0] in required for line in lines)
    settings = load_settings(PRODUCTION)
    assert settings.mode == "production" and settings.paytrace.base_url == "https://api.paytrace.com"


@pytest.mark.parametrize("erp,keys", [("sage_x3", {"SAGEX3_BASE_URL", "SAGEX3_USERNAME", "SAGEX3_PASSWORD"}),
                                      ("sage_pro", {"SAGEPRO_DATABASE_URL"})])
def test_production_asks_for_the_chosen_erps_address_and_credentials_only(erp, keys):
    env = {k: v for k, v in PRODUCTION.items() if not k.startswith("SAGE50_")}
    with pytest.raises(SettingsError) as caught:
        load_settings({**env, "PAYSYNC_ERP": erp})
    assert set(caught.value.errors) == keys


def test_the_demo_id_hash_key_or_a_short_one_is_refused_in_production():
    from config.settings import DEMO_ID_HASH_KEY

    for key in (DEMO_ID_HASH_KEY, "short"):
        with pytest.raises(SettingsError) as caught:
            load_settings({**PRODUCTION, "PAYSYNC_ID_HASH_KEY": key})
        assert set(caught.value.errors) == {"PAYSYNC_ID_HASH_KEY"}
    assert load_settings({"PAYSYNC_ENV": "demo"}).id_hash_key.reveal() == DEMO_ID_HASH_KEY


def test_silent_post_guard_settings_are_checked():
    with pytest.raises(SettingsError) as caught:
        load_settings({"PAYSYNC_ENV": "test", "SILENT_POST_ALLOW": "10.0.0.0/8,not-an-address",
                       "SILENT_POST_RATE_LIMIT": "lots"})
    assert set(caught.value.errors) == {"SILENT_POST_ALLOW", "SILENT_POST_RATE_LIMIT"}
