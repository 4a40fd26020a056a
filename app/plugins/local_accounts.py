"""Built-in authenticator: local passwords and application tokens.

Registered per app (it owns that app's verified-credential cache) and asked last, so
directory plugins such as LDAP are consulted first.
"""

from __future__ import annotations

import functools

from werkzeug.security import check_password_hash, generate_password_hash

from app.plugins.hookspecs import hookimpl
from app.services import credentials
from app.services.accounts import password_matches
from app.services.authentication import Identity, Rejection
from app.services.credential_cache import VerifiedCredentialCache


@functools.cache
def _dummy_hash(method: str) -> str:
    """Checked when the user does not exist, so an unknown name costs the same KDF time as
    a wrong password (no user enumeration by timing)."""
    return generate_password_hash("wharfinger-no-such-user", method=method)


class LocalAccounts:
    """Checks application tokens (fast hash lookup) and passwords (KDF, or the cache)."""

    def __init__(self, cache: VerifiedCredentialCache, hash_method: str):
        self.cache = cache
        self.hash_method = hash_method

    @hookimpl(trylast=True)
    def authenticate(self, username, password, user, remote_addr):
        """Accept a valid application token or password of an existing local user."""
        if user is None:
            if not credentials.looks_like_application_token(password):
                check_password_hash(_dummy_hash(self.hash_method), password or "")
            return Rejection("no such user")
        if credentials.looks_like_application_token(password):
            return self._by_application_token(user, password)
        return self._by_password(user, password)

    @staticmethod
    def _by_application_token(user, token):
        """An application token of this user (bots log in only this way)."""
        row = credentials.verify_application_token(user, token)
        if row is None:
            return Rejection("unknown, expired or revoked application token")
        return Identity(user, "application_token", read_only=row.read_only)

    def _by_password(self, user, password):
        """The password, verified by the cache when it was verified recently."""
        if user.bot or not user.password_hash or not password:
            return Rejection("password login not possible for this account")
        if self.cache.verified(user.username, password, user.security_stamp):
            return Identity(user, "password")
        if not password_matches(user, password):
            self.cache.forget(user.username)
            return Rejection("wrong password")
        self.cache.remember(user.username, password, user.security_stamp)
        return Identity(user, "password")


@hookimpl
def configure(settings, plugins):
    """Register this app's LocalAccounts with its own credential cache."""
    cache = VerifiedCredentialCache(settings["SECRET_KEY"], settings["CREDENTIAL_CACHE_TTL"])
    plugins.register(LocalAccounts(cache, settings["PASSWORD_HASH_METHOD"]), name="local_accounts")
