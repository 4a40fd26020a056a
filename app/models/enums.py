"""Vocabulary shared by the data model and the authorization engine.

Plain enums with no SQLAlchemy or Flask imports, so that ``app.authz`` can use them
without touching the database layer.
"""

import enum


class Role(enum.IntEnum):
    """A team member's role. Ordered: a higher role includes every right of a lower one."""

    VIEWER = 0
    CONTRIBUTOR = 1
    OWNER = 2


class NamespaceKind(enum.StrEnum):
    """What kind of namespace this is (Portus: ``global`` flag, hidden personal team)."""

    GLOBAL = "global"
    TEAM = "team"
    PERSONAL = "personal"


class Visibility(enum.StrEnum):
    """Who may pull: members only, any logged-in user, or anyone including anonymous."""

    PRIVATE = "private"
    PROTECTED = "protected"
    PUBLIC = "public"


class PushPolicy(enum.StrEnum):
    """Portus's ``user_permission.push_images.policy`` values."""

    ALLOW_TEAMS = "allow-teams"
    ALLOW_PERSONAL = "allow-personal"
    ADMIN_ONLY = "admin-only"


class EventStatus(enum.StrEnum):
    """Lifecycle of a stored registry notification."""

    FRESH = "fresh"
    PROCESSING = "processing"
    DONE = "done"
    IGNORED = "ignored"
    FAILED = "failed"
