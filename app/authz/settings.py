"""The access switches an operator can flip (Portus's ``user_permission.*`` and ``delete.*``).

Values are validated when the settings are built, so a typo fails at startup with a message
naming the setting, instead of silently changing who may do what.
"""

from collections.abc import Mapping
from dataclasses import dataclass, fields

from app.models.enums import PushPolicy

_POLICY_CHOICES = ", ".join(repr(policy.value) for policy in PushPolicy)


def _push_policy(value: object) -> PushPolicy:
    """Turn a configured value into a PushPolicy, or fail naming the allowed values.

    Deliberate difference from Portus (portus.md §1.16, §6): there an unknown policy denied
    push to everyone, admins included. Here it is refused up front.
    """
    try:
        return PushPolicy(value)
    except (ValueError, TypeError):
        raise ValueError(
            f"invalid push_policy {value!r}: expected one of {_POLICY_CHOICES}"
        ) from None


def _check_switch(name: str, value: object) -> None:
    """Refuse anything but a real bool, so "false" (a truthy string) cannot slip through."""
    if not isinstance(value, bool):
        raise ValueError(f"invalid {name} {value!r}: expected true or false")


@dataclass(frozen=True)
class AccessSettings:
    """The operator's access switches; the defaults are Portus's defaults."""

    push_policy: PushPolicy = PushPolicy.ALLOW_TEAMS
    delete_enabled: bool = True
    delete_contributors: bool = False
    change_visibility: bool = True
    create_team: bool = True
    manage_team: bool = True
    create_namespace: bool = True
    manage_namespace: bool = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "push_policy", _push_policy(self.push_policy))
        for field in fields(self):
            if field.name != "push_policy":
                _check_switch(field.name, getattr(self, field.name))

    @classmethod
    def from_mapping(cls, values: Mapping[str, object]) -> "AccessSettings":
        """Build settings from a config mapping; unknown keys and bad values raise ValueError."""
        known = {field.name for field in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(
                f"unknown access setting(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}"
            )
        return cls(**values)
