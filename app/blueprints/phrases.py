"""Activities as sentences for people ("gggg pushed microbox/etcd:2.1.1").

The stored rows keep names, not ids, so a sentence stays readable after its objects are
deleted (portus.md §1.8). Unknown keys (a plugin's own) fall back to the key itself.
"""

from __future__ import annotations

from typing import Any

PHRASES: dict[str, str] = {
    "repository.push": "pushed {target}",
    "repository.delete": "deleted {target}",
    "namespace.create": "created namespace {target}",
    "namespace.change_visibility": "made namespace {target} {visibility}",
    "namespace.change_description": "changed the description of namespace {target}",
    "namespace.change_team": "moved namespace {target} from team {old_team} to team {team}",
    "namespace.delete": "deleted {repository_name_or_namespace}",
    "team.create": "created team {target}",
    "team.add_member": "added {member} to team {target} as {role}",
    "team.remove_member": "removed {member} from team {target}",
    "team.change_member_role": "made {member} {role} of team {target}",
    "team.change_team_name": "renamed team {old_name} to {target}",
    "team.change_team_description": "changed the description of team {target}",
    "team.delete": "deleted team {target}",
    "application_token.create": "created application token {target} for {owner}",
    "application_token.destroy": "revoked application token {target} of {owner}",
    "registry.create": "registered registry {target} ({hostname})",
    "user.create": "created user {target}",
    "user.update": "updated the profile of {target}",
    "user.admin": "made {target} an administrator",
    "user.unadmin": "took administrator rights from {target}",
    "user.enable": "enabled user {target}",
    "user.disable": "disabled user {target}",
    "user.change_password": "changed the password of {target}",
    "user.login": "signed in",
    "user.login_failed": "failed to sign in",
}


class _Lenient(dict):
    """Format mapping that shows a missing parameter as "?" instead of failing."""

    def __missing__(self, key: str) -> str:
        return "?"


def sentence(activity: Any) -> str:
    """What the activity says, without its actor: "pushed microbox/etcd:2.1.1"."""
    parameters = dict(activity.parameters or {})
    if activity.key == "namespace.delete":
        repository = parameters.get("repository_name")
        parameters["repository_name_or_namespace"] = (
            f"repository {repository}" if repository else f"namespace {activity.target_name}"
        )
    template = PHRASES.get(activity.key)
    if template is None:
        return f"{activity.key} {activity.target_name}".strip()
    text = template.format_map(_Lenient(parameters, target=activity.target_name))
    reason = parameters.get("reason")
    return f"{text} ({reason})" if reason else text
