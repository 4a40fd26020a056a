"""The plugin manager: built-ins always, third-party plugins unless in safe mode."""

from __future__ import annotations

import sys
import types

import pytest

from app import create_app
from app.config import ConfigError
from app.plugins.hookspecs import hookimpl


@pytest.fixture
def audit_plugin_module():
    """A throw-away plugin module importable by name."""
    module = types.ModuleType("wharfinger_test_audit_plugin")
    module.seen = []

    @hookimpl
    def record_activity(activity):
        module.seen.append(activity.key)

    module.record_activity = record_activity
    sys.modules[module.__name__] = module
    yield module
    del sys.modules[module.__name__]


def test_builtin_db_sink_is_registered(tmp_path):
    app = create_app({"INSTANCE_PATH": str(tmp_path), "SECRET_KEY": "k"})
    names = {name for name, _ in app.extensions["wharfinger.plugins"].list_name_plugin()}
    assert "app.plugins.db_audit" in names


def test_extra_plugins_load_and_receive_hooks(tmp_path, audit_plugin_module):
    from app.services.activities import record

    app = create_app(
        {"INSTANCE_PATH": str(tmp_path), "SECRET_KEY": "k", "PLUGINS": audit_plugin_module.__name__}
    )
    with app.app_context():
        record(app.extensions["wharfinger.plugins"], "team.create", None, "team", 1, "devs")
    assert audit_plugin_module.seen == ["team.create"]


def test_safe_mode_ignores_extra_plugins(tmp_path, audit_plugin_module):
    app = create_app(
        {
            "INSTANCE_PATH": str(tmp_path),
            "SECRET_KEY": "k",
            "SAFE_MODE": "true",
            "PLUGINS": audit_plugin_module.__name__,
        }
    )
    manager = app.extensions["wharfinger.plugins"]
    assert manager.get_plugin(audit_plugin_module.__name__) is None


def test_missing_plugin_is_a_configuration_error(tmp_path):
    with pytest.raises(ConfigError, match="WHARFINGER_PLUGINS"):
        create_app({"INSTANCE_PATH": str(tmp_path), "SECRET_KEY": "k", "PLUGINS": "no.such.plugin"})


def test_failing_sink_does_not_stop_others(app, plugins):
    from app.services.activities import record

    class Broken:
        @hookimpl
        def record_activity(self, activity):
            raise RuntimeError("sink down")

    plugins.register(Broken(), name="broken")
    activity = record(plugins, "user.create", None, "user", 1, "x")
    assert activity.key == "user.create"
