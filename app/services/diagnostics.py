"""``wharfinger doctor``: check the whole wiring and explain every mismatch with its fix.

Most Portus support threads were an unexplained 401 after a successful login: realm,
service, issuer, certificate or clock differed between Portus and the registry
(portus.md §5 item 4, protocol.md §11). Each check here gives one line and the fix.
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

from app.extensions import db
from app.models import Registry, RegistryEvent
from app.registry.client import RegistryClient, RegistryError, TLSUntrusted
from app.registry.keys import KeyMaterialError, libtrust_kid, load_certificates
from app.services import health
from app.services.registry_access import client_for
from app.services.tokens import SigningUnavailable, TokenIssuer

MAX_CLOCK_SKEW = 30  # seconds; the registry itself tolerates 60 (protocol.md §6.1)
REGISTRY_LEEWAY = 60


@dataclass(frozen=True)
class Finding:
    """One check: passed, failed, or a warning that does not fail the run."""

    check: str
    ok: bool
    message: str
    warning: bool = False

    @property
    def label(self) -> str:
        """``ok``, ``WARN`` or ``FAIL``."""
        return "WARN" if self.warning else ("ok" if self.ok else "FAIL")


def passed(check: str, message: str) -> Finding:
    """A passed check."""
    return Finding(check, True, message)


def failed(check: str, message: str) -> Finding:
    """A failed check; ``message`` says what differs and what to change."""
    return Finding(check, False, message)


def local_findings(
    migrations_directory: str, redis_connection, issuer: TokenIssuer
) -> list[Finding]:
    """Database, Redis and the signing key: what this instance needs by itself."""
    findings = [
        Finding(c.name, c.ok, c.message)
        for c in health.readiness(migrations_directory, redis_connection)
    ]
    try:
        signer = issuer.signer
    except SigningUnavailable as exc:
        return [*findings, failed("signing key", exc.message)]
    expires = signer.certificates_expire_at
    return [
        *findings,
        passed(
            "signing key",
            f"{signer.algorithm}, kid {signer.kid}, certificate valid until {expires:%Y-%m-%d}",
        ),
    ]


@dataclass(frozen=True)
class RegistrySettings:
    """The registry's own ``auth.token`` settings, read from its config.yml when given."""

    realm: str | None = None
    service: str | None = None
    issuer: str | None = None
    rootcertbundle: str | None = None


def read_registry_config(path: str) -> RegistrySettings:
    """``auth.token`` values of a registry config.yml (flat keys; no YAML library needed)."""
    values = {}
    for key in ("realm", "service", "issuer", "rootcertbundle"):
        match = re.search(rf"^\s+{key}:\s*\"?([^\"\n#]+?)\"?\s*$", Path(path).read_text(), re.M)
        values[key] = match.group(1) if match else None
    return RegistrySettings(**values)


def _token_claims(token: str) -> dict:
    """The claims of one of our own tokens (no verification needed: we just signed it)."""
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


