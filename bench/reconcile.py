"""Catalog reconciliation against a real registry 2.8.2 seeded with 1,000 x 5 tags.

Run from the repository root: ``.venv/bin/python -m bench.reconcile`` (needs Debian's
``docker-registry``). Each run builds a throw-away instance (SQLite, or ``--database-url``
for a MariaDB/PostgreSQL database this command creates and drops), a registry with token
auth wired to it by ``wharfinger registry config`` (notifications off), seeds it through
the HTTP API (bench/_registry.py), then runs ``tasks.reconcile`` in-process twice: the
first import, and a pass with nothing changed. For each pass it prints seconds, HTTP
requests, changes, rows in tags/activities before and after, and the INSERT/UPDATE/DELETE
statements the engine executed (counted with a SQLAlchemy cursor event), the CPU seconds
the registry, this process and everything else used meanwhile (and the 1-minute load
average), beside what Portus's model costs for the same catalog: catalog pages + one
tags/list per repository + one manifest GET per tag. Before each pass it waits (at most
60 s) for the machine to be idle. ``--compare`` adds a no-change pass that expires the
loaded rows at every commit, as passes did before (the side-by-side "before").
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import statistics
import sys
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

from bench._registry import app_for, seed, start_stack
from bench._support import (
    BenchError,
    machine_busy_seconds,
    require_tools,
    tree_cpu_seconds,
    wait_for_quiet,
)

REPOSITORIES = 1000
TAGS = 5
PORTUS_PAGE_SIZE = 100  # Portus walks /v2/_catalog?n=100 and follows Link
TARGET_IMPORT_S = 60.0
TARGET_NOCHANGE_S = 15.0
WRITE_VERBS = ("INSERT", "UPDATE", "DELETE")
LEASE_TABLE = "job_leases"  # the pass's own lock row (no Redis), not catalog data
EXIT_MISSED = 1
EXIT_SETUP = 2
QUIET_WAIT_S = 60.0
EXPIRING = "no change, expiring"  # --compare: rows expired at every commit, as before


@dataclass(frozen=True)
class Pass:
    """One reconciliation pass as measured."""

    label: str
    seconds: float
    requests: int
    changes: int
    tags_before: int
    tags_after: int
    activities_before: int
    activities_after: int
    writes: int
    lease_writes: int
    complete: bool
    registry_cpu: float = 0.0
    own_cpu: float = 0.0
    other_cpu: float = 0.0
    load: float = 0.0

    @property
    def rows_written(self) -> int:
        """New rows in tags plus new rows in activities."""
        return (self.tags_after - self.tags_before) + (
            self.activities_after - self.activities_before
        )


def portus_requests(repositories: int, tags: int) -> int:
    """Portus's HTTP cost per pass: catalog pages + tags/list each + a manifest GET per tag."""
    pages = max(1, math.ceil(repositories / PORTUS_PAGE_SIZE))
    return pages + repositories + tags


def row_counts() -> tuple[int, int]:
    """Rows in ``tags`` and ``activities``."""
    from app.extensions import db

    def count(table: str) -> int:
        return db.session.scalar(sa.text(f"SELECT COUNT(*) FROM {table}"))  # noqa: S608

    counts = count("tags"), count("activities")
    db.session.rollback()
    return counts


@contextmanager
def counting_writes():
    """Count INSERT/UPDATE/DELETE statements the engine sends while the block runs;
    those on the lock table (the pass's own lease) are counted apart."""
    from app.extensions import db

    counter = {"writes": 0, "lease": 0}

    def before(_conn, _cursor, statement, _params, _context, executemany):
        text = statement.lstrip().upper()
        if text.startswith(WRITE_VERBS):
            counter["lease" if LEASE_TABLE.upper() in text else "writes"] += 1

    sa.event.listen(db.engine, "before_cursor_execute", before)
    try:
        yield counter
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", before)


