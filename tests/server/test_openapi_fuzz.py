"""Fuzzing: schemathesis generates requests from the OpenAPI document against the real app.

No operation answers 5xx; every response matches its documented schema, status and content
type (errors are problem documents). The streaming endpoints never end: they are left out.
Requests the schema allows but a rule spanning fields refuses (422) are not failures.

Generation is derandomized, so every run sends the same requests: ``EXAMPLES`` per operation
(10, about 1,300 requests over the API) keeps the suite's budget; set
``RELIANT_FUZZ_EXAMPLES`` to fuzz deeper locally.
"""

from __future__ import annotations

import os

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from schemathesis import APIOperation, Case
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    positive_data_acceptance,
    response_schema_conformance,
    status_code_conformance,
)
from server_helpers import ADMIN

#: Paths whose responses never end (Server-Sent Events).
STREAMS = r".*/stream$"
#: Generated requests per operation (``RELIANT_FUZZ_EXAMPLES`` overrides it).
EXAMPLES = int(os.environ.get("RELIANT_FUZZ_EXAMPLES", "10"))

#: The shape of HTTP answers is under test, not the store: one store (tests/server/conftest.py).
pytestmark = pytest.mark.store_agnostic


def fuzz(operation: APIOperation) -> None:
    """Run EXAMPLES generated requests against one operation, validating each response."""

    @given(case=operation.as_strategy())
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def run(case: Case) -> None:
        case.call_and_validate(
            headers={"Authorization": f"Bearer {ADMIN}"},
            additional_checks=[
                response_schema_conformance,
                content_type_conformance,
                status_code_conformance,
            ],
            # Rules that span fields (an ingest-only option on another role, a hard
            # dependency blocking a delete) rightly refuse some schema-valid requests.
            excluded_checks=[positive_data_acceptance],
        )

    run()


def test_api_answers_every_generated_request(app: FastAPI) -> None:
    """Every operation, fed generated valid and invalid requests, answers as documented."""
    schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", app)
    operations = [result.ok() for result in schema.exclude(path_regex=STREAMS).get_all_operations()]
    assert len(operations) > 10
    failures = []
    for operation in operations:
        try:
            fuzz(operation)
        except (Exception, BaseExceptionGroup) as exc:  # collect every operation's failure
            failures.append(f"{operation.label}: {str(exc)[:600]}")
    assert [] == failures
