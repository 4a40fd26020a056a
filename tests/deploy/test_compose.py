"""docker-compose.yml: the seed's single-host deployment, checked without a container engine.

The structure is read as YAML; the ``init`` service's script is then run for real with the
service's own environment (container paths mapped to temporary folders, SQLite instead of
the ``db`` service), and the registry configuration it writes is checked against what the
``registry`` service mounts.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from app.config import SETTINGS
from tests.deploy.files import (
    COMPOSE_FILE,
    ENV_EXAMPLE,
    ROOT,
    Mount,
    clean_environment,
    dockerfile_env,
    dockerfile_instructions,
    interpolated_compose,
    load_compose,
    load_env_file,
    mounts,
    run,
    variables_used,
)

SERVICES = {"db", "redis", "init", "wharfinger", "worker", "registry"}
WHARFINGER_SERVICES = ("init", "wharfinger", "worker")
DOCUMENTED_PORTS = {"wharfinger": ["443:8443"], "registry": ["5000:5000"]}
COMPOSE = interpolated_compose()
RAW = load_compose()


def service(name: str) -> dict:
    return COMPOSE["services"][name]


def test_services_are_the_seed_deployment():
    assert set(COMPOSE["services"]) == SERVICES
    assert set(COMPOSE["volumes"]) == {"db-data", "wharfinger-data", "shared", "registry-data"}


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_images_are_pinned(name):
    image = service(name)["image"]
    repository, _, tag = image.rpartition(":")
    assert repository and tag and tag != "latest", f"{name}: {image} is not pinned"
    assert re.match(r"^\d", tag), f"{name}: {image} should name a version"


def test_the_wharfinger_image_is_built_here_with_the_version_of_setup_cfg():
    version = re.search(r"^version = (\S+)$", (ROOT / "setup.cfg").read_text(), re.M).group(1)
    for name in WHARFINGER_SERVICES:
        assert service(name)["image"] == f"wharfinger:{version}"
        assert service(name)["build"] == "."


def test_ports_only_as_documented():
    published = {n: s["ports"] for n, s in COMPOSE["services"].items() if s.get("ports")}
    assert published == DOCUMENTED_PORTS
    docs = (ROOT / "docs" / "deployment.md").read_text()
    for ports in DOCUMENTED_PORTS.values():
        assert all(port in docs for port in ports)


def test_database_and_redis_have_healthchecks_and_everything_waits_for_them():
    assert service("db")["healthcheck"]["test"][0] == "CMD"
    assert service("redis")["healthcheck"]["test"] == ["CMD", "redis-cli", "ping"]
    assert service("init")["depends_on"]["db"]["condition"] == "service_healthy"
    for name in ("wharfinger", "worker", "registry"):
        depends = service(name)["depends_on"]
        assert depends["init"]["condition"] == "service_completed_successfully"
    for name in ("wharfinger", "worker"):
        depends = service(name)["depends_on"]
        assert depends["db"]["condition"] == depends["redis"]["condition"] == "service_healthy"


def test_processes_and_their_healthchecks():
    assert service("wharfinger")["command"] == ["serve", "--bind", "0.0.0.0:8443"]
    assert service("worker")["command"] == ["worker"]
    assert service("init")["entrypoint"] == ["/opt/wharfinger/deploy/compose-init.sh"]
    assert service("init")["restart"] == "no"
    # The image's HEALTHCHECK probes port 8443, which only `serve` listens on.
    assert service("worker")["healthcheck"] == {"disable": True}
    assert service("init")["healthcheck"] == {"disable": True}
    assert "healthcheck" not in service("wharfinger")


def test_mariadb_database_and_user_come_from_the_env_file():
    db_env = service("db")["environment"]
    example = load_env_file()
    assert db_env["MARIADB_DATABASE"] == example["MARIADB_DATABASE"]
    assert db_env["MARIADB_USER"] == example["MARIADB_USER"]
    assert db_env["MARIADB_RANDOM_ROOT_PASSWORD"] == "1"  # no root password to keep
    url = service("wharfinger")["environment"]["WHARFINGER_DATABASE_URL"]
    user, password, database = (
        example["MARIADB_USER"],
        example["MARIADB_PASSWORD"],
        example["MARIADB_DATABASE"],
    )
    assert url == f"mysql+pymysql://{user}:{password}@db:3306/{database}"


def test_no_secret_is_inlined():
    """Passwords come only from .env (required, no default); Wharfinger's own secrets are
    generated into the wharfinger-data volume, never written into the file."""
    text = COMPOSE_FILE.read_text()
    used = variables_used(text)
    assert used["MARIADB_PASSWORD"][0] == ":?"
    for name, (operator, word) in used.items():
        if re.search(r"PASSWORD|SECRET|TOKEN", name):
            assert operator in (":?", "?", None), f"{name} must not have a default ({word})"
    for name, svc in RAW["services"].items():
        for key, value in (svc.get("environment") or {}).items():
            if key == "MARIADB_RANDOM_ROOT_PASSWORD":
                continue  # a flag: the image makes up a root password nobody needs
            if re.search(r"PASSWORD$|SECRET_KEY$|EVENTS_SECRET$|_TOKEN$", key):
                assert re.fullmatch(r"\$\{\w+:\?[^}]*\}", str(value)), f"{name}: {key} is inlined"
            if key.endswith("DATABASE_URL"):
                assert "${MARIADB_PASSWORD:?" in value
    for forbidden in (
        "WHARFINGER_SECRET_KEY",
        "WHARFINGER_EVENTS_SECRET",
        "WHARFINGER_SIGNING_KEY",
    ):
        assert forbidden not in text
    assert load_env_file()["MARIADB_PASSWORD"] == "change-me"  # a placeholder


def test_every_setting_named_is_a_real_setting():
    known = {f"WHARFINGER_{s.name}" for s in SETTINGS}
    for name in WHARFINGER_SERVICES:
        assert set(service(name)["environment"]) <= known


def test_every_required_variable_is_in_the_env_example():
    example = load_env_file()
    for name, (operator, _word) in variables_used(COMPOSE_FILE.read_text()).items():
        if operator in (None, ":?", "?"):
            assert name in example, f"${{{name}}} is required but not in {ENV_EXAMPLE.name}"


def test_missing_required_variables_stop_compose():
    with pytest.raises(KeyError, match="MARIADB_PASSWORD"):
        interpolated_compose({"WHARFINGER_FQDN": "registry.example.test"})
    with pytest.raises(KeyError, match="WHARFINGER_FQDN"):
        interpolated_compose({"MARIADB_PASSWORD": "x"})


def test_fqdn_leads_to_this_host_from_inside_the_containers():
    fqdn = load_env_file()["WHARFINGER_FQDN"]
    for name in ("wharfinger", "worker", "registry"):
        assert f"{fqdn}:host-gateway" in service(name)["extra_hosts"]
    assert service("wharfinger")["environment"]["WHARFINGER_URL"] == f"https://{fqdn}"


def _shared_target(name: str) -> Mount:
    (mount,) = [m for m in mounts(service(name)) if m.source == "shared"]
    return mount


def test_the_registry_reads_the_shared_volume_at_the_same_path_read_only():
    assert _shared_target("registry").target == _shared_target("init").target
    assert _shared_target("registry").read_only
    assert not _shared_target("init").read_only
    shared = _shared_target("init").target
    assert service("registry")["command"] == ["serve", f"{shared}/registry-config.yml"]
    assert service("registry")["environment"]["SSL_CERT_FILE"] == f"{shared}/ca-bundle.crt"
    env = service("wharfinger")["environment"]
    for key in ("WHARFINGER_SIGNING_CERT", "WHARFINGER_TLS_CERT", "WHARFINGER_TLS_KEY"):
        assert env[key].startswith(shared + "/"), key
    # The signing key and the generated secrets stay out of the registry's reach.
    assert "wharfinger-data" not in {m.source for m in mounts(service("registry"))}


class ContainerPaths:
    """Maps container paths of one service to temporary folders, one per named volume."""

    def __init__(self, service_mounts: list[Mount], volumes: Path):
        self.mounts = service_mounts
        self.volumes = volumes

    def host(self, path: str) -> Path:
        for mount in self.mounts:
            if path == mount.target or path.startswith(mount.target + "/"):
                return self.volumes / mount.source / path[len(mount.target) :].lstrip("/")
        raise AssertionError(f"{path} is on no volume of the service")

    def container(self, path: str) -> str:
        for mount in self.mounts:
            folder = self.volumes / mount.source
            if Path(path) == folder or folder in Path(path).parents:
                return mount.target + "/" + str(Path(path).relative_to(folder))
        raise AssertionError(f"{path} is in no volume folder")


def _run_init(paths: ContainerPaths, tmp_path: Path, **overrides: str):
    """Run deploy/compose-init.sh with the init service's environment, as in the image."""
    image_env = dockerfile_env(dockerfile_instructions())
    env = dict(service("init")["environment"])
    env.pop("WHARFINGER_REDIS_URL")  # not needed to initialise; the `redis` host is not here
    env["WHARFINGER_DATABASE_URL"] = f"sqlite:///{tmp_path / 'wharfinger.db'}"  # not `db`
    env["WHARFINGER_INSTANCE_PATH"] = image_env["WHARFINGER_INSTANCE_PATH"]
    env["SHARED_DIR"] = _shared_target("init").target
    for key, value in env.items():
        if value.startswith("/"):
            env[key] = str(paths.host(value))
    system_cas = tmp_path / "system-cas.pem"
    system_cas.write_text("# the system CA certificates\n")
    env.update(SYSTEM_CA_BUNDLE=str(system_cas), **overrides)
    script = ROOT / service("init")["entrypoint"][0].removeprefix("/opt/wharfinger/")
    return run([str(script)], clean_environment(**env), tmp_path)


