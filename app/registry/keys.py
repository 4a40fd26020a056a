"""Keys and certificates for token signing and TLS: generate, load, fingerprint.

Pure ``cryptography`` code with no Flask and no database, so the CLI (``wharfinger init``),
the token signer and the test harness share one implementation.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import ipaddress
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
PublicKey = rsa.RSAPublicKey | ec.EllipticCurvePublicKey


class KeyMaterialError(ValueError):
    """A key or certificate cannot be used; the message says why and what is expected."""


def generate_private_key(algorithm: str = "RS256", rsa_bits: int = 4096) -> PrivateKey:
    """Create a new signing key: RSA for ``RS256`` (default), P-256 for ``ES256``."""
    if algorithm == "RS256":
        return rsa.generate_private_key(public_exponent=65537, key_size=rsa_bits)
    if algorithm == "ES256":
        return ec.generate_private_key(ec.SECP256R1())
    raise KeyMaterialError(f"unsupported signing algorithm {algorithm!r}: expected RS256 or ES256")


def _san_entries(names: list[str]) -> list[x509.GeneralName]:
    """Turn host names and IP literals into subjectAltName entries, without duplicates."""
    entries: list[x509.GeneralName] = []
    for name in dict.fromkeys(n for n in names if n):
        try:
            entries.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            entries.append(x509.DNSName(name))
    return entries


def self_signed_certificate(
    key: PrivateKey, common_name: str, alt_names: list[str], days: int = 3650
) -> x509.Certificate:
    """A self-signed CA:true certificate for ``key`` (the seed's ``openssl req -x509`` step).

    CA:true lets Go, curl and Python use the certificate as its own trust anchor; the
    SANs cover every name clients use (FQDN, localhost, 127.0.0.1).
    """
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name[:64])])
    now = dt.datetime.now(dt.UTC)
    is_rsa = isinstance(key, rsa.RSAPrivateKey)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_encipherment=is_rsa,
                key_cert_sign=True,
                content_commitment=False,
                data_encipherment=False,
                key_agreement=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName(_san_entries(alt_names)), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    return builder.sign(key, hashes.SHA256())


def private_key_pem(key: PrivateKey) -> bytes:
    """PKCS#8 PEM without encryption (the file itself is written with mode 0600)."""
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def certificate_pem(cert: x509.Certificate) -> bytes:
    """PEM encoding of one certificate."""
    return cert.public_bytes(serialization.Encoding.PEM)


def load_private_key(pem: bytes) -> PrivateKey:
    """Load an unencrypted PEM private key of a kind the registry accepts (RSA or EC P-256)."""
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError) as exc:
        raise KeyMaterialError(f"not an unencrypted PEM private key ({exc})") from None
    if isinstance(key, rsa.RSAPrivateKey):
        if key.key_size < 2048:
            raise KeyMaterialError(
                f"RSA key of {key.key_size} bits is too small: expected at least 2048"
            )
        return key
    if isinstance(key, ec.EllipticCurvePrivateKey) and isinstance(key.curve, ec.SECP256R1):
        return key
    raise KeyMaterialError("unsupported key type: expected an RSA key or an EC P-256 key")


def load_certificates(pem: bytes) -> list[x509.Certificate]:
    """Load every certificate of a PEM bundle, leaf first as written."""
    try:
        certs = x509.load_pem_x509_certificates(pem)
    except ValueError as exc:
        raise KeyMaterialError(f"not a PEM certificate ({exc})") from None
    if not certs:
        raise KeyMaterialError("no PEM CERTIFICATE block found")
    return certs


def public_key_der(public_key: PublicKey) -> bytes:
    """The SubjectPublicKeyInfo DER of a public key (what libtrust and PKIX hash)."""
    return public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def libtrust_kid(public_key: PublicKey) -> str:
    """The libtrust key ID that registry 2.8 looks up the JWT ``kid`` by.

    SHA-256 of the SPKI DER, first 240 bits, base32, 12 groups of 4 joined by ``:``
    (protocol.md §7; distribution's vendored libtrust ``keyIDFromCryptoKey``).
    """
    digest = hashlib.sha256(public_key_der(public_key)).digest()[:30]
    b32 = base64.b32encode(digest).decode("ascii")
    return ":".join(b32[i : i + 4] for i in range(0, 48, 4))


def keys_match(key: PrivateKey, cert: x509.Certificate) -> bool:
    """True when ``cert`` certifies the public half of ``key`` (the usual 'untrusted key' cause)."""
    return public_key_der(key.public_key()) == public_key_der(cert.public_key())


@dataclass(frozen=True)
class CertificateFacts:
    """What an operator needs to know about a certificate at a glance."""

    subject: str
    alt_names: tuple[str, ...]
    is_ca: bool
    not_after: dt.datetime


def describe_certificate(cert: x509.Certificate) -> CertificateFacts:
    """Summarise subject, SANs, CA flag and expiry (used by ``init`` and ``doctor``)."""
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        names = tuple(str(v) for v in san.get_values_for_type(x509.DNSName)) + tuple(
            str(v) for v in san.get_values_for_type(x509.IPAddress)
        )
    except x509.ExtensionNotFound:
        names = ()
    try:
        is_ca = cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:
        is_ca = False
    return CertificateFacts(cert.subject.rfc4514_string(), names, is_ca, cert.not_valid_after_utc)
