"""Property-based fuzzing of the whole API from its own OpenAPI schema (schemathesis).

Every operation is called with generated valid and invalid input, in-process through Django's WSGI
handler, as a command-center supervisor (who may call every endpoint). Checks: never a 5xx, and
every status code, content type, header and body is the one the schema documents. Bounded with
FUZZ_MAX_EXAMPLES (default 5 per operation, plus schemathesis' boundary-value coverage cases) so the
file runs in one to two minutes.
"""

from __future__ import annotations

import json
import os

import pytest
import schemathesis
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiJsonRenderer
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from dispatch.models import Agency, Role
from semarang112.api import services as api_services
from tests.factories import (
    AgencyFactory,
    CategoryFactory,
    DistrictFactory,
    MembershipFactory,
    create_incident,
    default_region,
)

MAX_EXAMPLES = int(os.environ.get("FUZZ_MAX_EXAMPLES", "5"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


@pytest.fixture
def _in_test_transaction():
    """Keep the WSGI handler from closing the test's connection (as Django's test client does)."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def auth_header(db) -> dict[str, str]:
    """A command-center supervisor and a little reference data (the full seed costs ~1 s per test)."""
    region = default_region()
    command_center = AgencyFactory(code="cc112", kind=Agency.Kind.COMMAND_CENTER, region=region)
    AgencyFactory(code="damkar")
    AgencyFactory(code="dinkes-psc")
    fire = CategoryFactory(code="fire")
    CategoryFactory(code="flood")
    district = DistrictFactory(region=region)
    supervisor = MembershipFactory(agency=command_center, role=Role.SUPERVISOR).user
    for _ in range(2):  # something to find, so small ids hit real rows now and then
        create_incident(actor=supervisor, category=fire, district=district)
    _token, raw = api_services.staff_token_create(user=supervisor, name="fuzz")
    return {"Authorization": f"Token {raw}"}


@pytest.fixture(autouse=True)
def _no_throttling(settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"client": "100000/min", "user": "100000/min", "anon": "100000/min"},
    }


# The schema is generated in-process (no server, no database needed) from the API's own URLs and
# read back from its JSON rendering, exactly as a client downloads it from /api/v1/schema/.
_document = SchemaGenerator(urlconf="tests.api.urls").get_schema(request=None, public=True)
schema = schemathesis.openapi.from_dict(json.loads(OpenApiJsonRenderer().render(_document)))
schema.app = WSGIHandler()
# Undocumented methods are probed with two of them (405 problem responses), not all eight.
schema.config.phases.coverage.unexpected_methods = {"put", "delete"}


@pytest.mark.usefixtures("_in_test_transaction")
@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
def test_api_conforms_to_its_schema(case, auth_header):
    case.call_and_validate(headers=auth_header, checks=CHECKS)
