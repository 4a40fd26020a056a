"""``make run``: first-run setup, then the production server on https://localhost:8443.

Embedded defaults only: SQLite and generated keys in ./instance, jobs in-process. When the
``docker-registry`` binary is on PATH, a registry is also started on 127.0.0.1:5000, wired
to this server (token auth and notifications), with the same self-signed certificate.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from app import ConfigError, create_app

BIND = "127.0.0.1:8443"
REGISTRY_HOST = "127.0.0.1:5000"
SYSTEM_CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"


def _ensure_registry_row(app) -> None:
    """Register the local registry once (ignored when it exists)."""
    from app.extensions import db
    from app.services import registries

    with app.app_context():
        if registries.find_by_service(REGISTRY_HOST) is None:
            registries.add_registry(app.extensions["wharfinger.plugins"], "local", REGISTRY_HOST)
            db.session.commit()


def _write_registry_files(app) -> tuple[Path, Path]:
    """config.yml, a CA bundle the registry trusts (for notifications), a client cert dir."""
    from app.services.registries import find_by_service
    from app.services.registry_config import RegistryConfigOptions, render_registry_config

    folder = Path(app.instance_path) / "registry"
    (folder / "data").mkdir(parents=True, exist_ok=True)
    config = app.config
    options = RegistryConfigOptions(
        REGISTRY_HOST, str(folder / "data"), config["TLS_CERT"], config["TLS_KEY"]
    )
    with app.app_context():
        text = render_registry_config(find_by_service(REGISTRY_HOST), config, options)
    (folder / "config.yml").write_text(text)
    own_cert = Path(config["TLS_CERT"]).read_text()
    system = Path(SYSTEM_CA_BUNDLE).read_text() if Path(SYSTEM_CA_BUNDLE).exists() else ""
    (folder / "ca-bundle.crt").write_text(system + own_cert)
    cert_dir = Path(app.instance_path) / "certs.d" / REGISTRY_HOST
    cert_dir.mkdir(parents=True, exist_ok=True)
    (cert_dir / "ca.crt").write_text(own_cert)
    return folder, cert_dir


def _start_registry(app) -> subprocess.Popen | None:
    """Start docker-registry in the background if the binary exists."""
    binary = shutil.which("docker-registry")
    if binary is None:
        return None
    _ensure_registry_row(app)
    folder, cert_dir = _write_registry_files(app)
    log = (folder / "registry.log").open("ab")
    env = {**os.environ, "SSL_CERT_FILE": str(folder / "ca-bundle.crt")}
    process = subprocess.Popen(
        [binary, "serve", str(folder / "config.yml")], stdout=log, stderr=subprocess.STDOUT, env=env
    )
    print(f"registry: https://{REGISTRY_HOST} (log: {folder / 'registry.log'})")
    print("  wharfinger user create alice --email alice@example.com   # then:")
    print(f"  skopeo login --cert-dir {cert_dir} -u alice {REGISTRY_HOST}")
    print(
        f"  docker: copy {cert_dir / 'ca.crt'} to /etc/docker/certs.d/{REGISTRY_HOST}/ca.crt,"
        f" then docker login {REGISTRY_HOST}"
    )
    return process


def main() -> int:
    """Initialise the instance, start a local registry if possible, serve until stopped."""
    from app.cli import cli

    try:
        app = create_app()
    except ConfigError as exc:
        print(f"wharfinger: configuration error: {exc}", file=sys.stderr)
        return 2
    cli.main(["init"], prog_name="wharfinger", standalone_mode=False)
    registry = _start_registry(app)
    print(f"Wharfinger: https://localhost:{BIND.rsplit(':', 1)[1]}/ (self-signed certificate)")
    try:
        cli.main(["serve", "--bind", BIND, "--workers", "2"], prog_name="wharfinger")
    finally:
        if registry is not None:
            registry.terminate()
            registry.wait(timeout=10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
