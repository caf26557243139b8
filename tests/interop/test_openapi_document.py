"""The API document Ström serves is valid OpenAPI 3.0, as a validator we did not write reads
the specification (openapi-spec-validator, pinned in requirements.txt): a client generator can
trust it."""

from openapi_spec_validator import validate
from openapi_spec_validator.validation.exceptions import OpenAPIValidationError
import pytest


def test_the_api_document_is_valid_openapi_3_0(strom):
    document = strom.get("/api/v1/openapi.json")
    assert document["openapi"].startswith("3.0.")
    validate(document)


def test_the_validator_refuses_what_the_document_once_had(strom):
    """The check is not empty: an empty `required`, as the document once had, is refused."""
    document = strom.get("/api/v1/openapi.json")
    document["components"]["schemas"]["Error"]["required"] = []
    with pytest.raises(OpenAPIValidationError):
        validate(document)
