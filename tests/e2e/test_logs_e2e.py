"""No password, token or secret used in a real session ever reaches a log."""

from __future__ import annotations

import logging

import pytest

from app.extensions import db
from app.services import credentials
from tests.factories import PASSWORD
from tests.support.images import oci_ref

pytestmark = pytest.mark.e2e


def test_logs_of_an_end_to_end_run_hold_no_secrets(
    stack, people, skopeo, images, caplog, app, plugins
):
    caplog.set_level(logging.DEBUG)
    _, app_token = credentials.create_application_token(plugins, people.users["alice"], "ci")
    db.session.commit()
    assert skopeo.login(stack.host_port, "alice", PASSWORD).returncode == 0
    pushed = skopeo.copy(oci_ref(images, "one"), stack.ref("alice/app:1"), ("alice", app_token))
    assert pushed.returncode == 0, pushed.stderr
    denied = skopeo.copy(
        oci_ref(images, "one"), stack.ref("bob/app:1"), ("alice", "wrong password")
    )
    assert denied.returncode != 0
    refresh = stack.token_response(creds=("alice", PASSWORD), offline_token="true").json()
    bearer = stack.token(["repository:alice/app:pull"], ("alice", PASSWORD))
    secrets = {
        "password": PASSWORD,
        "wrong password": "wrong password",
        "application token": app_token,
        "refresh token": refresh["refresh_token"],
        "bearer token": bearer,
        "events secret": app.config["EVENTS_SECRET"],
        "secret key": app.config["SECRET_KEY"],
    }
    logs = {"wharfinger": caplog.text, "registry": stack.registry.log_text()}
    assert caplog.records  # the app did log during the run
    for source, text in logs.items():
        for name, value in secrets.items():
            assert value not in text, f"the {name} appears in the {source} log"


def test_request_ids_are_echoed_and_tagged(app, client, caplog):
    response = client.get("/-/live", headers={"X-Request-ID": "lb-1234"})
    assert response.headers["X-Request-ID"] == "lb-1234"
    generated = client.get("/-/live", headers={"X-Request-ID": "bad id with spaces"})
    assert len(generated.headers["X-Request-ID"]) == 32


def test_json_log_lines(app):
    import json

    from app.logs import JsonFormatter

    record = logging.LogRecord("app.x", logging.INFO, __file__, 1, "hello %s", ("there",), None)
    record.request_id = "abc"
    line = json.loads(JsonFormatter().format(record))
    assert (line["message"], line["request_id"], line["level"]) == ("hello there", "abc", "INFO")
