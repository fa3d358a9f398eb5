"""The operator side's settings (every bad key at once) and the JSON log lines (run id, masked)."""
from __future__ import annotations

import json
import logging

import pytest

from config.console import load_console_settings, session_key
from config.logs import JsonFormatter, RunContext, current_run
from config.settings import SettingsError, load_settings


def test_bad_alert_settings_are_reported_together_by_key():
    with pytest.raises(SettingsError) as caught:
        load_console_settings({"CONSOLE_URL": "console.example", "ALERT_EMAIL_TO": "finance",
                               "ALERT_WEBHOOK_URLS": "ftp://hooks.example", "ALERT_MAX_PER_HOUR": "0"})
    assert set(caught.value.errors) == {"CONSOLE_URL", "ALERT_EMAIL_TO", "ALERT_WEBHOOK_URLS", "SMTP_HOST",
                                        "ALERT_MAX_PER_HOUR"}


def test_a_pair_may_name_its_own_alert_recipients_and_the_rest_fall_back():
    env = {"PAYSYNC_ENV": "test", "PAYSYNC_PAIRS": "west,east", "ALERT_EMAIL_TO": "all@shop.example", "SMTP_HOST": "mail",
           "PAYSYNC_PAIR_EAST_ALERT_EMAIL_TO": "east@shop.example", "PAYSYNC_PAIR_EAST_PAYTRACE_USERNAME": "east",
           "PAYSYNC_PAIR_EAST_SAGE50_BASE_URL": "http://sage50-east:8702"}
    load_settings(env)  # the posting side accepts the pair's ALERT_ keys
    console = load_console_settings(env)
    assert console.route_for("east").emails == ("east@shop.example",)
    assert console.route_for("west").emails == ("all@shop.example",)


def test_without_a_configured_key_one_session_key_is_made_once_and_kept_private(tmp_path):
    settings = load_console_settings({"PAYSYNC_HOME": str(tmp_path)})
    first, again = session_key(settings), session_key(settings)
    assert first == again and len(first) >= 40
    assert (tmp_path / "console-secret").stat().st_mode & 0o077 == 0
    assert "console-secret" not in repr(settings) and first not in repr(settings)


def test_a_log_line_is_json_with_the_run_id_and_no_card_number():
    record = logging.LogRecord("paysync.flow", logging.WARNING, __file__, 1, "card %s refused", ("4111111111111111",),
                               None)
    token = current_run.set(42)
    try:
        RunContext().filter(record)
    finally:
        current_run.reset(token)
    line = json.loads(JsonFormatter("worker").format(record))
    assert line["run_id"] == 42 and line["level"] == "warning" and line["logger"] == "paysync.flow"
    assert line["message"] == "card 411111xxxxxx1111 refused"
