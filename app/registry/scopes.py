"""The resource scopes docker clients ask the token endpoint for: parse, merge, format.

A scope such as ``repository:team/app:pull,push`` names a resource type (optionally with a
class, ``repository(plugin)``), a resource name and the wanted actions. The grammar is the one
of ``docs/spec/auth/scope.md`` at distribution v2.8.2 (protocol.md §1 item 3 and §4.1).
Pure Python with no Flask, so the token endpoint, the CLI and the tests share it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

# distribution's reference.NameTotalLengthMax: the registry refuses longer repository names.
MAX_NAME_LENGTH = 255
# One scope is a type, a name of at most 255 characters and a few actions; anything longer
# is refused before any pattern matching.
MAX_SCOPE_LENGTH = 512
# Real clients ask for one to three scopes (a cross-repository mount needs two).
MAX_SCOPES = 64

EXPECTED_FORM = (
    "expected type[(class)]:name:action[,action...], for example repository:team/app:pull,push"
)

_SHOWN_CHARACTERS = 80

_TYPE_VALUE = re.compile(r"[a-z0-9]+")
_ACTION = re.compile(r"[a-z]+|\*")
# The spec writes a component as alnum [separator alnum]* with separator /[_.]|__|[-]*/.
# An empty separator just joins two runs of alphanumerics, so the same language is written
# here with "-+": unambiguous, hence no catastrophic backtracking in Python's regex engine
# (the registry uses Go's linear-time engine and never had to care).
_PATH_COMPONENT = re.compile(r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*")
# hostname := hostcomponent ['.' hostcomponent]* [':' port-number]; a host component starts
# and ends with a letter or digit and may hold hyphens in between (upper case allowed).
_HOST_COMPONENT = r"[a-zA-Z0-9]+(?:-+[a-zA-Z0-9]+)*"
_HOSTNAME = re.compile(rf"{_HOST_COMPONENT}(?:\.{_HOST_COMPONENT})*(?::[0-9]+)?")


class ScopeError(ValueError):
    """A requested scope is malformed; the message names it and says what is expected.

    The message is meant for docker users (it goes into the 400 JSON error body), and
    ``scope`` keeps the offending raw text for logs.
    """

    def __init__(self, scope: str, message: str) -> None:
        self.scope = scope
        super().__init__(message)


@dataclass(frozen=True)
class Scope:
    """One resource scope: type, name, actions (de-duplicated and sorted) and optional class."""

    type: str
    name: str
    actions: tuple[str, ...]
    resource_class: str = ""

    def __post_init__(self) -> None:
        if isinstance(self.actions, str):
            raise TypeError("Scope.actions must be a collection of action names, not a string")
        object.__setattr__(self, "actions", tuple(sorted(set(self.actions))))

    @property
    def key(self) -> tuple[str, str, str]:
        """What identifies the resource: ``(type, resource_class, name)``."""
        return (self.type, self.resource_class, self.name)


def parse_scope(text: str) -> Scope:
    """Parse one ``type[(class)]:name:actions`` scope, or raise ScopeError saying why not.

    The type ends at the first ``:`` and the actions start after the last one, because the
    name may itself hold one ``:`` from a ``host:port`` prefix (scope.md, "NOTE").
    """
    if len(text) > MAX_SCOPE_LENGTH:
        raise _malformed(text, f"it is longer than {MAX_SCOPE_LENGTH} characters")
    type_text, _, rest = text.partition(":")
    name, separator, actions_text = rest.rpartition(":")
    if not separator:
        raise _malformed(text, "it needs a type, a name and actions separated by ':'")
    resource_type, resource_class = _parse_type(text, type_text)
    _check_name(text, name)
    actions = _parse_actions(text, actions_text)
    return Scope(resource_type, name, actions, resource_class)


def parse_scopes(values: Iterable[str]) -> list[Scope]:
    """Parse every ``scope`` value of a request and merge repeated resources.

    GET requests repeat the ``scope`` parameter; POST packs several scopes into one value
    separated by spaces, so each value is split on whitespace. An empty value asks for
    nothing. At most MAX_SCOPES scopes are read per request, repeats included, so that an
    oversized request is refused before much work is done.
    """
    if isinstance(values, str):
        values = (values,)
    parsed: list[Scope] = []
    for value in values:
        for text in value.split():
            if len(parsed) == MAX_SCOPES:
                raise _too_many(text)
            parsed.append(parse_scope(text))
    return merge_scopes(parsed)


def merge_scopes(scopes: Iterable[Scope]) -> list[Scope]:
    """Merge scopes on the same resource into one with the union of their actions.

    Clients send duplicates (podman repeats a scope on retry), and the access claim should
    hold one entry per resource. Order of first appearance is kept. Raises ScopeError when
    more than MAX_SCOPES distinct resources are asked for.
    """
    merged: dict[tuple[str, str, str], Scope] = {}
    for scope in scopes:
        earlier = merged.get(scope.key)
        if earlier is not None:
            merged[scope.key] = _with_actions(earlier, earlier.actions + scope.actions)
        elif len(merged) == MAX_SCOPES:
            raise _too_many(format_scope(scope))
        else:
            merged[scope.key] = scope
    return list(merged.values())


def format_scope(scope: Scope) -> str:
    """The scope in request syntax, e.g. ``repository(plugin):team/app:pull,push``.

    A scope without actions comes out as ``type:name:``, which is not valid request syntax;
    format_scopes leaves such scopes out.
    """
    resource_type = f"{scope.type}({scope.resource_class})" if scope.resource_class else scope.type
    return f"{resource_type}:{scope.name}:{','.join(scope.actions)}"


def format_scopes(scopes: Iterable[Scope]) -> str:
    """Space-joined scopes for the ``scope`` field of a POST token response (oauth.md).

    Scopes without actions grant nothing and are left out, so the field lists exactly
    what was granted and every entry parses again.
    """
    return " ".join(format_scope(scope) for scope in scopes if scope.actions)


def _parse_type(text: str, type_text: str) -> tuple[str, str]:
    """Split ``repository(plugin)`` into ``("repository", "plugin")``; no class gives ``""``."""
    resource_type, has_class, class_text = type_text.partition("(")
    resource_class = ""
    if has_class:
        resource_class = class_text.removesuffix(")")
        if resource_class == class_text or not _TYPE_VALUE.fullmatch(resource_class):
            raise _malformed(text, _type_problem(type_text))
    if not _TYPE_VALUE.fullmatch(resource_type):
        raise _malformed(text, _type_problem(type_text))
    return resource_type, resource_class


def _check_name(text: str, name: str) -> None:
    """Refuse a name that is not ``[host[:port]/]component[/component]*`` (scope.md)."""
    if not name:
        raise _malformed(text, "the resource name is empty")
    if len(name) > MAX_NAME_LENGTH:
        raise _malformed(text, f"the resource name is longer than {MAX_NAME_LENGTH} characters")
    first, *others = name.split("/")
    # A first segment followed by more segments may be a hostname; alone it must be a path
    # component (a bare "localhost:5000" names no repository).
    first_is_valid = _PATH_COMPONENT.fullmatch(first) or (others and _HOSTNAME.fullmatch(first))
    if not first_is_valid or not all(_PATH_COMPONENT.fullmatch(part) for part in others):
        raise _malformed(
            text,
            f"the resource name {_shown(name)} must be lowercase path components "
            "(letters and digits, joined by '.', '_', '__' or '-') separated by '/', "
            "optionally after a host[:port]/ prefix",
        )


def _parse_actions(text: str, actions_text: str) -> tuple[str, ...]:
    """Split ``pull,push`` into actions; each must be lowercase letters or the literal ``*``."""
    if not actions_text:
        raise _malformed(text, "it asks for no actions")
    actions = actions_text.split(",")
    if not all(_ACTION.fullmatch(action) for action in actions):
        raise _malformed(
            text,
            f"the actions {_shown(actions_text)} must be comma-separated lowercase words "
            "or '*', with no empty entries",
        )
    return tuple(actions)


def _with_actions(scope: Scope, actions: Iterable[str]) -> Scope:
    """A copy of ``scope`` holding ``actions`` instead of its own."""
    return Scope(scope.type, scope.name, tuple(actions), scope.resource_class)


def _type_problem(type_text: str) -> str:
    """What is wrong with a refused resource type, naming it."""
    return (
        f"the resource type {_shown(type_text)} must be lowercase letters and digits, "
        "optionally followed by a class in parentheses such as repository(plugin)"
    )


def _malformed(text: str, problem: str) -> ScopeError:
    """The error for a scope that breaks the grammar: what is wrong and what is expected."""
    return ScopeError(text, f"invalid scope {_shown(text)}: {problem}; {EXPECTED_FORM}")


def _too_many(text: str) -> ScopeError:
    """The error for a request asking for more than MAX_SCOPES scopes, naming the first extra."""
    return ScopeError(
        text,
        f"too many scopes: at most {MAX_SCOPES} are accepted per request, {_shown(text)} is one more",
    )


def _shown(text: str) -> str:
    """Quote user text for an error message: escaped, and cut short when long."""
    if len(text) > _SHOWN_CHARACTERS:
        return repr(text[:_SHOWN_CHARACTERS]) + "..."
    return repr(text)
