"""Name rules: usernames, team names, and namespace names as the registry accepts them."""

from __future__ import annotations

import re

from app.services.errors import Invalid

# A namespace is one path component of the distribution grammar (docs/spec/api.md):
# lower-case alphanumerics separated by ".", "_", "__" or runs of "-".
NAMESPACE_PATTERN = re.compile(r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$")
NAMESPACE_MAX = 255
USERNAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]*$")
USERNAME_MAX = 128
TEAM_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._-]*$")
TEAM_MAX = 100
EMAIL_PATTERN = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _checked(value: str, pattern: re.Pattern, maximum: int, label: str, rule: str) -> str:
    """``value`` if it is 1 to ``maximum`` characters matching ``pattern``, else Invalid
    (``label`` names the thing in the message; the form field is its last word)."""
    if not value or len(value) > maximum or not pattern.fullmatch(value):
        raise Invalid(f"{label} {value!r} is invalid: {rule}", field=label.split()[-1])
    return value


def check_username(username: str) -> str:
    """Return the username if valid, else raise Invalid saying what is allowed."""
    return _checked(
        username,
        USERNAME_PATTERN,
        USERNAME_MAX,
        "username",
        f"use 1-{USERNAME_MAX} letters, digits, '.', '_', '-' or '@', "
        "starting with a letter or digit",
    )


def check_email(email: str) -> str:
    """Return the normalised (lower-case) e-mail address if it looks like one."""
    email = (email or "").strip().lower()
    if len(email) > 255 or not EMAIL_PATTERN.fullmatch(email):
        raise Invalid(f"e-mail address {email!r} is invalid", field="email")
    return email


def check_team_name(name: str) -> str:
    """Return the team name if valid (hidden teams use names outside this grammar)."""
    return _checked(
        (name or "").strip(),
        TEAM_PATTERN,
        TEAM_MAX,
        "team name",
        f"use 1-{TEAM_MAX} letters, digits, spaces, '.', '_' or '-', starting "
        "with a letter or digit",
    )


def check_namespace_name(name: str) -> str:
    """Return the namespace name if the registry would accept it as a path component."""
    return _checked(
        name,
        NAMESPACE_PATTERN,
        NAMESPACE_MAX,
        "namespace name",
        "use lower-case letters and digits, separated by single '.', '_' or '__', or by '-'",
    )


def namespace_name_for(username: str) -> str:
    """Turn a username into a valid namespace name (Portus ``Namespace.make_valid``).

    Lower-cases, turns every run of other characters into ``-``, trims separators from
    the ends; ``john.Doe@corp`` becomes ``john.doe-corp``. Never empty.
    """
    text = re.sub(r"[^a-z0-9._-]+", "-", username.lower())
    text = re.sub(r"([._-])[._-]+", r"\1", text).strip("._-")
    return (text or "user")[: NAMESPACE_MAX - 8]


def first_free_name(base: str, taken: set[str]) -> str:
    """``base`` if free, else ``base0``, ``base1``, ... (Portus de-duplication)."""
    if base not in taken:
        return base
    number = 0
    while f"{base}{number}" in taken:
        number += 1
    return f"{base}{number}"
