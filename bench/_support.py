"""Helpers for the end-to-end benchmarks: the CLI, the gunicorn server, wrk and openssl.

Everything here talks to 127.0.0.1 only, every wait is bounded, and every process is
started by this module and stopped by its own pid.
"""

from __future__ import annotations

import base64
import dataclasses
import http.client
import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
LOOPBACK = "127.0.0.1"
READY_TIMEOUT = 60.0
STOP_TIMEOUT = 40.0
CLI_TIMEOUT = 120.0
WRK_RESULT_MARK = "WRK_RESULT"

# wrk's Lua hooks: fixed request (method, path, headers), and a summary line with the
# counts and latency percentiles (microseconds) that ``parse_wrk`` reads back.
WRK_SCRIPT = """\
wrk.method = "GET"
wrk.path = {path}
{headers}
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "{mark} requests=%.0f duration_us=%.0f status=%.0f connect=%.0f read=%.0f " ..
    "write=%.0f timeout=%.0f p50_us=%.0f p90_us=%.0f p99_us=%.0f max_us=%.0f\\n",
    summary.requests, summary.duration, e.status, e.connect, e.read, e.write, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
"""


class BenchError(RuntimeError):
    """The benchmark cannot go on; ``str()`` says why in one line."""


def lua_string(value: str) -> str:
    """A Lua string literal for ``value`` (ASCII; quotes and backslashes escaped)."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def basic_auth(username: str, password: str) -> str:
    """The ``Authorization`` header value for HTTP Basic."""
    pair = f"{username}:{password}".encode()
    return "Basic " + base64.b64encode(pair).decode("ascii")


def free_port() -> int:
    """A TCP port on the loopback address that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((LOOPBACK, 0))
        return probe.getsockname()[1]


def clean_environment(instance_path: Path, **settings: str) -> dict[str, str]:
    """The caller's environment without any WHARFINGER_* variable, plus ours."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("WHARFINGER_")}
    env["WHARFINGER_INSTANCE_PATH"] = str(instance_path)
    env["PYTHONPATH"] = str(REPO_ROOT)
    env.update({f"WHARFINGER_{name}": value for name, value in settings.items()})
    return env


def wharfinger_command() -> list[str]:
    """How to run the ``wharfinger`` CLI with this interpreter."""
    script = Path(sys.executable).with_name("wharfinger")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "from app.cli import main; main()"]


def run_command(args: list[str], env: dict[str, str], stdin: str | None = None) -> str:
    """Run a short command to completion; its stdout, or BenchError with its stderr."""
    try:
        done = subprocess.run(
            args,
            env=env,
            cwd=REPO_ROOT,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=CLI_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise BenchError(f"{' '.join(args[:3])} did not finish in {CLI_TIMEOUT:.0f} s") from None
    if done.returncode != 0:
        detail = (done.stderr or done.stdout).strip().splitlines()
        raise BenchError(f"{' '.join(args)} failed: {detail[-1] if detail else done.returncode}")
    return done.stdout


def run_cli(args: list[str], env: dict[str, str], stdin: str | None = None) -> str:
    """Run one ``wharfinger`` command; its stdout."""
    return run_command([*wharfinger_command(), *args], env, stdin)


def tls_context(cafile: Path) -> ssl.SSLContext:
    """A client context trusting the instance's self-signed TLS certificate."""
    context = ssl.create_default_context(cafile=str(cafile))
    context.check_hostname = False  # the certificate is checked; 127.0.0.1 is in its SANs
    return context