class RegistryDoctor:
    """Checks one registry against this Wharfinger's settings."""

    def __init__(
        self,
        registry: Registry,
        config,
        issuer: TokenIssuer,
        registry_settings: RegistrySettings | None = None,
    ):
        self.registry = registry
        self.config = config
        self.issuer = issuer
        self.remote = registry_settings or RegistrySettings()
        self.name = f"registry {registry.name} ({registry.hostname})"

    def run(self) -> list[Finding]:
        """Every check for this registry, in the order a human would debug it."""
        with client_for(self.registry, self.config, self.issuer, retries=0) as client:
            try:
                anonymous = client.ping()
            except TLSUntrusted as exc:
                return [failed(self.name, str(exc))]
            except RegistryError as exc:
                return [
                    failed(
                        self.name,
                        f"unreachable at {self.registry.base_url}: {exc}; is "
                        "it running, and is use_ssl right?",
                    )
                ]
            findings = self._challenge_findings(anonymous)
            findings.append(self._clock_finding(anonymous))
            findings.append(self._token_finding(client, anonymous))
        findings.append(self._notification_finding())
        return findings

    def _challenge_findings(self, ping) -> list[Finding]:
        """The 401 challenge must send clients to our realm for our service."""
        challenge = ping.challenge
        if ping.status != 401 or challenge is None:
            return [
                failed(
                    f"{self.name} auth",
                    f"GET /v2/ answered {ping.status} without a "
                    "Bearer challenge: the registry is not configured for token auth "
                    "(use 'wharfinger registry config')",
                )
            ]
        realm = f"{self.config['URL']}/v2/token"
        names = {self.registry.hostname, self.registry.external_hostname} - {None}
        findings = [
            passed(f"{self.name} realm", realm)
            if challenge.realm == realm
            else failed(
                f"{self.name} realm",
                f"the registry sends clients to {challenge.realm!r}, not "
                f"to Wharfinger's {realm!r}: set auth.token.realm to {realm} (or "
                "WHARFINGER_URL if that URL is wrong)",
            ),
            passed(f"{self.name} service", challenge.service or "")
            if challenge.service in names
            else failed(
                f"{self.name} service",
                f"the registry's auth.token.service is "
                f"{challenge.service!r} but Wharfinger knows it as {self.registry.hostname!r}: "
                "set service to the registered hostname (tokens carry it as aud), or register "
                f"the registry with hostname {challenge.service!r}",
            ),
        ]
        return findings

    def _clock_finding(self, ping) -> Finding:
        """Clock skew from the registry's Date header."""
        if ping.clock_skew is None:
            return Finding(f"{self.name} clock", True, "no Date header to compare", warning=True)
        if abs(ping.clock_skew) > MAX_CLOCK_SKEW:
            return failed(
                f"{self.name} clock",
                f"the registry's clock differs from ours by "
                f"{ping.clock_skew:+.0f} s (it tolerates {REGISTRY_LEEWAY} s): run NTP "
                "on both hosts",
            )
        return passed(f"{self.name} clock", f"skew {ping.clock_skew:+.0f} s")

    def _token_finding(self, client: RegistryClient, anonymous) -> Finding:
        """A token we mint must be accepted (GET /v2/ with it answers 200)."""
        check = f"{self.name} token"
        try:
            status = client.ping(authenticate=True).status
        except RegistryError as exc:
            return failed(check, f"cannot test a token: {exc}")
        if status == 200:
            return passed(
                check,
                f"the registry accepts Wharfinger's tokens "
                f"(iss {self.issuer.issuer!r}, kid {self.issuer.signer.kid})",
            )
        return failed(
            check, "the registry rejects Wharfinger's tokens: " + self._why_rejected(anonymous)
        )

    def _why_rejected(self, anonymous) -> str:
        """The most specific cause we can name for a rejected token."""
        claims = _token_claims(self.issuer.system_token(self.registry.hostname, []))
        if anonymous.date and claims.get("nbf"):
            ahead = claims["nbf"] - anonymous.date.timestamp()
            if ahead > REGISTRY_LEEWAY:
                return (
                    f"our tokens become valid {ahead:.0f} s after the registry's current time "
                    "(clock skew): synchronise the clocks (NTP)"
                )
        if anonymous.challenge and anonymous.challenge.service != claims.get("aud"):
            return (
                f"aud is {claims.get('aud')!r} but the registry expects "
                f"{anonymous.challenge.service!r} (see the service check)"
            )
        return self._config_cause(claims)

    def _config_cause(self, claims: dict) -> str:
        """Issuer or trusted certificate, pinpointed when the registry's config is readable."""
        ours = Path(self.config["SIGNING_CERT"])
        kid = self.issuer.signer.kid
        if self.remote.issuer and self.remote.issuer != claims.get("iss"):
            return (
                f"the registry's auth.token.issuer is {self.remote.issuer!r} but Wharfinger "
                f"signs as {claims.get('iss')!r}: set issuer to it, or WHARFINGER_TOKEN_ISSUER"
            )
        if self.remote.rootcertbundle:
            trusted = _bundle_kids(self.remote.rootcertbundle)
            if kid not in trusted:
                return (
                    f"the registry's rootcertbundle {self.remote.rootcertbundle} does not "
                    f"contain Wharfinger's signing certificate {ours} (kid {kid}; the bundle "
                    f"has {', '.join(sorted(trusted)) or 'no readable certificate'}): copy "
                    f"{ours} there"
                )
        if self.remote.issuer or self.remote.rootcertbundle:
            return "issuer and certificate match the registry's config; check its log"
        return (
            f"either its auth.token.issuer is not {claims.get('iss')!r} or its rootcertbundle "
            f"lacks {ours} (kid {kid}); pass --registry-config with the registry's "
            "config.yml to tell which"
        )

    def _notification_finding(self) -> Finding:
        """A recent notification from this registry proves its side of TLS and the secret."""
        hosts = [h for h in (self.registry.hostname, self.registry.external_hostname) if h]
        last = db.session.scalar(
            sa.select(sa.func.max(RegistryEvent.received_at)).where(
                RegistryEvent.request_host.in_(hosts)
            )
        )
        check = f"{self.name} notifications"
        if last is None:
            return Finding(
                check,
                True,
                "none received yet: push an image, then run doctor "
                "again; if still none, check notifications.endpoints url, its "
                "Authorization header and that the registry trusts our TLS "
                "certificate (its log says 'x509' otherwise)",
                warning=True,
            )
        return passed(check, f"last received {last:%Y-%m-%d %H:%M:%S} UTC")


