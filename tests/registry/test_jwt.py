"""Token signing, checked independently with authlib and cryptography, plus claim shapes."""

from __future__ import annotations

import base64
import datetime as dt
import json
import warnings
from dataclasses import dataclass

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.x509.oid import NameOID
from hypothesis import given, settings
from hypothesis import strategies as st

from app.registry.jwt import TokenSigner, access_entry, build_claims, token_response
from app.registry.keys import (
    KeyMaterialError,
    PrivateKey,
    certificate_pem,
    generate_private_key,
    libtrust_kid,
    private_key_pem,
    self_signed_certificate,
)
from app.registry.scopes import Scope

with warnings.catch_warnings():
    # authlib.jose announces its move to joserfc; here it is only the independent verifier.
    # authlib.deprecate installs an "always" filter when imported, so ignore after that.
    import authlib.deprecate  # noqa: F401

    warnings.simplefilter("ignore", DeprecationWarning)
    from authlib.jose import JsonWebSignature, JsonWebToken


@dataclass(frozen=True)
class KeyPair:
    """A signing key, its self-signed certificate, and both as PEM."""

    key: PrivateKey
    cert: x509.Certificate
    key_pem: bytes
    cert_pem: bytes


def make_pair(key: PrivateKey) -> KeyPair:
    cert = self_signed_certificate(key, "wharfinger token signer", ["localhost", "127.0.0.1"])
    return KeyPair(key, cert, private_key_pem(key), certificate_pem(cert))


@pytest.fixture(scope="module")
def rsa_pair() -> KeyPair:
    return make_pair(generate_private_key("RS256", rsa_bits=2048))


@pytest.fixture(scope="module")
def ec_pair() -> KeyPair:
    return make_pair(generate_private_key("ES256"))


@pytest.fixture(scope="module")
def other_pair() -> KeyPair:
    return make_pair(generate_private_key("ES256"))


def public_pem(cert: x509.Certificate) -> bytes:
    return cert.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def split_token(token: str) -> tuple[dict, dict, bytes]:
    """Header, claims and raw signature of a compact JWS, decoded without verification."""
    header, claims, signature = token.split(".")
    for segment in (header, claims, signature):
        assert "=" not in segment and "+" not in segment and "/" not in segment

    def decode(segment: str) -> bytes:
        return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))

    return json.loads(decode(header)), json.loads(decode(claims)), decode(signature)


def sample_claims(**overrides: object) -> dict:
    arguments = {
        "issuer": "wharfinger",
        "subject": "alice",
        "audience": "registry.test",
        "access": [Scope("repository", "demo/app", ("pull", "push"))],
        "ttl_seconds": 300,
        "now": 1_795_824_016,
    }
    arguments.update(overrides)
    return build_claims(**arguments)


def verify_with_authlib(token: str, cert: x509.Certificate, algorithm: str) -> dict:
    """Verify the signature with authlib and return the protected header."""
    result = JsonWebSignature(algorithms=[algorithm]).deserialize_compact(token, public_pem(cert))
    return dict(result["header"])


# --- libtrust kid test vectors ---------------------------------------------------------------

# protocol.md §7.2: an RSA-2048 key that the real registry 2.8.2 accepted.
PROTOCOL_RSA_PUBLIC_KEY = b"""-----BEGIN PUBLIC KEY-----
MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAnf+6YIU2YIyi+w+eSka3
GkBLGNrlbt+Mbrkrg4XedjcHil8BAjc9DWXhGHM4T3nrFIlTYDbybmjG/G6ARdXe
UlVeaI5WqaHdsqsMe2kN871kdXP/5TVlPfhvMA5IMmwbDwuMu6N3kwRKE3F7P5zT
YtZZGJxXlP5iqm+P/XrRZopX6hsSZRjrtNPlmYo31zvFaCT7JgnPryosC+1U+/ny
pM03tgxyF9SnqY3fGSOF/2oV8CqOz0cY+ZhhydMPe1dkLSfvydD+nC2+qqheiaca
mEN3vkUy2bQU2fIrinnZODgAPDyvhxEwo28/dYqlwAwmzf+V1BsrFOMO/Vq0mCaa
FQIDAQAB
-----END PUBLIC KEY-----
"""


def test_libtrust_kid_of_the_protocol_rsa_example() -> None:
    key = serialization.load_pem_public_key(PROTOCOL_RSA_PUBLIC_KEY)
    assert libtrust_kid(key) == "PO7E:ZFME:U34P:R4G6:55OD:THYV:XTNE:PXER:MQUG:4CKW:Y2JG:VPDR"


