"""The REST API v1, compatible with Portus's (``/api/v1``), over the same services and
the same authorization engine as the UI. See ``docs/api.md``."""

from app.blueprints.api import (  # noqa: F401 - each module registers its routes on bp
    namespaces,
    registries,
    repositories,
    system,
    teams,
    users,
)
from app.blueprints.api.core import bp

__all__ = ["bp"]
