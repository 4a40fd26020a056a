"""The plain facts the authorization engine decides on: who asks, and about what.

The services layer builds these from the database once per request. The engine never
queries anything itself, so the token endpoint, the UI, the API, the CLI and the jobs all
share the same rules without sharing a database session.
"""

from dataclasses import dataclass

from app.models.enums import NamespaceKind, Visibility


@dataclass(frozen=True)
class Actor:
    """Who is asking.

    ``user_id=None`` is an anonymous caller. ``read_only`` marks a caller authenticated
    with a read-only application token: it may pull and look, never change anything.
    Admin rights come from ``is_admin`` alone, never from team memberships.
    """

    user_id: int | None
    username: str = ""
    is_admin: bool = False
    read_only: bool = False

    def __post_init__(self) -> None:
        if self.user_id is None and (self.is_admin or self.read_only):
            raise ValueError("an anonymous actor cannot be an admin or read-only")

    @property
    def is_anonymous(self) -> bool:
        """True when nobody is logged in."""
        return self.user_id is None


ANONYMOUS = Actor(user_id=None)


@dataclass(frozen=True)
class NamespaceFacts:
    """What the engine needs to know about a namespace (one registry path prefix).

    ``team_hidden`` is true for the hidden teams behind personal and global namespaces,
    and for orphan namespaces that catalog sync parks in the global team.
    """

    id: int
    name: str
    kind: NamespaceKind
    visibility: Visibility
    team_id: int | None
    team_hidden: bool = False

    @property
    def is_global(self) -> bool:
        """True for the registry's global namespace (repositories without a ``/``)."""
        return self.kind is NamespaceKind.GLOBAL

    @property
    def is_personal(self) -> bool:
        """True for a user's personal namespace."""
        return self.kind is NamespaceKind.PERSONAL


@dataclass(frozen=True)
class TeamFacts:
    """What the engine needs to know about a team: hidden teams are internal plumbing."""

    id: int
    name: str
    hidden: bool