def test_libtrust_kid_of_the_jwt_spec_ec_example() -> None:
    # docs/spec/auth/jwt.md: the P-256 key whose kid the spec prints (protocol.md §7.2).
    def coordinate(text: str) -> int:
        return int.from_bytes(base64.urlsafe_b64decode(text + "="), "big")

    numbers = ec.EllipticCurvePublicNumbers(
        coordinate("m7zUpx3b-zmVE5cymSs64POG9QcyEpJaYCD82-549_Q"),
        coordinate("dU3biz8sZ_8GPB-odm8Wxz3lNDr1xcAQQPQaOcr1fmc"),
        ec.SECP256R1(),
    )
    kid = libtrust_kid(numbers.public_key())
    assert kid == "PYYO:TEWU:V7JH:26JV:AQTZ:LJC3:SXVJ:XGHA:34F2:2LAQ:ZRMK:Z7Q6"


# --- signing and independent verification ----------------------------------------------------


def test_rs256_token_verifies_and_has_the_registry_header(rsa_pair: KeyPair) -> None:
    signer = TokenSigner.from_pem(rsa_pair.key_pem, rsa_pair.cert_pem)
    token = signer.sign(sample_claims())

    header = verify_with_authlib(token, rsa_pair.cert, "RS256")
    cert_der = rsa_pair.cert.public_bytes(serialization.Encoding.DER)
    assert header == {
        "alg": "RS256",
        "typ": "JWT",
        "kid": libtrust_kid(rsa_pair.cert.public_key()),
        "x5c": [base64.b64encode(cert_der).decode()],
    }
    assert signer.algorithm == "RS256"
    assert signer.kid == header["kid"]
    claims = JsonWebToken(["RS256"]).decode(token, public_pem(rsa_pair.cert))
    assert dict(claims) == sample_claims(jti=claims["jti"])


def test_es256_token_verifies_with_a_raw_64_byte_signature(ec_pair: KeyPair) -> None:
    signer = TokenSigner.from_pem(ec_pair.key_pem, ec_pair.cert_pem)
    token = signer.sign(sample_claims())

    header = verify_with_authlib(token, ec_pair.cert, "ES256")
    assert header["alg"] == "ES256"
    assert header["kid"] == libtrust_kid(ec_pair.key.public_key())
    _, _, signature = split_token(token)
    assert len(signature) == 64
    r = int.from_bytes(signature[:32], "big")
    s = int.from_bytes(signature[32:], "big")
    signing_input = token.rsplit(".", 1)[0].encode()
    ec_pair.cert.public_key().verify(
        encode_dss_signature(r, s), signing_input, ec.ECDSA(hashes.SHA256())
    )


@pytest.mark.parametrize("algorithm", ["RS384", "RS512"])
def test_other_rsa_algorithms_the_registry_accepts(rsa_pair: KeyPair, algorithm: str) -> None:
    signer = TokenSigner.from_pem(rsa_pair.key_pem, rsa_pair.cert_pem, algorithm)
    header = verify_with_authlib(signer.sign(sample_claims()), rsa_pair.cert, algorithm)
    assert header["alg"] == algorithm


def test_token_uses_compact_json_and_unpadded_base64url(rsa_pair: KeyPair) -> None:
    token = TokenSigner.from_pem(rsa_pair.key_pem, rsa_pair.cert_pem).sign(sample_claims())
    header_segment, claims_segment, _ = token.split(".")
    for segment in (header_segment, claims_segment):
        raw = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
        assert raw == json.dumps(json.loads(raw), separators=(",", ":")).encode()


def test_x5c_is_standard_base64_der_of_every_certificate_leaf_first(
    rsa_pair: KeyPair, other_pair: KeyPair
) -> None:
    bundle = rsa_pair.cert_pem + other_pair.cert_pem
    signer = TokenSigner.from_pem(rsa_pair.key_pem, bundle)
    header, _, _ = split_token(signer.sign(sample_claims()))
    decoded = [base64.b64decode(entry, validate=True) for entry in header["x5c"]]
    assert decoded == [
        rsa_pair.cert.public_bytes(serialization.Encoding.DER),
        other_pair.cert.public_bytes(serialization.Encoding.DER),
    ]
    assert x509.load_pem_x509_certificates(signer.certificate_pem) == [
        rsa_pair.cert,
        other_pair.cert,
    ]


