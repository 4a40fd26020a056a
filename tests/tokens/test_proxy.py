"""The client address behind WHARFINGER_PROXY_COUNT proxies, and without one."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import Activity
from tests.tokens.conftest import SERVICE, basic

FORWARDED = {"X-Forwarded-For": "198.51.100.7", "X-Forwarded-Proto": "https"}


@pytest.fixture
def proxy_count():
    return 0


@pytest.fixture
def app_config(app_config, proxy_count):
    return {**app_config, "PROXY_COUNT": proxy_count}


def _login(client, password):
    headers = {**basic("viewer", password), **FORWARDED}
    return client.get("/v2/token", query_string={"service": SERVICE}, headers=headers)


def _addresses(key: str) -> list[str]:
    rows = db.session.scalars(sa.select(Activity).where(Activity.key == key))
    return [row.parameters.get("remote_addr") for row in rows]


@pytest.mark.parametrize(
    ("proxy_count", "recorded"),
    [(1, "198.51.100.7"), (0, "127.0.0.1")],  # without a proxy the header is a forgery
)
def test_logins_and_failures_record_the_client_address(client, world, recorded):
    assert _login(client, world["password"]).status_code == 200
    assert _login(client, "wrong").status_code == 401
    assert _addresses("user.login") == [recorded]
    assert _addresses("user.login_failed") == [recorded]
