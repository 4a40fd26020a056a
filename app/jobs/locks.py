""" "Never two at once": a Redis lock when Redis is configured, a database lease otherwise."""

from __future__ import annotations

import contextlib
import os
import socket
import uuid
from collections.abc import Iterator

from app.services import leases


def holder_id() -> str:
    """Identifies this process in lock records (host:pid:random)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


@contextlib.contextmanager
def exclusive(name: str, ttl_seconds: int, redis_connection=None) -> Iterator[bool]:
    """Yield True while holding the lock ``name``, False when someone else holds it."""
    if redis_connection is not None:
        lock = redis_connection.lock(f"wharfinger:lock:{name}", timeout=ttl_seconds, blocking=False)
        acquired = lock.acquire(blocking=False)
        try:
            yield bool(acquired)
        finally:
            if acquired:
                with contextlib.suppress(Exception):
                    lock.release()
        return
    holder = holder_id()
    acquired = leases.acquire(name, holder, ttl_seconds)
    try:
        yield acquired
    finally:
        if acquired:
            leases.release(name, holder)


def claim_interval_slot(name: str, interval_seconds: int, redis_connection=None) -> bool:
    """True for the first caller in the current interval, False for the others.

    Every worker's cron and every web process's timer enqueue the periodic jobs; the slot
    makes one of them run per interval. It is never released: it simply expires.
    """
    seconds = max(1, interval_seconds - 1)
    if redis_connection is not None:
        return bool(
            redis_connection.set(f"wharfinger:slot:{name}", holder_id(), nx=True, ex=seconds)
        )
    return leases.acquire(f"slot:{name}", holder_id(), seconds)