def own_cpu_seconds() -> float:
    """CPU seconds this process (every thread) has used."""
    times = os.times()
    return times.user + times.system


def reconcile_pass(label: str, registry_pid: int) -> Pass:
    """One ``tasks.reconcile`` pass (strategy ``update``) with counts around it."""
    from app.jobs import tasks
    from app.services import catalog

    tags_before, activities_before = row_counts()
    wait_for_quiet(QUIET_WAIT_S)
    kept = catalog.loaded_rows_kept
    if label == EXPIRING:
        catalog.loaded_rows_kept = contextlib.nullcontext
    cpu = (tree_cpu_seconds(registry_pid), own_cpu_seconds(), machine_busy_seconds())
    try:
        with counting_writes() as counter:
            started = time.monotonic()
            reports = tasks.reconcile(strategy="update")
            seconds = time.monotonic() - started
    finally:
        catalog.loaded_rows_kept = kept
    registry_cpu = tree_cpu_seconds(registry_pid) - cpu[0]
    own_cpu = own_cpu_seconds() - cpu[1]
    other_cpu = machine_busy_seconds() - cpu[2] - registry_cpu - own_cpu
    load = float(Path("/proc/loadavg").read_text().split()[0])
    if len(reports) != 1:
        raise BenchError(f"expected one registry report, got {len(reports)}")
    report = reports[0]
    tags_after, activities_after = row_counts()
    return Pass(
        label,
        seconds,
        report.requests,
        report.changes,
        tags_before,
        tags_after,
        activities_before,
        activities_after,
        counter["writes"],
        counter["lease"],
        report.complete,
        registry_cpu,
        own_cpu,
        max(0.0, other_cpu),
        load,
    )


@contextmanager
def server_database(url: str | None):
    """Create (and afterwards drop) the database named in a server URL; SQLite: nothing."""
    if not url or url.startswith("sqlite"):
        yield
        return
    target = sa.engine.make_url(url)
    admin = sa.create_engine(target.set(database=""), isolation_level="AUTOCOMMIT")
    name = target.database
    with admin.connect() as connection:
        connection.execute(sa.text(f"DROP DATABASE IF EXISTS {name}"))
        connection.execute(sa.text(f"CREATE DATABASE {name}"))
    try:
        yield
    finally:
        with admin.connect() as connection:
            connection.execute(sa.text(f"DROP DATABASE IF EXISTS {name}"))
        admin.dispose()


def run_once(options, number: int) -> tuple[float, list[Pass]]:
    """Fresh instance and registry, seed, import, no-change pass; (seed seconds, passes)."""
    with (
        server_database(options.database_url),
        tempfile.TemporaryDirectory(prefix="wharfinger-bench-") as temporary,
        start_stack(Path(temporary), options.database_url) as stack,
    ):
        seeded = seed(stack, options.repositories, TAGS)
        print(
            f"run {number} seeded {seeded.repositories} repositories, {seeded.tags} tags with "
            f"{seeded.requests} requests in {seeded.seconds:.1f} s",
            flush=True,
        )
        labels = ["first import", *([EXPIRING] if options.compare else []), "no change"]
        with app_for(stack.env):
            passes = [reconcile_pass(label, stack.registry.pid) for label in labels]
    for item in passes:
        print(f"run {number} {format_pass(item)}", flush=True)
    return seeded.seconds, passes


HEADER = (
    f"{'pass':<19} {'seconds':>8} {'requests':>8} {'changes':>7} {'tags':>13} "
    f"{'activities':>13} {'writes':>7} {'lease':>5}  cpu s: registry/ours/other  load"
)


