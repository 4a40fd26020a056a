"""Token endpoint throughput through the production server (gunicorn, TLS, keep-alive).

Run from the repository root: ``.venv/bin/python -m bench.token`` (needs Debian's ``wrk``
and ``openssl``). It builds a throw-away instance (``wharfinger init``, a registry, a user
with a password and an application token, a team namespace and a public namespace),
starts ``wharfinger serve`` on a free loopback port and drives ``GET /v2/token`` with wrk
(16 keep-alive connections by default) for:

(a) application-token credentials, (b) repeated password credentials, (c) anonymous pulls
of a public namespace; then, on a server restarted with WHARFINGER_CREDENTIAL_CACHE_TTL=0,
(d) password credentials with a KDF on every request (what Portus does) and (d') the
application token again; and (e) ``openssl speed rsa2048`` as the machine's signing limit.

Every scenario first checks one sample response (HTTP 200 and a token granting exactly the
expected actions); wrk's non-2xx and socket errors are counted and make the exit code 1.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from urllib.parse import urlencode

from bench._support import (
    BenchError,
    Server,
    WrkResult,
    basic_auth,
    clean_environment,
    http_get,
    jwt_claims,
    machine_description,
    openssl_sign_rate,
    require_tools,
    run_cli,
    run_command,
    run_wrk,
    wait_for_quiet,
    write_wrk_script,
)

SERVICE = "127.0.0.1:5999"
USERNAME = "alice"
PASSWORD = "bench-password-1234"
TARGET_RATE = 400.0
TARGET_P99_MS = 50.0
TARGET_RATIO = 10.0
NOISY_CORES = 0.25
EXIT_ERRORS = 1
EXIT_SETUP = 2


@dataclass(frozen=True)
class Scenario:
    """One load: which credential, which scope, and whether the credential cache is on."""

    key: str
    label: str
    credential: str  # "token", "password" or "anonymous"
    scope: str
    expected: tuple[str, ...]
    cached: bool = True


SCENARIOS = (
    Scenario("a", "application token", "token", "repository:devs/app:pull,push", ("pull", "push")),
    Scenario(
        "b", "password (fast path)", "password", "repository:devs/app:pull,push", ("pull", "push")
    ),
    Scenario("c", "anonymous pull", "anonymous", "repository:public/app:pull", ("pull",)),
    Scenario(
        "d",
        "password, KDF every time",
        "password",
        "repository:devs/app:pull,push",
        ("pull", "push"),
        cached=False,
    ),
    Scenario(
        "d'",
        "application token, cache off",
        "token",
        "repository:devs/app:pull,push",
        ("pull", "push"),
        cached=False,
    ),
)


@dataclass(frozen=True)
class Instance:
    """A prepared instance folder and the credentials the scenarios use."""

    path: Path
    app_token: str

    def environment(self, cached: bool) -> dict[str, str]:
        """Server environment; ``cached=False`` disables the verified-credential cache."""
        extra = {} if cached else {"CREDENTIAL_CACHE_TTL": "0"}
        return clean_environment(self.path, FQDN="localhost", **extra)

    def secret(self, credential: str) -> str:
        """The password for a credential kind."""
        return self.app_token if credential == "token" else PASSWORD


def prepare_instance(workdir: Path) -> Instance:
    """``wharfinger init``, a registry, a user, an application token and two namespaces."""
    instance = Instance(workdir / "instance", "")
    env = instance.environment(cached=True)
    run_cli(["init"], env)
    run_cli(["registry", "add", "bench", SERVICE], env)
    run_cli(
        ["user", "create", USERNAME, "--email", f"{USERNAME}@example.com", "--password-stdin"],
        env,
        stdin=PASSWORD + "\n",
    )
    token = run_cli(["token", "create", USERNAME, "bench"], env).strip().splitlines()[-1]
    run_command([sys.executable, "-m", "bench._seed", USERNAME], env)
    return Instance(instance.path, token)


def request_for(scenario: Scenario, instance: Instance) -> tuple[str, dict[str, str]]:
    """The path with query and the headers of a scenario's token request."""
    query = {"service": SERVICE, "scope": scenario.scope}
    headers = {}
    if scenario.credential != "anonymous":
        query["account"] = USERNAME
        headers["Authorization"] = basic_auth(USERNAME, instance.secret(scenario.credential))
    return "/v2/token?" + urlencode(query), headers


