"""Jobs on RQ against the real Redis: the worker, its schedule and the reconciliation lock.

The app is built with ``REDIS_URL`` (the test database, see ``conftest.redis_url``), so
its runner is the ``RQRunner`` and ``tasks.reconcile`` locks with Redis. Workers run with
``worker.run_worker(app, burst=True)``, in this process (RQ's ``SimpleWorker``) or, for
two workers at once, in two child processes.
"""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
import threading
import time
from contextlib import ExitStack
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import current_app
from rq.cron import get_cron_job_ids
from rq.job import Job, JobStatus

from app.extensions import db
from app.jobs import tasks
from app.jobs.locks import exclusive
from app.jobs.runner import RQRunner
from app.jobs.worker import run_cron, run_worker
from app.models import RegistryEvent, Tag
from app.models.enums import EventStatus, Role
from app.registry.events import parse_envelope
from app.services import catalog, events
from app.services.registry_access import ManifestFetcher
from tests.events.conftest import REGISTRY_HOST, OfflineManifests, envelope, event, post_events
from tests.factories import make_namespace, make_registry, make_team, make_user
from tests.jobs.conftest import PassRace

pytestmark = pytest.mark.usefixtures("restore_signals")

ROOT = Path(__file__).resolve().parents[2]
LOCK_KEY = "wharfinger:lock:reconcile"
WORKER_TIMEOUT = 30.0


@pytest.fixture
def app_config(app_config, redis_url):
    """Jobs go to RQ on the test Redis; no start-up jobs unless a test asks for them."""
    return {**app_config, "REDIS_URL": redis_url, "SYNC_STRATEGY": "off"}


@pytest.fixture
def rq(app) -> RQRunner:
    """The app's runner (RQ, since REDIS_URL is set)."""
    runner = app.extensions["wharfinger.jobs"]
    assert isinstance(runner, RQRunner)
    return runner


@pytest.fixture
def microbox(plugins):
    """The events tests' world: registry ``REGISTRY_HOST``, user gggg contributing to the
    team that owns ``microbox``."""
    registry = make_registry(plugins, name="events", hostname=REGISTRY_HOST, use_ssl=False)
    gggg = make_user(plugins, "gggg")
    team = make_team("microbox-team", members=[(gggg, Role.CONTRIBUTOR)])
    make_namespace(registry, team, "microbox")
    return registry


@pytest.fixture
def offline_manifests(monkeypatch):
    """Jobs read manifests from nowhere (no registry runs here) and never build an app of
    their own: a job outside the worker's app context would fail loudly."""
    monkeypatch.setattr(ManifestFetcher, "for_app", classmethod(lambda cls, a: OfflineManifests()))

    def no_fallback_app():
        raise AssertionError("the job ran outside the worker's app context")

    monkeypatch.setattr(tasks, "_app", no_fallback_app)


class PassRecorder:
    """Stands in for ``catalog.reconcile_registry``: records each pass and what it saw."""

    def __init__(self, app, connection) -> None:
        self.app = app
        self.connection = connection
        self.passes: list[dict] = []

    def __call__(self, registry, client, plugins, strategy, workers=8):
        self.passes.append(
            {
                "registry": registry.name,
                "strategy": strategy,
                "same_app": current_app._get_current_object() is self.app,
                "locked": bool(self.connection.exists(LOCK_KEY)),
            }
        )
        return catalog.ReconcileReport(registry.name)


@pytest.fixture
def recorder(app, rq, monkeypatch) -> PassRecorder:
    """Every reconciliation pass is recorded instead of reading a registry."""
    passes = PassRecorder(app, rq.connection)
    monkeypatch.setattr(catalog, "reconcile_registry", passes)
    return passes


def jobs_by_function(rq: RQRunner, ids: list[str]) -> dict[str, list[Job]]:
    """The jobs ``ids``, freshly read, grouped by the job function's name."""
    grouped: dict[str, list[Job]] = {}
    for job in Job.fetch_many(ids, connection=rq.connection):
        grouped.setdefault(job.func_name.rsplit(".", 1)[-1], []).append(job)
    return grouped


def finished(rq: RQRunner) -> dict[str, list[Job]]:
    """The finished jobs of the queue, by function name, oldest first."""
    ids = rq.queue.finished_job_registry.get_job_ids()
    grouped = jobs_by_function(rq, ids)
    for jobs in grouped.values():
        jobs.sort(key=lambda job: job.enqueued_at)
    return grouped


# --- the worker runs what the app enqueues -------------------------------------------------


def test_a_webhook_event_is_applied_by_the_rq_worker(app, client, rq, microbox, offline_manifests):
    """The endpoint stores the event and enqueues ``apply_pending_events`` in Redis;
    nothing is applied until the worker runs the job, in the app's context, exactly once."""
    response = post_events(client, envelope(event()))
    assert response.status_code == 202
    [job] = rq.queue.get_jobs()
    assert job.func_name == "app.jobs.tasks.apply_pending_events"
    assert db.session.scalar(sa.select(RegistryEvent.status)) == EventStatus.FRESH
    run_worker(app, burst=True)
    job = Job.fetch(job.id, connection=rq.connection)
    assert job.get_status() == JobStatus.FINISHED and job.return_value() == 1
    db.session.rollback()
    assert db.session.scalar(sa.select(RegistryEvent.status)) == EventStatus.DONE
    assert db.session.scalar(sa.select(Tag.name)) == "2.1.1"
    assert rq.queue.count == 0


