"""Jobs without Redis: database leases, the "one pass at a time" rule, the in-process
schedule and runner."""

from __future__ import annotations

import datetime as dt
import threading

from app.extensions import db
from app.jobs import schedule, tasks
from app.jobs.locks import exclusive
from app.jobs.runner import InProcessRunner
from app.models import JobLease
from app.services import catalog, leases
from tests.factories import make_registry
from tests.jobs.conftest import PassRace

LEASE = "test-lease"


def lease_row(name: str = LEASE) -> JobLease | None:
    """The lease row as committed (the session's copy is refreshed)."""
    db.session.rollback()
    return db.session.get(JobLease, name)


class Clock:
    """A settable stand-in for ``utcnow`` / ``time.monotonic``."""

    def __init__(self, now) -> None:
        self.now = now

    def __call__(self):
        return self.now


# --- leases ------------------------------------------------------------------------------


def test_a_lease_has_one_holder_until_released(app):
    assert leases.acquire(LEASE, "worker-a", 60)
    assert not leases.acquire(LEASE, "worker-b", 60)
    leases.release(LEASE, "worker-b")  # not the holder: no effect
    assert lease_row().holder == "worker-a"
    assert not leases.acquire(LEASE, "worker-b", 60)
    leases.release(LEASE, "worker-a")
    assert (lease_row().holder, lease_row().expires_at) == (None, None)
    assert leases.acquire(LEASE, "worker-b", 60)


def test_the_holder_may_take_its_lease_again_which_extends_it(app, monkeypatch):
    clock = Clock(dt.datetime(2026, 11, 28, 12, 0, tzinfo=dt.UTC))
    monkeypatch.setattr(leases, "utcnow", clock)
    assert leases.acquire(LEASE, "worker-a", 60)
    clock.now += dt.timedelta(seconds=50)
    assert leases.acquire(LEASE, "worker-a", 60)
    assert lease_row().expires_at == clock.now + dt.timedelta(seconds=60)
    clock.now += dt.timedelta(seconds=30)  # past the first expiry, within the second
    assert not leases.acquire(LEASE, "worker-b", 60)


def test_an_expired_lease_goes_to_the_next_holder(app, monkeypatch):
    """A holder that died (never released) blocks others only until its lease expires;
    it has then lost the lease, and its late release changes nothing."""
    clock = Clock(dt.datetime(2026, 11, 28, 12, 0, tzinfo=dt.UTC))
    monkeypatch.setattr(leases, "utcnow", clock)
    assert leases.acquire(LEASE, "worker-a", 60)
    clock.now += dt.timedelta(seconds=59)
    assert not leases.acquire(LEASE, "worker-b", 60)
    clock.now += dt.timedelta(seconds=2)
    assert leases.acquire(LEASE, "worker-b", 60)
    assert not leases.acquire(LEASE, "worker-a", 60)
    leases.release(LEASE, "worker-a")
    assert lease_row().holder == "worker-b"


def test_racing_holders_never_both_win(app):
    """Eight threads ask for a lease that does not exist yet at the same moment: the row
    is created once and exactly one of them holds it."""
    barrier, won, errors = threading.Barrier(8), [], []

    def contender(index: int) -> None:
        with app.app_context():
            try:
                barrier.wait(5)
                if leases.acquire(LEASE, f"worker-{index}", 60):
                    won.append(index)
            except Exception as exc:  # reported below, with the thread's error
                errors.append(exc)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=contender, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert errors == []
    assert len(won) == 1
    assert lease_row().holder == f"worker-{won[0]}"


def test_exclusive_without_redis_holds_the_lease_for_the_block(app):
    with exclusive(LEASE, 60) as held:
        assert held
        holder = lease_row().holder
        assert holder and holder.count(":") == 2  # host:pid:random
        with exclusive(LEASE, 60) as nested:
            assert not nested  # another holder id, even in the same process
        assert lease_row().holder == holder
    assert lease_row().holder is None


def test_two_passes_never_run_at_once_with_the_database_lease(app, plugins, monkeypatch):
    """Without Redis the reconciliation lock is the lease: a pass started while another
    runs is skipped (empty result); once the first ended, the next one runs."""
    make_registry(plugins)
    race = PassRace(app, monkeypatch)
    results = race.run()
    assert [len(results[k]) for k in ("first", "second", "third")] == [1, 0, 1]
    assert race.passes == ["first", "MainThread"]
    assert lease_row("reconcile").holder is None


# --- the schedule ------------------------------------------------------------------------


class RecordingRunner:
    """Collects what would be enqueued."""

    def __init__(self) -> None:
        self.enqueued: list[tuple] = []

    def enqueue(self, func, *args, **kwargs) -> None:
        self.enqueued.append((func, args, kwargs))


