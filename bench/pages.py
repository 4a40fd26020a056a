"""Server time of the main web pages on a large instance.

Run from the repository root: ``.venv/bin/python -m bench.pages`` (SQLite) or with
``--database-url mysql+pymysql://root@127.0.0.1:3306/wharfinger_bench_pages`` (the
database is dropped and created). Seeds, through bulk inserts of the real models,
1,000,000 activities, 10,000 repositories, 50,000 tags, 1,000 users and 200 teams (each
team has 10 members and 3 namespaces: private, protected, public in turn; every user a
personal namespace), then times, in process (the WSGI app through Flask's test client, so
network and TLS are left out), the dashboard, the repository lists (Explore and a
namespace page), a repository page and search, each for an administrator and for an
ordinary member of two teams, and the admin activity log (its first page and the page
25,000 activities back): 5 warm-up requests, then ``--requests`` timed ones. Prints p50
and p95 per page and whether p95 <= 150 ms. ``--sqlite-file`` keeps the seeded SQLite
database for the next run.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa
from flask import current_app

from bench.reconcile import server_database

TARGET_P95_MS = 150.0
BATCH = 20_000
DIGEST = "sha256:{:064x}"
KEYS = (
    ["repository.push"] * 14
    + ["repository.delete", "team.add_member", "namespace.create", "user.login"]
    + ["namespace.change_visibility", "application_token.create"]
)


def arguments(argv=None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", help="MariaDB/PostgreSQL URL (default: SQLite)")
    parser.add_argument("--activities", type=int, default=1_000_000)
    parser.add_argument("--repositories", type=int, default=10_000)
    parser.add_argument("--tags", type=int, default=50_000)
    parser.add_argument("--users", type=int, default=1_000)
    parser.add_argument("--teams", type=int, default=200)
    parser.add_argument("--requests", type=int, default=60, help="timed requests per page")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument(
        "--sqlite-file",
        type=Path,
        help="keep the seeded SQLite database here and reuse it on the next run",
    )
    return parser.parse_args(argv)


def insert_all(model, rows: list[dict]) -> None:
    """Bulk INSERT in batches (SQLAlchemy's insertmanyvalues), committing each batch."""
    from app.extensions import db

    for start in range(0, len(rows), BATCH):
        db.session.execute(sa.insert(model), rows[start : start + BATCH])
        db.session.commit()


def seed(options, rng: random.Random) -> dict:
    """The population; returns the ids the measurements need."""
    from app.extensions import db
    from app.models import (
        Activity,
        Namespace,
        Registry,
        Repository,
        Tag,
        Team,
        TeamMember,
        User,
    )
    from app.models.enums import NamespaceKind, Role, Visibility
    from app.services import accounts, registries

    plugins_manager = current_app.extensions["wharfinger.plugins"]
    registries.add_registry(plugins_manager, "main", "127.0.0.1:5999")
    db.session.commit()
    registry = db.session.scalars(sa.select(Registry)).one()
    password_hash = accounts.hash_password("bench password")
    now = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)

    users = [
        {
            "id": i,
            "username": f"user{i:04d}",
            "email": f"user{i:04d}@example.com",
            "password_hash": password_hash,
            "admin": i == 1,
            "security_stamp": f"{i:032x}",
        }
        for i in range(1, options.users + 1)
    ]
    insert_all(User, users)
    base = db.session.scalar(sa.select(sa.func.max(Team.id)))  # the global team exists
    personal_teams = [
        {"id": base + i, "name": f"~user:{i}", "hidden": True} for i in range(1, options.users + 1)
    ]
    teams = [
        {"id": base + options.users + t, "name": f"team{t:03d}", "hidden": False}
        for t in range(1, options.teams + 1)
    ]
    insert_all(Team, personal_teams + teams)
    members = [
        {"team_id": base + i, "user_id": i, "role": Role.OWNER} for i in range(1, options.users + 1)
    ]
    for team in teams:  # 10 members each; user 2 (the measured member) is in the first two
        chosen = rng.sample(range(3, options.users + 1), 10)
        if team["id"] - base - options.users <= 2:
            chosen[0] = 2
        for position, user_id in enumerate(chosen):
            role = (Role.OWNER, Role.CONTRIBUTOR, Role.VIEWER)[min(position, 2)]
            members.append({"team_id": team["id"], "user_id": user_id, "role": role})
    insert_all(TeamMember, members)
    first_id = db.session.scalar(sa.select(sa.func.max(Namespace.id))) + 1
    namespaces = [
        {
            "id": first_id + i - 1,
            "name": f"user{i:04d}",
            "registry_id": registry.id,
            "team_id": base + i,
            "kind": NamespaceKind.PERSONAL,
            "visibility": Visibility.PRIVATE,
        }
        for i in range(1, options.users + 1)
    ]
    visibilities = (Visibility.PRIVATE, Visibility.PROTECTED, Visibility.PUBLIC)
    for team in teams:
        for n in range(3):
            namespaces.append(
                {
                    "id": first_id + len(namespaces),
                    "name": f"{team['name']}-ns{n}",
                    "registry_id": registry.id,
                    "team_id": team["id"],
                    "kind": NamespaceKind.TEAM,
                    "visibility": visibilities[n],
                }
            )
    insert_all(Namespace, namespaces)
    repositories = [
        {"id": r, "namespace_id": namespaces[(r * 7) % len(namespaces)]["id"], "name": f"app{r}"}
        for r in range(1, options.repositories + 1)
    ]
    insert_all(Repository, repositories)
    per_repository = max(1, options.tags // options.repositories)
    tags = [
        {
            "repository_id": r["id"],
            "name": f"v{t}",
            "digest": DIGEST.format(r["id"] * 10 + t),
            "media_type": "application/vnd.oci.image.manifest.v1+json",
            "size": 1000 + t,
            "author_name": "user0002",
            "pushed_at": now - dt.timedelta(minutes=r["id"] * 10 + t),
        }
        for r in repositories
        for t in range(per_repository)
    ]
    insert_all(Tag, tags)
    namespace_team = {n["id"]: n["team_id"] for n in namespaces}
    start = now - dt.timedelta(days=365)
    step = dt.timedelta(days=365) / options.activities
    activity_rows = []
    for i in range(options.activities):
        repository = repositories[rng.randrange(len(repositories))]
        actor = rng.randrange(1, options.users + 1)
        activity_rows.append(
            {
                "created_at": start + step * i,
                "key": KEYS[i % len(KEYS)],
                "actor_id": actor,
                "actor_name": f"user{actor:04d}",
                "target_type": "repository",
                "target_id": repository["id"],
                "target_name": f"ns/{repository['name']}:v1",
                "team_id": namespace_team[repository["namespace_id"]],
                "namespace_id": repository["namespace_id"],
                "parameters": {"tag": "v1"},
            }
        )
        if len(activity_rows) == BATCH:
            insert_all(Activity, activity_rows)
            activity_rows = []
    insert_all(Activity, activity_rows)
    return measured_ids(options)


def measured_ids(options) -> dict:
    """The namespace and repository the measured pages show: the first ones of the
    member's first team."""
    from app.extensions import db
    from app.models import Activity, Namespace, Repository, Team

    team_id = db.session.scalar(sa.select(Team.id).where(Team.name == "team001"))
    namespace_id = db.session.scalar(
        sa.select(Namespace.id).where(Namespace.team_id == team_id).order_by(Namespace.id).limit(1)
    )
    repository_id = db.session.scalar(
        sa.select(Repository.id).where(Repository.namespace_id == namespace_id).limit(1)
    )
    newest = db.session.scalar(sa.select(sa.func.max(Activity.id)))
    return {"namespace": namespace_id, "repository": repository_id, "deep": newest - 25_000}


def sign_in(app, username: str):
    """A test client with a session for ``username``."""
    client = app.test_client()
    response = client.post(
        "/users/sign_in",
        data={"username": username, "password": "bench password"},
        base_url="https://localhost",
    )
    if response.status_code != 302:
        raise SystemExit(f"cannot sign in as {username}: HTTP {response.status_code}")
    return client


def measure(client, path: str, count: int) -> dict:
    """Warm up, then time ``count`` GETs of ``path``; milliseconds p50/p95/max."""
    times = []
    for attempt in range(5 + count):
        started = time.perf_counter()
        response = client.get(path, base_url="https://localhost")
        elapsed = (time.perf_counter() - started) * 1000
        if response.status_code != 200:
            raise SystemExit(f"{path}: HTTP {response.status_code}")
        if attempt >= 5:
            times.append(elapsed)
    times.sort()
    p95 = statistics.quantiles(times, n=20, method="inclusive")[18]
    return {"p50": statistics.median(times), "p95": p95, "max": times[-1]}


def main(argv=None) -> int:
    """Seed, measure, print; exit 1 when a page misses the target."""
    options = arguments(argv)
    rng = random.Random(7)
    from app import create_app
    from app.extensions import db

    with (
        server_database(options.database_url),
        tempfile.TemporaryDirectory(prefix="wharfinger-bench-pages-") as folder,
    ):
        database_file = options.sqlite_file or Path(folder) / "pages.db"
        reuse = options.database_url is None and database_file.exists()
        url = options.database_url or f"sqlite:///{database_file.resolve()}"
        app = create_app(
            {
                "INSTANCE_PATH": folder,
                "DATABASE_URL": url,
                "SECRET_KEY": "bench",
                "WTF_CSRF_ENABLED": False,
                "PASSWORD_HASH_METHOD": "scrypt:1024:8:1",
            }
        )
        with app.app_context():
            from flask_migrate import upgrade

            upgrade(directory=app.extensions["migrate"].directory)
            started = time.perf_counter()
            ids = measured_ids(options) if reuse else seed(options, rng)
            seeded = time.perf_counter() - started
            db.session.remove()
        print(
            f"{'reused' if reuse else 'seeded'} {options.activities} activities, "
            f"{options.repositories} repositories, {options.tags} tags, {options.users} users, "
            f"{options.teams} teams in {seeded:.0f} s ({options.database_url or 'SQLite'})"
        )
        admin, member = sign_in(app, "user0001"), sign_in(app, "user0002")
        pages = [
            ("dashboard", "/"),
            ("explore (repository list)", "/explore"),
            ("namespace page (repository list)", f"/namespaces/{ids['namespace']}"),
            ("repository page", f"/repositories/{ids['repository']}"),
            ("search", "/search?q=app12"),
        ]
        results = {}
        for who, client in (("admin", admin), ("member", member)):
            for label, path in pages:
                results[f"{label}, {who}"] = measure(client, path, options.requests)
        results["admin activities, page 1"] = measure(admin, "/admin/activities", options.requests)
        results["admin activities, 25,000 back"] = measure(
            admin, f"/admin/activities?before={ids['deep']}", options.requests
        )
        with app.app_context():
            db.engine.dispose()
    width = max(len(k) for k in results)
    print(f"{'page':{width}}  p50 ms  p95 ms  max ms")
    for label, figures in results.items():
        print(
            f"{label:{width}}  {figures['p50']:6.1f}  {figures['p95']:6.1f}  {figures['max']:6.1f}"
        )
    worst = max(results.values(), key=lambda f: f["p95"])["p95"]
    print(f"target p95 <= {TARGET_P95_MS:.0f} ms: {'met' if worst <= TARGET_P95_MS else 'MISSED'}")
    if options.json:
        options.json.write_text(json.dumps(results, indent=2))
    return 0 if worst <= TARGET_P95_MS else 1


if __name__ == "__main__":
    sys.exit(main())