def check_sample(server: Server, scenario: Scenario, path: str, headers: dict) -> None:
    """One request must answer 200 with a token granting exactly the expected actions."""
    status, body = http_get(server.port, path, server.context, headers)
    if status != 200:
        raise BenchError(f"({scenario.key}) sample answered {status}: {body[:200]!r}")
    claims = jwt_claims(json.loads(body)["token"])
    granted = tuple(sorted(claims["access"][0]["actions"])) if claims.get("access") else ()
    if granted != scenario.expected:
        raise BenchError(f"({scenario.key}) sample granted {granted}, expected {scenario.expected}")


def measure(server: Server, scenario: Scenario, instance: Instance, options, workdir: Path):
    """Check a sample, then (after a quiet moment and a warm-up) the timed wrk run.

    A run during which unrelated processes used more than NOISY_CORES is repeated, at most
    ``options.retries`` times; the last attempt counts either way (its noise is shown).
    """
    path, headers = request_for(scenario, instance)
    check_sample(server, scenario, path, headers)
    name = scenario.key.replace("'", "2")
    script = write_wrk_script(workdir / f"scenario-{name}.lua", path, headers)
    load = {"connections": options.connections, "threads": options.wrk_threads}
    attempts = 0
    while True:
        attempts += 1
        wait_for_quiet(options.quiet_wait)
        run_wrk(server.url, script, seconds=options.warmup, **load)
        result = run_wrk(
            server.url, script, seconds=options.duration, server_pid=server.pid, **load
        )
        if result.other_cores <= NOISY_CORES or attempts > options.retries:
            return result
        print(f"      ({scenario.key}) other processes used {result.other_cores:.2f} cores: again")


def server_arguments(options) -> list[str]:
    """``serve`` options given on our command line (defaults are the server's own)."""
    args = []
    if options.workers:
        args += ["--workers", str(options.workers)]
    if options.threads:
        args += ["--threads", str(options.threads)]
    return args


@dataclass(frozen=True)
class Row:
    """The figures printed for one scenario (one run, or medians over runs)."""

    tokens_per_second: float
    p50_ms: float
    p99_ms: float
    non_2xx: int
    socket_errors: int
    server_ms_per_token: float
    other_cores: float
    spread: str

    @classmethod
    def of(cls, result: WrkResult) -> Row:
        """The row for one wrk result."""
        return cls(
            result.ok_per_second,
            result.p50_ms,
            result.p99_ms,
            result.non_2xx,
            result.socket_errors,
            result.server_ms_per_token,
            result.other_cores,
            "/".join(str(n) for n in result.spread) or "-",
        )

    @classmethod
    def median(cls, rows: list[Row]) -> Row:
        """Median of every figure; error counts are summed (any error matters)."""

        def mid(name: str) -> float:
            return statistics.median(getattr(row, name) for row in rows)

        return cls(
            mid("tokens_per_second"),
            mid("p50_ms"),
            mid("p99_ms"),
            sum(row.non_2xx for row in rows),
            sum(row.socket_errors for row in rows),
            mid("server_ms_per_token"),
            mid("other_cores"),
            " ".join(row.spread for row in rows),
        )


@dataclass
class RunResult:
    """One complete run: wrk results per scenario and the openssl rates."""

    scenarios: dict[str, WrkResult]
    openssl_per_core: float
    openssl_machine: float

    def ratio(self) -> float:
        """Password tokens/s with the fast path over without it: (b)/(d)."""
        slow = self.scenarios["d"].ok_per_second
        return self.scenarios["b"].ok_per_second / slow if slow else float("inf")


