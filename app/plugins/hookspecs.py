"""Every hook Wharfinger calls. ``docs/plugins.md`` documents each; a test keeps them in sync.

Implement a hook in a module or class with ``@hookimpl`` and load it through the
``wharfinger`` entry-point group or ``WHARFINGER_PLUGINS``.
"""

import pluggy

PROJECT = "wharfinger"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def record_activity(activity):
    """Receive every recorded activity (an audit sink).

    ``activity`` is an ``app.services.activities.ActivityRecord`` with ``key`` (e.g.
    ``team.create``), ``actor_id``, ``actor_name``, ``target_type``, ``target_id``,
    ``target_name``, ``team_id``, ``namespace_id``, ``parameters`` and ``created_at``.
    Every implementation is called; the built-in database sink stores it. A sink must not
    raise: a failing sink is logged and the others still run.
    """
