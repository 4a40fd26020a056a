"""Fixtures and helpers for the job tests: a real Redis (DB 15 by default) and a pass race.

Redis tests use ``WHARFINGER_TEST_REDIS_URL`` (default ``redis://127.0.0.1:6379/15``) and
skip, saying so, when it is unreachable. Only RQ's and Wharfinger's own keys (``rq:*``,
``wharfinger:*``) are deleted, before and after each test; nothing else in that database
is touched.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable, Iterator

import pytest

from app.jobs import tasks
from app.services import catalog

TEST_REDIS_URL = os.environ.get("WHARFINGER_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
OUR_KEY_PATTERNS = ("rq:*", "wharfinger:*")
RACE_TIMEOUT = 15.0


def _delete_our_keys(connection) -> None:
    """Remove RQ's and Wharfinger's keys (queues, jobs, registries, locks) from the test DB."""
    for pattern in OUR_KEY_PATTERNS:
        keys = list(connection.scan_iter(match=pattern, count=500))
        if keys:
            connection.delete(*keys)


@pytest.fixture
def redis_url() -> Iterator[str]:
    """The test Redis URL, with no RQ or Wharfinger keys in it before or after the test.

    Skips when Redis cannot be reached (start redis-server, or point
    WHARFINGER_TEST_REDIS_URL at a database that may be used for tests).
    """
    from redis import Redis
    from redis.exceptions import RedisError

    connection = Redis.from_url(TEST_REDIS_URL, socket_connect_timeout=1, socket_timeout=5)
    try:
        connection.ping()
    except RedisError as exc:
        pytest.skip(
            f"Redis is not reachable at {TEST_REDIS_URL} ({exc}); set WHARFINGER_TEST_REDIS_URL"
        )
    _delete_our_keys(connection)
    try:
        yield TEST_REDIS_URL
    finally:
        _delete_our_keys(connection)
        connection.close()


@pytest.fixture
def restore_signals() -> Iterator[None]:
    """Put back the handlers an in-process RQ worker installs (SIGINT, SIGTERM, SIGALRM),
    so that Ctrl-C still stops pytest after a worker ran in the main thread."""
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGALRM)}
    try:
        yield
    finally:
        signal.alarm(0)
        for sig, handler in saved.items():
            signal.signal(sig, handler)


class PassRace:
    """Two reconciliation passes at once in one process, with a pass that blocks.

    ``catalog.reconcile_registry`` is replaced by a pass that records itself and waits
    for ``release``. ``run`` starts a first pass on a thread, waits until it is inside,
    runs a second pass meanwhile (as a second worker would), releases the first, then runs
    a third once the first has ended. Each pass has its own app context and session.
    """

    def __init__(self, app, monkeypatch) -> None:
        self.app = app
        self.entered = threading.Event()
        self.release = threading.Event()
        self.passes: list[str] = []
        monkeypatch.setattr(catalog, "reconcile_registry", self._blocking_pass)

    def _blocking_pass(self, registry, client, plugins, strategy, workers=8):
        """Stand-in for a long pass: note it, then hold the lock until released."""
        self.passes.append(threading.current_thread().name)
        self.entered.set()
        if not self.release.wait(RACE_TIMEOUT):
            raise AssertionError("the blocking pass was never released")
        return catalog.ReconcileReport(registry.name)

    def _reconcile(self) -> list[catalog.ReconcileReport]:
        """One pass as a job runs it, in a fresh app context."""
        with self.app.app_context():
            return tasks.reconcile(strategy="update")

    def run(self, while_held: Callable[[], None] | None = None) -> dict[str, list]:
        """First (blocking), second (during the first), third (after): their reports.

        ``while_held`` is called while the first pass runs, before the second starts.
        """
        results: dict[str, list] = {}
        first = threading.Thread(
            target=lambda: results.__setitem__("first", self._reconcile()), name="first"
        )
        first.start()
        try:
            assert self.entered.wait(RACE_TIMEOUT), "the first pass never started"
            if while_held is not None:
                while_held()
            results["second"] = self._reconcile()
        finally:
            self.release.set()
            first.join(RACE_TIMEOUT)
        assert not first.is_alive(), "the first pass did not finish"
        results["third"] = self._reconcile()
        return results
