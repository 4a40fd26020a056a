"""Read values out of a Prometheus text exposition (what a scraper sees)."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families


def sample_value(text: str, name: str, **labels: str) -> float:
    """The value of the sample ``name`` with exactly these labels; 0 when absent."""
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and sample.labels == labels:
                return sample.value
    return 0.0


def scrape(client, **request) -> str:
    """GET /metrics through a Flask test client (asserting it is served)."""
    response = client.get("/metrics", **request)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_data(as_text=True)
