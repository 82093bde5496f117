"""The API answers as its OpenAPI document says: Schemathesis generates requests from the
document the shop serves (valid ones and invalid ones) and runs every check on the answers."""

from __future__ import annotations

import schemathesis
from flask import Flask
from hypothesis import HealthCheck, settings
from schemathesis.checks import CHECKS, load_all_checks

from shop.api.openapi import openapi_document

load_all_checks()
# The WSGI transport hands back bytes as sent: ask for them uncompressed.
PLAIN = {"Accept-Encoding": "identity"}
schema = schemathesis.openapi.from_dict(openapi_document("http://127.0.0.1:5000/api/v1"))


@schema.parametrize()
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
def test_the_api_answers_as_its_openapi_document_says(
    case: schemathesis.Case, app: Flask, demo: None
) -> None:
    case.call_and_validate(app=app, checks=CHECKS.get_all(), headers=PLAIN)
