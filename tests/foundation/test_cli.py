"""The ``wharfinger`` command: first-run setup, users, registries, and one-line errors."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import sqlalchemy as sa
from cryptography import x509

from app.extensions import db
from app.models import Activity, Namespace, Registry, Team, TeamMember, User
from app.models.enums import NamespaceKind, Role, Visibility
from app.registry import keys

WHARFINGER = str(Path(sys.executable).with_name("wharfinger"))


def run_cli(*args, env=None, stdin=""):
    """Run the installed console script with a clean WHARFINGER_* environment."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("WHARFINGER_")}
    return subprocess.run(
        [WHARFINGER, *args],
        input=stdin,
        capture_output=True,
        text=True,
        env={**base, **(env or {})},
        timeout=120,
    )


def test_init_twice_is_harmless_and_makes_usable_keys(tmp_path):
    env = {"WHARFINGER_INSTANCE_PATH": str(tmp_path / "inst"), "WHARFINGER_FQDN": "reg.example.org"}
    first = run_cli("init", env=env)
    assert first.returncode == 0, first.stderr
    assert "created" in first.stdout
    key_before = (tmp_path / "inst" / "token-signing.key").read_bytes()
    second = run_cli("init", env=env)
    assert second.returncode == 0, second.stderr
    assert "created" not in second.stdout and "kept" in second.stdout
    assert (tmp_path / "inst" / "token-signing.key").read_bytes() == key_before
    assert oct((tmp_path / "inst" / "token-signing.key").stat().st_mode & 0o777) == "0o600"
    assert (tmp_path / "inst" / "wharfinger.db").exists()

    key = keys.load_private_key(key_before)
    for name in ("token-signing.crt", "tls.crt"):
        cert = keys.load_certificates((tmp_path / "inst" / name).read_bytes())[0]
        facts = keys.describe_certificate(cert)
        assert facts.is_ca
        assert {"reg.example.org", "localhost", "127.0.0.1"} <= set(facts.alt_names)
    signing_cert = keys.load_certificates((tmp_path / "inst" / "token-signing.crt").read_bytes())[0]
    assert keys.keys_match(key, signing_cert)
    assert signing_cert.extensions.get_extension_for_class(x509.BasicConstraints).critical


def test_init_force_replaces_keys(tmp_path):
    env = {"WHARFINGER_INSTANCE_PATH": str(tmp_path)}
    assert run_cli("init", env=env).returncode == 0
    before = (tmp_path / "token-signing.key").read_bytes()
    assert run_cli("init", "--force", env=env).returncode == 0
    assert (tmp_path / "token-signing.key").read_bytes() != before


def test_bad_setting_is_one_line_with_exit_code(tmp_path):
    result = run_cli(
        "init", env={"WHARFINGER_INSTANCE_PATH": str(tmp_path), "WHARFINGER_TOKEN_TTL": "soon"}
    )
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0
    assert "WHARFINGER_TOKEN_TTL" in result.stderr and "Traceback" not in result.stderr


def test_unreachable_database_is_one_line(tmp_path):
    result = run_cli(
        "user",
        "create",
        "alice",
        "--email",
        "a@example.com",
        "--password-stdin",
        stdin="long enough pw\n",
        env={
            "WHARFINGER_INSTANCE_PATH": str(tmp_path),
            "WHARFINGER_DATABASE_URL": "mysql+pymysql://nobody@127.0.0.1:1/x",
        },
    )
    assert result.returncode == 1
    assert "database unreachable" in result.stderr
    assert "Traceback" not in result.stderr


