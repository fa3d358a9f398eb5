"""A console on SQLite with a seeded day, driven by Flask's test client (the fast tier)."""
from __future__ import annotations

import re

import pytest

from config.console import load_console_settings
from config.settings import load_settings
from console.app import create_app
from console.auth import add_user
from db.migrate import upgrade
from tests.console.seed import seed

PASSWORD = "correct horse battery"


@pytest.fixture
def db_url(tmp_path):
    url = f"sqlite:///{tmp_path / 'console.sqlite3'}"
    upgrade(url)
    return url


@pytest.fixture
def seeded(db_url):
    return seed(db_url)


@pytest.fixture
def replays():
    return []


@pytest.fixture
def app(db_url, tmp_path, replays):
    env = {"PAYSYNC_ENV": "test", "DATABASE_URL": db_url, "PAYSYNC_HOME": str(tmp_path)}
    return create_app(load_settings(env), load_console_settings(env), send_replay=replays.append)


@pytest.fixture
def users(db_url):
    add_user(db_url, "olive", "operator", PASSWORD)
    add_user(db_url, "vic", "viewer", PASSWORD)


def csrf(page: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert match, "the page carries no CSRF token"
    return match.group(1)


def sign_in(client, name: str, password: str = PASSWORD):
    token = csrf(client.get("/login").get_data(as_text=True))
    return client.post("/login", data={"name": name, "password": password, "csrf_token": token})


@pytest.fixture
def operator(app, users):
    client = app.test_client()
    assert sign_in(client, "olive").status_code == 302
    return client


@pytest.fixture
def viewer(app, users):
    client = app.test_client()
    assert sign_in(client, "vic").status_code == 302
    return client