def test_a_burst_of_notifications_queues_one_job_until_it_starts(
    app, client, rq, microbox, offline_manifests
):
    """Many notifications while no job has started queue one job (one SET NX each, not
    RQ's enqueue); it applies them all; a notification after it started queues the next."""
    for tag in ("1", "2", "3"):
        assert post_events(client, envelope(event(tag=tag))).status_code == 202
    assert len(rq.queue.get_jobs()) == 1
    run_worker(app, burst=True)
    db.session.rollback()
    assert set(db.session.scalars(sa.select(Tag.name))) == {"1", "2", "3"}
    assert post_events(client, envelope(event(tag="4"))).status_code == 202
    assert len(rq.queue.get_jobs()) == 1  # the mark was cleared when the job began
    run_worker(app, burst=True)
    db.session.rollback()
    statuses = set(db.session.scalars(sa.select(RegistryEvent.status)))
    assert statuses == {EventStatus.DONE}


def test_wharfinger_worker_burst_runs_the_queue(app, rq, runner, microbox, offline_manifests):
    """``wharfinger worker --burst`` is the same worker: it applies the queued event job."""
    row_ids = events.store(parse_envelope(envelope(event())))
    rq.enqueue(tasks.apply_events, row_ids)
    with app.app_context():
        result = runner.invoke(args=["worker", "--burst"])
    assert result.exit_code == 0, result.output
    assert rq.queue.count == 0
    db.session.rollback()
    assert db.session.scalar(sa.select(RegistryEvent.status)) == EventStatus.DONE


def test_sweep_and_reconcile_jobs_run_in_the_workers_app_context(
    app, rq, microbox, offline_manifests, recorder
):
    """Jobs enqueued through the app's runner: the sweep applies an event nobody enqueued,
    the pass runs under the Redis lock, which is gone afterwards."""
    [row_id] = events.store(parse_envelope(envelope(event())))
    rq.enqueue(tasks.sweep_events)
    rq.enqueue(tasks.reconcile, strategy="update-delete")
    assert rq.queue.count == 2
    run_worker(app, burst=True)
    jobs = finished(rq)
    assert [j.return_value() for j in jobs["sweep_events"]] == [1]
    [reports] = [j.return_value() for j in jobs["reconcile"]]
    assert [r.registry for r in reports] == ["events"]
    assert recorder.passes == [
        {"registry": "events", "strategy": "update-delete", "same_app": True, "locked": True}
    ]
    assert not rq.connection.exists(LOCK_KEY)
    db.session.rollback()
    assert db.session.get(RegistryEvent, row_id).status == EventStatus.DONE


def test_the_worker_enqueues_the_start_up_jobs(app, rq, microbox, recorder):
    """With reconciliation on, a starting worker catches up: one pass flagged
    ``at_start`` and an event sweep, run by that same worker."""
    app.config["SYNC_STRATEGY"] = "update"
    run_worker(app, burst=True)
    jobs = finished(rq)
    assert [j.kwargs for j in jobs["reconcile"]] == [{"at_start": True}]
    assert [j.return_value() for j in jobs["sweep_events"]] == [0]
    assert [p["strategy"] for p in recorder.passes] == ["update"]


def test_the_cron_scheduler_enqueues_the_pass_on_time_and_the_worker_runs_it(
    app, rq, microbox, recorder
):
    """``run_cron`` with SYNC_INTERVAL=1 s for about 2.3 s: the pass is enqueued at once
    and then every second (the event sweep once, its interval is 30 s); a worker then runs
    its start-up pass and the periodic ones, at most one per interval."""
    app.config.update(SYNC_STRATEGY="update", SYNC_INTERVAL=1)
    stop = threading.Event()
    cron = threading.Thread(target=run_cron, args=(rq.connection, app.config, stop))
    cron.start()
    time.sleep(2.3)
    stop.set()
    cron.join(10)
    assert not cron.is_alive()
    queued = jobs_by_function(rq, rq.queue.get_job_ids())
    passes = sorted(queued["reconcile"], key=lambda job: job.enqueued_at)
    assert len(queued["sweep_events"]) == 1
    assert 2 <= len(passes) <= 3, [job.enqueued_at for job in passes]
    gaps = [(b.enqueued_at - a.enqueued_at).total_seconds() for a, b in itertools.pairwise(passes)]
    assert all(0.8 <= gap <= 1.7 for gap in gaps), gaps
    assert set(get_cron_job_ids("reconcile", rq.connection)) == {job.id for job in passes}
    run_worker(app, burst=True)
    # The worker's start-up pass, then the periodic ones: queued passes that the burst runs
    # within the same interval find its slot taken and skip (one pass per interval).
    assert 2 <= len(recorder.passes) <= len(passes) + 1
    assert all(p["locked"] and p["same_app"] for p in recorder.passes)
    assert rq.queue.count == 0


