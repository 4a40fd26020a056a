"""Bearer tokens for distribution registry 2.8.2: claims, signing and the token response.

Signs with ``cryptography`` directly. This is the hot path of the token endpoint, so
everything that does not depend on the claims (key objects, the header segment) is computed
once per TokenSigner. The rules followed here are those of protocol.md §5 to §8: what the
registry's ``registry/auth/token`` package and the Go clients actually accept.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import math
import secrets
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from app.registry.keys import (
    KeyMaterialError,
    PrivateKey,
    certificate_pem,
    keys_match,
    libtrust_kid,
    load_certificates,
    load_private_key,
)
from app.registry.scopes import Scope

# registry 2.8.2 verifies through libtrust: PKCS#1 v1.5 RS256/384/512 for RSA keys, and for EC
# keys only the algorithm of the key's curve. Keys are loaded only as RSA or P-256 (keys.py).
RSA_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "RS256": hashes.SHA256,
    "RS384": hashes.SHA384,
    "RS512": hashes.SHA512,
}
P256_ALGORITHM = "ES256"
P256_COORDINATE_BYTES = 32

# docker_auth's choice; the registry allows 60 s of skew on top (protocol.md §6.2).
NOT_BEFORE_MARGIN_SECONDS = 10

SignBytes = Callable[[bytes], bytes]


class TokenSigner:
    """Signs registry bearer tokens with one key, announcing it by ``kid`` and ``x5c``.

    Build it with ``TokenSigner.from_pem``. The header carries both the libtrust ``kid``
    (what 2.8.2 looks up when the certificate itself is in ``rootcertbundle``) and ``x5c``
    (what 2.8.2 prefers when present, and what registry v3 understands too).
    """

    def __init__(
        self, key: PrivateKey, certificates: Sequence[x509.Certificate], algorithm: str | None
    ) -> None:
        """Precompute the header segment and the signing function.

        ``key`` must come from ``load_private_key`` and ``certificates`` from
        ``load_certificates``; ``from_pem`` does both and is the usual way in.
        """
        _require_matching_leaf(key, certificates[0])
        _require_current_validity(certificates)
        self.algorithm = _choose_algorithm(key, algorithm)
        self.kid = libtrust_kid(key.public_key())
        self.certificate_pem = b"".join(certificate_pem(cert) for cert in certificates)
        self.certificates_expire_at = min(cert.not_valid_after_utc for cert in certificates)
        header = {
            "alg": self.algorithm,
            "typ": "JWT",
            "kid": self.kid,
            "x5c": [_standard_base64_der(cert) for cert in certificates],
        }
        self._signing_prefix = _base64url(_compact_json(header)) + "."
        self._sign_bytes = _signature_function(key, self.algorithm)

    @classmethod
    def from_pem(cls, key_pem: bytes, cert_pem: bytes, algorithm: str | None = None) -> TokenSigner:
        """Load a private key and its certificate bundle (leaf first) and build a signer.

        ``algorithm`` defaults to RS256 for RSA keys and ES256 for P-256 keys. Raises
        KeyMaterialError when the key is unusable, the first certificate is not the key's
        own, a certificate is outside its validity period, or the algorithm does not fit.
        """
        return cls(load_private_key(key_pem), load_certificates(cert_pem), algorithm)

    def sign(self, claims: Mapping[str, Any]) -> str:
        """The compact JWS of ``claims``: base64url segments without padding, compact JSON."""
        signing_input = self._signing_prefix + _base64url(_compact_json(claims))
        signature = self._sign_bytes(signing_input.encode("ascii"))
        return signing_input + "." + _base64url(signature)


def build_claims(
    *,
    issuer: str,
    subject: str,
    audience: str,
    access: Iterable[Scope | Mapping[str, Any]],
    ttl_seconds: int,
    now: float | None = None,
    jti: str | None = None,
) -> dict[str, Any]:
    """The claim set of a registry token (protocol.md §6.2).

    ``subject`` is the user name, ``""`` for anonymous. ``audience`` is the registry's
    ``service`` and must be one string: 2.8.2 cannot read an array. Times are whole seconds
    because 2.8.2 decodes them as int64 and calls a float a malformed token. ``access``
    holds access entries or Scopes; a Scope stands for itself with its own actions.
    """
    for claim, value in (("iss", issuer), ("sub", subject), ("aud", audience)):
        if not isinstance(value, str):
            raise TypeError(f"the {claim} claim must be a string, got {type(value).__name__}")
    issued_at = int(time.time()) if now is None else _whole_seconds(now)
    lifetime = _positive_seconds(ttl_seconds, "ttl_seconds")
    return {
        "iss": issuer,
        "sub": subject,
        "aud": audience,
        "exp": issued_at + lifetime,
        "nbf": issued_at - NOT_BEFORE_MARGIN_SECONDS,
        "iat": issued_at,
        "jti": jti if jti is not None else secrets.token_hex(16),
        "access": [_access_item(item) for item in access],
    }


def access_entry(scope: Scope, granted_actions: Iterable[str]) -> dict[str, Any]:
    """One ``access`` claim entry for ``scope`` with the granted actions, sorted.

    ``class`` appears only for a scope type that carried one (``repository(plugin)``,
    protocol.md §8.3). An empty grant stays as ``actions: []``: the registry then answers
    ``insufficient_scope`` itself, which is what clients expect (§8.1).
    """
    if isinstance(granted_actions, str):
        raise TypeError("granted_actions must be a collection of action names, not a string")
    entry: dict[str, Any] = {"type": scope.type}
    if scope.resource_class:
        entry["class"] = scope.resource_class
    entry["name"] = scope.name
    entry["actions"] = sorted(set(granted_actions))
    return entry


def token_response(
    token: str,
    expires_in: int,
    issued_at: dt.datetime,
    *,
    scope: str | None = None,
    refresh_token: str | None = None,
) -> dict[str, Any]:
    """The JSON body of a successful token request (protocol.md §5.1).

    Both ``token`` and ``access_token`` carry the JWT, because clients differ in which one
    they read. ``expires_in`` must be an integer and ``issued_at`` RFC 3339 with a zone: Go
    clients fail on ``300.0`` or on a naive timestamp. ``scope`` (POST) and
    ``refresh_token`` appear only when given.
    """
    body: dict[str, Any] = {
        "token": token,
        "access_token": token,
        "expires_in": _positive_seconds(expires_in, "expires_in"),
        "issued_at": _rfc3339_utc(issued_at),
    }
    if scope is not None:
        body["scope"] = scope
    if refresh_token is not None:
        body["refresh_token"] = refresh_token
    return body


def _require_matching_leaf(key: PrivateKey, leaf: x509.Certificate) -> None:
    """Refuse a bundle whose first certificate is not the signing key's own certificate."""
    if not keys_match(key, leaf):
        raise KeyMaterialError(
            "the certificate does not match the private key: the first certificate of the "
            "bundle must certify the signing key (compare `openssl x509 -noout -pubkey` with "
            "`openssl pkey -pubout`), or the registry will reject every token"
        )


