"""A throw-away instance wired to a real ``docker-registry`` 2.8.2, and a fast seeder.

``start_stack`` runs ``wharfinger init``, registers a plain-HTTP registry on a free loopback
port, renders its config with ``wharfinger registry config`` (notifications removed, so
seeding creates no events) and starts it with the test suite's ``RegistryProcess`` (which
stops only its own pid). ``seed`` fills it through the registry HTTP API with tokens minted
by Wharfinger (``TokenIssuer.system_token``): the first repository uploads one layer and
five config blobs, every other one cross-repository mounts them, then each repository
gets five manifests PUT by tag (five different configs, so the five tags have five
different digests; the same five digests recur in every repository).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin

import requests
from requests.adapters import HTTPAdapter

from bench._support import LOOPBACK, BenchError, clean_environment, free_port, run_cli

REGISTRY_NAME = "bench"
SEED_THREADS = 16
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"


@dataclass(frozen=True)
class Stack:
    """The instance folder, its environment and the running registry."""

    workdir: Path
    env: dict[str, str]
    registry: object  # tests.support.registry.RegistryProcess

    @property
    def service(self) -> str:
        """The registry's host:port, its token ``service``."""
        return self.registry.host_port


def repository_names(count: int, per_namespace: int = 100) -> list[str]:
    """``nsNN/appNNN`` names: ``per_namespace`` repositories in each namespace."""
    return [f"ns{i // per_namespace:02d}/app{i % per_namespace:03d}" for i in range(count)]


def _without_notifications(config_text: str) -> str:
    """The config with its top-level ``notifications:`` block removed."""
    return re.sub(r"^notifications:\n(?:[ \t]+.*\n?)*", "", config_text, flags=re.M)


@contextmanager
def start_stack(workdir: Path, database_url: str | None = None, **settings: str):
    """Instance + registry, both throw-away; the registry is stopped on exit."""
    from tests.support.registry import RegistryProcess

    extra = {"DATABASE_URL": database_url} if database_url else {}
    env = clean_environment(workdir / "instance", FQDN="localhost", **extra, **settings)
    run_cli(["init"], env)
    port = free_port()
    run_cli(["registry", "add", REGISTRY_NAME, f"{LOOPBACK}:{port}", "--no-ssl"], env)
    config = run_cli(
        [
            "registry",
            "config",
            REGISTRY_NAME,
            "--listen",
            f"{LOOPBACK}:{port}",
            "--storage",
            str(workdir / "registry-data"),
        ],
        env,
    )
    registry = RegistryProcess.from_config_text(
        workdir / "registry", _without_notifications(config)
    )
    registry.start()
    try:
        yield Stack(workdir, env, registry)
    finally:
        registry.stop()


@contextmanager
def app_for(env: dict[str, str]):
    """``create_app`` for the instance, inside an app context (environment set meanwhile)."""
    saved = {k: v for k, v in os.environ.items() if k.startswith("WHARFINGER_")}
    for key in saved:
        del os.environ[key]
    os.environ.update({k: v for k, v in env.items() if k.startswith("WHARFINGER_")})
    try:
        from app import create_app
        from app.extensions import db

        app = create_app()
        with app.app_context():
            yield app
            db.session.remove()
            db.engine.dispose()
    finally:
        for key in [k for k in os.environ if k.startswith("WHARFINGER_")]:
            del os.environ[key]
        os.environ.update(saved)


@dataclass(frozen=True)
class Blob:
    """A blob's bytes, digest and media type."""

    data: bytes
    media_type: str

    @property
    def digest(self) -> str:
        """``sha256:<hex>``."""
        return "sha256:" + hashlib.sha256(self.data).hexdigest()

    def descriptor(self) -> dict:
        """The manifest descriptor of this blob."""
        return {"mediaType": self.media_type, "size": len(self.data), "digest": self.digest}


