"""Properties that must hold for any actor, namespace, settings and requested actions."""

from hypothesis import given
from hypothesis import strategies as st

from app.authz import (
    ACTIONS,
    ALL_RIGHTS,
    ANONYMOUS,
    RULES,
    AccessSettings,
    Actor,
    NamespaceFacts,
    TeamFacts,
    allowed,
    namespace_rights,
    repository_actions,
    scope_actions,
)
from app.models.enums import NamespaceKind, PushPolicy, Role, Visibility

actors = st.one_of(
    st.just(ANONYMOUS),
    st.builds(
        Actor,
        user_id=st.integers(1, 5),
        username=st.just("u"),
        is_admin=st.booleans(),
        read_only=st.booleans(),
    ),
)
namespaces = st.one_of(
    st.none(),
    st.builds(
        NamespaceFacts,
        id=st.integers(1, 5),
        name=st.just("ns"),
        kind=st.sampled_from(NamespaceKind),
        visibility=st.sampled_from(Visibility),
        team_id=st.one_of(st.none(), st.integers(1, 3)),
        team_hidden=st.booleans(),
    ),
)
teams = st.one_of(
    st.none(), st.builds(TeamFacts, id=st.integers(1, 3), name=st.just("t"), hidden=st.booleans())
)
roles = st.one_of(st.none(), st.sampled_from(Role))
settings = st.builds(
    AccessSettings,
    push_policy=st.sampled_from(PushPolicy),
    **{
        name: st.booleans()
        for name in (
            "delete_enabled",
            "delete_contributors",
            "change_visibility",
            "create_team",
            "manage_team",
            "create_namespace",
            "manage_namespace",
        )
    },
)
action_names = st.sampled_from(["pull", "push", "delete", "*", "fork", "PULL", "", "catalog"])
requests = st.lists(action_names, max_size=6)


def _expand(requested):
    """What a request may legitimately yield: itself, plus the rights "*" stands for."""
    wanted = set(requested)
    return wanted | ALL_RIGHTS if "*" in wanted else wanted


@given(actors, namespaces, roles, requests, settings)
def test_result_is_within_the_request(actor, namespace, role, requested, config):
    """Never an action that was not asked for; "*" only when "*" was asked for."""
    granted = repository_actions(actor, namespace, role, requested, config)
    assert set(granted) <= _expand(requested)
    assert "*" not in granted or "*" in requested
    assert list(granted) == sorted(set(granted))


@given(actors, namespaces, roles, requests, settings)
def test_result_never_exceeds_the_rights_held(actor, namespace, role, requested, config):
    """Whatever the request's shape, the grant is bounded by ``namespace_rights``."""
    held = namespace_rights(actor, namespace, role, config)
    granted = set(repository_actions(actor, namespace, role, requested, config))
    assert granted - {"*"} <= held
    assert "*" not in granted or held == ALL_RIGHTS


@given(actors, namespaces, roles, requests, settings)
def test_order_and_duplicates_do_not_matter(actor, namespace, role, requested, config):
    """The request is a set: "*,push" and "push,*" are the same question."""
    granted = repository_actions(actor, namespace, role, requested, config)
    shuffled = list(reversed(requested)) * 2
    assert repository_actions(actor, namespace, role, shuffled, config) == granted


@given(actors, namespaces, roles, settings)
def test_structural_limits(actor, namespace, role, config):
    """Read-only and anonymous actors only pull; a missing namespace gives at most pull."""
    rights = namespace_rights(actor, namespace, role, config)
    if actor.read_only or actor.is_anonymous or namespace is None:
        assert rights <= {"pull"}


@given(actors, st.text(max_size=10), namespaces, roles, requests, settings)
def test_registry_scopes_grant_only_catalog_to_admins(
    actor, name, namespace, role, requested, config
):
    """A registry scope yields nothing, or "*" on the catalog for an admin."""
    granted = scope_actions(actor, "registry", name, namespace, role, requested, config)
    assert granted in ((), ("*",))
    assert not granted or (actor.is_admin and name == "catalog" and "*" in requested)


@given(
    st.sampled_from(sorted(ACTIONS)),
    actors,
    namespaces,
    teams,
    roles,
    settings,
    st.one_of(st.none(), st.integers(1, 5)),
)
def test_limited_actors_never_change_anything(action, actor, namespace, team, role, config, target):
    """Anonymous callers and read-only tokens are refused every non-read management action."""
    ok = allowed(
        action,
        actor,
        namespace=namespace,
        team=team,
        role=role,
        settings=config,
        target_user_id=target,
    )
    if (actor.is_anonymous or actor.read_only) and not RULES[action].reads:
        assert not ok