def run_once(instance: Instance, options, workdir: Path, number: int) -> RunResult:
    """All scenarios (two server starts) and the openssl rates."""
    results: dict[str, WrkResult] = {}
    for cached in (True, False):
        log = workdir / f"server-run{number}-{'cache' if cached else 'nocache'}.log"
        env = instance.environment(cached)
        with Server(env, log, instance.path / "tls.crt", server_arguments(options)) as server:
            for scenario in (s for s in SCENARIOS if s.cached is cached):
                result = measure(server, scenario, instance, options, workdir)
                results[scenario.key] = result
                print(f"run {number} {format_row(scenario, Row.of(result))}", flush=True)
    wait_for_quiet(options.quiet_wait)
    per_core = openssl_sign_rate(seconds=options.openssl_seconds)
    machine = openssl_sign_rate(seconds=options.openssl_seconds, processes=options.cpus)
    print(
        f"run {number} (e) openssl rsa2048: {per_core:,.0f} signs/s on one core, "
        f"{machine:,.0f} on {options.cpus}",
        flush=True,
    )
    return RunResult(results, per_core, machine)


HEADER = (
    f"{'scenario':<34} {'tokens/s':>8} {'p50 ms':>7} {'p99 ms':>7} {'non-2xx':>7} "
    f"{'sockerr':>7} {'srv ms/tok':>10} {'other':>5}  conns/worker"
)


def format_row(scenario: Scenario, row: Row) -> str:
    """One table line."""
    name = f"({scenario.key}) {scenario.label}"
    return (
        f"{name:<34} {row.tokens_per_second:>8,.0f} {row.p50_ms:>7.1f} {row.p99_ms:>7.1f} "
        f"{row.non_2xx:>7} {row.socket_errors:>7} {row.server_ms_per_token:>10.2f} "
        f"{row.other_cores:>5.2f}  {row.spread}"
    )


def target_lines(table: dict[str, Row], ratio: float) -> list[tuple[bool, str]]:
    """Each target of the issue with whether it is met."""
    lines = []
    for key in ("a", "b"):
        row = table[key]
        rate, p99 = row.tokens_per_second, row.p99_ms
        lines.append((rate >= TARGET_RATE, f"({key}) >= {TARGET_RATE:.0f} tokens/s: {rate:,.0f}"))
        lines.append((p99 <= TARGET_P99_MS, f"({key}) p99 <= {TARGET_P99_MS:.0f} ms: {p99:.1f}"))
    lines.append((ratio >= TARGET_RATIO, f"(b)/(d) >= {TARGET_RATIO:.0f}x: {ratio:.1f}x"))
    return lines


def report(runs: list[RunResult], options) -> bool:
    """Print the median table, ratio, signing limit and targets; True when all are met."""
    table = {s.key: Row.median([Row.of(run.scenarios[s.key]) for run in runs]) for s in SCENARIOS}
    ratio = statistics.median(run.ratio() for run in runs)
    per_core = statistics.median(run.openssl_per_core for run in runs)
    machine = statistics.median(run.openssl_machine for run in runs)
    cpus, model = machine_description()
    what = f"median of {len(runs)} runs" if len(runs) > 1 else "1 run"
    print(
        f"\nToken endpoint, {what}: {options.duration} s per scenario, {options.connections} "
        f"keep-alive connections, {cpus} x {model}"
    )
    print(HEADER)
    for scenario in SCENARIOS:
        print(format_row(scenario, table[scenario.key]))
    print("(srv ms/tok: server CPU per token, all workers, TLS included; other: cores used by")
    print(" unrelated processes meanwhile; conns/worker: keep-alive connections per worker)")
    print(f"(b)/(d): {ratio:.1f}x")
    print(
        f"(e) openssl speed rsa2048: {per_core:,.0f} signs/s on one core, {machine:,.0f} on {cpus}"
    )
    met = True
    for ok, text in target_lines(table, ratio):
        met &= ok
        print(f"target {'met   ' if ok else 'MISSED'} {text}")
    return met


