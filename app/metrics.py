"""Prometheus metrics: the one module that knows prometheus_client.

``create_app`` stores a ``Metrics`` recorder in ``app.extensions["wharfinger.metrics"]``;
the token view, the webhook view and the jobs call its plain methods, so services stay
free of Prometheus. The instruments are built on first use, never at import nor in
``create_app``: prometheus_client decides at import whether it runs in multiprocess mode
(``PROMETHEUS_MULTIPROC_DIR``), and ``wharfinger serve`` sets that variable after the app
of the gunicorn master exists but before any worker imports prometheus_client.

Under gunicorn every worker writes its values to files in ``PROMETHEUS_MULTIPROC_DIR``
and a scrape answered by any worker sums them all. The job queue depth is computed when
scraped.
"""

from __future__ import annotations

import logging
import os
import shutil
import threading
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger(__name__)

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
MULTIPROC_FOLDER = "prometheus"
TOKEN_OUTCOMES = (
    "granted",
    "partially_granted",
    "denied",
    "unauthorized",
    "bad_request",
    "unavailable",
)
EVENT_OUTCOMES = ("applied", "ignored", "failed")
RECONCILE_CHANGES = ("created", "updated", "deleted")


def multiprocess_dir() -> str | None:
    """The folder shared by the processes of one server, or None (single process)."""
    return os.environ.get(MULTIPROC_ENV) or None


def prepare_multiprocess_dir(instance_path: str) -> str:
    """For ``wharfinger serve``: use the operator's ``PROMETHEUS_MULTIPROC_DIR``, or an
    emptied ``prometheus`` folder in the instance folder (values of a previous run would
    otherwise be added to this one's). Call before any worker is forked."""
    chosen = multiprocess_dir()
    if chosen is None:
        folder = Path(instance_path) / MULTIPROC_FOLDER
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        chosen = os.environ[MULTIPROC_ENV] = str(folder)
    return chosen


def mark_worker_dead(pid: int) -> None:
    """gunicorn ``child_exit``: drop the live gauges of a worker that exited."""
    if multiprocess_dir():
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid)


class _Instruments:
    """The Prometheus metric objects, registered on one registry."""

    def __init__(self) -> None:
        from prometheus_client import CollectorRegistry, Counter, Histogram

        self.registry = CollectorRegistry(auto_describe=True)
        self.token_requests = Counter(
            "wharfinger_token_requests",
            "Registry token requests by outcome.",
            ["outcome"],
            registry=self.registry,
        )
        self.token_seconds = Histogram(
            "wharfinger_token_request_seconds",
            "Time to answer a registry token request.",
            registry=self.registry,
        )
        self.events_received = Counter(
            "wharfinger_registry_events_received",
            "Registry notification events received in accepted envelopes.",
            registry=self.registry,
        )
        self.events_processed = Counter(
            "wharfinger_registry_events_processed",
            "Stored registry events applied, ignored or failed.",
            ["outcome"],
            registry=self.registry,
        )
        self.reconcile_seconds = Histogram(
            "wharfinger_reconcile_duration_seconds",
            "Duration of one catalog reconciliation pass over a registry.",
            ["registry"],
            buckets=(0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800),
            registry=self.registry,
        )
        self.reconcile_changes = Counter(
            "wharfinger_reconcile_changes",
            "Rows reconciliation changed: created, updated or deleted.",
            ["registry", "change"],
            registry=self.registry,
        )


class _QueueDepth:
    """A collector asking the job runner for its queue depth at scrape time."""

    def __init__(self, depth: Callable[[], int]) -> None:
        self.depth = depth

    def describe(self) -> list:
        """Nothing to describe up front (avoids a Redis call at registration)."""
        return []

    def collect(self):
        """One gauge sample; none when the queue cannot be read (Redis down)."""
        from prometheus_client.core import GaugeMetricFamily

        try:
            value = self.depth()
        except Exception as exc:  # a scrape must not fail because Redis is down
            log.warning("job queue depth unavailable: %s", type(exc).__name__)
            return
        family = GaugeMetricFamily(
            "wharfinger_job_queue_depth", "Jobs waiting or running (RQ queue or in-process)."
        )
        family.add_metric([], value)
        yield family


class Metrics:
    """The recorder the views and jobs call; one per app."""

    def __init__(self, queue_depth: Callable[[], int]) -> None:
        self._queue_depth = queue_depth
        self._instruments: _Instruments | None = None
        self._lock = threading.Lock()

    @property
    def instruments(self) -> _Instruments:
        """The metric objects, created on first use in this process."""
        if self._instruments is None:
            with self._lock:
                if self._instruments is None:
                    instruments = _Instruments()
                    instruments.registry.register(_QueueDepth(self._queue_depth))
                    self._instruments = instruments
        return self._instruments

    def token_request(self, outcome: str, seconds: float) -> None:
        """Count one answered token request (an outcome of ``TOKEN_OUTCOMES``)."""
        self.instruments.token_requests.labels(outcome).inc()
        self.instruments.token_seconds.observe(seconds)

    def events_received(self, count: int) -> None:
        """Count notification events the webhook accepted."""
        self.instruments.events_received.inc(count)

    def event_processed(self, outcome: str) -> None:
        """Count one stored event applied, ignored or failed (``EVENT_OUTCOMES``)."""
        self.instruments.events_processed.labels(outcome).inc()

    def reconcile_pass(
        self, registry: str, seconds: float, *, created: int, updated: int, deleted: int
    ) -> None:
        """Record one reconciliation pass over ``registry``: duration and changed rows."""
        self.instruments.reconcile_seconds.labels(registry).observe(seconds)
        for change, count in zip(RECONCILE_CHANGES, (created, updated, deleted), strict=True):
            self.instruments.reconcile_changes.labels(registry, change).inc(count)

    def exposition(self) -> tuple[bytes, str]:
        """The text format for a scrape and its content type; sums every worker's files
        in multiprocess mode."""
        from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
        from prometheus_client.multiprocess import MultiProcessCollector

        if multiprocess_dir() is None:
            return generate_latest(self.instruments.registry), CONTENT_TYPE_LATEST
        registry = CollectorRegistry()
        MultiProcessCollector(registry)
        registry.register(_QueueDepth(self._queue_depth))
        return generate_latest(registry), CONTENT_TYPE_LATEST