# --- never two passes at once ------------------------------------------------------------


def test_two_passes_never_run_at_once_with_the_redis_lock(app, rq, microbox, monkeypatch):
    """A pass started while another holds the Redis lock is skipped; the lock expires on
    its own (TTL) and is released when the pass ends, so the next pass runs."""
    race = PassRace(app, monkeypatch)

    def lock_is_held() -> None:
        ttl = rq.connection.ttl(LOCK_KEY)
        assert 0 < ttl <= tasks.RECONCILE_LOCK_SECONDS

    results = race.run(while_held=lock_is_held)
    assert [len(results[k]) for k in ("first", "second", "third")] == [1, 0, 1]
    assert race.passes == ["first", "MainThread"]
    assert not rq.connection.exists(LOCK_KEY)


def test_two_rq_workers_never_run_two_passes_at_once(app, app_config, rq, microbox, tmp_path):
    """Two real worker processes, two queued passes: one worker's pass blocks, holding the
    lock; the other worker takes the second job and skips it. Only one pass ever runs."""
    job_ids = [rq.queue.enqueue(tasks.reconcile, kwargs={"strategy": "update"}).id for _ in "ab"]
    handshake = tmp_path / "handshake"
    handshake.mkdir()
    with ExitStack() as cleanup:
        workers = [start_worker(app_config, handshake, tmp_path / f"worker-{n}.log") for n in "ab"]
        for process in workers:
            cleanup.callback(stop_process, process)
        cleanup.callback((handshake / "release").write_text, "go")  # on failure: unblock first
        skipped = wait_for_skipped_job(rq, job_ids, handshake, workers)
        (handshake / "release").write_text("go")
        for process in workers:
            assert process.wait(WORKER_TIMEOUT) == 0, worker_logs(tmp_path)
    jobs = {job.id: job for job in Job.fetch_many(job_ids, connection=rq.connection)}
    assert {job.get_status() for job in jobs.values()} == {JobStatus.FINISHED}
    ran = [job for job in jobs.values() if job.id != skipped.id]
    assert [len(job.return_value()) for job in ran] == [1]
    assert skipped.return_value() == []
    assert ran[0].worker_name != skipped.worker_name
    assert len(list(handshake.glob("entered-*"))) == 1
    assert not rq.connection.exists(LOCK_KEY)


def start_worker(app_config: dict, handshake: Path, log: Path) -> subprocess.Popen:
    """A ``slow_pass_worker`` child process (a burst worker of this test's app)."""
    with open(log, "wb") as output:
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.jobs.slow_pass_worker",
                json.dumps(app_config),
                str(handshake),
            ],
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
        )


def wait_for_skipped_job(rq, job_ids, handshake: Path, workers) -> Job:
    """Wait until one pass is blocked inside and the other job has finished (skipped).

    Fails at once if both passes got in, or if a worker died.
    """
    deadline = time.monotonic() + WORKER_TIMEOUT
    while time.monotonic() < deadline:
        entered = list(handshake.glob("entered-*"))
        assert len(entered) <= 1, "two passes ran at the same time"
        done = [
            job
            for job in Job.fetch_many(job_ids, connection=rq.connection)
            if job.get_status() == JobStatus.FINISHED
        ]
        if entered and done:
            return done[0]
        assert all(p.poll() is None for p in workers), "a worker exited early"
        time.sleep(0.05)
    raise AssertionError("no worker skipped the second pass in time")


def stop_process(process: subprocess.Popen) -> None:
    """Terminate a child this test started, if it still runs."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


def worker_logs(folder: Path) -> str:
    """The workers' output, for a failure message."""
    return "\n".join(
        f"--- {log.name} ---\n{log.read_text()}" for log in folder.glob("worker-*.log")
    )


def test_a_redis_lock_left_by_a_dead_holder_expires(rq):
    """A holder that died keeps the lock only for its TTL; the old holder's late release
    cannot remove the new holder's lock."""
    with ExitStack() as old_holder:
        assert old_holder.enter_context(exclusive("dead-holder", 60, rq.connection))
        with exclusive("dead-holder", 60, rq.connection) as second:
            assert not second
        rq.connection.pexpire("wharfinger:lock:dead-holder", 50)  # time passes
        time.sleep(0.1)
        with ExitStack() as new_holder:
            assert new_holder.enter_context(exclusive("dead-holder", 60, rq.connection))
            old_holder.close()  # the late release is refused (not the owner)
            assert rq.connection.exists("wharfinger:lock:dead-holder")
        assert not rq.connection.exists("wharfinger:lock:dead-holder")


def test_interval_slot_in_redis(app, rq):
    """With Redis the slot is a key that expires with the interval."""
    from app.jobs.locks import claim_interval_slot

    assert claim_interval_slot("reconcile", 30, rq.connection)
    assert not claim_interval_slot("reconcile", 30, rq.connection)
    assert 0 < rq.connection.ttl("wharfinger:slot:reconcile") <= 29
