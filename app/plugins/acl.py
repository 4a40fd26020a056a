"""Example plugin: an ordered ACL file in the style of cesanta/docker_auth.

Load with ``WHARFINGER_PLUGINS=app.plugins.acl`` and ``WHARFINGER_ACL_FILE=/path/acl.toml``::

    [[acl]]
    match = { account = "ci-bot", name = "builds/*" }
    actions = ["pull", "push"]
    comment = "the CI bot pushes builds"

    [[acl]]
    match = { account = "/.+/", name = "${account}/*" }
    actions = ["*"]

Rules are tried in order and the first whose every ``match`` field matches decides:
``actions = ["*"]`` grants what was requested, a list grants its intersection with the
request, ``[]`` denies. When no rule matches the plugin abstains and the next policy (in
the end Portus's matrix) decides. Match fields: ``account`` ("" is anonymous), ``type``,
``name``, ``service``, ``ip`` (an address or a CIDR). A pattern is a glob (``*`` and ``?``
do not cross ``/``, ``[...]`` classes) or a ``/regular expression/`` searched anywhere.
``${account}``, ``${name}``, ``${type}`` and ``${service}`` in a pattern are replaced by
the request's values, escaped so they match literally.
"""

from __future__ import annotations

import ipaddress
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

from app.plugins.hookspecs import hookimpl

MATCH_FIELDS = ("account", "type", "name", "service", "ip")
PLACEHOLDER = re.compile(r"\$\{(account|type|name|service)\}")


def glob_to_regex(pattern: str) -> str:
    """Translate a path.Match-style glob into an anchored regular expression."""
    out, i = [], 0
    while i < len(pattern):
        char = pattern[i]
        if char == "\\" and i + 1 < len(pattern):
            out.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        if char == "[":
            end = pattern.find("]", i + 2)
            if end != -1:
                body = pattern[i + 1 : end].replace("\\", "\\\\")
                out.append("[" + ("^" + body[1:] if body.startswith("!") else body) + "]")
                i = end + 1
                continue
        out.append({"*": "[^/]*", "?": "[^/]"}.get(char, re.escape(char)))
        i += 1
    return "^" + "".join(out) + "$"


@dataclass(frozen=True)
class Rule:
    """One ACL entry: match patterns and the actions it grants."""

    match: dict
    actions: tuple[str, ...]
    comment: str = ""


def _substitute(pattern: str, values: dict[str, str], as_regex: bool) -> str:
    """Replace placeholders with the request's values, escaped for the pattern kind."""
    escape = re.escape if as_regex else (lambda v: re.sub(r"([*?\[\]\\])", r"\\\1", v))
    return PLACEHOLDER.sub(lambda m: escape(values.get(m.group(1), "")), pattern)


def pattern_matches(pattern: str, value: str, values: dict[str, str]) -> bool:
    """Match a glob or ``/regex/`` pattern (after placeholder substitution)."""
    if len(pattern) >= 2 and pattern.startswith("/") and pattern.endswith("/"):
        return re.search(_substitute(pattern[1:-1], values, True), value) is not None
    return re.match(glob_to_regex(_substitute(pattern, values, False)), value) is not None


def ip_matches(pattern: str, address: str | None) -> bool:
    """An address equal to ``pattern`` or inside the CIDR ``pattern``."""
    if not address:
        return False
    try:
        return ipaddress.ip_address(address) in ipaddress.ip_network(pattern, strict=False)
    except ValueError:
        return False


def rule_matches(rule: Rule, values: dict[str, str]) -> bool:
    """Every field present in the rule's ``match`` matches the request."""
    for field, pattern in rule.match.items():
        if field == "ip":
            if not ip_matches(pattern, values.get("ip")):
                return False
        elif not pattern_matches(pattern, values.get(field, ""), values):
            return False
    return True


def parse_rules(data: dict, source: str) -> list[Rule]:
    """Validate the ``[[acl]]`` entries of a parsed TOML document."""
    rules = []
    for number, entry in enumerate(data.get("acl", []), start=1):
        match = entry.get("match", {})
        actions = entry.get("actions")
        unknown = set(match) - set(MATCH_FIELDS)
        if not isinstance(match, dict) or unknown or not isinstance(actions, list):
            raise ValueError(
                f"{source}: rule {number} needs a 'match' table with fields among "
                f"{', '.join(MATCH_FIELDS)} and an 'actions' list"
            )
        rules.append(Rule(dict(match), tuple(actions), entry.get("comment", "")))
    return rules


def load_rules(path: str) -> list[Rule]:
    """Read and validate an ACL file; errors name the file and the problem."""
    try:
        data = tomllib.loads(Path(path).read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ValueError(f"cannot read ACL file {path}: {exc}") from None
    return parse_rules(data, path)


class ACLPolicy:
    """The loaded rules of one app; answers ``authorize_scope`` or abstains."""

    def __init__(self, rules: list[Rule]):
        self.rules = rules

    @hookimpl
    def authorize_scope(self, request):
        """The first matching rule decides; no match abstains."""
        scope = request.scope
        values = {
            "account": request.actor.username,
            "type": scope.type,
            "name": scope.name,
            "service": request.service,
            "ip": request.remote_addr or "",
        }
        for rule in self.rules:
            if rule_matches(rule, values):
                if "*" in rule.actions:
                    return scope.actions
                return tuple(a for a in scope.actions if a in rule.actions)
        return None


@hookimpl
def configure(settings, plugins):
    """Load the file named by WHARFINGER_ACL_FILE and register this app's ACL policy."""
    path = settings.get("ACL_FILE")
    if not path:
        raise ValueError("app.plugins.acl is loaded but WHARFINGER_ACL_FILE is not set")
    plugins.register(ACLPolicy(load_rules(path)), name="acl_policy")