def format_pass(item: Pass) -> str:
    """One table line."""
    return (
        f"{item.label:<19} {item.seconds:>8.1f} {item.requests:>8} {item.changes:>7} "
        f"{item.tags_before:>6}->{item.tags_after:<6} "
        f"{item.activities_before:>6}->{item.activities_after:<6} {item.writes:>7} {item.lease_writes:>5}"
        f"  {item.registry_cpu:>5.1f}/{item.own_cpu:>5.1f}/{item.other_cpu:>5.1f}  {item.load:.2f}"
        + ("" if item.complete else " INCOMPLETE")
    )


def report(runs: list[tuple[float, list[Pass]]], options) -> bool:
    """Medians, Portus's cost, and the targets; True when all are met."""
    imports = [passes[0] for _, passes in runs]
    quiet = [passes[-1] for _, passes in runs]
    tags = options.repositories * TAGS
    print(
        f"\nReconciliation, {options.repositories} repositories x {TAGS} tags, "
        f"{len(runs)} run(s), database {options.database_url or 'SQLite'}"
    )
    print(HEADER)
    for _, passes in runs:
        for item in passes:
            print(format_pass(item))
    import_s = statistics.median(p.seconds for p in imports)
    quiet_s = statistics.median(p.seconds for p in quiet)
    print(f"median seed {statistics.median(s for s, _ in runs):.1f} s")
    print(f"median first import {import_s:.1f} s, median no-change pass {quiet_s:.1f} s")
    expiring = [p.seconds for _, passes in runs for p in passes if p.label == EXPIRING]
    if expiring:
        before = statistics.median(expiring)
        print(f"median no-change pass expiring rows at every commit (before) {before:.1f} s")
    print(
        f"requests per pass: first import {imports[0].requests}, no change {quiet[0].requests}; "
        f"Portus's model: {portus_requests(options.repositories, tags)} every pass"
    )
    checks = [
        (import_s <= TARGET_IMPORT_S, f"first import <= {TARGET_IMPORT_S:.0f} s: {import_s:.1f}"),
        (quiet_s <= TARGET_NOCHANGE_S, f"no-change <= {TARGET_NOCHANGE_S:.0f} s: {quiet_s:.1f}"),
        (
            all(p.tags_after == tags for p in imports),
            f"first import created all {tags} tags",
        ),
        (
            all(
                p.writes == 0 and p.rows_written == 0 and p.changes == 0
                for _, passes in runs
                for p in passes[1:]
            ),
            "no-change pass: 0 changes, 0 new rows, 0 INSERT/UPDATE/DELETE on data tables",
        ),
        (all(p.complete for _, ps in runs for p in ps), "every pass read everything"),
    ]
    for ok, text in checks:
        print(f"target {'met   ' if ok else 'MISSED'} {text}")
    return all(ok for ok, _ in checks)


def parse_options(argv: list[str] | None) -> argparse.Namespace:
    """Command-line options (all have working defaults)."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.reconcile", description=__doc__.split("\n", 1)[0]
    )
    parser.add_argument(
        "--runs", type=int, default=1, choices=range(1, 6), metavar="N", help="runs (default 1)"
    )
    parser.add_argument(
        "--repositories",
        type=int,
        default=REPOSITORIES,
        choices=range(2, 5001),
        metavar="N",
        help=f"repositories to seed, {TAGS} tags each (default {REPOSITORIES})",
    )
    parser.add_argument(
        "--database-url",
        help="SQLAlchemy URL of a server database to create, use and drop "
        "(e.g. mysql+pymysql://root@127.0.0.1:3306/wharfinger_bench); default SQLite",
    )
    parser.add_argument(
        "--compare",
        action="store_true",
        help="also run a no-change pass that expires loaded rows at every commit (as before)",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; 0 when every target is met."""
    options = parse_options(argv)
    try:
        require_tools("docker-registry")
        runs = [run_once(options, n + 1) for n in range(options.runs)]
    except BenchError as exc:
        print(f"bench.reconcile: {exc}", file=sys.stderr)
        return EXIT_SETUP
    return 0 if report(runs, options) else EXIT_MISSED


if __name__ == "__main__":
    sys.exit(main())
