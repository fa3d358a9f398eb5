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
