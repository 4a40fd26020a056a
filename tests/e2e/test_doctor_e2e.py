"""``wharfinger doctor`` against the real registry: passes when wired, names each mismatch."""

from __future__ import annotations

import time

import pytest

from app import create_app
from app.extensions import db
from app.registry import jwt, keys
from app.services import registries
from tests.support.live import LiveServer
from tests.support.ports import free_port
from tests.support.registry import RegistryProcess, registry_config, require_binaries

pytestmark = pytest.mark.e2e


class Wiring:
    """A live Wharfinger plus one registry whose auth.token settings a test may break."""

    def __init__(self, app, plugins, pki, workdir):
        self.app, self.plugins, self.pki, self.workdir = app, plugins, pki, workdir

    def start(self, live_url: str, **broken) -> tuple[RegistryProcess, str]:
        """Register and start a registry; ``broken`` overrides realm/service/issuer."""
        host_port = f"127.0.0.1:{free_port()}"
        settings = {
            "realm": f"{live_url}/v2/token",
            "service": host_port,
            "issuer": self.app.config["TOKEN_ISSUER"],
            **broken,
        }
        text = registry_config(
            addr=host_port,
            storage=self.workdir / "data",
            rootcertbundle=self.app.config["SIGNING_CERT"],
            tls=(self.pki.cert, self.pki.key),
            **settings,
        )
        config_path = self.workdir / "registry-config.yml"
        config_path.write_text(text)
        registries.add_registry(self.plugins, "main", host_port)
        db.session.commit()
        process = RegistryProcess.from_config_text(
            self.workdir / "registry", text, ssl_cert_file=self.pki.bundle, ca_file=self.pki.cert
        )
        return process.start(), str(config_path)


@pytest.fixture
def wiring(app, plugins, e2e_pki, tmp_path):
    """Wharfinger served over TLS, its URL set, ready to wire a registry."""
    require_binaries("/usr/bin/docker-registry")
    with LiveServer(app, tls=(e2e_pki.cert, e2e_pki.key)) as live:
        app.config["URL"] = live.url
        yield Wiring(app, plugins, e2e_pki, tmp_path), live.url


def doctor(runner, *args):
    """Run ``wharfinger doctor`` and return (exit code, output)."""
    result = runner.invoke(args=["doctor", *args])
    return result.exit_code, result.output


def test_a_correct_setup_passes(wiring, runner):
    harness, url = wiring
    with harness.start(url)[0]:
        code, output = doctor(runner)
    assert code == 0, output
    for check in ("database", "signing key", "realm", "service", "clock", "token"):
        assert "ok    " in output and check in output
    assert "FAIL" not in output
    assert "the registry accepts Wharfinger's tokens" in output


def test_wrong_issuer_is_named(wiring, runner):
    harness, url = wiring
    process, config_path = harness.start(url, issuer="someone-else")
    with process:
        code, output = doctor(runner, "--registry-config", config_path)
        assert code == 1
        assert "auth.token.issuer is 'someone-else'" in output
        _, vague = doctor(runner)
    assert "either its auth.token.issuer" in vague


def test_wrong_service_is_named(wiring, runner):
    harness, url = wiring
    with harness.start(url, service="registry.elsewhere:5000")[0]:
        code, output = doctor(runner)
    assert code == 1
    assert "auth.token.service is 'registry.elsewhere:5000'" in output


def test_realm_pointing_elsewhere_is_named(wiring, runner):
    harness, url = wiring
    with harness.start(url, realm="https://127.0.0.1:9/v2/token")[0]:
        code, output = doctor(runner)
    assert code == 1
    assert "sends clients to 'https://127.0.0.1:9/v2/token'" in output


def test_certificate_not_matching_the_key_is_named(wiring, app_config, tmp_path):
    harness, url = wiring
    with harness.start(url)[0]:
        other = keys.self_signed_certificate(
            keys.generate_private_key("RS256", 2048), "other", ["localhost"]
        )
        stray = tmp_path / "stray.crt"
        stray.write_bytes(keys.certificate_pem(other))
        misconfigured = create_app({**app_config, "SIGNING_CERT": str(stray), "URL": url})
        with misconfigured.app_context():  # the command runs in the active app context
            code, output = doctor(misconfigured.test_cli_runner())
    assert code == 1
    assert "FAIL  signing key" in output and "does not match" in output


def test_clock_skew_is_named(wiring, runner, monkeypatch):
    harness, url = wiring
    original = jwt.build_claims

    def from_the_future(**kwargs):
        kwargs["now"] = int(time.time()) + 300  # our clock five minutes ahead
        return original(**kwargs)

    with harness.start(url)[0]:
        monkeypatch.setattr("app.services.tokens.jwt.build_claims", from_the_future)
        code, output = doctor(runner)
    assert code == 1
    assert "clock skew" in output and "NTP" in output
