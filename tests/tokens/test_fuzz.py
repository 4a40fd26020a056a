"""No input to /v2/token gives a 500: arbitrary query strings, forms and headers."""

from __future__ import annotations

import base64

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.tokens.conftest import SERVICE

FUZZ = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
ALLOWED_STATUSES = {200, 400, 401}

text = st.text(max_size=80)
scope_like = st.one_of(
    text,
    st.builds(
        lambda t, n, a: f"{t}:{n}:{a}",
        st.sampled_from(["repository", "registry", "repository(plugin)", "x", ""]),
        st.sampled_from(["team-private/app", "catalog", "a/b/c", "", "UP", "h:5000/x"]),
        st.sampled_from(["pull", "push,pull", "*", "*,push", "", "pull,,push"]),
    ),
)
keys = st.sampled_from(["service", "scope", "account", "offline_token", "client_id", "x"])


@FUZZ
@given(
    params=st.lists(st.tuples(keys, st.one_of(scope_like, st.just(SERVICE))), max_size=8),
    user=st.one_of(st.none(), st.sampled_from(["viewer", "admin", "nobody", "", ":"]), text),
    password=text,
)
def test_get_never_fails_with_500(client, world, params, user, password):
    headers = {}
    if user is not None:
        raw = base64.b64encode(f"{user}:{password}".encode("utf-8", "surrogatepass")).decode()
        headers["Authorization"] = f"Basic {raw}"
    response = client.get("/v2/token", query_string=params, headers=headers)
    assert response.status_code in ALLOWED_STATUSES
    assert response.is_json


@FUZZ
@given(
    form=st.dictionaries(
        st.sampled_from(
            [
                "grant_type",
                "username",
                "password",
                "refresh_token",
                "service",
                "scope",
                "access_type",
                "client_id",
            ]
        ),
        st.one_of(
            text,
            scope_like,
            st.sampled_from(["password", "refresh_token", SERVICE, "offline", "viewer"]),
        ),
        max_size=8,
    )
)
def test_post_never_fails_with_500(client, world, form):
    response = client.post("/v2/token", data=form)
    assert response.status_code in ALLOWED_STATUSES
    assert response.is_json


@FUZZ
@given(header=st.text(max_size=60))
def test_odd_authorization_headers(client, world, header):
    try:
        response = client.get(
            "/v2/token", query_string={"service": SERVICE}, headers={"Authorization": header}
        )
    except ValueError:  # the test client itself refuses some header values (e.g. newlines)
        return
    assert response.status_code in ALLOWED_STATUSES
