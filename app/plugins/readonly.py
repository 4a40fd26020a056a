"""Example plugin: read-only maintenance mode. Load it to freeze the registry.

``WHARFINGER_PLUGINS=app.plugins.readonly``: while loaded, every token grants at most
``pull`` on repositories, whatever any policy decided (pushes and deletes are refused by
the registry with "denied"). Remove it from the list and restart to end maintenance.
"""

from app.plugins.hookspecs import hookimpl

READ_ONLY_ACTIONS = frozenset({"pull"})


@hookimpl
def filter_access(request, granted):
    """Keep only pull on repositories; other resource types are left alone."""
    if request.scope.type != "repository":
        return None
    return granted & READ_ONLY_ACTIONS
