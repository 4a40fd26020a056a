"""/metrics after a real push: the token requests skopeo made and the notifications the
registry sent are counted (issue #6, "Must show")."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import Tag
from app.models.enums import Visibility
from tests.e2e.conftest import StackOptions
from tests.e2e.test_events_e2e import push, settle
from tests.support.metrics import sample_value
from tests.support.ports import loopback_session

pytestmark = pytest.mark.e2e


@pytest.fixture
def stack_options() -> StackOptions:
    """The registry notifies the live Wharfinger."""
    return StackOptions(notifications=True)


def test_metrics_count_a_real_push(stack, people, images, skopeo):
    namespace = people.namespaces[Visibility.PRIVATE].name
    push(skopeo, stack, f"oci:{images}:one", f"{namespace}/app:1.0", people.creds("contributor"))
    settle(stack, lambda: db.session.scalar(sa.select(Tag)), "the pushed tag")
    with loopback_session() as session:  # a loopback client: the default "localhost" mode
        response = session.get(f"{stack.live.url}/metrics", verify=str(stack.pki.cert))
    assert response.status_code == 200
    text = response.text
    assert sample_value(text, "wharfinger_token_requests_total", outcome="granted") >= 1
    assert sample_value(text, "wharfinger_token_request_seconds_count") >= 1
    assert sample_value(text, "wharfinger_registry_events_received_total") >= 1
    assert sample_value(text, "wharfinger_registry_events_processed_total", outcome="applied") >= 1
