"""Activities: who may read which, CSV export, audit sink plugins, login records."""

from __future__ import annotations

import csv
import io
import json
import socket

import sqlalchemy as sa

from app import create_app
from app.extensions import db
from app.models import Activity, Repository, User
from app.models.enums import Visibility
from app.services import activities
from tests.events.conftest import event
from tests.events.test_apply import store_and_apply
from tests.factories import make_namespace, make_team, make_user


def _visible(user) -> list[str]:
    return [a.target_name for a in db.session.scalars(activities.visible_to(user))]


def test_visibility_follows_portus(app, plugins, seed):
    outsider = make_user(plugins, "outsider")
    admin = make_user(plugins, "root", admin=True)
    public_team = make_team("open")
    make_namespace(seed["registry"], public_team, "open", visibility=Visibility.PUBLIC)
    store_and_apply(plugins, event(), event(repository="open/tool", tag="1"))

    assert "microbox/etcd:2.1.1" in _visible(seed["user"])
    assert "microbox/etcd:2.1.1" not in _visible(outsider)
    assert "open/tool:1" in _visible(outsider)
    assert _visible(None) == ["open/tool:1"]
    everything = _visible(admin)
    assert {"microbox/etcd:2.1.1", "open/tool:1", "outsider", "root"} <= set(everything)
    assert "outsider" in _visible(outsider)  # their own account's record
    assert "root" not in _visible(outsider)


def test_activities_outlive_their_objects(app, plugins, seed):
    store_and_apply(plugins, event())
    db.session.execute(sa.delete(Repository))
    db.session.execute(sa.delete(User).where(User.username == "gggg"))
    db.session.commit()
    push = db.session.scalar(sa.select(Activity).where(Activity.key == "repository.push"))
    assert (push.actor_name, push.target_name) == ("gggg", "microbox/etcd:2.1.1")


def test_csv_export_defuses_formulas(app, plugins, seed):
    activities.record(plugins, "team.create", seed["user"], "team", 1, "=HYPERLINK(evil)")
    db.session.commit()
    text = "".join(
        activities.csv_lines(
            db.session.scalars(activities.visible_to(make_user(plugins, "boss", admin=True)))
        )
    )
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == list(activities.CSV_COLUMNS)
    targets = [row[4] for row in rows[1:]]
    assert "'=HYPERLINK(evil)" in targets
    assert all(not t.startswith("=") for t in targets)


def test_empty_export_has_a_header():
    assert list(activities.csv_lines([])) == [",".join(activities.CSV_COLUMNS) + "\r\n"]


def test_jsonl_sink(app_config, tmp_path):
    path = tmp_path / "audit" / "audit.jsonl"
    app_config.update(PLUGINS="app.plugins.jsonl_audit", AUDIT_JSONL=str(path))
    other = create_app(app_config)
    with other.app_context():
        activities.record(
            other.extensions["wharfinger.plugins"],
            "team.create",
            None,
            "team",
            7,
            "devs",
            actor_name="admin",
        )
        db.session.commit()
        stored = db.session.scalar(sa.select(Activity.target_name))
    line = json.loads(path.read_text().splitlines()[0])
    assert (line["key"], line["target"], line["actor"], stored) == (
        "team.create",
        "devs",
        "admin",
        "devs",
    )


def test_syslog_sink_sends_json_over_udp(app_config):
    receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    receiver.bind(("127.0.0.1", 0))
    receiver.settimeout(5)
    port = receiver.getsockname()[1]
    app_config.update(PLUGINS="app.plugins.syslog_audit", AUDIT_SYSLOG=f"udp://127.0.0.1:{port}")
    other = create_app(app_config)
    with other.app_context():
        activities.record(
            other.extensions["wharfinger.plugins"],
            "namespace.create",
            None,
            "namespace",
            3,
            "microbox",
        )
        db.session.rollback()
    message = receiver.recv(4096).decode()
    receiver.close()
    assert message.startswith("<")  # syslog priority
    body = json.loads(message.split("wharfinger: ", 1)[1].rstrip("\x00"))
    assert (body["key"], body["target"]) == ("namespace.create", "microbox")
