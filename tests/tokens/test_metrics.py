"""Token requests are counted by what the endpoint really answered, and timed."""

from __future__ import annotations

from tests.support.metrics import sample_value, scrape
from tests.tokens.conftest import get_token

COUNT = "wharfinger_token_requests_total"


def test_each_outcome_is_counted(client, world):
    private = "repository:team-private/app:pull,push"
    answers = [
        get_token(client, user="owner", scopes=[private]),  # granted
        get_token(client, user="viewer", scopes=[private]),  # pull only: partially granted
        get_token(client, user="outsider", scopes=[private]),  # nothing: denied
        get_token(client, user="viewer"),  # a login asks nothing: granted
        get_token(client, user="viewer", password="wrong"),  # unauthorized
        get_token(client, user="viewer", service="elsewhere:5000"),  # bad request
        client.post("/v2/token", data={"grant_type": "magic"}),  # bad request
    ]
    assert [r.status_code for r in answers] == [200, 200, 200, 200, 401, 400, 400]
    text = scrape(client)
    counted = {
        outcome: sample_value(text, COUNT, outcome=outcome)
        for outcome in ("granted", "partially_granted", "denied", "unauthorized", "bad_request")
    }
    assert counted == {
        "granted": 2,
        "partially_granted": 1,
        "denied": 1,
        "unauthorized": 1,
        "bad_request": 2,
    }
    assert sample_value(text, "wharfinger_token_request_seconds_count") == 7
    assert sample_value(text, "wharfinger_token_request_seconds_sum") > 0


def test_a_database_outage_counts_as_unavailable(client, world, monkeypatch):
    from sqlalchemy.exc import OperationalError

    issuer = client.application.extensions["wharfinger.tokens"]

    def down(request):
        raise OperationalError("SELECT 1", {}, Exception("server has gone away"))

    monkeypatch.setattr(issuer, "issue", down)
    assert get_token(client, user="viewer").status_code == 503
    assert sample_value(scrape(client), COUNT, outcome="unavailable") == 1
