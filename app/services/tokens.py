"""Issue registry bearer tokens: the token journey of the house plan.

service → scopes → authentication hook chain (lockout around it) → per scope the
authorization hook chain (Portus policy last) → filter hook (vetoes) → sign.
"""

from __future__ import annotations

import datetime as dt
import threading
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

from app.authz import ALL_RIGHTS, WILDCARD, read_only_limit
from app.authz.settings import AccessSettings
from app.extensions import db
from app.models import Registry, utcnow
from app.registry import jwt
from app.registry.keys import KeyMaterialError
from app.registry.scopes import Scope, ScopeError, parse_scopes
from app.services import activities, credentials, registries
from app.services.access import ScopeRequest, actor_for, scope_requests
from app.services.authentication import (
    AuthenticationFailed,
    Identity,
    LockoutPolicy,
    authenticate,
)
from app.services.memo import ExpiringMemo
from app.services.system import SYSTEM_SUBJECT, SYSTEM_TOKEN_TTL

SERVICE_CACHE_SECONDS = 5.0


class TokenError(Exception):
    """A refused token request: HTTP status, OAuth2 error code and a message for the user."""

    status = 400
    error = "invalid_request"

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class UnsupportedGrant(TokenError):
    """POST with a grant_type other than password or refresh_token."""

    error = "unsupported_grant_type"


class Unauthorized(TokenError):
    """Bad credentials, locked or disabled account, unknown refresh token."""

    status = 401
    error = "invalid_grant"


class SigningUnavailable(TokenError):
    """The signing key cannot be loaded: a server misconfiguration, not the client's fault."""

    status = 503
    error = "temporarily_unavailable"


@dataclass(frozen=True)
class TokenRequest:
    """A token request as the endpoint received it (GET query + Basic auth, or POST form)."""

    service: str | None
    scopes: tuple[str, ...] = ()
    account: str | None = None
    username: str | None = None
    password: str | None = None
    grant_type: str | None = None  # None for GET; "password" or "refresh_token" for POST
    refresh_token: str | None = None
    offline: bool = False
    client_id: str | None = None
    remote_addr: str | None = None


@dataclass(frozen=True)
class TokenGrant:
    """What the endpoint returns: the JWT, its lifetime, the granted scopes, a refresh token."""

    token: str
    expires_in: int
    issued_at: dt.datetime
    granted: tuple[Scope, ...]
    refresh_token: str | None = None
    outcome: str = "granted"  # or "partially_granted", "denied" (see grant_outcome)


def allowed_actions(scope: Scope) -> frozenset[str]:
    """What a policy may grant for a scope: the requested actions, plus for a repository
    ``*`` the explicit rights it stands for (skopeo asks ``*`` and needs pull+delete)."""
    requested = frozenset(scope.actions)
    if scope.type == "repository" and WILDCARD in requested:
        return requested | ALL_RIGHTS
    return requested


def expand_wildcard(scope: Scope, granted: frozenset[str]) -> frozenset[str]:
    """Repository ``*`` → pull, push, delete, so filters can remove single rights."""
    if scope.type == "repository" and WILDCARD in granted:
        return (granted - {WILDCARD}) | ALL_RIGHTS
    return granted


def collapse_wildcard(scope: Scope, granted: frozenset[str]) -> tuple[str, ...]:
    """Answer ``*`` only when it was asked and every right it implies survived."""
    if scope.type == "repository" and WILDCARD in scope.actions:
        if granted >= ALL_RIGHTS:
            return (WILDCARD,)
        return tuple(sorted(granted - {WILDCARD}))
    return tuple(sorted(granted))


def grant_outcome(scopes: list[Scope], decided: list[tuple[str, ...]]) -> str:
    """``granted`` when every asked action was granted (a login asks none),
    ``partially_granted`` when some were, ``denied`` when none were."""
    pairs = [(set(s.actions), set(actions)) for s, actions in zip(scopes, decided, strict=True)]
    if all(given >= asked for asked, given in pairs):
        return "granted"
    return "partially_granted" if any(given for _, given in pairs) else "denied"


