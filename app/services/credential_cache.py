"""A short-lived memory of verified passwords, so repeated docker requests skip the KDF.

Each ``docker pull`` of a password user asks for a token, and a KDF costs ~50 ms of CPU.
This cache stores, per username, an HMAC of the password under the server's secret key,
the user's security stamp and an expiry; never the password. A hit needs the HMAC to
match (constant-time compare) and the stamp to equal the one just read from the database,
so a password change, disabling or admin reset invalidates it on every worker and every
instance at once. Failures are never cached.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass


@dataclass(frozen=True)
class _Entry:
    digest: bytes
    stamp: str
    expires_at: float


class VerifiedCredentialCache:
    """Per-process LRU of (username → keyed password digest, security stamp, expiry)."""

    def __init__(self, secret_key: str, ttl_seconds: int, max_entries: int = 10_000):
        self._key = hashlib.sha256(b"wharfinger-credential-cache\0" + secret_key.encode()).digest()
        self._ttl = ttl_seconds
        self._max = max_entries
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        """False when the TTL is 0 (every login runs the KDF, as Portus did)."""
        return self._ttl > 0

    def _digest(self, username: str, password: str) -> bytes:
        """HMAC-SHA256 of username and password under the server secret."""
        message = username.encode() + b"\0" + password.encode()
        return hmac.new(self._key, message, hashlib.sha256).digest()

    def remember(self, username: str, password: str, stamp: str) -> None:
        """Record a password that the KDF just verified."""
        if not self.enabled:
            return
        entry = _Entry(self._digest(username, password), stamp, time.monotonic() + self._ttl)
        with self._lock:
            self._entries[username] = entry
            self._entries.move_to_end(username)
            while len(self._entries) > self._max:
                self._entries.popitem(last=False)

    def verified(self, username: str, password: str, stamp: str) -> bool:
        """True when this exact password was verified recently and the stamp is unchanged."""
        if not self.enabled:
            return False
        with self._lock:
            entry = self._entries.get(username)
        if entry is None or entry.stamp != stamp or entry.expires_at < time.monotonic():
            return False
        return hmac.compare_digest(entry.digest, self._digest(username, password))

    def forget(self, username: str) -> None:
        """Drop a user's entry (a failed attempt with a different password, for one)."""
        with self._lock:
            self._entries.pop(username, None)