def test_user_create_then_registry_add(runner, app):
    result = runner.invoke(
        args=["user", "create", "Gggg", "--email", "g@example.com", "--password-stdin"],
        input="secret-password\n",
    )
    assert result.exit_code == 0, result.output
    result = runner.invoke(args=["registry", "add", "main", "127.0.0.1:5000", "--no-ssl"])
    assert result.exit_code == 0, result.output

    user = db.session.scalar(sa.select(User).where(User.username == "Gggg"))
    assert user.password_hash and user.password_hash != "secret-password" and not user.admin
    registry = db.session.scalar(sa.select(Registry))
    assert (registry.hostname, registry.use_ssl) == ("127.0.0.1:5000", False)
    personal = db.session.scalar(
        sa.select(Namespace).where(Namespace.kind == NamespaceKind.PERSONAL)
    )
    assert personal.name == "gggg" and personal.visibility == Visibility.PRIVATE
    team = db.session.get(Team, personal.team_id)
    assert team.hidden
    member = db.session.scalar(sa.select(TeamMember).where(TeamMember.team_id == team.id))
    assert (member.user_id, member.role) == (user.id, Role.OWNER)
    global_ns = db.session.scalar(
        sa.select(Namespace).where(Namespace.kind == NamespaceKind.GLOBAL)
    )
    assert global_ns.visibility == Visibility.PUBLIC
    keys_recorded = set(db.session.scalars(sa.select(Activity.key)))
    assert {"user.create", "registry.create"} <= keys_recorded


def test_user_created_after_registry_gets_namespace_and_dedup(runner, app):
    assert runner.invoke(args=["registry", "add", "main", "reg.test:5000"]).exit_code == 0
    for number, name in enumerate(("john", "John.", "JOHN")):
        result = runner.invoke(
            args=["user", "create", name, "--email", f"j{number}@example.com", "--password-stdin"],
            input="secret-password\n",
        )
        assert result.exit_code == 0, result.output
    names = set(
        db.session.scalars(
            sa.select(Namespace.name).where(Namespace.kind == NamespaceKind.PERSONAL)
        )
    )
    assert names == {"john", "john0", "john1"}


def test_user_errors_are_one_line(runner, app):
    args = ["user", "create", "alice", "--email", "a@example.com", "--password-stdin"]
    assert runner.invoke(args=args, input="secret-password\n").exit_code == 0
    duplicate = runner.invoke(args=args, input="secret-password\n")
    assert duplicate.exit_code == 1 and "already taken" in duplicate.output
    invalid = runner.invoke(
        args=["user", "create", "bad name!", "--email", "b@example.com", "--password-stdin"],
        input="secret-password\n",
    )
    assert invalid.exit_code == 1 and "invalid" in invalid.output
    short = runner.invoke(
        args=["user", "create", "bob", "--email", "b@example.com", "--password-stdin"],
        input="short\n",
    )
    assert short.exit_code == 1 and "password" in short.output
    missing = runner.invoke(args=["user", "make-admin", "nobody"])
    assert missing.exit_code == 1 and "no user named 'nobody'" in missing.output
    for result in (duplicate, invalid, short, missing):
        assert "Traceback" not in result.output
    assert db.session.scalar(sa.select(sa.func.count(User.id))) == 1


def test_make_admin_and_bot(runner, app):
    runner.invoke(
        args=["user", "create", "carol", "--email", "c@example.com", "--password-stdin"],
        input="secret-password\n",
    )
    assert runner.invoke(args=["user", "make-admin", "carol"]).exit_code == 0
    assert db.session.scalar(sa.select(User.admin).where(User.username == "carol"))
    bot = runner.invoke(args=["user", "create", "ci-bot", "--bot"])
    assert bot.exit_code == 0, bot.output
    robot = db.session.scalar(sa.select(User).where(User.username == "ci-bot"))
    assert robot.bot and robot.password_hash is None and not robot.is_active


def test_registry_errors(runner, app):
    bad = runner.invoke(args=["registry", "add", "main", "https://reg.test/v2"])
    assert bad.exit_code == 1 and "host:port" in bad.output
    assert runner.invoke(args=["registry", "add", "main", "reg.test:5000"]).exit_code == 0
    dup = runner.invoke(args=["registry", "add", "other", "reg.test:5000"])
    assert dup.exit_code == 1 and "already registered" in dup.output
