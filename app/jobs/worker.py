"""The RQ worker process: ``wharfinger worker`` (or ``python worker.py``).

Runs the RQ worker and, in a thread, RQ's cron scheduler with Wharfinger's periodic jobs.
The app is created by the factory when the worker starts, never at import, and every job
runs inside its app context.
"""

from __future__ import annotations

import logging
import threading

import click

log = logging.getLogger("wharfinger.worker")


def run_cron(connection, config, stop: threading.Event) -> None:
    """Enqueue the periodic jobs with RQ's CronScheduler until ``stop`` is set.

    The scheduler's own ``start()`` installs signal handlers, which only the main thread
    may do, so its enqueue loop is driven here.
    """
    from rq.cron import CronScheduler

    from app.jobs.runner import QUEUE_NAME
    from app.jobs.schedule import periodic_jobs

    scheduler = CronScheduler(connection=connection, name="wharfinger")
    for periodic in periodic_jobs(config):
        scheduler.register(
            periodic.func,
            QUEUE_NAME,
            kwargs=periodic.kwargs,
            interval=periodic.interval,
            name=periodic.name,
        )
    while not stop.is_set():
        scheduler.enqueue_jobs()
        stop.wait(max(0.5, min(scheduler.calculate_sleep_interval(), 5.0)))


def run_worker(app, burst: bool = False) -> None:
    """Run an RQ worker (and the cron thread) for the app (requires WHARFINGER_REDIS_URL)."""
    if not app.config.get("REDIS_URL"):
        raise click.ClickException(
            "WHARFINGER_REDIS_URL is not set: without Redis, jobs run inside the web "
            "process and no separate worker is needed"
        )
    from rq import SimpleWorker

    from app.jobs.schedule import startup_jobs

    runner = app.extensions["wharfinger.jobs"]
    for func, kwargs in startup_jobs(app.config):
        runner.enqueue(func, **kwargs)
    stop = threading.Event()
    cron = threading.Thread(
        target=run_cron,
        args=(runner.connection, app.config, stop),
        name="wharfinger-cron",
        daemon=True,
    )
    if not burst:
        cron.start()
    try:
        with app.app_context():
            # SimpleWorker runs jobs in this process: no fork, so the database pool and the
            # app context stay valid; each job releases its session itself.
            SimpleWorker([runner.queue], connection=runner.connection).work(
                with_scheduler=True, burst=burst
            )
    finally:
        stop.set()
