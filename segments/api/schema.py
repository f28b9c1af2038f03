"""The OpenAPI machinery (drf-spectacular): the schema class of every API view, the
generator that also documents ``HEAD`` count routes, the Bearer scheme, and the
postprocessing hooks that state what the request parsing enforces. What each operation
answers is documented in ``segments.api.operations``.
"""

from __future__ import annotations

import copy
from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.generators import EndpointEnumerator, SchemaGenerator
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework import serializers

from segments.api.fee_projection_serializers import FRAGMENT_SERIALIZERS
from segments.api.operations import entity_input_serializers
from segments.api.parsing import required_fields, writable_fields
from segments.benefit_kinds import PARAMETER_SCHEMAS

IDEMPOTENCY_KEY = OpenApiParameter(
    "Idempotency-Key",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    required=False,
    description="Makes this POST safe to retry for 24 hours: the same key with the same body "
    "answers the first response again (header `Idempotent-Replayed: true`) and creates "
    "nothing; the same key with another body answers 409 (9007). 1 to 255 characters.",
)
REQUEST_ID = OpenApiParameter(
    "X-Request-Id",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    response=True,
    required=True,
    description="The request's id (yours when you sent a sane one).",
)

# --------------------------------------------------------------------------- schema plumbing

PATH_UUIDS = {
    "organization_id": "Organization ID (UUID).",
    "ledger_id": "Ledger ID (UUID).",
    "segment_id": "Segment ID (UUID).",
    "id": "The entity's ID (UUID).",
}


class ApiAutoSchema(AutoSchema):
    """Path ids are UUIDs (a malformed one answers 400, 0065), every response carries
    ``X-Request-Id`` and every POST takes ``Idempotency-Key``."""

    def get_override_parameters(self) -> list:
        parameters = list(super().get_override_parameters())
        for name, description in PATH_UUIDS.items():
            if f"{{{name}}}" in self.path:
                parameters.append(
                    OpenApiParameter(
                        name, OpenApiTypes.UUID, OpenApiParameter.PATH, description=description
                    )
                )
        parameters.append(REQUEST_ID)
        if self.method == "POST":
            parameters.append(IDEMPOTENCY_KEY)
        return parameters


class ApiEndpointEnumerator(EndpointEnumerator):
    """Also documents ``HEAD`` where a route answers it on its own (the count routes)."""

    def get_allowed_methods(self, callback) -> list[str]:
        methods = super().get_allowed_methods(callback)
        actions = getattr(callback, "actions", None) or {}
        if "head" in actions and "get" not in actions:
            methods.append("HEAD")
        return methods


class ApiSchemaGenerator(SchemaGenerator):
    endpoint_inspector_cls = ApiEndpointEnumerator


class BearerTokenScheme(OpenApiAuthenticationExtension):
    target_class = "segments.api.authentication.BearerTokenAuthentication"
    name = "BearerAuth"

    def get_security_definition(self, auto_schema) -> dict[str, str]:
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "An API token: `Authorization: Bearer <token>`.",
        }


def _request_component(serializer_class: type[serializers.Serializer], *, patched: bool) -> str:
    """The component name drf-spectacular gives a request body (``COMPONENT_SPLIT_REQUEST``)."""
    name = serializer_class.__name__.removesuffix("Serializer")
    return f"{'Patched' if patched else ''}{name}Request"


