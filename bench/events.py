"""Registry notification ingestion through the production server (gunicorn, TLS).

Run from the repository root: ``.venv/bin/python -m bench.events`` (needs ``wrk`` and
``docker-registry``). Builds a throw-away instance and a real registry 2.8.2 seeded with
100 repositories x 5 tags (bench/_registry.py), imports them by reconciliation (so the
namespaces and repositories exist), starts ``wharfinger serve`` and has wrk (16 keep-alive
connections) POST 10,000 tag-push envelopes (one event each, unique ids, new tag names on
digests the registry holds, so the manifest reads during apply succeed) plus 5 % duplicate
redeliveries of earlier ids. The Lua script cycles through the pre-generated bodies; each
wrk thread reports when its share is answered and wrk is then interrupted.

Then it waits (bounded) until no stored event is fresh or processing and checks: stored
rows == unique ids, new tags == new ``repository.push`` activities == unique pushes, zero
failed. Mode ``inline`` runs without Redis (web workers apply events on their job thread);
mode ``redis`` sets WHARFINGER_REDIS_URL (database 14, flushed first) and runs one
``wharfinger worker`` (``--redis-db`` picks another database, so that benchmarks of
several people on one Redis do not flush each other's). Accept rate (all responses received) and apply rate (all events
processed, from the start of the load) are reported separately.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import select
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

from bench._registry import DOCKER_MANIFEST, app_for, repository_names, seed, start_stack
from bench._support import (
    REPO_ROOT,
    STOP_TIMEOUT,
    BenchError,
    Server,
    WrkResult,
    children_cpu_seconds,
    lua_string,
    machine_busy_seconds,
    parse_wrk,
    require_tools,
    tree_cpu_seconds,
    wharfinger_command,
    write_wrk_script,
)

EVENTS = 10_000
DUPLICATE_SHARE = 0.05
REPOSITORIES = 100
CONNECTIONS = 16
WRK_THREADS = 4
REDIS_URL = "redis://127.0.0.1:6379/{db}"
REDIS_DB = 14
TARGET_ACCEPT_RATE = 500.0
LOAD_TIMEOUT = 300
APPLY_TIMEOUT = 600.0
EVENTS_PATH = "/v2/webhooks/events"
EVENTS_TYPE = "application/vnd.docker.distribution.events.v1+json"
DONE_MARK = "THREAD_DONE"
EXIT_MISSED = 1
EXIT_SETUP = 2

# Each wrk thread takes every WRK_THREADS-th body; after its share is answered it says so
# on stdout and stops. Requests it still sends meanwhile repeat its first body (duplicates).
LUA_LOAD = """
local bodies_path = {bodies}
local stride = {threads}
local counter = 0
function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
end
function init(args)
  mine, sent, received, bad = {{}}, 0, 0, 0
  local n = 0
  for line in io.lines(bodies_path) do
    if n % stride == id then table.insert(mine, line) end
    n = n + 1
  end
end
function request()
  sent = sent + 1
  return wrk.format("POST", nil, nil, mine[sent] or mine[1])
end
function response(status, headers, body)
  received = received + 1
  if status ~= 202 then bad = bad + 1 end
  if received == #mine then
    io.write(string.format("{done} %d %d %d\\n", id, received, bad))
    io.stdout:flush()
    wrk.thread:stop()
  end
end
"""


def push_event(repository: str, tag: str, digest: str, host: str) -> dict:
    """A tag-push event shaped like registry 2.8.2's."""
    return {
        "id": str(uuid.uuid4()),
        "timestamp": "2026-11-28T00:00:41.939030637Z",
        "action": "push",
        "target": {
            "mediaType": DOCKER_MANIFEST,
            "size": 528,
            "digest": digest,
            "length": 528,
            "repository": repository,
            "url": f"http://{host}/v2/{repository}/manifests/{digest}",
            "tag": tag,
        },
        "request": {
            "id": str(uuid.uuid4()),
            "addr": "127.0.0.1:40000",
            "host": host,
            "method": "PUT",
            "useragent": "docker/24.0.7",
        },
        "actor": {"name": "bench-pusher"},
        "source": {"addr": "registry:5000", "instanceID": str(uuid.uuid4())},
    }


