"""The data model: one module per aggregate, re-exported here for convenience."""

from app.models.activity import Activity
from app.models.base import Base, utcnow
from app.models.event import RegistryEvent
from app.models.lock import JobLease
from app.models.namespace import GLOBAL_NAMESPACE_NAME, Namespace
from app.models.registry import Registry
from app.models.repository import Repository, Star, Tag
from app.models.team import Team, TeamMember
from app.models.token import ApplicationToken, RefreshToken
from app.models.user import User

__all__ = [
    "GLOBAL_NAMESPACE_NAME",
    "Activity",
    "ApplicationToken",
    "Base",
    "JobLease",
    "Namespace",
    "RefreshToken",
    "Registry",
    "RegistryEvent",
    "Repository",
    "Star",
    "Tag",
    "Team",
    "TeamMember",
    "User",
    "utcnow",
]
