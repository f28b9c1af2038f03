"""Request bodies to service arguments, with the input serializers of
``segments.api.serializers``.

``parse_body`` turns a request body into the keyword arguments of a service function:

- a field that the entity does not have, or that is read-only (ids, timestamps, counts),
  or that an update may not change → 0053 naming it; but a key sent as ``null`` that the
  body may not set (unknown, a Midaz field this service does not implement such as an
  account's ``holderId``, read-only, fixed after create) is ignored: Midaz never counts a
  null key as unexpected (issue #11 item 6);
- a value of the wrong JSON type (a number for a text, a text for a boolean or an object,
  an array for metadata) → 0094, naming the field and the expected type, as Midaz answers
  a body it cannot decode (issue #11 item 4); ``null`` is never a wrong type here (what
  it means is the services' to say);
- a value of the right type that breaks a rule of its field (a malformed UUID, an
  unknown status code) → 0047 with ``errors``/``fields``;
- ``status`` is split into ``status_code`` / ``status_description``; a status without a
  ``code`` keeps (or defaults) the code.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rest_framework import serializers

from segments import errors, services
from segments.api.problems import invalid_field_error
from segments.api.serializers import MetadataField

# --------------------------------------------------------------------------- parsing

UNEXPECTED = "unexpected field"
READ_ONLY = "read-only field"
IMMUTABLE = "cannot be changed"


def _service_names(field: serializers.Field) -> set[str]:
    """The model fields that an input field sets."""
    if field.source == "*" and isinstance(field, serializers.Serializer):
        return {name for child in field.fields.values() for name in _service_names(child)}
    return {field.source}


def writable_fields(serializer: serializers.Serializer, *, update: bool = False) -> set[str]:
    """The input fields that a create (or an update) may set, as the services define them."""
    model = getattr(serializer, "entity_model", None)
    if model is None:
        return set(serializer.fields)
    allowed = (services.UPDATE_FIELDS if update else services.CREATE_FIELDS)[model]
    return {name for name, field in serializer.fields.items() if _service_names(field) <= allowed}


def required_fields(serializer: serializers.Serializer) -> set[str]:
    """The input fields that a create must have (else 0009), as the services define them."""
    model = getattr(serializer, "entity_model", None)
    if model is None:
        return set()
    required = set(services.REQUIRED_FIELDS[model])
    return {name for name, field in serializer.fields.items() if field.source in required}


def _refuse_unexpected(
    data: Mapping[str, Any],
    serializer: serializers.Serializer,
    writable: set[str],
    read_only: set[str],
    entity_type: str | None,
) -> None:
    """0053 for each key that this body may not set. Midaz never counts a key whose value
    is ``null`` as unexpected: a null for a key that is not writable here (unknown, a
    Midaz field we do not implement, read-only, or fixed after create) asks nothing and is
    ignored; a null for a writable field keeps its meaning (clear it, or 0009/0047)."""
    problems: dict[str, str] = {}
    values: dict[str, Any] = {}
    for name, value in data.items():
        if value is None and name not in writable:
            continue
        if name in read_only:
            problems[name] = READ_ONLY
        elif name not in serializer.fields:
            problems[name] = UNEXPECTED
        elif name not in writable:
            problems[name] = IMMUTABLE
        else:
            nested = serializer.fields[name]
            if isinstance(nested, serializers.Serializer) and isinstance(value, Mapping):
                for key in value:
                    if key not in nested.fields and value[key] is not None:
                        problems[f"{name}.{key}"] = UNEXPECTED
                        values[f"{name}.{key}"] = value[key]
            continue
        values[name] = value
    if problems:
        raise errors.UnexpectedFields(entity_type=entity_type, fields=problems, values=values)


def json_type_of(value: Any) -> str:
    """The JSON type name of a parsed JSON value."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def expected_json_type(field: serializers.Field) -> str | None:
    """The JSON type an input field takes (None: any); a field may say it (``json_type``)."""
    if getattr(field, "json_type", None):
        return field.json_type
    if isinstance(field, serializers.Serializer | MetadataField):
        return "object"
    if isinstance(field, serializers.ListField):
        return "array"
    if isinstance(field, serializers.BooleanField):
        return "boolean"
    if isinstance(
        field,
        serializers.CharField
        | serializers.UUIDField
        | serializers.ChoiceField
        | serializers.DateTimeField,
    ):
        return "string"
    if isinstance(field, serializers.IntegerField):
        return "number"
    return None


def _wrong_types(data: Any, field: serializers.Field, path: str) -> dict[str, str]:
    """``{path: "expected string, got number"}`` for every value in ``data`` (the value of
    ``field`` at ``path``) whose JSON type the field does not take; null passes."""
    expected = expected_json_type(field)
    if data is None or expected is None:
        return {}
    got = json_type_of(data)
    if got != expected:
        return {path or "body": f"expected {expected}, got {got}"}
    problems: dict[str, str] = {}
    if isinstance(field, serializers.Serializer):
        for name, child in field.fields.items():
            if name in data:
                problems |= _wrong_types(data[name], child, f"{path}.{name}" if path else name)
    elif isinstance(field, serializers.ListField):
        for index, item in enumerate(data):
            problems |= _wrong_types(item, field.child, f"{path}[{index}]")
    return problems


def _refuse_wrong_types(
    data: Mapping[str, Any], serializer: serializers.Serializer, entity_type: str | None
) -> None:
    problems = _wrong_types(data, serializer, "")
    if problems:
        described = "; ".join(f"{name}: {message}" for name, message in problems.items())
        values = {name: data[name] for name in problems if name in data}
        raise errors.InvalidJSON(
            f"Fields of the wrong JSON type: {described}.",
            entity_type=entity_type,
            fields=problems,
            values=values,
        )


def parse_body(
    serializer_class: type[serializers.Serializer],
    data: Any,
    *,
    update: bool = False,
    output_class: type[serializers.Serializer] | None = None,
) -> dict[str, Any]:
    """The service keyword arguments that a request body asks for (see the module doc).
    The fields of ``output_class`` that cannot be written are reported as read-only."""
    model = getattr(serializer_class, "entity_model", None)
    entity_type = model.entity_type if model else None
    if not isinstance(data, Mapping):
        raise errors.InvalidJSON(
            "The request body must be a JSON object.",
            entity_type=entity_type,
            fields={"body": f"expected object, got {json_type_of(data)}"},
        )
    serializer = serializer_class(data=data)
    read_only = set(output_class().fields) - set(serializer.fields) if output_class else set()
    writable = writable_fields(serializer, update=update)
    _refuse_unexpected(data, serializer, writable, read_only, entity_type)
    if any(value is None and name not in writable for name, value in data.items()):
        data = {
            name: value for name, value in data.items() if value is not None or name in writable
        }
        serializer = serializer_class(data=data)
    _refuse_wrong_types(data, serializer, entity_type)
    if not serializer.is_valid():
        raise invalid_field_error(serializer.errors, entity_type=entity_type, values=data)
    fields = dict(serializer.validated_data)
    if "status_code" in fields and fields["status_code"] is None:
        del fields["status_code"]
    if "address" in fields and fields["address"] is None:
        fields["address"] = {}
    return fields
