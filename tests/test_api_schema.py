"""A property-based run of the API's own OpenAPI schema against the live test server (schemathesis).

Every operation gets generated requests, valid and invalid: none may cause a server error, and every
response must match the schema (status code, content type, body).
"""
import json

import pytest
import schemathesis
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, settings as hypothesis_settings
from rest_framework.authtoken.models import Token
from schemathesis.specs.openapi.checks import (content_type_conformance, response_schema_conformance,
                                               status_code_conformance)
from schemathesis.checks import not_a_server_error

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.fixture
def token(django_user_model):
    user = django_user_model.objects.create_superuser("schemathesis", "svc@example.com", "unused-password-1")
    return Token.objects.create(user=user).key


# The schema the server serves at /api/schema/ (the same generator), read when the tests are collected;
# schemathesis's lazy loader does not run under pytest 9.
schema = schemathesis.openapi.from_dict(json.loads(json.dumps(SchemaGenerator().get_schema(request=None, public=True))))


@schema.parametrize()
@hypothesis_settings(max_examples=100, deadline=None, derandomize=True,
                     suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                                            HealthCheck.filter_too_much, HealthCheck.data_too_large])
def test_the_api_keeps_to_its_schema_and_never_fails_on_bad_input(case, live_server, transactional_db, token):
    response = case.call(base_url=live_server.url, headers={"Authorization": f"Token {token}"})
    case.validate_response(response, checks=CHECKS)
