"""schemathesis over ``/api/openapi.json``: generated requests to every operation, as an
Administrator (Basic): no 5xx, every status documented, every answer as its schema says.

The documented examples first (they reach the 2xx answers), then a few generated
requests per operation (about 15 s in all on two cores).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from api_env import ApiEnv, basic_header
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

EXAMPLES = 4
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance]


@pytest.fixture
def schema_env(tmp_path: Path) -> Iterator[ApiEnv]:
    api = ApiEnv.create(tmp_path)
    yield api
    api.close()


def test_generated_requests_get_documented_answers(schema_env: ApiEnv) -> None:
    schema = schemathesis.openapi.from_asgi("/api/openapi.json", schema_env.app)
    headers = {**basic_header("root"), "Origin": "http://testserver"}
    failures: list[str] = []
    count = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        count += 1
        strategies = [*operation.get_strategies_from_examples(), operation.as_strategy()]
        for number, strategy in enumerate(strategies):
            last = number == len(strategies) - 1

            @given(case=strategy)
            @settings(max_examples=EXAMPLES if last else 1, deadline=None, database=None,
                      derandomize=True, phases=[Phase.explicit, Phase.generate],
                      suppress_health_check=list(HealthCheck))
            def check(case: schemathesis.Case) -> None:
                case.call_and_validate(headers=headers, checks=CHECKS)

            try:
                check()
            except Exception as exc:  # collect every operation's failure, report them all
                failures.append(f"{operation.label}: {str(exc)[:1500]}")
    assert count >= 60
    assert not failures, "\n\n".join(failures)