@pytest.fixture
def init_paths(tmp_path):
    return ContainerPaths(mounts(service("init")), tmp_path / "volumes")


def test_init_writes_a_registry_config_that_matches_the_registry_service(tmp_path, init_paths):
    first = _run_init(init_paths, tmp_path)
    assert first.returncode == 0, first.stdout + first.stderr
    shared = _shared_target("init").target
    config_file = init_paths.host(f"{shared}/registry-config.yml")
    config = yaml.safe_load(config_file.read_text())
    fqdn = load_env_file()["WHARFINGER_FQDN"]

    token = config["auth"]["token"]
    assert token["realm"] == f"https://{fqdn}/v2/token"  # port 443, published by wharfinger
    assert token["service"] == f"{fqdn}:5000"
    assert token["issuer"] == fqdn
    endpoint = config["notifications"]["endpoints"][0]
    assert endpoint["url"].split("?")[0] == f"https://{fqdn}/v2/webhooks/events"
    assert config["http"]["addr"] == ":5000"  # the registry's published port

    registry = ContainerPaths(mounts(service("registry")), init_paths.volumes)
    for host_path in (
        token["rootcertbundle"],
        config["http"]["tls"]["certificate"],
        config["http"]["tls"]["key"],
    ):
        # The registry sees the file at the path the config names.
        assert registry.host(init_paths.container(host_path)) == Path(host_path)
        assert Path(host_path).is_file()
    storage = registry.host(config["storage"]["filesystem"]["rootdirectory"])
    assert storage == init_paths.volumes / "registry-data"  # the registry-data volume
    bundle = registry.host(service("registry")["environment"]["SSL_CERT_FILE"]).read_text()
    tls_cert = Path(config["http"]["tls"]["certificate"]).read_text()
    assert bundle.startswith("# the system CA certificates\n") and tls_cert in bundle
    assert config_file.stat().st_mode & 0o077 == 0  # it holds the events secret

    second = _run_init(init_paths, tmp_path)
    assert second.returncode == 0, second.stdout + second.stderr
    assert "registered already" in second.stdout
    assert yaml.safe_load(config_file.read_text()) == config  # same keys, same secret


def test_init_fails_loudly_when_the_database_is_unreachable(tmp_path, init_paths):
    result = _run_init(
        init_paths, tmp_path, WHARFINGER_DATABASE_URL="mysql+pymysql://u:p@127.0.0.1:1/none"
    )
    assert result.returncode != 0
    assert "database unreachable" in result.stderr
    assert not init_paths.host(f"{_shared_target('init').target}/registry-config.yml").exists()