def strict_request_bodies(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """Postprocessing hook: request bodies say what ``parsing.parse_body`` enforces.
    Any other key only as null (Midaz ignores a null key; anything else is 0053); an
    entity's create body lists the fields the services let a create set and requires the
    ones they require (0009), its update body only the changeable ones."""
    schemas = result.get("components", {}).get("schemas", {})
    for name, schema in schemas.items():
        if name.endswith("Request") and schema.get("type") == "object":
            schema["additionalProperties"] = {"nullable": True, "enum": [None]}
    creates = set()
    for serializer_class in entity_input_serializers():
        creates.add(f"#/components/schemas/{_request_component(serializer_class, patched=False)}")
        serializer = serializer_class()
        for patched in (False, True):
            schema = schemas.get(_request_component(serializer_class, patched=patched))
            if schema is None:
                continue
            writable = writable_fields(serializer, update=patched)
            schema["properties"] = {
                key: value for key, value in schema["properties"].items() if key in writable
            }
            if not patched:
                schema["required"] = sorted(required_fields(serializer))
    for operations in result.get("paths", {}).values():
        for operation in operations.values():
            body = operation.get("requestBody", {})
            references = {media["schema"].get("$ref") for media in body.get("content", {}).values()}
            if references & creates:
                body["required"] = True  # a create needs a body (its required fields, 0009)
    return result


def empty_query_values_are_absent(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """Postprocessing hook: an empty query parameter is read as an absent one
    (``?sort_order=`` sorts by default), as the list functions do."""
    for operations in result.get("paths", {}).values():
        for operation in operations.values():
            for parameter in operation.get("parameters", []):
                if parameter.get("in") == "query":
                    parameter["allowEmptyValue"] = True
    return result


def _kind_name(kind: str) -> str:
    return kind[:1].upper() + kind[1:]


def _as_openapi_30(schema: dict[str, Any]) -> dict[str, Any]:
    """A kind's parameters schema as OpenAPI 3.0 says it: no list of types (a value of
    several types is an ``anyOf``, one that may be null is ``nullable``)."""
    values = schema.get("additionalProperties")
    if not isinstance(values, dict) or not isinstance(values.get("type"), list):
        return schema
    variants = [
        {"type": kind, **({"maxLength": values["maxLength"]} if kind == "string" else {})}
        for kind in values["type"]
        if kind != "null"
    ]
    nullable = {"nullable": True} if "null" in values["type"] else {}
    return {**schema, "additionalProperties": {"anyOf": variants, **nullable}}


def benefits_by_kind(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """Postprocessing hook: a benefit's ``parameters`` are its kind's. The ``Benefit``
    body and the create body become a ``oneOf`` of one variant per kind (``kind`` fixed,
    ``parameters`` that kind's schema, ``benefit_kinds.PARAMETER_SCHEMAS``), discriminated
    by ``kind``; an update body's ``parameters`` are any kind's (the benefit's own). Each
    Midaz fee fragment's ``kind`` is its own (set here, after the enum hook, so that
    ``KindEnum`` keeps its name)."""
    schemas = result.get("components", {}).get("schemas", {})
    for kind, schema in PARAMETER_SCHEMAS.items():
        schemas[f"{_kind_name(kind)}Parameters"] = _as_openapi_30(schema)
    for name in ("Benefit", "BenefitInputRequest"):
        if name in schemas:
            _split_by_kind(schemas, name)
    patched = schemas.get("PatchedBenefitInputRequest")
    if patched is not None:
        patched["properties"]["parameters"] = {
            "anyOf": [{"$ref": _parameters_ref(kind)} for kind in PARAMETER_SCHEMAS],
            "description": "The parameters of the benefit's kind (its new one when `kind` "
            "changes too).",
        }
    for kind, serializer_class in FRAGMENT_SERIALIZERS.items():
        fragment = schemas.get(serializer_class.__name__.removesuffix("Serializer"))
        if fragment is not None:
            fragment["properties"]["kind"] = {"type": "string", "enum": [kind]}
    return result


def _parameters_ref(kind: str) -> str:
    return f"#/components/schemas/{_kind_name(kind)}Parameters"


def _split_by_kind(schemas: dict[str, Any], name: str) -> None:
    """``name`` as a ``oneOf`` of whole variants (no ``allOf``: a variant keeps the body's
    ``additionalProperties`` rule about its own properties)."""
    common = schemas.pop(name)
    mapping = {}
    for kind in PARAMETER_SCHEMAS:
        variant = copy.deepcopy(common)
        variant["properties"]["kind"] = {"type": "string", "enum": [kind]}
        variant["properties"]["parameters"] = {"$ref": _parameters_ref(kind)}
        variant["required"] = sorted({*variant.get("required", []), "kind"})
        variant_name = f"{_kind_name(kind)}{name}"
        schemas[variant_name] = variant
        mapping[kind] = f"#/components/schemas/{variant_name}"
    schemas[name] = {
        "oneOf": [{"$ref": ref} for ref in mapping.values()],
        "discriminator": {"propertyName": "kind", "mapping": mapping},
    }
