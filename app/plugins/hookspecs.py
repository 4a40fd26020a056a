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


@hookspec
def configure(settings, plugins):
    """Called once when the app is built, after every plugin is registered.

    ``settings`` is the app's settings mapping (``WHARFINGER_*`` without the prefix; unknown
    ``WHARFINGER_*`` variables pass through, so a plugin can read its own, e.g.
    ``WHARFINGER_ACL_FILE`` as ``settings["ACL_FILE"]``). ``plugins`` is the plugin manager:
    a module-level plugin may register a per-app object here. Raise ``ValueError`` with a
    clear message to refuse a wrong setting; the app then does not start.
    """


@hookspec(firstresult=True)
def authenticate(username, password, user, remote_addr):
    """Check a username and password (or application token) from Basic auth or a form.

    ``user`` is the ``User`` row with that username, or ``None`` when none exists (an
    external directory may create it). Return ``Identity(user, method, read_only)`` to
    accept, ``Rejection(reason)`` to refuse and stop, or ``None`` for no opinion (the next
    plugin is asked). The first non-``None`` answer wins; when every plugin abstains the
    login fails. Lockout is enforced around this hook, so a locked account never reaches
    it. Built-in: local accounts (passwords and application tokens), registered last.
    """


@hookspec(firstresult=True)
def authorize_scope(request):
    """Decide one requested scope: which of its actions to grant.

    ``request`` is an ``app.services.access.ScopeRequest`` (actor, scope, service,
    namespace facts, the actor's role in the namespace's team, access settings, client
    address). Return the granted actions (an iterable; empty means deny) or ``None`` to
    abstain. The first non-``None`` answer wins; actions that were not requested are
    dropped. Built-in: the Portus permission matrix, registered last, which always answers.
    """


@hookspec
def filter_access(request, granted):
    """Veto actions after the decision; every plugin sees every scope.

    ``granted`` is a frozenset of the actions decided so far (a repository ``*`` is
    expanded to ``pull``, ``push`` and ``delete`` first). Return the actions to keep, or
    ``None`` to keep all; the result is intersected with ``granted``, so a filter can only
    remove actions (e.g. a read-only maintenance mode, a frozen namespace).
    """