def test_certificate_pem_is_the_bundle_for_rootcertbundle(ec_pair: KeyPair) -> None:
    signer = TokenSigner.from_pem(ec_pair.key_pem, b"comment line\n" + ec_pair.cert_pem)
    assert signer.certificate_pem == ec_pair.cert_pem
    assert signer.certificates_expire_at == ec_pair.cert.not_valid_after_utc


@settings(max_examples=25, deadline=None)
@given(subject=st.text(max_size=30), name=st.text(max_size=30))
def test_any_text_in_claims_survives_signing(ec_pair: KeyPair, subject: str, name: str) -> None:
    signer = TokenSigner.from_pem(ec_pair.key_pem, ec_pair.cert_pem)
    claims = sample_claims(subject=subject, access=[{"type": "repository", "name": name}])
    token = signer.sign(claims)
    assert token.isascii()
    decoded = JsonWebToken(["ES256"]).decode(token, public_pem(ec_pair.cert))
    assert decoded["sub"] == subject
    assert decoded["access"][0]["name"] == name


# --- refused key material --------------------------------------------------------------------


def test_certificate_of_another_key_is_refused(rsa_pair: KeyPair, other_pair: KeyPair) -> None:
    with pytest.raises(KeyMaterialError, match="does not match the private key"):
        TokenSigner.from_pem(rsa_pair.key_pem, other_pair.cert_pem)


def test_leaf_must_come_first_in_the_bundle(rsa_pair: KeyPair, other_pair: KeyPair) -> None:
    with pytest.raises(KeyMaterialError, match="does not match the private key"):
        TokenSigner.from_pem(rsa_pair.key_pem, other_pair.cert_pem + rsa_pair.cert_pem)


@pytest.mark.parametrize("algorithm", ["RS256", "RS512", "ES384", "PS256", "HS256", "none"])
def test_ec_key_refuses_algorithms_other_than_es256(ec_pair: KeyPair, algorithm: str) -> None:
    with pytest.raises(KeyMaterialError, match=f"{algorithm!r} does not fit an EC P-256 key"):
        TokenSigner.from_pem(ec_pair.key_pem, ec_pair.cert_pem, algorithm)


@pytest.mark.parametrize("algorithm", ["ES256", "PS256", "HS256", "EdDSA", "rs256"])
def test_rsa_key_refuses_algorithms_the_registry_rejects(rsa_pair: KeyPair, algorithm: str) -> None:
    with pytest.raises(KeyMaterialError, match="expected one of RS256, RS384, RS512"):
        TokenSigner.from_pem(rsa_pair.key_pem, rsa_pair.cert_pem, algorithm)


def test_ed25519_key_is_refused(rsa_pair: KeyPair) -> None:
    key_pem = private_key_pem(ed25519.Ed25519PrivateKey.generate())
    with pytest.raises(KeyMaterialError, match="expected an RSA key or an EC P-256 key"):
        TokenSigner.from_pem(key_pem, rsa_pair.cert_pem)


def test_p384_key_is_refused(rsa_pair: KeyPair) -> None:
    key_pem = private_key_pem(ec.generate_private_key(ec.SECP384R1()))
    with pytest.raises(KeyMaterialError, match="expected an RSA key or an EC P-256 key"):
        TokenSigner.from_pem(key_pem, rsa_pair.cert_pem)


def test_rsa_1024_key_is_refused() -> None:
    small = make_pair(rsa.generate_private_key(public_exponent=65537, key_size=1024))  # noqa: S505 (deliberately weak)
    with pytest.raises(KeyMaterialError, match="1024 bits is too small: expected at least 2048"):
        TokenSigner.from_pem(small.key_pem, small.cert_pem)


def test_garbage_pem_is_refused(rsa_pair: KeyPair) -> None:
    with pytest.raises(KeyMaterialError):
        TokenSigner.from_pem(b"not a key", rsa_pair.cert_pem)
    with pytest.raises(KeyMaterialError):
        TokenSigner.from_pem(rsa_pair.key_pem, b"not a certificate")


def certificate_valid_between(
    key: PrivateKey, not_before: dt.datetime, not_after: dt.datetime
) -> bytes:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "dated")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .sign(key, hashes.SHA256())
    )
    return certificate_pem(cert)


@pytest.mark.parametrize(
    ("start_days", "end_days"), [(-30, -1), (1, 30)], ids=["expired", "not-yet-valid"]
)
def test_certificate_outside_its_validity_is_refused(
    ec_pair: KeyPair, start_days: int, end_days: int
) -> None:
    now = dt.datetime.now(dt.UTC)
    cert_pem = certificate_valid_between(
        ec_pair.key, now + dt.timedelta(days=start_days), now + dt.timedelta(days=end_days)
    )
    with pytest.raises(KeyMaterialError, match="the registry rejects tokens that carry it"):
        TokenSigner.from_pem(ec_pair.key_pem, cert_pem)