def write_json(path: Path, runs: list[RunResult]) -> None:
    """Every run's raw figures, for docs and comparisons."""
    data = [
        {
            "scenarios": {
                key: {**asdict(result), **asdict(Row.of(result))}
                for key, result in run.scenarios.items()
            },
            "ratio_b_d": run.ratio(),
            "openssl_per_core": run.openssl_per_core,
            "openssl_machine": run.openssl_machine,
        }
        for run in runs
    ]
    path.write_text(json.dumps(data, indent=2) + "\n")


def parse_options(argv: list[str] | None) -> argparse.Namespace:
    """Command-line options (all have working defaults)."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.token", description=__doc__.split("\n", 1)[0]
    )
    add = parser.add_argument
    add(
        "--runs",
        type=int,
        default=1,
        choices=range(1, 11),
        metavar="N",
        help="repeat everything N times and print medians (default 1)",
    )
    add(
        "--duration",
        type=int,
        default=10,
        choices=range(1, 121),
        metavar="S",
        help="seconds of measured load per scenario (default 10)",
    )
    add(
        "--warmup",
        type=int,
        default=2,
        choices=range(1, 31),
        metavar="S",
        help="seconds of unmeasured load before each scenario (default 2)",
    )
    add(
        "--connections",
        type=int,
        default=16,
        choices=range(1, 257),
        metavar="N",
        help="wrk keep-alive connections (default 16)",
    )
    add(
        "--wrk-threads",
        type=int,
        default=2,
        choices=range(1, 17),
        metavar="N",
        help="wrk threads (default 2)",
    )
    add(
        "--workers",
        type=int,
        choices=range(1, 65),
        metavar="N",
        help="gunicorn workers (default: the server's own default)",
    )
    add(
        "--threads",
        type=int,
        choices=range(1, 65),
        metavar="N",
        help="threads per worker (default: the server's own default)",
    )
    add(
        "--quiet-wait",
        type=int,
        default=60,
        choices=range(0, 601),
        metavar="S",
        help="before each scenario, wait up to S s for other load on the machine to pass",
    )
    add(
        "--retries",
        type=int,
        default=2,
        choices=range(6),
        metavar="N",
        help="repeat a scenario up to N times when other processes disturbed it (default 2)",
    )
    add(
        "--openssl-seconds",
        type=int,
        default=3,
        choices=range(1, 31),
        metavar="S",
        help="seconds per openssl speed run (default 3)",
    )
    add("--json", type=Path, help="also write every run's figures to this file")
    add("--check", action="store_true", help="exit 1 when a target is missed")
    options = parser.parse_args(argv)
    options.cpus = machine_description()[0]
    return options


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; 0 when it measured cleanly (and, with --check, met the targets)."""
    options = parse_options(argv)
    try:
        require_tools("wrk", "openssl")
    except BenchError as exc:
        print(f"bench.token: {exc}", file=sys.stderr)
        return EXIT_SETUP
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="wharfinger-bench-") as temporary:
        workdir = Path(temporary)
        try:
            instance = prepare_instance(workdir)
            runs = [run_once(instance, options, workdir, n + 1) for n in range(options.runs)]
        except BenchError as exc:
            print(f"bench.token: {exc}", file=sys.stderr)
            return EXIT_SETUP
    met = report(runs, options)
    if options.json:
        write_json(options.json, runs)
    print(f"finished in {time.monotonic() - started:.0f} s")
    failed = sum(r.non_2xx + r.socket_errors for run in runs for r in run.scenarios.values())
    if failed:
        print(f"bench.token: {failed} failed requests: the figures are not valid", file=sys.stderr)
        return EXIT_ERRORS
    return EXIT_ERRORS if options.check and not met else 0


if __name__ == "__main__":
    sys.exit(main())
