"""``wharfinger registry config`` output runs the real registry 2.8.2 unchanged."""

from __future__ import annotations

import time

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import Tag
from tests.factories import PASSWORD, make_registry, make_user
from tests.support.clients import Skopeo
from tests.support.live import LiveServer
from tests.support.ports import free_port
from tests.support.registry import RegistryProcess, require_binaries

pytestmark = pytest.mark.e2e


@pytest.fixture
def app_config(app_config, e2e_pki):
    """Wharfinger's own TLS files are the test PKI (the config command's default)."""
    return {**app_config, "TLS_CERT": str(e2e_pki.cert), "TLS_KEY": str(e2e_pki.key)}


def _wait_for_tag(app, timeout: float = 20.0) -> Tag:
    """The pushed tag, once the registry's notification was applied."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        app.extensions["wharfinger.jobs"].wait_idle(5)
        db.session.rollback()
        tag = db.session.scalar(sa.select(Tag))
        if tag is not None:
            return tag
        time.sleep(0.1)
    raise AssertionError("the push notification never arrived")


def test_registry_started_with_the_printed_config_obeys_wharfinger(
    app, plugins, runner, e2e_pki, images, tmp_path
):
    require_binaries("/usr/bin/docker-registry", "/usr/bin/skopeo")
    host_port = f"127.0.0.1:{free_port()}"
    make_registry(plugins, "main", host_port)
    make_user(plugins, "alice")
    with LiveServer(app, tls=(e2e_pki.cert, e2e_pki.key)) as live:
        app.config["URL"] = live.url
        result = runner.invoke(
            args=["registry", "config", "--listen", host_port, "--storage", str(tmp_path / "data")]
        )
        assert result.exit_code == 0, result.output
        assert f"/etc/docker/certs.d/{host_port}/ca.crt" in result.stderr
        config_text = result.stdout
        assert f'realm: "{live.url}/v2/token"' in config_text
        with RegistryProcess.from_config_text(
            tmp_path / "registry", config_text, ssl_cert_file=e2e_pki.bundle, ca_file=e2e_pki.cert
        ):
            skopeo = Skopeo(state_dir=tmp_path / "skopeo", cert_dir=e2e_pki.cert_dir(host_port))
            pushed = skopeo.copy(
                f"oci:{images}:one", f"docker://{host_port}/alice/app:1", ("alice", PASSWORD)
            )
            assert pushed.returncode == 0, pushed.stderr
            denied = skopeo.copy(
                f"oci:{images}:one", f"docker://{host_port}/other/app:1", ("alice", PASSWORD)
            )
            assert denied.returncode != 0
            assert "requested access to the resource is denied" in denied.stderr
            tag = _wait_for_tag(app)
            assert (tag.name, tag.author_name) == ("1", "alice")
        app.extensions["wharfinger.jobs"].wait_idle(10)
