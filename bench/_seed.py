"""Seed a benchmark instance with namespaces the CLI cannot create yet.

Run as ``python -m bench._seed USERNAME`` with WHARFINGER_INSTANCE_PATH set, after
``wharfinger init``, ``registry add`` and ``user create``. Creates:

* team ``devs`` with USERNAME as contributor, owning the private namespace ``devs``
  (so ``repository:devs/app:pull,push`` goes through the full team-role policy);
* team ``publishers`` owning the public namespace ``public`` (anonymous pulls).
"""

from __future__ import annotations

import sys

from app import create_app
from app.extensions import db
from app.models import Namespace, Registry, Team, TeamMember
from app.models.enums import NamespaceKind, Role, Visibility
from app.services.accounts import get_user

TEAM_NAMESPACE = "devs"
PUBLIC_NAMESPACE = "public"


def add_namespace(registry: Registry, team: Team, name: str, visibility: Visibility) -> None:
    """A team namespace in ``registry`` (flushed, not committed)."""
    db.session.add(
        Namespace(
            name=name,
            registry_id=registry.id,
            team_id=team.id,
            kind=NamespaceKind.TEAM,
            visibility=visibility,
        )
    )


def seed(username: str) -> None:
    """Create both teams and namespaces in the only registry, and commit."""
    registry = db.session.scalars(db.select(Registry)).one()
    devs = Team(name=TEAM_NAMESPACE)
    devs.members.append(TeamMember(user=get_user(username), role=Role.CONTRIBUTOR))
    publishers = Team(name="publishers")
    db.session.add_all([devs, publishers])
    db.session.flush()
    add_namespace(registry, devs, TEAM_NAMESPACE, Visibility.PRIVATE)
    add_namespace(registry, publishers, PUBLIC_NAMESPACE, Visibility.PUBLIC)
    db.session.commit()


def main() -> None:
    """Entry point: ``python -m bench._seed USERNAME``."""
    app = create_app()
    with app.app_context():
        seed(sys.argv[1])
        db.engine.dispose()
    print(f"seeded namespaces {TEAM_NAMESPACE} and {PUBLIC_NAMESPACE}")


if __name__ == "__main__":
    main()
