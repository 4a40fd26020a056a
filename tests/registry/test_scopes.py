"""Scope grammar: real client requests, malformed input, and grammar properties."""

from __future__ import annotations

import contextlib
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.registry.scopes import (
    MAX_NAME_LENGTH,
    MAX_SCOPE_LENGTH,
    MAX_SCOPES,
    Scope,
    ScopeError,
    format_scope,
    format_scopes,
    merge_scopes,
    parse_scope,
    parse_scopes,
)

# --- examples from protocol.md §4 and the spec ---------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("repository:demo/app:pull,push", Scope("repository", "demo/app", ("pull", "push"))),
        ("repository:zeta:pull", Scope("repository", "zeta", ("pull",))),
        ("repository:demo/app:*", Scope("repository", "demo/app", ("*",))),
        ("registry:catalog:*", Scope("registry", "catalog", ("*",))),
        ("repository(plugin):x:pull", Scope("repository", "x", ("pull",), "plugin")),
        (
            "repository:localhost:5000/demo/app:pull,push",
            Scope("repository", "localhost:5000/demo/app", ("pull", "push")),
        ),
        (
            "repository:Registry-1.Example.com:443/team/app:pull",
            Scope("repository", "Registry-1.Example.com:443/team/app", ("pull",)),
        ),
        ("repository:localhost/app:pull", Scope("repository", "localhost/app", ("pull",))),
        ("repository:samalba/my-app:push", Scope("repository", "samalba/my-app", ("push",))),
        ("repository:a.b_c__d---e/f0:pull", Scope("repository", "a.b_c__d---e/f0", ("pull",))),
        ("repository:a:push,pull,push", Scope("repository", "a", ("pull", "push"))),
        ("repository:a:pull,*", Scope("repository", "a", ("*", "pull"))),
        ("v2:0:x", Scope("v2", "0", ("x",))),
    ],
)
def test_parse_scope_accepts_client_examples(text: str, expected: Scope) -> None:
    assert parse_scope(text) == expected


def test_cross_repository_mount_keeps_both_scopes_in_request_order() -> None:
    values = ["repository:bobrepo:pull,push", "repository:zeta:pull"]
    assert parse_scopes(values) == [
        Scope("repository", "bobrepo", ("pull", "push")),
        Scope("repository", "zeta", ("pull",)),
    ]


def test_podman_duplicate_scopes_become_one() -> None:
    values = ["repository:bobrepo:pull,push", "repository:bobrepo:pull,push"]
    assert parse_scopes(values) == [Scope("repository", "bobrepo", ("pull", "push"))]


def test_post_scope_value_is_split_on_spaces() -> None:
    value = "repository:zeta:pull  repository:demo/app:push\trepository:zeta:push"
    assert parse_scopes([value]) == [
        Scope("repository", "zeta", ("pull", "push")),
        Scope("repository", "demo/app", ("push",)),
    ]


def test_parse_scopes_takes_a_single_string_as_one_value() -> None:
    assert parse_scopes("registry:catalog:*") == [Scope("registry", "catalog", ("*",))]


@pytest.mark.parametrize("values", [[], [""], ["   "], ["", " "]])
def test_empty_scope_values_ask_for_nothing(values: list[str]) -> None:
    assert parse_scopes(values) == []


def test_scopes_with_different_classes_are_not_merged() -> None:
    values = ["repository:x:pull", "repository(plugin):x:push"]
    assert parse_scopes(values) == [
        Scope("repository", "x", ("pull",)),
        Scope("repository", "x", ("push",), "plugin"),
    ]


def test_merge_unions_actions_in_order_of_first_appearance() -> None:
    scopes = [
        Scope("repository", "b", ("push",)),
        Scope("repository", "a", ("pull",)),
        Scope("repository", "b", ("delete", "pull")),
    ]
    assert merge_scopes(scopes) == [
        Scope("repository", "b", ("delete", "pull", "push")),
        Scope("repository", "a", ("pull",)),
    ]


# --- malformed scopes ------------------------------------------------------------------------