def http_get(
    port: int, path: str, context: ssl.SSLContext, headers: dict | None = None
) -> tuple[int, bytes]:
    """One HTTPS GET to the loopback server: (status, body)."""
    connection = http.client.HTTPSConnection(LOOPBACK, port, context=context, timeout=10)
    try:
        connection.request("GET", path, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def jwt_claims(token: str) -> dict:
    """The (unverified) claims of a compact JWT, to check what a sample token grants."""
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


class Server:
    """``wharfinger serve`` as a subprocess on a free loopback port; stopped by its pid."""

    def __init__(self, env: dict[str, str], log_path: Path, cafile: Path, extra_args=()):
        self.env = env
        self.log_path = log_path
        self.context = tls_context(cafile)
        self.port = free_port()
        self.extra_args = list(extra_args)
        self.process: subprocess.Popen | None = None

    @property
    def pid(self) -> int:
        """The gunicorn master's pid."""
        return self.process.pid

    @property
    def url(self) -> str:
        """Base URL for wrk."""
        return f"https://{LOOPBACK}:{self.port}"

    def start(self) -> Server:
        """Launch gunicorn (access log into ``log_path``) and wait until it answers."""
        args = [*wharfinger_command(), "serve", "--bind", f"{LOOPBACK}:{self.port}"]
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [*args, *self.extra_args],
                env=self.env,
                cwd=REPO_ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        self._wait_ready()
        return self

    def _wait_ready(self) -> None:
        """Poll until every worker could have booted: the endpoint answers, bounded in time."""
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise BenchError(f"server exited with {self.process.returncode}; {self.log_tail()}")
            try:
                http_get(self.port, "/v2/token", self.context)
                return
            except OSError:
                time.sleep(0.2)
        raise BenchError(f"server not ready after {READY_TIMEOUT:.0f} s; {self.log_tail()}")

    def log_tail(self, lines: int = 5) -> str:
        """The last lines of the server log, for error messages."""
        try:
            text = self.log_path.read_text(errors="replace").strip().splitlines()
        except OSError:
            return "no server log"
        return "server log: " + " | ".join(text[-lines:])

    def stop(self) -> None:
        """SIGTERM the gunicorn master (it stops its workers); SIGKILL it if it hangs."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)

    def __enter__(self) -> Server:
        return self.start()

    def __exit__(self, *_exc) -> None:
        self.stop()


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
QUIET_CORES = 0.25


def machine_busy_seconds() -> float:
    """CPU seconds all processes have used since boot (every core, idle and iowait excluded)."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(f) for f in fields[:8])
    return (user + nice + system + irq + softirq + steal) / CLOCK_TICKS


def _children(pid: int) -> list[int]:
    """Direct children of a process (all its threads), from /proc."""
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        try:
            found += [int(child) for child in task.read_text().split()]
        except OSError:
            continue
    return found


def tree_cpu_seconds(pid: int) -> float:
    """CPU seconds used so far by a process and its live descendants (gunicorn workers)."""
    total, pending = 0.0, [pid]
    while pending:
        current = pending.pop()
        try:
            stat = Path(f"/proc/{current}/stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime, stime
        pending += _children(current)
    return total


def children_cpu_seconds() -> float:
    """CPU seconds of this process's finished children (wrk, once it has been waited for)."""
    times = os.times()
    return times.children_user + times.children_system


def wait_for_quiet(max_seconds: float, cores: float = QUIET_CORES, quiet_for: int = 3) -> bool:
    """Wait (bounded) until the machine has been nearly idle for ``quiet_for`` seconds in a
    row; False when it never was within ``max_seconds``.

    Other work on the machine (a test suite, say) competes with the server for the same
    cores; the benchmark waits for it to pass rather than measure it.
    """
    deadline, quiet = time.monotonic() + max_seconds, 0
    while quiet < quiet_for:
        if time.monotonic() >= deadline:
            return False
        before = machine_busy_seconds()
        time.sleep(1.0)
        quiet = quiet + 1 if machine_busy_seconds() - before < cores else 0
    return True


@dataclass(frozen=True)
class WrkResult:
    """What one wrk run measured (latencies in milliseconds, CPU in seconds)."""

    requests: int
    seconds: float
    non_2xx: int
    socket_errors: int
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    server_cpu: float = 0.0
    wrk_cpu: float = 0.0
    other_cpu: float = 0.0
    spread: tuple[int, ...] = ()

    @property
    def ok_per_second(self) -> float:
        """Successful responses (tokens) per second."""
        return max(0, self.requests - self.non_2xx) / self.seconds

    @property
    def server_ms_per_token(self) -> float:
        """Server CPU (all workers, TLS included) per successful response, in ms."""
        return 1000 * self.server_cpu / max(1, self.requests - self.non_2xx)

    @property
    def other_cores(self) -> float:
        """Cores used by anything but the server and wrk during the run (noise)."""
        return self.other_cpu / self.seconds


def write_wrk_script(path: Path, request_path: str, headers: dict[str, str]) -> Path:
    """Write the Lua script that fixes the request and prints the summary line."""
    lines = "\n".join(f"wrk.headers[{lua_string(k)}] = {lua_string(v)}" for k, v in headers.items())
    path.write_text(
        WRK_SCRIPT.format(path=lua_string(request_path), headers=lines, mark=WRK_RESULT_MARK)
    )
    return path


def parse_wrk(output: str) -> WrkResult:
    """Read the summary line our ``done`` hook printed."""
    for line in output.splitlines():
        if line.startswith(WRK_RESULT_MARK):
            fields = dict(item.split("=", 1) for item in line.split()[1:])
            numbers = {k: float(v) for k, v in fields.items()}
            return WrkResult(
                requests=int(numbers["requests"]),
                seconds=numbers["duration_us"] / 1e6,
                non_2xx=int(numbers["status"]),
                socket_errors=int(
                    numbers["connect"] + numbers["read"] + numbers["write"] + numbers["timeout"]
                ),
                p50_ms=numbers["p50_us"] / 1000,
                p90_ms=numbers["p90_us"] / 1000,
                p99_ms=numbers["p99_us"] / 1000,
                max_ms=numbers["max_us"] / 1000,
            )
    raise BenchError("wrk printed no summary line: " + " | ".join(output.splitlines()[-5:]))


def _socket_inodes(pid: int) -> set[str]:
    """Inodes of the sockets a process holds open."""
    inodes = set()
    try:
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            try:
                target = os.readlink(fd)
            except OSError:
                continue
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
    except OSError:
        pass
    return inodes


def _established_inodes(port: int) -> set[str]:
    """Inodes of established TCP sockets whose local port is ``port`` (/proc/net/tcp)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            rows = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            if fields[3] == "01" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(fields[9])
    return inodes


def connection_spread(master_pid: int, port: int) -> tuple[int, ...]:
    """Client connections held by each gunicorn worker, largest first.

    A kept-alive connection stays with the worker that accepted it, so this shows how
    evenly the load could be spread over the workers (and the cores).
    """
    established = _established_inodes(port)
    counts = [len(_socket_inodes(pid) & established) for pid in _children(master_pid)]
    return tuple(sorted(counts, reverse=True))


def run_wrk(
    url: str,
    script: Path,
    *,
    seconds: int,
    connections: int,
    threads: int,
    server_pid: int | None = None,
    timeout: int = 10,
) -> WrkResult:
    """Run wrk (keep-alive connections) against ``url`` for ``seconds``; its result, with
    the CPU used meanwhile by the server's process tree, by wrk and by everything else,
    and how the connections were spread over the server's workers."""
    args = [
        "wrk",
        f"--connections={connections}",
        f"--threads={threads}",
        f"--duration={seconds}s",
        f"--timeout={timeout}s",
        f"--script={script}",
        url,
    ]
    port = int(url.rsplit(":", 1)[1])
    server_before = tree_cpu_seconds(server_pid) if server_pid else 0.0
    wrk_before, machine_before = children_cpu_seconds(), machine_busy_seconds()
    process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(min(1.0, seconds / 2))
        spread = connection_spread(server_pid, port) if server_pid else ()
        stdout, stderr = process.communicate(timeout=seconds + timeout + 30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        raise BenchError(f"wrk did not finish within {seconds + timeout + 30} s") from None
    machine = machine_busy_seconds() - machine_before
    wrk = children_cpu_seconds() - wrk_before
    server = (tree_cpu_seconds(server_pid) - server_before) if server_pid else 0.0
    if process.returncode != 0:
        raise BenchError(f"wrk failed ({process.returncode}): {stderr.strip()[-300:]}")
    other = max(0.0, machine - server - wrk)
    return dataclasses.replace(
        parse_wrk(stdout), server_cpu=server, wrk_cpu=wrk, other_cpu=other, spread=spread
    )


_OPENSSL_RSA_LINE = re.compile(r"^rsa\s+2048\s+bits\s+\S+\s+\S+\s+([\d.]+)\s+([\d.]+)", re.M)


def openssl_sign_rate(seconds: int = 3, processes: int = 1) -> float:
    """RSA-2048 signatures per second from ``openssl speed`` (``processes`` in parallel)."""
    args = ["openssl", "speed", "-seconds", str(seconds)]
    if processes > 1:
        args += ["-multi", str(processes)]
    try:
        done = subprocess.run(
            [*args, "rsa2048"],
            capture_output=True,
            text=True,
            timeout=seconds * 4 + 60,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise BenchError("openssl speed did not finish in time") from None
    match = _OPENSSL_RSA_LINE.search(done.stdout)
    if done.returncode != 0 or match is None:
        raise BenchError(f"could not read openssl speed output ({done.returncode})")
    return float(match.group(1))


def machine_description() -> tuple[int, str]:
    """(CPU count, CPU model name) of this machine."""
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return os.cpu_count() or 1, model


def require_tools(*names: str) -> None:
    """BenchError naming the missing tools and how to install them on Debian."""
    missing = [name for name in names if shutil.which(name) is None]
    if missing:
        raise BenchError(
            f"missing {', '.join(missing)}: install with 'apt-get install -y {' '.join(missing)}'"
        )
