"""A throwaway PKI for loopback end-to-end tests: one key, one self-signed CA:true cert.

As in registry-lab §4, the single pair does four jobs: registry TLS, token-server TLS,
token signing (the registry's ``rootcertbundle``) and the client CA (``ca.crt`` in a
``certs.d`` directory for skopeo/podman).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from app.registry.keys import (
    certificate_pem,
    generate_private_key,
    libtrust_kid,
    private_key_pem,
    self_signed_certificate,
)

SYSTEM_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")


@dataclass(frozen=True)
class TestPKI:
    """Paths of the generated key material plus the key's libtrust kid.

    ``key``: PKCS#8 PEM private key; ``cert``: the self-signed certificate; ``bundle``:
    the system CA bundle followed by ``cert`` (for ``SSL_CERT_FILE``); ``kid``: what a
    token header must carry for registry 2.8 to find the key.
    """

    __test__ = False  # not a test class, despite the name

    directory: Path
    key: Path
    cert: Path
    bundle: Path
    kid: str

    def cert_dir(self, host_port: str) -> Path:
        """Create ``<dir>/certs.d/<host:port>/ca.crt`` and return the folder holding it.

        That folder is what ``skopeo --cert-dir``/``--dest-cert-dir``/``--src-cert-dir`` and
        ``podman --cert-dir`` expect; it also makes the https token realm trusted.
        """
        folder = self.directory / "certs.d" / host_port
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "ca.crt").write_bytes(self.cert.read_bytes())
        return folder

    def private_key_pem(self) -> bytes:
        """The private key as PEM bytes (for signing test tokens)."""
        return self.key.read_bytes()


def _write_private(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` readable by the owner only."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


def make_test_pki(
    directory: Path | str, names: tuple[str, ...] = ("localhost", "127.0.0.1")
) -> TestPKI:
    """Generate an RSA-2048 key and a self-signed CA:true cert for ``names`` in ``directory``.

    2048 bits keeps generation fast (a 4096-bit key costs about a second); the first name
    becomes the CN and every name a SAN.
    """
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    key = generate_private_key("RS256", rsa_bits=2048)
    cert = self_signed_certificate(key, names[0], list(names), days=30)
    cert_pem = certificate_pem(cert)
    paths = {name: folder / name for name in ("server.key", "server.crt", "bundle.crt")}
    _write_private(paths["server.key"], private_key_pem(key))
    paths["server.crt"].write_bytes(cert_pem)
    system = SYSTEM_CA_BUNDLE.read_bytes() if SYSTEM_CA_BUNDLE.is_file() else b""
    paths["bundle.crt"].write_bytes(system.rstrip(b"\n") + b"\n" + cert_pem if system else cert_pem)
    return TestPKI(
        directory=folder,
        key=paths["server.key"],
        cert=paths["server.crt"],
        bundle=paths["bundle.crt"],
        kid=libtrust_kid(key.public_key()),
    )
