"""Where jobs run: RQ (Redis configured) or a daemon thread of this process (no Redis)."""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)

QUEUE_NAME = "wharfinger"
JOB_TIMEOUT_SECONDS = 3600


def run_in_context(app, func: Callable, args: tuple, kwargs: dict) -> None:
    """Run one job inside a fresh app context; log (never propagate) its failure."""
    from app.extensions import db

    with app.app_context():
        try:
            func(*args, **kwargs)
        except Exception:
            log.exception("job %s failed", getattr(func, "__name__", func))
            db.session.rollback()
        finally:
            db.session.remove()


# Coalesced jobs (``enqueue_once``): the Redis key marking one as queued, and its lifetime.
PENDING_KEY = "wharfinger:queued:"
COALESCE_SECONDS = 60


class InProcessRunner:
    """Runs jobs one after another on a daemon thread, started on first use."""

    def __init__(self, app):
        self.app = app
        self._queue: queue.Queue = queue.Queue()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self._pending: set[str] = set()

    def enqueue(self, func: Callable, *args, **kwargs) -> None:
        """Queue ``func(*args, **kwargs)``; returns at once."""
        self._ensure_thread()
        self._queue.put((func, args, kwargs))

    def enqueue_once(self, name: str, func: Callable) -> None:
        """Queue ``func()`` unless a job of this ``name`` is queued and not started yet
        (the job calls ``started(name)`` first thing)."""
        with self._start_lock:
            if name in self._pending:
                return
            self._pending.add(name)
        self.enqueue(func)

    def started(self, name: str) -> None:
        """A coalesced job began: the next ``enqueue_once`` queues a new one."""
        with self._start_lock:
            self._pending.discard(name)

    def _ensure_thread(self) -> None:
        """Start the worker thread once per process (after a fork too)."""
        with self._start_lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._loop, name="wharfinger-jobs", daemon=True
                )
                self._thread.start()

    def _loop(self) -> None:
        """Take jobs off the queue forever."""
        while True:
            func, args, kwargs = self._queue.get()
            try:
                run_in_context(self.app, func, args, kwargs)
            finally:
                self._queue.task_done()

    def depth(self) -> int:
        """Jobs queued or running in this process."""
        return self._queue.unfinished_tasks

    def wait_idle(self, timeout: float = 30.0) -> bool:
        """Block until every queued job ran (tests, ``wharfinger sync``); False on timeout."""
        done = threading.Event()
        threading.Thread(target=lambda: (self._queue.join(), done.set()), daemon=True).start()
        return done.wait(timeout)


class RQRunner:
    """Enqueues jobs to RQ; ``wharfinger worker`` runs them."""

    def __init__(self, redis_url: str):
        from redis import Redis
        from rq import Queue

        self.connection = Redis.from_url(redis_url)
        self.queue = Queue(QUEUE_NAME, connection=self.connection)

    def enqueue(self, func: Callable, *args, **kwargs) -> None:
        """Queue ``func(*args, **kwargs)`` in Redis."""
        self.queue.enqueue(func, args=args, kwargs=kwargs, job_timeout=JOB_TIMEOUT_SECONDS)

    def enqueue_once(self, name: str, func: Callable) -> None:
        """Queue ``func()`` unless a job of this ``name`` is queued and not started yet:
        one SET NX instead of RQ's several commands per call. The mark expires after
        ``COALESCE_SECONDS`` so a lost job cannot block later ones for long."""
        if self.connection.set(PENDING_KEY + name, "1", nx=True, ex=COALESCE_SECONDS):
            self.enqueue(func)

    def started(self, name: str) -> None:
        """A coalesced job began: the next ``enqueue_once`` queues a new one."""
        self.connection.delete(PENDING_KEY + name)

    def depth(self) -> int:
        """Jobs waiting in the Redis queue (every instance's)."""
        return self.queue.count


def build_runner(app):
    """The runner this app's configuration asks for."""
    url = app.config.get("REDIS_URL")
    return RQRunner(url) if url else InProcessRunner(app)
