"""Built-in authorization policy: Portus's permission matrix (``app.authz``), asked last.

Third-party policies answer first; this one always answers, so a scope nobody else decided
gets exactly what the matrix allows.
"""

from app.authz import scope_actions
from app.plugins.hookspecs import hookimpl


@hookimpl(trylast=True)
def authorize_scope(request):
    """Grant what the Portus matrix allows for this scope."""
    scope = request.scope
    return scope_actions(
        request.actor,
        scope.type,
        scope.name,
        request.namespace,
        request.role,
        scope.actions,
        request.settings,
    )
