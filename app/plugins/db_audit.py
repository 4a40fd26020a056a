"""Built-in audit sink: stores every activity in the ``activities`` table."""

from app.extensions import db
from app.models import Activity
from app.plugins.hookspecs import hookimpl


@hookimpl
def record_activity(activity):
    """Add the activity to the current database session (committed with the change)."""
    db.session.add(
        Activity(
            key=activity.key,
            actor_id=activity.actor_id,
            actor_name=activity.actor_name,
            target_type=activity.target_type,
            target_id=activity.target_id,
            target_name=activity.target_name,
            team_id=activity.team_id,
            namespace_id=activity.namespace_id,
            parameters=activity.parameters,
            created_at=activity.created_at,
        )
    )