MALFORMED = [
    "",
    "repository",
    "repository:",
    "repository:foo",
    "repository::pull",
    ":foo:pull",
    "::",
    "Repository:foo:pull",
    "repo-sitory:foo:pull",
    "repository:Foo:pull",
    "repository:foo:Pull",
    "repository:foo:",
    "repository:foo:pull,",
    "repository:foo:,pull",
    "repository:foo:pull,,push",
    "repository:foo:pu*ll",
    "repository:foo:**",
    "repository:foo:pull push",
    "repository:foo:pull\n",
    " repository:foo:pull",
    "repository:foo/:pull",
    "repository:/foo:pull",
    "repository:foo//bar:pull",
    "repository:-foo:pull",
    "repository:foo-:pull",
    "repository:foo_:pull",
    "repository:foo___bar:pull",
    "repository:foo._bar:pull",
    "repository:fo o:pull",
    "repository:é:pull",
    "repository:foo/Bar:pull",
    "repository(plugin:x:pull",
    "repository():x:pull",
    "(plugin):x:pull",
    "repository(Plugin):x:pull",
    "repository(a)(b):x:pull",
    "repository)plugin(:x:pull",
    "repository:localhost:5000:pull",
    "repository:localhost:/foo:pull",
    "repository:localhost:abc/foo:pull",
    "repository:localhost:\uff15\uff10\uff10\uff10/foo:pull",  # full-width digits
    "repository:host:5000/x:y:pull",
    "repository:-host/foo:pull",
    "repository:host-/foo:pull",
    "repository:host..com/foo:pull",
    "repository:Host_Name/foo:pull",
]


@pytest.mark.parametrize("text", MALFORMED)
def test_malformed_scope_is_refused_with_its_text_and_the_expected_form(text: str) -> None:
    with pytest.raises(ScopeError) as caught:
        parse_scope(text)
    assert caught.value.scope == text
    assert repr(text) in str(caught.value)
    assert "expected type[(class)]:name:action" in str(caught.value)


def test_malformed_scope_inside_a_request_is_reported() -> None:
    with pytest.raises(ScopeError) as caught:
        parse_scopes(["repository:ok:pull", "repository:ok:pull repository:BAD:pull"])
    assert caught.value.scope == "repository:BAD:pull"


def test_name_length_limit_is_the_registry_one() -> None:
    longest = "a" * MAX_NAME_LENGTH
    assert parse_scope(f"repository:{longest}:pull").name == longest
    with pytest.raises(ScopeError, match="longer than 255"):
        parse_scope(f"repository:{longest}a:pull")


def test_oversized_scope_is_refused_and_shortened_in_the_message() -> None:
    text = "repository:" + "a" * 10_000 + ":pull"
    with pytest.raises(ScopeError, match=f"longer than {MAX_SCOPE_LENGTH}") as caught:
        parse_scope(text)
    assert caught.value.scope == text
    assert len(str(caught.value)) < 400


@pytest.mark.parametrize(
    "name",
    [
        "a" * 254 + "!",
        "a-" * 127 + "!",
        "a" + "-" * 250 + "!",
        "a_" * 127 + "_",
        "a/" * 126 + "a!",
        "A" * 60 + "-" * 60 + "!" + "/a",
    ],
)
def test_adversarial_names_are_refused_quickly(name: str) -> None:
    started = time.perf_counter()
    with pytest.raises(ScopeError):
        parse_scope(f"repository:{name}:pull")
    assert time.perf_counter() - started < 0.5


def test_parse_scopes_caps_the_number_of_scopes() -> None:
    allowed = [f"repository:r{i}:pull" for i in range(MAX_SCOPES)]
    assert len(parse_scopes(allowed)) == MAX_SCOPES
    with pytest.raises(ScopeError, match="too many scopes") as caught:
        parse_scopes([*allowed, "repository:one-more:pull"])
    assert caught.value.scope == "repository:one-more:pull"


def test_parse_scopes_counts_repeats_towards_the_cap() -> None:
    with pytest.raises(ScopeError, match="too many scopes"):
        parse_scopes([" ".join(["repository:same:pull"] * (MAX_SCOPES + 1))])


def test_merge_scopes_caps_distinct_resources_but_not_repeats() -> None:
    repeats = [Scope("repository", "same", ("pull",))] * (MAX_SCOPES * 2)
    assert len(merge_scopes(repeats)) == 1
    distinct = [Scope("repository", f"r{i}", ("pull",)) for i in range(MAX_SCOPES + 1)]
    with pytest.raises(ScopeError, match="too many scopes") as caught:
        merge_scopes(distinct)
    assert caught.value.scope == f"repository:r{MAX_SCOPES}:pull"


# --- the Scope value and formatting ----------------------------------------------------------


def test_scope_sorts_and_deduplicates_actions() -> None:
    assert Scope("repository", "a", ["push", "pull", "push"]).actions == ("pull", "push")