def image_blobs(variants: int) -> tuple[Blob, list[Blob], list[bytes]]:
    """One small layer, ``variants`` configs (a label differs) and their manifests."""
    layer = Blob(os.urandom(1024), DOCKER_LAYER)
    diff_id = "sha256:" + hashlib.sha256(layer.data).hexdigest()
    configs, bodies = [], []
    for number in range(variants):
        config = {
            "architecture": "amd64",
            "os": "linux",
            "config": {"Labels": {"bench.variant": str(number)}},
            "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        }
        blob = Blob(json.dumps(config, sort_keys=True).encode(), DOCKER_CONFIG)
        manifest = {
            "schemaVersion": 2,
            "mediaType": DOCKER_MANIFEST,
            "config": blob.descriptor(),
            "layers": [layer.descriptor()],
        }
        configs.append(blob)
        bodies.append(json.dumps(manifest, sort_keys=True).encode())
    return layer, configs, bodies


def _session(threads: int) -> requests.Session:
    """A keep-alive session whose pool serves every seeding thread."""
    session = requests.Session()
    session.trust_env = False
    adapter = HTTPAdapter(pool_connections=2, pool_maxsize=threads)
    session.mount("http://", adapter)
    return session


class Seeder:
    """Fills the registry through its HTTP API; counts the requests it sent."""

    def __init__(self, base_url: str, tokens, blobs, threads: int = SEED_THREADS):
        self.base_url = base_url
        self.tokens = tokens  # repository -> bearer token
        self.layer, self.configs, self.manifests = blobs
        self.threads = threads
        self.session = _session(threads)
        self.requests = 0
        self._lock = threading.Lock()

    def _call(self, method: str, url: str, repository: str, expect: int, **kwargs):
        """One request with the repository's token; BenchError unless ``expect`` came back."""
        headers = {"Authorization": f"Bearer {self.tokens[repository]}", **kwargs.pop("h", {})}
        with self._lock:
            self.requests += 1
        response = self.session.request(method, url, headers=headers, timeout=30, **kwargs)
        if response.status_code != expect:
            raise BenchError(
                f"{method} {url} answered {response.status_code}: {response.text[:200]}"
            )
        return response

    def upload(self, repository: str, blob: Blob) -> None:
        """Two-step upload: POST a session, PUT the bytes with the digest."""
        start = self._call(
            "POST", f"{self.base_url}/v2/{repository}/blobs/uploads/", repository, 202
        )
        location = urljoin(self.base_url, start.headers["Location"])
        separator = "&" if "?" in location else "?"
        self._call(
            "PUT",
            f"{location}{separator}digest={blob.digest}",
            repository,
            201,
            data=blob.data,
            h={"Content-Type": "application/octet-stream"},
        )

    def mount(self, repository: str, blob: Blob, source: str) -> None:
        """Cross-repository mount of a blob the source repository has."""
        url = f"{self.base_url}/v2/{repository}/blobs/uploads/?mount={blob.digest}&from={source}"
        self._call("POST", url, repository, 201)

    def fill(self, repository: str, source: str | None, tags: list[str]) -> None:
        """Blobs (uploaded or mounted), then one manifest per tag."""
        for blob in [self.layer, *self.configs]:
            if source is None:
                self.upload(repository, blob)
            else:
                self.mount(repository, blob, source)
        for tag, body in zip(tags, self.manifests, strict=True):
            self._call(
                "PUT",
                f"{self.base_url}/v2/{repository}/manifests/{tag}",
                repository,
                201,
                data=body,
                h={"Content-Type": DOCKER_MANIFEST},
            )

    def run(self, repositories: list[str], tags: list[str]) -> None:
        """The first repository uploads, the rest mount from it (``threads`` at a time)."""
        source = repositories[0]
        self.fill(source, None, tags)
        with ThreadPoolExecutor(self.threads) as pool:
            list(pool.map(lambda r: self.fill(r, source, tags), repositories[1:]))
        self.session.close()


@dataclass(frozen=True)
class SeedResult:
    """What seeding did and how long it took."""

    repositories: int
    tags: int
    requests: int
    seconds: float
    manifest_digests: list[str]


def seed(stack: Stack, repositories: int, tags_per_repository: int = 5) -> SeedResult:
    """Seed ``repositories`` x ``tags_per_repository`` tags (tags ``v1``…)."""
    started = time.monotonic()
    names = repository_names(repositories)
    tags = [f"v{n + 1}" for n in range(tags_per_repository)]
    blobs = image_blobs(tags_per_repository)
    with app_for(stack.env) as app:
        issuer = app.extensions["wharfinger.tokens"]
        source = names[0]
        tokens = {
            name: issuer.system_token(
                stack.service, [f"repository:{name}:pull,push", f"repository:{source}:pull"]
            )
            for name in names
        }
    seeder = Seeder(stack.registry.url, tokens, blobs)
    seeder.run(names, tags)
    digests = ["sha256:" + hashlib.sha256(body).hexdigest() for body in blobs[2]]
    return SeedResult(
        repositories,
        repositories * tags_per_repository,
        seeder.requests,
        time.monotonic() - started,
        digests,
    )
