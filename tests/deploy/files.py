"""Readers for the deployment files: Dockerfile, .dockerignore, docker-compose.yml, env.example.

Small and strict on purpose: they understand exactly what our files use, so a test fails
loudly when a file grows a construct they do not know.
"""

from __future__ import annotations

import fnmatch
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
COMPOSE_FILE = ROOT / "docker-compose.yml"
ENV_EXAMPLE = ROOT / "deploy" / "env.example"
VENV_BIN = Path(sys.executable).parent
WHARFINGER = str(VENV_BIN / "wharfinger")


@dataclass(frozen=True)
class Instruction:
    """One Dockerfile instruction: keyword in upper case, the rest of the (joined) line."""

    keyword: str
    args: str


def dockerfile_instructions(path: Path = DOCKERFILE) -> list[Instruction]:
    """Instructions in order, with backslash continuations joined and comments dropped."""
    instructions, pending = [], ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):
            continue  # a comment inside a continued instruction
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        keyword, _, args = (pending + line).partition(" ")
        instructions.append(Instruction(keyword.upper(), args.strip()))
        pending = ""
    assert not pending, "Dockerfile ends inside a continued line"
    return instructions


def dockerfile_env(instructions: list[Instruction]) -> dict[str, str]:
    """Every ``ENV KEY=VALUE`` (the key=value form only)."""
    values = {}
    for instruction in instructions:
        if instruction.keyword == "ENV":
            for pair in instruction.args.split():
                key, sep, value = pair.partition("=")
                assert sep, f"ENV uses the legacy 'ENV KEY VALUE' form: {instruction.args}"
                values[key] = value
    return values


def dockerignore_patterns(path: Path = DOCKERIGNORE) -> list[str]:
    """Non-comment lines of .dockerignore."""
    lines = (line.strip() for line in path.read_text().splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def _segments_match(path: str, pattern: str) -> bool:
    """``fnmatch`` with ``*`` kept inside one path segment."""
    return path.count("/") == pattern.count("/") and fnmatch.fnmatchcase(path, pattern)


def dockerignored(relative: str, patterns: list[str]) -> bool:
    """Whether ``relative`` (or a folder above it) is excluded; ``!`` patterns re-include.

    Enough of Docker's rules for our file: ``*`` stays within one path segment, a leading
    ``**/`` matches at any depth; the last matching pattern wins.
    """
    parts = Path(relative).parts
    prefixes = [parts[: i + 1] for i in range(len(parts))]
    excluded = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        body = pattern.removeprefix("!").strip("/")
        anywhere = body.startswith("**/")
        body = body.removeprefix("**/")
        for prefix in prefixes:
            starts = range(len(prefix)) if anywhere else range(1)
            if any(_segments_match("/".join(prefix[i:]), body) for i in starts):
                excluded = not negate
    return excluded


def load_env_file(path: Path = ENV_EXAMPLE) -> dict[str, str]:
    """``KEY=VALUE`` lines of an env file (comments and blank lines skipped)."""
    values = {}
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        assert sep, f"not KEY=VALUE: {raw!r}"
        values[key.strip()] = value.strip()
    return values


_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}")


def variables_used(text: str) -> dict[str, tuple[str | None, str]]:
    """``{NAME: (operator, word)}`` for every ``${...}`` in ``text`` (operator None: bare)."""
    return {m.group(1): (m.group(2), m.group(3) or "") for m in _VARIABLE.finditer(text)}


def interpolate(value: Any, env: dict[str, str]) -> Any:
    """Compose's ``${VAR}``, ``${VAR:-default}``, ``${VAR:?error}`` on every string inside."""
    if isinstance(value, dict):
        return {interpolate(k, env): interpolate(v, env) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, env) for v in value]
    if not isinstance(value, str):
        return value

    def substitute(match: re.Match) -> str:
        name, operator, word = match.group(1), match.group(2), match.group(3) or ""
        current = env.get(name)
        unset = current is None or (current == "" and operator and operator.startswith(":"))
        if operator in (":-", "-") and unset:
            return word
        if operator in (":?", "?") and unset:
            raise KeyError(f"{name} is required: {word}")
        return current or ""

    assert "$$" not in value, "escaped dollars are not handled here"
    return _VARIABLE.sub(substitute, value)


def load_compose(path: Path = COMPOSE_FILE) -> dict:
    """docker-compose.yml as YAML (anchors and merge keys resolved), not interpolated."""
    return yaml.safe_load(path.read_text())


def interpolated_compose(env: dict[str, str] | None = None) -> dict:
    """docker-compose.yml with the variables of ``env`` (default: deploy/env.example)."""
    return interpolate(load_compose(), load_env_file() if env is None else env)


@dataclass(frozen=True)
class Mount:
    """A ``volume:/target[:mode]`` entry of a service."""

    source: str
    target: str
    read_only: bool


def mounts(service: dict) -> list[Mount]:
    """The short-syntax volume entries of a compose service."""
    result = []
    for entry in service.get("volumes", []):
        assert isinstance(entry, str), f"only the short volume syntax is handled: {entry!r}"
        source, target, *mode = entry.split(":")
        result.append(Mount(source, target, mode == ["ro"]))
    return result


def clean_environment(**extra: str) -> dict[str, str]:
    """This process's environment without WHARFINGER_* and TLS trust overrides, plus
    ``extra``, with the virtualenv's bin first on PATH (where ``wharfinger`` lives)."""
    skip = ("WHARFINGER_", "REQUESTS_CA_BUNDLE", "SSL_CERT_FILE", "CURL_CA_BUNDLE")
    env = {k: v for k, v in os.environ.items() if not k.startswith(skip)}
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"
    env.update(extra)
    return env


def run(command: list[str], env: dict[str, str], cwd: Path, timeout: float = 120):
    """Run a command, capturing text output."""
    return subprocess.run(
        command, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False
    )