def test_scope_refuses_a_string_of_actions() -> None:
    with pytest.raises(TypeError):
        Scope("repository", "a", "pull")


def test_format_scope() -> None:
    assert format_scope(Scope("repository", "demo/app", ("push", "pull"))) == (
        "repository:demo/app:pull,push"
    )
    assert format_scope(Scope("repository", "x", ("pull",), "plugin")) == (
        "repository(plugin):x:pull"
    )
    assert format_scope(Scope("registry", "catalog", ("*",))) == "registry:catalog:*"


def test_format_scopes_joins_with_spaces_and_leaves_out_empty_grants() -> None:
    scopes = [
        Scope("repository", "zeta", ("pull",)),
        Scope("repository", "denied", ()),
        Scope("repository", "localhost:5000/a", ("pull", "push")),
    ]
    assert format_scopes(scopes) == "repository:zeta:pull repository:localhost:5000/a:pull,push"
    assert format_scopes([]) == ""


# --- properties ------------------------------------------------------------------------------

LOWER_DIGITS = "abcdefghijklmnopqrstuvwxyz0123456789"
HOST_CHARACTERS = LOWER_DIGITS + "ABCDEFGHIJKLMNOPQRSTUVWXYZ"

alphanumerics = st.text(LOWER_DIGITS, min_size=1, max_size=6)
separators = st.sampled_from([".", "_", "__", "-", "--", "---"])
path_components = st.builds(
    lambda first, rest: first + "".join(sep + run for sep, run in rest),
    alphanumerics,
    st.lists(st.tuples(separators, alphanumerics), max_size=3),
)
host_labels = st.builds(
    lambda first, rest: first + "".join("-" * dashes + run for dashes, run in rest),
    st.text(HOST_CHARACTERS, min_size=1, max_size=5),
    st.lists(
        st.tuples(st.integers(1, 2), st.text(HOST_CHARACTERS, min_size=1, max_size=5)),
        max_size=2,
    ),
)
hostnames = st.builds(
    lambda labels, port: ".".join(labels) + ("" if port is None else f":{port}"),
    st.lists(host_labels, min_size=1, max_size=3),
    st.none() | st.integers(0, 65535),
)
names = st.builds(
    lambda host, components: "/".join(([host] if host else []) + components),
    st.none() | hostnames,
    st.lists(path_components, min_size=1, max_size=4),
).filter(lambda name: len(name) <= MAX_NAME_LENGTH)
actions = st.lists(
    st.sampled_from(["pull", "push", "delete", "*"])
    | st.text("abcdefghijklmnopqrstuvwxyz", min_size=1, max_size=8),
    min_size=1,
    max_size=4,
)
type_values = st.text(LOWER_DIGITS, min_size=1, max_size=12)
valid_scopes = st.builds(
    Scope,
    type=type_values,
    name=names,
    actions=actions,
    resource_class=st.just("") | type_values,
)
# Text drawn mostly from the characters the grammar cares about, to reach deep branches.
scope_like_text = st.text(alphabet=LOWER_DIGITS[:6] + "Z:/._-()*, \t5é", max_size=40)


@given(st.text(max_size=600) | scope_like_text)
def test_any_text_parses_or_raises_scope_error(text: str) -> None:
    try:
        scope = parse_scope(text)
    except ScopeError as error:
        assert error.scope == text
    else:
        assert parse_scope(format_scope(scope)) == scope


@given(st.lists(st.text(max_size=80) | scope_like_text, max_size=5))
def test_any_request_parses_or_raises_scope_error(values: list[str]) -> None:
    with contextlib.suppress(ScopeError):
        parse_scopes(values)


@given(valid_scopes)
def test_format_then_parse_round_trips(scope: Scope) -> None:
    assert parse_scope(format_scope(scope)) == scope


@given(st.lists(valid_scopes, max_size=8))
def test_format_scopes_then_parse_scopes_round_trips(scopes: list[Scope]) -> None:
    merged = merge_scopes(scopes)
    assert parse_scopes([format_scopes(merged)]) == merged


@given(st.lists(valid_scopes | st.sampled_from([Scope("repository", "a", ("push",))]), max_size=8))
def test_merge_is_idempotent_and_keeps_every_action(scopes: list[Scope]) -> None:
    merged = merge_scopes(scopes)
    assert merge_scopes(merged) == merged
    assert len({scope.key for scope in merged}) == len(merged)
    for scope in scopes:
        merged_scope = next(m for m in merged if m.key == scope.key)
        assert set(scope.actions) <= set(merged_scope.actions)
