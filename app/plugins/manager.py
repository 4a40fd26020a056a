"""Build the plugin manager: hookspecs, built-in plugins, then third-party plugins."""

from __future__ import annotations

import importlib
import logging

import pluggy

from app.plugins import hookspecs

log = logging.getLogger(__name__)

# Built-in plugins, as import paths. Their hooks that must run last (the default policy)
# say so with ``trylast=True``.
BUILTIN_PLUGINS: tuple[str, ...] = (
    "app.plugins.db_audit",
    "app.plugins.local_accounts",
    "app.plugins.portus_policy",
)


class PluginLoadError(RuntimeError):
    """A configured plugin module could not be imported; names the module."""


def _import_plugin(path: str):
    """Import a plugin module by dotted path, with an operator-friendly error."""
    try:
        return importlib.import_module(path)
    except ImportError as exc:
        raise PluginLoadError(f"cannot load plugin {path!r} (WHARFINGER_PLUGINS): {exc}") from None


def build_plugin_manager(extra_plugins=(), safe_mode: bool = False) -> pluggy.PluginManager:
    """A new plugin manager with our hookspecs and plugins registered.

    ``safe_mode`` loads only the built-ins: no entry points, no ``extra_plugins``.
    """
    manager = pluggy.PluginManager(hookspecs.PROJECT)
    manager.add_hookspecs(hookspecs)
    for path in BUILTIN_PLUGINS:
        manager.register(_import_plugin(path), name=path)
    if safe_mode:
        return manager
    manager.load_setuptools_entrypoints(hookspecs.PROJECT)
    for path in extra_plugins:
        if manager.get_plugin(path) is None:
            manager.register(_import_plugin(path), name=path)
    return manager