def test_periodic_jobs_follow_the_strategy():
    base = {"SYNC_INTERVAL": 42}
    for strategy in ("update", "update-delete"):
        jobs = schedule.periodic_jobs({**base, "SYNC_STRATEGY": strategy})
        assert [(j.name, j.func, j.interval) for j in jobs] == [
            ("sweep-events", tasks.sweep_events, schedule.EVENT_SWEEP_SECONDS),
            ("reconcile", tasks.reconcile, 42),
        ]
    for strategy in ("initial", "on-start", "off"):
        jobs = schedule.periodic_jobs({**base, "SYNC_STRATEGY": strategy})
        assert [j.name for j in jobs] == ["sweep-events"], strategy


def test_startup_jobs_catch_up_unless_reconciliation_is_off():
    assert schedule.startup_jobs({"SYNC_STRATEGY": "off"}) == []
    assert schedule.startup_jobs({"SYNC_STRATEGY": "initial"}) == [
        (tasks.reconcile, {"at_start": True}),
        (tasks.sweep_events, {}),
    ]


def test_the_in_process_scheduler_enqueues_jobs_when_due():
    """Nothing at start; each job once its interval has passed, then again an interval
    after that tick (not after the ideal time: a late tick does not cause a burst)."""
    clock, runner = Clock(1000.0), RecordingRunner()
    fast = schedule.Periodic("fast", tasks.sweep_events, 10)
    slow = schedule.Periodic("slow", tasks.reconcile, 25)
    scheduler = schedule.InProcessScheduler(runner, [fast, slow], clock=clock)
    assert scheduler.tick() == []
    clock.now = 1009.9
    assert scheduler.tick() == []
    clock.now = 1010.0
    assert scheduler.tick() == ["fast"]
    assert scheduler.tick() == []
    clock.now = 1026.0
    assert scheduler.tick() == ["fast", "slow"]
    clock.now = 1100.0  # long asleep: each job runs once, not once per missed interval
    assert scheduler.tick() == ["fast", "slow"]
    assert scheduler.next_run == {"fast": 1110.0, "slow": 1125.0}
    assert [func for func, _, _ in runner.enqueued] == [
        tasks.sweep_events,
        tasks.sweep_events,
        tasks.reconcile,
        tasks.sweep_events,
        tasks.reconcile,
    ]


def test_start_background_runs_the_startup_jobs_and_the_timer(app, plugins, monkeypatch):
    """Without Redis a serving process enqueues the start-up jobs on its own runner and
    starts the timer thread; reconciliation passes run on the runner's thread."""
    make_registry(plugins)
    passes = []

    def recorded_pass(registry, client, plugins, strategy, workers=8):
        passes.append((registry.name, strategy))
        return catalog.ReconcileReport(registry.name)

    monkeypatch.setattr(catalog, "reconcile_registry", recorded_pass)
    scheduler = schedule.start_background(app)
    try:
        assert app.extensions["wharfinger.scheduler"] is scheduler
        assert [j.name for j in scheduler.jobs] == ["sweep-events", "reconcile"]
        assert app.extensions["wharfinger.jobs"].wait_idle(10)
        assert passes == [("main", "update")]
    finally:
        scheduler.stop()


def test_start_background_does_nothing_when_redis_runs_the_jobs(app_config):
    from app import create_app

    app = create_app({**app_config, "REDIS_URL": "redis://127.0.0.1:1/0"})
    assert schedule.start_background(app) is None
    assert "wharfinger.scheduler" not in app.extensions


# --- the in-process runner -----------------------------------------------------------------


def test_the_in_process_runner_runs_jobs_in_order_in_an_app_context(app):
    from flask import current_app

    seen = []

    def job(value):
        seen.append((value, current_app._get_current_object() is app))
        if value == "boom":
            raise RuntimeError("a failing job is logged, the next one still runs")

    runner = InProcessRunner(app)
    for value in ("a", "boom", "b"):
        runner.enqueue(job, value)
    assert runner.wait_idle(10)
    assert seen == [("a", True), ("boom", True), ("b", True)]


def test_periodic_pass_runs_once_per_interval_without_redis(app, monkeypatch):
    """Several processes enqueue the periodic pass; only the first in an interval runs it."""
    from app.jobs.locks import claim_interval_slot

    assert claim_interval_slot("reconcile", 60)
    assert not claim_interval_slot("reconcile", 60)
    ran = []
    monkeypatch.setattr(tasks, "_registries", lambda name: ran.append(name) or [])
    app.config["SYNC_INTERVAL"] = 60
    assert tasks.reconcile(periodic=True) == []
    assert ran == []  # the slot was taken: the pass did not even look at registries
    tasks.reconcile()  # a start-up or manual pass ignores the slot
    assert ran == [None]


def test_a_pass_failing_mid_transaction_still_releases_the_lease(app):
    import pytest
    from sqlalchemy.exc import IntegrityError

    with pytest.raises(RuntimeError), exclusive("reconcile", 3600) as held:
        assert held
        db.session.add(JobLease(name="reconcile"))  # a flush error leaves the session failed
        with pytest.raises(IntegrityError):
            db.session.flush()
        raise RuntimeError("the pass failed")
    with exclusive("reconcile", 3600) as held_again:
        assert held_again  # not blocked for an hour by the failed pass