def envelope_lines(
    host: str, digests: list[str], events: int, seed_value: int, prefix: str
) -> list[str]:
    """One JSON envelope per line: ``events`` unique pushes of new tags (``prefix``-N)
    with duplicates mixed in, each duplicate placed after its original."""
    names = repository_names(REPOSITORIES)
    lines = [
        json.dumps(
            {
                "events": [
                    push_event(
                        names[i % len(names)], f"{prefix}-{i:05d}", digests[i % len(digests)], host
                    )
                ]
            }
        )
        for i in range(events)
    ]
    unique = list(lines)
    chooser = random.Random(seed_value)
    for _ in range(int(events * DUPLICATE_SHARE)):
        line = unique[chooser.randrange(events)]
        position = chooser.randint(lines.index(line) + 1, len(lines))
        lines.insert(position, line)
    return lines


def load_script(workdir: Path, bodies: Path, secret: str) -> Path:
    """The wrk script: our request/response hooks after the shared summary hook."""
    script = write_wrk_script(
        workdir / "events.lua",
        EVENTS_PATH,
        {"Authorization": f"Bearer {secret}", "Content-Type": EVENTS_TYPE},
    )
    hooks = LUA_LOAD.format(bodies=lua_string(str(bodies)), threads=WRK_THREADS, done=DONE_MARK)
    script.write_text(script.read_text() + hooks)
    return script


@dataclass(frozen=True)
class Load:
    """The wrk run: its summary, our wall-clock time until every share was answered."""

    wrk: WrkResult
    accept_seconds: float
    bad_statuses: int
    server_cpu: float
    other_cores: float  # CPU of processes outside the benchmark, per second of load
    load: float  # 1-minute load average at the end of the load


def _wait_for_threads(process: subprocess.Popen, deadline: float) -> int:
    """Read wrk's stdout until every thread said it is done; returns non-202 count."""
    done, bad, buffer = 0, 0, b""
    while done < WRK_THREADS:
        if time.monotonic() > deadline or process.poll() is not None:
            raise BenchError(f"the load did not finish ({done}/{WRK_THREADS} threads done)")
        ready, _, _ = select.select([process.stdout], [], [], 0.5)
        if not ready:
            continue
        buffer += process.stdout.read1(4096)
        *complete, buffer = buffer.split(b"\n")
        for line in complete:
            if line.startswith(DONE_MARK.encode()):
                done += 1
                bad += int(line.split()[3])
    return bad


def _own_cpu_seconds() -> float:
    """CPU seconds of this process."""
    times = os.times()
    return times.user + times.system


def run_load(server: Server, script: Path, helper_pids: list[int]) -> Load:
    """Run wrk until every body was answered, then interrupt it for its summary.

    ``helper_pids`` (the registry, the worker) count as the benchmark's own CPU; whatever
    else the machine did meanwhile is reported as other cores."""
    args = [
        "wrk",
        f"--connections={CONNECTIONS}",
        f"--threads={WRK_THREADS}",
        f"--duration={LOAD_TIMEOUT}s",
        "--timeout=10s",
        f"--script={script}",
        server.url,
    ]

    def ours() -> float:
        helpers = sum(tree_cpu_seconds(pid) for pid in helper_pids)
        return helpers + _own_cpu_seconds() + children_cpu_seconds()

    cpu_before, ours_before = tree_cpu_seconds(server.pid), ours()
    busy_before = machine_busy_seconds()
    started = time.monotonic()
    process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        bad = _wait_for_threads(process, started + LOAD_TIMEOUT)
        accept_seconds = time.monotonic() - started
        process.send_signal(signal.SIGINT)
        stdout, _ = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    seconds = time.monotonic() - started
    server_cpu = tree_cpu_seconds(server.pid) - cpu_before
    other = machine_busy_seconds() - busy_before - server_cpu - (ours() - ours_before)
    load = float(Path("/proc/loadavg").read_text().split()[0])
    return Load(
        parse_wrk(stdout.decode()), accept_seconds, bad, server_cpu, max(0.0, other) / seconds, load
    )


@contextmanager
def worker_process(env: dict[str, str], log_path: Path):
    """One ``wharfinger worker`` subprocess, stopped by its pid."""
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            [*wharfinger_command(), "worker"],
            env=env,
            cwd=REPO_ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


def flush_redis_db(url: str) -> None:
    """Empty our Redis database only."""
    import redis

    redis.Redis.from_url(url).flushdb()


