"""First-run setup of the instance folder: secrets, token-signing key, TLS certificate.

Idempotent: existing files are kept unless ``force`` is given. Private files are created
with mode 0600 and never logged.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from app.registry import keys


@dataclass
class SetupReport:
    """What ``ensure_instance`` created and what it kept, for the CLI to print."""

    created: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)


def write_private(path: Path, data: bytes) -> None:
    """Write a secret file atomically with mode 0600."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    os.replace(temporary, path)


def write_public(path: Path, data: bytes) -> None:
    """Write a non-secret file (certificates) atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_bytes(data)
    os.replace(temporary, path)


def read_or_create_secret(path: Path) -> str:
    """The secret stored in ``path``; created with 256 random bits the first time.

    ``O_EXCL`` makes concurrent first starts (several gunicorn workers) agree on one value.
    """
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as handle:
        handle.write(secrets.token_urlsafe(32))
    return path.read_text().strip()


def _key_pair(
    key_path: Path,
    cert_path: Path,
    algorithm: str,
    common_name: str,
    alt_names: list[str],
    force: bool,
    report: SetupReport,
) -> None:
    """Create a key and its self-signed certificate unless both exist (or ``force``)."""
    if key_path.exists() and cert_path.exists() and not force:
        report.kept += [str(key_path), str(cert_path)]
        return
    key = keys.generate_private_key(algorithm, rsa_bits=2048 if algorithm == "RS256" else 0)
    cert = keys.self_signed_certificate(key, common_name, alt_names)
    write_private(key_path, keys.private_key_pem(key))
    write_public(cert_path, keys.certificate_pem(cert))
    report.created += [str(key_path), str(cert_path)]


def ensure_instance(settings: dict, force: bool = False) -> SetupReport:
    """Create the instance folder, secrets, the token-signing key/cert and the TLS key/cert.

    The signing key is RSA-2048 (RS256) or P-256 (ES256): RSA-4096 would cap the token
    endpoint near 200 signatures/s per core. Both certificates are CA:true with SANs for
    the FQDN, localhost and 127.0.0.1 (the seed's ``openssl req -x509`` step).
    """
    report = SetupReport()
    folder = Path(settings["INSTANCE_PATH"])
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("GENERATED_SECRET_KEY_PATH", "GENERATED_EVENTS_SECRET_PATH"):
        path = Path(settings[name])
        (report.kept if path.exists() else report.created).append(str(path))
        read_or_create_secret(path)
    fqdn = settings["FQDN"]
    alt_names = [fqdn, "localhost", "127.0.0.1"]
    _key_pair(
        Path(settings["SIGNING_KEY"]),
        Path(settings["SIGNING_CERT"]),
        settings["SIGNING_ALGORITHM"],
        f"{fqdn} token signing",
        alt_names,
        force,
        report,
    )
    _key_pair(
        Path(settings["TLS_KEY"]),
        Path(settings["TLS_CERT"]),
        "RS256",
        fqdn,
        alt_names,
        force,
        report,
    )
    return report
