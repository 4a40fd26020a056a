"""The periodic schedule as data, and the two ways it is driven.

With Redis, ``wharfinger worker`` registers the schedule with RQ's cron scheduler. Without
Redis, every web process runs a small timer thread that enqueues due jobs on its in-process
runner; the reconciliation lock keeps passes single across processes anyway.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from app.jobs import tasks

log = logging.getLogger(__name__)

EVENT_SWEEP_SECONDS = 30


@dataclass(frozen=True)
class Periodic:
    """A job run every ``interval`` seconds, with keyword arguments."""

    name: str
    func: Callable
    interval: int
    kwargs: dict = field(default_factory=dict)


def periodic_jobs(config) -> list[Periodic]:
    """What runs periodically under this configuration."""
    jobs = [Periodic("sweep-events", tasks.sweep_events, EVENT_SWEEP_SECONDS)]
    if config["SYNC_STRATEGY"] in ("update", "update-delete"):
        jobs.append(
            Periodic("reconcile", tasks.reconcile, int(config["SYNC_INTERVAL"]), {"periodic": True})
        )
    return jobs


def startup_jobs(config) -> list[tuple[Callable, dict]]:
    """What runs once when workers start (catch up after downtime; on-start and initial)."""
    if config["SYNC_STRATEGY"] == "off":
        return []
    return [(tasks.reconcile, {"at_start": True}), (tasks.sweep_events, {})]


class InProcessScheduler:
    """A daemon thread enqueuing due periodic jobs on the app's in-process runner."""

    def __init__(self, runner, jobs: list[Periodic], clock: Callable[[], float] = time.monotonic):
        self.runner = runner
        self.jobs = jobs
        self.clock = clock
        now = clock()
        self.next_run = {job.name: now + job.interval for job in jobs}
        self._stop = threading.Event()

    def tick(self) -> list[str]:
        """Enqueue every job that is due; returns their names."""
        now, due = self.clock(), []
        for job in self.jobs:
            if now >= self.next_run[job.name]:
                self.runner.enqueue(job.func, **job.kwargs)
                self.next_run[job.name] = now + job.interval
                due.append(job.name)
        return due

    def run_forever(self) -> None:
        """Tick until stopped, sleeping until the next job is due (at most 5 s)."""
        while not self._stop.is_set():
            self.tick()
            wait = min(self.next_run.values(), default=self.clock() + 5) - self.clock()
            self._stop.wait(max(0.2, min(wait, 5.0)))

    def start(self) -> threading.Thread:
        """Run in a daemon thread."""
        thread = threading.Thread(target=self.run_forever, name="wharfinger-schedule", daemon=True)
        thread.start()
        return thread

    def stop(self) -> None:
        """Ask the thread to finish."""
        self._stop.set()


def start_background(app) -> InProcessScheduler | None:
    """In a serving process without Redis: start the timer and the start-up jobs."""
    if app.config.get("REDIS_URL"):
        return None
    runner = app.extensions["wharfinger.jobs"]
    for func, kwargs in startup_jobs(app.config):
        runner.enqueue(func, **kwargs)
    scheduler = InProcessScheduler(runner, periodic_jobs(app.config))
    scheduler.start()
    app.extensions["wharfinger.scheduler"] = scheduler
    return scheduler