@dataclass(frozen=True)
class Counts:
    """Rows the checks compare."""

    events: int
    pending: int
    failed: int
    tags: int
    pushes: int


def counts() -> Counts:
    """Current row counts (in the benchmark's own app context)."""
    from app.extensions import db

    def one(sql: str) -> int:
        return db.session.scalar(sa.text(sql))

    result = Counts(
        one("SELECT COUNT(*) FROM registry_events"),
        one("SELECT COUNT(*) FROM registry_events WHERE status IN ('fresh', 'processing')"),
        one("SELECT COUNT(*) FROM registry_events WHERE status = 'failed'"),
        one("SELECT COUNT(*) FROM tags"),
        one("SELECT COUNT(*) FROM activities WHERE key = 'repository.push'"),
    )
    db.session.rollback()
    return result


def wait_applied(started: float) -> float:
    """Poll until nothing is fresh or processing; seconds since ``started``."""
    deadline = time.monotonic() + APPLY_TIMEOUT
    while counts().pending:
        if time.monotonic() > deadline:
            raise BenchError(f"events still pending after {APPLY_TIMEOUT:.0f} s")
        time.sleep(0.25)
    return time.monotonic() - started


@dataclass(frozen=True)
class Run:
    """One measured run."""

    mode: str
    requests: int
    unique: int
    accept_seconds: float
    apply_seconds: float
    p50_ms: float
    p99_ms: float
    bad: int
    server_ms: float
    stored: int
    new_tags: int
    new_pushes: int
    failed: int
    other_cores: float = 0.0
    load: float = 0.0

    @property
    def accept_rate(self) -> float:
        """Envelopes answered per second."""
        return self.requests / self.accept_seconds

    @property
    def apply_rate(self) -> float:
        """Unique events applied per second, from the start of the load."""
        return self.unique / self.apply_seconds

    @property
    def exact(self) -> bool:
        """Every event stored once and applied once, none failed, no bad status."""
        return (
            self.stored == self.new_tags == self.new_pushes == self.unique
            and self.failed == 0
            and self.bad == 0
        )


def measure(stack, options, mode: str, number: int, digests: list[str]) -> Run:
    """Generate bodies, start the server (and worker), load, wait, count."""
    workdir = stack.workdir
    env = dict(stack.env, WHARFINGER_SYNC_STRATEGY="off")
    if mode == "redis":
        url = REDIS_URL.format(db=options.redis_db)
        flush_redis_db(url)
        env["WHARFINGER_REDIS_URL"] = url
    with app_for(stack.env) as app:
        secret = app.config["EVENTS_SECRET"]
        before = counts()
        lines = envelope_lines(stack.service, digests, options.events, number, f"{mode}{number}")
        bodies = workdir / f"bodies-{mode}-{number}.jsonl"
        bodies.write_text("\n".join(lines) + "\n")
        script = load_script(workdir, bodies, secret)
        log = workdir / f"server-{mode}-{number}.log"
        with Server(env, log, tls_cert(stack), server_arguments(options)) as server:
            worker_context = (
                worker_process(env, workdir / f"worker-{number}.log")
                if mode == "redis"
                else _nothing()
            )
            with worker_context as worker:
                started = time.monotonic()
                helpers = [stack.registry.pid] + ([worker.pid] if worker else [])
                load = run_load(server, script, helpers)
                apply_seconds = wait_applied(started)
        after = counts()
    return Run(
        mode,
        load.wrk.requests,
        options.events,
        load.accept_seconds,
        apply_seconds,
        load.wrk.p50_ms,
        load.wrk.p99_ms,
        load.bad_statuses + load.wrk.socket_errors,
        1000 * load.server_cpu / max(1, load.wrk.requests),
        after.events - before.events,
        after.tags - before.tags,
        after.pushes - before.pushes,
        after.failed - before.failed,
        load.other_cores,
        load.load,
    )


def tls_cert(stack) -> Path:
    """The instance's self-signed server certificate (the client trusts it)."""
    return stack.workdir / "instance" / "tls.crt"


def server_arguments(options) -> list[str]:
    """``serve`` options given on our command line (default: the server's own)."""
    return ["--workers", str(options.workers)] if options.workers else []


@contextmanager
def _nothing():
    """No worker (inline mode)."""
    yield None