def _require_current_validity(certificates: Sequence[x509.Certificate]) -> None:
    """Refuse certificates outside their validity period.

    The registry checks the dates of the ``x5c`` chain, and ``x5c`` wins over ``kid``, so an
    expired certificate would make every token fail (protocol.md §6.1, §6.3).
    """
    now = dt.datetime.now(dt.UTC)
    for cert in certificates:
        if not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
            raise KeyMaterialError(
                f"certificate {cert.subject.rfc4514_string()!r} is valid only from "
                f"{cert.not_valid_before_utc:%Y-%m-%d %H:%M} to "
                f"{cert.not_valid_after_utc:%Y-%m-%d %H:%M} UTC: the registry rejects tokens "
                "that carry it, so renew it"
            )


def _choose_algorithm(key: PrivateKey, requested: str | None) -> str:
    """The JWS algorithm for ``key``: the requested one if the registry accepts it for this key."""
    if isinstance(key, rsa.RSAPrivateKey):
        allowed: tuple[str, ...] = tuple(RSA_HASHES)
    elif isinstance(key, ec.EllipticCurvePrivateKey) and isinstance(key.curve, ec.SECP256R1):
        allowed = (P256_ALGORITHM,)
    else:
        raise KeyMaterialError("unsupported key type: expected an RSA key or an EC P-256 key")
    if requested is None:
        return allowed[0]
    if requested not in allowed:
        kind = "an RSA key" if isinstance(key, rsa.RSAPrivateKey) else "an EC P-256 key"
        raise KeyMaterialError(
            f"signing algorithm {requested!r} does not fit {kind}: expected one of "
            f"{', '.join(allowed)}"
        )
    return requested


def _signature_function(key: PrivateKey, algorithm: str) -> SignBytes:
    """A function signing bytes with ``key`` as ``algorithm`` requires, built once."""
    if isinstance(key, rsa.RSAPrivateKey):
        pkcs1v15 = padding.PKCS1v15()
        digest = RSA_HASHES[algorithm]()
        return lambda data: key.sign(data, pkcs1v15, digest)
    ecdsa = ec.ECDSA(hashes.SHA256())

    def sign_raw_ecdsa(data: bytes) -> bytes:
        # JWS (RFC 7518 §3.4) and libtrust want r||s, each 32 bytes for P-256, not the DER
        # that OpenSSL produces: 2.8.2 rejects a 70-72 byte signature outright.
        r, s = decode_dss_signature(key.sign(data, ecdsa))
        return r.to_bytes(P256_COORDINATE_BYTES, "big") + s.to_bytes(P256_COORDINATE_BYTES, "big")

    return sign_raw_ecdsa


def _access_item(item: Scope | Mapping[str, Any]) -> dict[str, Any]:
    """An ``access`` entry from a Scope (its own actions) or a ready-made entry (copied)."""
    if isinstance(item, Scope):
        return access_entry(item, item.actions)
    return dict(item)


def _standard_base64_der(cert: x509.Certificate) -> str:
    """A certificate for ``x5c``: standard, padded base64 of the DER (RFC 7515 §4.1.6).

    2.8.2 decodes it with Go's ``base64.StdEncoding``; URL-safe base64 is rejected.
    """
    return base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode("ascii")


def _base64url(data: bytes) -> str:
    """Base64url without ``=`` padding, as JWS compact serialization requires."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _compact_json(value: Any) -> bytes:
    """JSON without whitespace; non-ASCII is escaped, so the bytes are plain ASCII."""
    return json.dumps(value, separators=(",", ":"), allow_nan=False).encode("ascii")


def _whole_seconds(timestamp: float) -> int:
    """A Unix time as whole seconds (the registry reads int64; a float is malformed)."""
    if isinstance(timestamp, bool) or not isinstance(timestamp, int | float):
        raise TypeError(f"a Unix time in seconds is expected, got {type(timestamp).__name__}")
    return math.floor(timestamp)


def _positive_seconds(value: int, what: str) -> int:
    """Check that a duration is a positive whole number of seconds."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{what} must be an int number of seconds, got {type(value).__name__}")
    if value <= 0:
        raise ValueError(f"{what} must be positive, got {value}")
    return value


def _rfc3339_utc(moment: dt.datetime) -> str:
    """``moment`` in UTC as RFC 3339 with a ``Z``; naive datetimes are refused."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("issued_at must be timezone-aware: Go clients reject a time without zone")
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