def unknown_service_message(service: str | None) -> str:
    """Why a service is refused, naming the registered ones (Portus gave a bare 401)."""
    rows = db.session.execute(sa.select(Registry.hostname, Registry.external_hostname))
    known = sorted({host for row in rows for host in row if host})
    names = ", ".join(known) if known else "none (register one with 'wharfinger registry add')"
    what = f"unknown service {service!r}" if service else "the service parameter is missing"
    return f"{what}: the registry's auth.token.service must be one of: {names}"


class TokenIssuer:
    """One per app: holds the signer, the policy settings and the plugin manager."""

    def __init__(self, config, plugins):
        self.plugins = plugins
        self.issuer = config["TOKEN_ISSUER"]
        self.ttl = int(config["TOKEN_TTL"])
        self.access_settings = AccessSettings(
            push_policy=config["PUSH_POLICY"],
            delete_enabled=config["DELETE_ENABLED"],
            delete_contributors=config["DELETE_CONTRIBUTORS"],
        )
        self.lockout = LockoutPolicy(config["LOCKOUT_ATTEMPTS"], config["LOCKOUT_MINUTES"])
        self._key_paths = (config["SIGNING_KEY"], config["SIGNING_CERT"])
        self._algorithm = config["SIGNING_ALGORITHM"]
        self._signer: jwt.TokenSigner | None = None
        self._services = ExpiringMemo(SERVICE_CACHE_SECONDS)
        self._signer_lock = threading.Lock()

    @property
    def signer(self) -> jwt.TokenSigner:
        """The token signer, loaded on first use (so the app starts before ``init``) and
        reloaded once its certificate has expired: the registry refuses tokens whose x5c
        is out of date, so a replaced certificate is picked up without a restart, and a
        still-expired one is a clear 503 instead of tokens the registry rejects."""
        signer = self._signer
        if signer is None or signer.certificates_expire_at <= utcnow():
            with self._signer_lock:
                if self._signer is signer:
                    self._signer = self._load_signer()
                signer = self._signer
        return signer

    def _load_signer(self) -> jwt.TokenSigner:
        """Read the key and certificate, with a message saying which file and what to do."""
        key_path, cert_path = self._key_paths
        try:
            key_pem, cert_pem = Path(key_path).read_bytes(), Path(cert_path).read_bytes()
            return jwt.TokenSigner.from_pem(key_pem, cert_pem, self._algorithm)
        except OSError as exc:
            raise SigningUnavailable(
                f"token signing key unavailable ({exc.strerror}: {exc.filename}); run "
                "'wharfinger init' or set WHARFINGER_SIGNING_KEY/WHARFINGER_SIGNING_CERT"
            ) from None
        except KeyMaterialError as exc:
            raise SigningUnavailable(f"token signing key unusable: {exc}") from None

    def issue(self, request: TokenRequest) -> TokenGrant:
        """Authenticate, decide every scope, sign; commits security state it changed."""
        registry_id = self._registry_id(request.service)
        scopes = self._parse_scopes(request.scopes)
        identity = self._identify(request)
        user = identity.user if identity else None
        self._check_account(request.account, identity)
        actor = actor_for(user, read_only=bool(identity and identity.read_only))
        decided = [
            self._decide(r)
            for r in scope_requests(
                actor,
                user,
                scopes,
                service=request.service,
                registry_id=registry_id,
                settings=self.access_settings,
                remote_addr=request.remote_addr,
            )
        ]
        grant = self._sign(request.service, user, scopes, decided)
        refresh = self._refresh_token(request, identity)
        if identity is not None and not scopes:  # docker/skopeo/podman login asks no scope
            activities.record(
                self.plugins,
                "user.login",
                user,
                "user",
                user.id,
                user.username,
                method=identity.method,
                service=request.service,
                remote_addr=request.remote_addr,
            )
        if db.session.new or db.session.dirty or db.session.deleted:
            db.session.commit()  # refresh token, login record, last-used times
        return TokenGrant(
            grant[0],
            self.ttl,
            grant[1],
            tuple(
                Scope(s.type, s.name, actions, s.resource_class)
                for s, actions in zip(scopes, decided, strict=True)
            ),
            refresh,
            grant_outcome(scopes, decided),
        )

    def _registry_id(self, service: str | None) -> int:
        """The id of the registry this token is for (remembered for a few seconds: every
        docker request asks, and registries are almost never changed)."""

        def load() -> int:
            registry = registries.find_by_service(service) if service else None
            if registry is None:
                raise TokenError(unknown_service_message(service))
            return registry.id

        return self._services.get(service, load)

    @staticmethod
    def _parse_scopes(values: tuple[str, ...]) -> list[Scope]:
        """Parse and merge the scope parameters; a malformed one is a 400 naming it."""
        try:
            return parse_scopes(values)
        except ScopeError as exc:
            raise TokenError(str(exc)) from None

    def _identify(self, request: TokenRequest) -> Identity | None:
        """Who is asking: refresh token, username/password (Basic or form), or anonymous."""
        if request.grant_type == "refresh_token":
            user = credentials.verify_refresh_token(request.refresh_token or "", request.service)
            if user is None:
                raise Unauthorized(
                    "refresh token is invalid, revoked or for another service; log in again"
                )
            return Identity(user, "refresh_token")
        if request.grant_type == "password" and not (request.username and request.password):
            raise TokenError("grant_type=password needs username and password")
        if request.username is None:
            return None
        try:
            return authenticate(
                self.plugins,
                request.username,
                request.password or "",
                policy=self.lockout,
                remote_addr=request.remote_addr,
            )
        except AuthenticationFailed as exc:
            raise Unauthorized(str(exc)) from None

    @staticmethod
    def _check_account(account: str | None, identity: Identity | None) -> None:
        """``account`` may only repeat the authenticated user (Portus put it into ``sub``)."""
        if account and (identity is None or identity.user.username != account):
            raise TokenError(f"account {account!r} does not match the authenticated user")

    def _decide(self, request: ScopeRequest) -> tuple[str, ...]:
        """Authorization chain (first answer wins), then every filter may remove actions."""
        answer = self.plugins.hook.authorize_scope(request=request)
        granted = frozenset(answer or ()) & allowed_actions(request.scope)
        granted = expand_wildcard(request.scope, granted)
        granted = read_only_limit(request.actor, request.scope.type, granted)
        for keep in self.plugins.hook.filter_access(request=request, granted=granted):
            if keep is not None:
                granted &= frozenset(keep)
        return collapse_wildcard(request.scope, granted)

    def _sign(self, service, user, scopes, decided) -> tuple[str, dt.datetime]:
        """The signed JWT: ``sub`` is the authenticated user ("" when anonymous)."""
        now = utcnow().replace(microsecond=0)
        access = [jwt.access_entry(s, actions) for s, actions in zip(scopes, decided, strict=True)]
        claims = jwt.build_claims(
            issuer=self.issuer,
            subject=user.username if user else "",
            audience=service,
            access=access,
            ttl_seconds=self.ttl,
            now=int(now.timestamp()),
        )
        return self.signer.sign(claims), now

    def system_token(self, service: str, scopes: list[str]) -> str:
        """A short-lived token for Wharfinger's own registry calls, granting exactly the
        given scopes (Wharfinger is the issuer: no stored password, no hidden admin user)."""
        access = [jwt.access_entry(s, s.actions) for s in parse_scopes(scopes)]
        claims = jwt.build_claims(
            issuer=self.issuer,
            subject=SYSTEM_SUBJECT,
            audience=service,
            access=access,
            ttl_seconds=SYSTEM_TOKEN_TTL,
        )
        return self.signer.sign(claims)

    @staticmethod
    def _refresh_token(request: TokenRequest, identity: Identity | None) -> str | None:
        """A durable refresh token when asked for offline access after a password login.

        Not for application tokens: the client keeps the token itself, and revoking it
        must not leave a refresh token alive.
        """
        if not request.offline or identity is None or identity.method != "password":
            return None
        return credentials.create_refresh_token(identity.user, request.service, request.client_id)