def _bundle_kids(path: str) -> set[str]:
    """libtrust key ids of the certificates in a PEM bundle (empty when unreadable)."""
    try:
        return {
            libtrust_kid(cert.public_key()) for cert in load_certificates(Path(path).read_bytes())
        }
    except (OSError, KeyMaterialError):
        return set()


def registry_findings(
    config,
    issuer: TokenIssuer,
    registry_name: str | None = None,
    registry_config_path: str | None = None,
) -> list[Finding]:
    """Checks for every registry (or the one named)."""
    query = sa.select(Registry).order_by(Registry.id)
    if registry_name:
        query = query.where(Registry.name == registry_name)
    remote = read_registry_config(registry_config_path) if registry_config_path else None
    rows = list(db.session.scalars(query))
    if not rows:
        return [failed("registries", "none registered: 'wharfinger registry add NAME HOST:PORT'")]
    findings = []
    for registry in rows:
        findings += RegistryDoctor(registry, config, issuer, remote).run()
    return findings


def all_findings(
    config,
    issuer: TokenIssuer,
    migrations_directory: str,
    redis_connection,
    registry_name: str | None = None,
    registry_config_path: str | None = None,
) -> list[Finding]:
    """Every check ``wharfinger doctor`` and the admin Diagnostics page run: this instance
    first, then each registry's wiring (skipped while database or signing key fail)."""
    findings = local_findings(migrations_directory, redis_connection, issuer)
    if all(f.ok for f in findings if f.check in ("database", "signing key")):
        findings += registry_findings(config, issuer, registry_name, registry_config_path)
    return findings


def probe_registry(hostname: str, use_ssl: bool, config) -> str | None:
    """None when ``GET /v2/`` answers like a distribution registry (200 or 401 with
    ``Docker-Distribution-Api-Version``, as Portus checked); otherwise why not, with the
    likely fix."""
    base_url = f"{'https' if use_ssl else 'http'}://{hostname}"
    client = RegistryClient(
        base_url,
        lambda scopes: "",
        verify=config.get("REGISTRY_CA_BUNDLE") or True,
        retries=0,
        timeout=(3.0, 5.0),
    )
    try:
        with client:
            ping = client.ping()
    except TLSUntrusted as exc:
        return f"{exc}"
    except RegistryError as exc:
        other = "without" if use_ssl else "with"
        return (
            f"no answer from {base_url}: {exc}. Is the registry running on that port, and "
            f"does it speak {'HTTPS' if use_ssl else 'plain HTTP'}? (try {other} SSL)"
        )
    if ping.status not in (200, 401) or not ping.api_version:
        return (
            f"{base_url}/v2/ answered HTTP {ping.status} without a "
            "Docker-Distribution-Api-Version header: this is not a container registry, or a "
            "proxy in front of it changes the answer"
        )
    return None