# --- claims ----------------------------------------------------------------------------------


def test_claims_have_the_types_registry_2_8_2_decodes() -> None:
    claims = sample_claims(now=1_795_824_016.9)
    assert claims["iss"] == "wharfinger"
    assert claims["sub"] == "alice"
    assert claims["aud"] == "registry.test"
    assert (claims["iat"], claims["nbf"], claims["exp"]) == (
        1_795_824_016,
        1_795_824_006,
        1_795_824_316,
    )
    for claim in ("iat", "nbf", "exp"):
        assert type(claims[claim]) is int
    assert isinstance(claims["jti"], str) and len(claims["jti"]) >= 32
    assert claims["access"] == [
        {"type": "repository", "name": "demo/app", "actions": ["pull", "push"]}
    ]


def test_claims_default_to_the_current_time_and_a_fresh_jti() -> None:
    before = int(dt.datetime.now(dt.UTC).timestamp())
    first = sample_claims(now=None)
    second = sample_claims(now=None)
    assert before <= first["iat"] <= before + 5
    assert first["jti"] != second["jti"]


def test_anonymous_subject_is_an_empty_string() -> None:
    assert sample_claims(subject="")["sub"] == ""


def test_given_jti_is_used() -> None:
    assert sample_claims(jti="fixed")["jti"] == "fixed"


def test_audience_list_is_refused() -> None:
    with pytest.raises(TypeError, match="aud claim must be a string"):
        sample_claims(audience=["registry.test"])


@pytest.mark.parametrize(("ttl", "error"), [(0, ValueError), (-5, ValueError), (300.0, TypeError)])
def test_bad_ttl_is_refused(ttl: object, error: type[Exception]) -> None:
    with pytest.raises(error):
        sample_claims(ttl_seconds=ttl)


def test_access_accepts_scopes_and_ready_entries_keeping_order() -> None:
    catalog = {"type": "registry", "name": "catalog", "actions": ["*"]}
    claims = sample_claims(
        access=[
            Scope("repository", "x", ("pull",), "plugin"),
            catalog,
            access_entry(Scope("repository", "denied", ("push",)), []),
        ]
    )
    assert claims["access"] == [
        {"type": "repository", "class": "plugin", "name": "x", "actions": ["pull"]},
        catalog,
        {"type": "repository", "name": "denied", "actions": []},
    ]


def test_access_entry_sorts_granted_actions_and_omits_an_empty_class() -> None:
    entry = access_entry(Scope("repository", "demo/app", ("*",)), ["push", "delete", "pull"])
    assert entry == {
        "type": "repository",
        "name": "demo/app",
        "actions": ["delete", "pull", "push"],
    }


def test_access_entry_refuses_a_string_of_actions() -> None:
    with pytest.raises(TypeError):
        access_entry(Scope("repository", "a", ("pull",)), "pull")


# --- token response --------------------------------------------------------------------------

ISSUED = dt.datetime(2026, 11, 28, 0, 0, 41, 123456, tzinfo=dt.UTC)


def test_get_token_response() -> None:
    assert token_response("T", 300, ISSUED) == {
        "token": "T",
        "access_token": "T",
        "expires_in": 300,
        "issued_at": "2026-11-28T00:00:41Z",
    }


def test_post_token_response_with_scope_and_refresh_token() -> None:
    body = token_response("T", 900, ISSUED, scope="repository:zeta:pull", refresh_token="rt-1")
    assert body["scope"] == "repository:zeta:pull"
    assert body["refresh_token"] == "rt-1"
    assert json.loads(json.dumps(body))["expires_in"] == 900


def test_issued_at_in_another_zone_is_given_in_utc() -> None:
    paris = dt.timezone(dt.timedelta(hours=1))
    moment = dt.datetime(2026, 11, 28, 1, 0, 41, tzinfo=paris)
    assert token_response("T", 60, moment)["issued_at"] == "2026-11-28T00:00:41Z"


def test_naive_issued_at_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        token_response("T", 300, dt.datetime(2026, 11, 28))


@pytest.mark.parametrize("expires_in", [300.0, "300", True])
def test_non_integer_expires_in_is_refused(expires_in: object) -> None:
    with pytest.raises(TypeError):
        token_response("T", expires_in, ISSUED)