HEADER = (
    f"{'mode':<7} {'requests':>8} {'accept/s':>8} {'p50 ms':>7} {'p99 ms':>7} "
    f"{'srv ms/req':>10} {'applied/s':>9} {'stored':>6} {'tags':>6} {'pushes':>6} "
    f"{'failed':>6} {'errors':>6} exact  other cores  load"
)


def format_run(run: Run) -> str:
    """One table line."""
    return (
        f"{run.mode:<7} {run.requests:>8} {run.accept_rate:>8,.0f} {run.p50_ms:>7.1f} "
        f"{run.p99_ms:>7.1f} {run.server_ms:>10.2f} {run.apply_rate:>9,.0f} {run.stored:>6} "
        f"{run.new_tags:>6} {run.new_pushes:>6} {run.failed:>6} {run.bad:>6} "
        f"{'yes' if run.exact else 'NO':<5}  {run.other_cores:>11.2f}  {run.load:.2f}"
    )


def run_all(options) -> list[Run]:
    """One stack; each mode ``options.runs`` times on it (fresh event ids every run)."""
    runs = []
    with (
        tempfile.TemporaryDirectory(prefix="wharfinger-bench-") as temporary,
        start_stack(Path(temporary)) as stack,
    ):
        seeded = seed(stack, REPOSITORIES, 5)
        with app_for(stack.env):
            from app.jobs import tasks

            tasks.reconcile(strategy="update")
        for number in range(1, options.runs + 1):
            for mode in options.modes:
                run = measure(stack, options, mode, number, seeded.manifest_digests)
                runs.append(run)
                print(f"run {number} {format_run(run)}", flush=True)
    return runs


def report(runs: list[Run], options) -> bool:
    """Table, medians per mode and targets; True when all are met."""
    print(
        f"\nEvent ingestion: {options.events} unique tag pushes + "
        f"{DUPLICATE_SHARE:.0%} redeliveries, {CONNECTIONS} connections, "
        f"{options.workers or 'default'} gunicorn workers"
    )
    print(HEADER)
    for run in runs:
        print(format_run(run))
    met = True
    for mode in options.modes:
        mine = [r for r in runs if r.mode == mode]
        accept = statistics.median(r.accept_rate for r in mine)
        applied = statistics.median(r.apply_rate for r in mine)
        exact = all(r.exact for r in mine)
        print(f"{mode}: median accept {accept:,.0f}/s, median apply {applied:,.0f}/s")
        for ok, text in (
            (accept >= TARGET_ACCEPT_RATE, f"{mode} accept >= {TARGET_ACCEPT_RATE:.0f}/s"),
            (exact, f"{mode} every event applied exactly once, none failed"),
        ):
            met &= ok
            print(f"target {'met   ' if ok else 'MISSED'} {text}")
    return met


def parse_options(argv: list[str] | None) -> argparse.Namespace:
    """Command-line options (all have working defaults)."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.events", description=__doc__.split("\n", 1)[0]
    )
    add = parser.add_argument
    add("--runs", type=int, default=1, choices=range(1, 6), metavar="N", help="runs per mode")
    add(
        "--events",
        type=int,
        default=EVENTS,
        choices=range(100, 100_001),
        metavar="N",
        help=f"unique events per run (default {EVENTS})",
    )
    add(
        "--mode",
        dest="modes",
        action="append",
        choices=("inline", "redis"),
        help="inline (no Redis) and/or redis (default: both)",
    )
    add(
        "--workers",
        type=int,
        choices=range(1, 33),
        metavar="N",
        help="gunicorn workers (default: the server's own default)",
    )
    add(
        "--redis-db",
        type=int,
        default=REDIS_DB,
        choices=range(16),
        metavar="N",
        help=f"Redis database for redis mode, flushed first (default {REDIS_DB})",
    )
    options = parser.parse_args(argv)
    options.modes = options.modes or ["inline", "redis"]
    return options


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; 0 when every target is met."""
    options = parse_options(argv)
    try:
        require_tools("wrk", "docker-registry")
        runs = run_all(options)
    except BenchError as exc:
        print(f"bench.events: {exc}", file=sys.stderr)
        return EXIT_SETUP
    return 0 if report(runs, options) else EXIT_MISSED


if __name__ == "__main__":
    sys.exit(main())
