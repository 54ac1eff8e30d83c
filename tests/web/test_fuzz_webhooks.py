"""Fuzzed webhook bodies and headers (Hypothesis) against the served app over real HTTP: a request
that is not validly signed (or, for Salesforce, not a well-formed message of our org) only ever gets
a 4xx, and nothing is stored."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.web.conftest import ORG, Served

EXAMPLES = int(os.environ.get("CRMSYNC_FUZZ_EXAMPLES", "60"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

header_names = st.sampled_from([
    "x-hubspot-signature-v3", "x-hubspot-request-timestamp", "x-schematic-webhook-signature",
    "x-schematic-webhook-timestamp", "content-type",
])  # fmt: skip
# printable, no space: what an HTTP client may send as a header value
header_values = st.text(st.characters(min_codepoint=33, max_codepoint=126), max_size=80)
bodies = st.one_of(
    st.binary(max_size=2048),
    st.text(max_size=500).map(str.encode),
    st.just(b'[{"eventId": 1, "objectId": 1023, "subscriptionType": "deal.propertyChange", "portalId": 62515}]'),
    st.just(b'{"action": "company.override.updated", "company_id": "comp_acme", "body": {}}'),
    st.just(f'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e "y">]><x>&e;{ORG}</x>'.encode()),
)


@FUZZ
@given(
    path=st.sampled_from(["/webhooks/hubspot", "/webhooks/schematic", "/webhooks/salesforce"]),
    body=bodies,
    headers=st.dictionaries(header_names, header_values, max_size=5),
)
def test_a_fuzzed_webhook_gets_a_4xx_and_stores_nothing(served: Served, path: str, body: bytes,
                                                         headers: dict[str, str]) -> None:  # fmt: skip
    """Any body and headers without a valid signature: 4xx, no hint stored, never a 5xx."""
    answer = served.client.post(path, content=body, headers=headers)
    assert 400 <= answer.status_code < 500, (answer.status_code, answer.text[:200])
    assert served.stored() == 0
