"""The JSON shapes of the API, in camelCase as Midaz names them.

Output serializers render entities. Input serializers only parse: they know each field's
type and the model field it sets, and nothing about what values are allowed — lengths,
patterns, required fields, references and every other rule are checked by the services,
which raise the domain errors that the API shows.

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
from typing import Any, ClassVar

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from segments import errors, services
from segments.api.problems import invalid_field_error
from segments.models import (
    Account,
    Entity,
    HistoryAction,
    Ledger,
    Organization,
    Portfolio,
    Segment,
    Status,
)
from segments.services import BULK_MEMBERS_MAX

# --------------------------------------------------------------------------- output


class StatusSerializer(serializers.Serializer):
    code = serializers.ChoiceField(choices=Status.values, source="status_code")
    description = serializers.CharField(source="status_description", allow_null=True)


@extend_schema_field(
    {
        "type": "object",
        "additionalProperties": {"nullable": True},
        "maxProperties": 100,
        "description": "Flat key/value metadata: at most 100 keys of at most 100 characters; "
        "values are strings, numbers, booleans or null of at most 2000 characters as text "
        "(no objects or arrays).",
    }
)
class MetadataField(serializers.Field):
    """A flat JSON object; ``null`` only in updates, where it removes every key."""

    default_error_messages = {"invalid": "Must be a JSON object."}

    def to_representation(self, value: Any) -> dict:
        return dict(value or {})

    def to_internal_value(self, data: Any) -> dict:
        if not isinstance(data, dict):
            self.fail("invalid")
        return data


class TextOrEmptyField(serializers.CharField):
    """Text that Midaz always sends: an unset value is rendered as ``""``."""

    def get_attribute(self, instance: Any) -> str:
        value = super().get_attribute(instance)
        return "" if value is None else value


class AddressSerializer(serializers.Serializer):
    """An organization's address: the parts that are set, and `line2` always (null when
    unset, as Midaz types it). An unset or empty part is left out, never sent as `""`:
    Midaz's schema refuses an empty `country` (two letters) and has no null for it."""

    # Output only; not read_only, so that the OpenAPI document marks them optional.
    line1 = serializers.CharField(required=False)
    line2 = serializers.CharField(read_only=True, default=None, allow_null=True)
    zipCode = serializers.CharField(required=False)
    city = serializers.CharField(required=False)
    state = serializers.CharField(required=False)
    country = serializers.CharField(required=False)

    def to_representation(self, address: Any) -> dict[str, Any]:
        shown: dict[str, Any] = {}
        for name, value in super().to_representation(address).items():
            if name == "line2":
                shown[name] = value or None
            elif value not in (None, ""):
                shown[name] = value
        return shown


class EntitySerializer(serializers.Serializer):
    id = serializers.UUIDField()
    status = StatusSerializer(source="*")
    metadata = MetadataField()
    createdAt = serializers.DateTimeField(source="created_at")
    updatedAt = serializers.DateTimeField(source="updated_at")
    deletedAt = serializers.DateTimeField(source="deleted_at", allow_null=True)


class OrganizationSerializer(EntitySerializer):
    parentOrganizationId = serializers.UUIDField(source="parent_organization_id", allow_null=True)
    legalName = serializers.CharField(source="legal_name")
    doingBusinessAs = serializers.CharField(source="doing_business_as", allow_null=True)
    legalDocument = serializers.CharField(source="legal_document")
    address = AddressSerializer()


class LedgerSerializer(EntitySerializer):
    organizationId = serializers.UUIDField(source="organization_id")
    name = serializers.CharField()


class SegmentSerializer(EntitySerializer):
    """A segment and its direct members' counts. `ledgerId` is null for an
    organization-level segment."""

    organizationId = serializers.UUIDField(source="organization_id")
    ledgerId = serializers.UUIDField(source="ledger_id", allow_null=True)
    name = serializers.CharField()
    description = serializers.CharField(allow_null=True)
    accountCount = serializers.IntegerField(source="account_count")
    portfolioCount = serializers.IntegerField(source="portfolio_count")


class PortfolioSerializer(EntitySerializer):
    """A portfolio. `entityId` is left out when unset, as Midaz does."""

    organizationId = serializers.UUIDField(source="organization_id")
    ledgerId = serializers.UUIDField(source="ledger_id")
    name = serializers.CharField()
    entityId = serializers.CharField(source="entity_id", required=False)
    segmentId = serializers.UUIDField(source="segment_id", allow_null=True)

    def to_representation(self, instance: Portfolio) -> dict[str, Any]:
        data = super().to_representation(instance)
        if data.get("entityId") is None:
            data.pop("entityId", None)
        return data


class AccountSerializer(EntitySerializer):
    """An account. `holderId` (null) and `holderCheckSkipped` (false) are Midaz v4 fields
    that this service does not use."""

    organizationId = serializers.UUIDField(source="organization_id")
    ledgerId = serializers.UUIDField(source="ledger_id")
    name = TextOrEmptyField()
    type = serializers.CharField()
    assetCode = serializers.CharField(source="asset_code")
    alias = serializers.CharField(allow_null=True)
    entityId = serializers.CharField(source="entity_id", allow_null=True)
    parentAccountId = serializers.UUIDField(source="parent_account_id", allow_null=True)
    portfolioId = serializers.UUIDField(source="portfolio_id", allow_null=True)
    segmentId = serializers.UUIDField(source="segment_id", allow_null=True)
    blocked = serializers.BooleanField()
    holderId = serializers.SerializerMethodField()
    holderCheckSkipped = serializers.SerializerMethodField()

    @extend_schema_field({"type": "string", "format": "uuid", "nullable": True})
    def get_holderId(self, account: Account) -> None:
        return None

    def get_holderCheckSkipped(self, account: Account) -> bool:
        return False


class HistoryEntrySerializer(serializers.Serializer):
    """One change to a segment or its membership: who, when, what (before → after)."""

    id = serializers.UUIDField()
    segmentId = serializers.UUIDField(source="segment_id")
    action = serializers.ChoiceField(choices=HistoryAction.values)
    actor = serializers.CharField(source="actor_name")
    before = serializers.JSONField(allow_null=True)
    after = serializers.JSONField(allow_null=True)
    createdAt = serializers.DateTimeField(source="created_at")


class MembersAssignedSerializer(serializers.Serializer):
    assigned = serializers.IntegerField(help_text="Accounts plus portfolios now in the segment.")
    accounts = serializers.IntegerField()
    portfolios = serializers.IntegerField()


class MembersRemovedSerializer(serializers.Serializer):
    removed = serializers.IntegerField(help_text="Accounts plus portfolios taken out.")
    accounts = serializers.IntegerField()
    portfolios = serializers.IntegerField()


# --------------------------------------------------------------------------- input


class StrictCharField(serializers.CharField):
    """Text only (a number is not text); blank and null pass to the services, which decide."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        kwargs.setdefault("allow_null", True)
        kwargs.setdefault("allow_blank", True)
        kwargs.setdefault("trim_whitespace", False)
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return data


class StrictBooleanField(serializers.BooleanField):
    """``true`` or ``false`` only (not ``"yes"`` nor ``1``)."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        kwargs.setdefault("allow_null", True)
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> bool:
        if not isinstance(data, bool):
            self.fail("invalid")
        return data


class TextUUIDField(serializers.UUIDField):
    """A UUID given as text. DRF would also take an integer (and so ``true``/``false``) as a
    UUID; a client sending one has a bug, so it is refused (0047)."""

    def to_internal_value(self, data: Any):
        if not isinstance(data, str):
            self.fail("invalid", value=data)
        return super().to_internal_value(data)


def _uuid(source: str, **kwargs: Any) -> serializers.UUIDField:
    return TextUUIDField(source=source, required=False, allow_null=True, **kwargs)


def _text(model: type[Entity], model_field: str) -> StrictCharField:
    """A text field setting ``model_field`` (its API name is the camelCase of it),
    documented with the model's length limit (the model enforces it)."""
    limit = model._meta.get_field(model_field).max_length
    source = {"source": model_field} if "_" in model_field else {}
    return StrictCharField(help_text=f"At most {limit} characters.", **source)


class StatusInputSerializer(serializers.Serializer):
    code = serializers.ChoiceField(
        choices=Status.values, source="status_code", required=False, allow_null=True
    )
    description = StrictCharField(source="status_description")


class EntityInputSerializer(serializers.Serializer):
    """A create or update body. Fields not listed here, read-only ones (ids, timestamps)
    and, on update, fields that never change are refused (400, 0053)."""

    # Which fields a create or an update may set, and which a create needs, come from the
    # services (CREATE_FIELDS, UPDATE_FIELDS, REQUIRED_FIELDS) for this model.
    entity_model: ClassVar[type[Entity]]
    status = StatusInputSerializer(source="*", required=False)
    metadata = MetadataField(required=False, allow_null=True)


class AddressInputSerializer(serializers.Serializer):
    line1 = StrictCharField()
    line2 = StrictCharField()
    zipCode = StrictCharField()
    city = StrictCharField()
    state = StrictCharField()
    country = StrictCharField(help_text="ISO 3166-1 alpha-2, e.g. BR.")


class OrganizationInputSerializer(EntityInputSerializer):
    entity_model = Organization

    legalName = _text(Organization, "legal_name")
    legalDocument = _text(Organization, "legal_document")
    doingBusinessAs = _text(Organization, "doing_business_as")
    parentOrganizationId = _uuid("parent_organization_id")
    address = AddressInputSerializer(required=False, allow_null=True)


class LedgerInputSerializer(EntityInputSerializer):
    entity_model = Ledger

    name = _text(Ledger, "name")


class SegmentInputSerializer(EntityInputSerializer):
    entity_model = Segment

    name = _text(Segment, "name")
    description = _text(Segment, "description")


class PortfolioInputSerializer(EntityInputSerializer):
    entity_model = Portfolio

    name = _text(Portfolio, "name")
    entityId = _text(Portfolio, "entity_id")
    segmentId = _uuid("segment_id")


class AccountInputSerializer(EntityInputSerializer):
    entity_model = Account
    name = _text(Account, "name")
    type = _text(Account, "type")
    assetCode = _text(Account, "asset_code")
    alias = _text(Account, "alias")
    entityId = _text(Account, "entity_id")
    parentAccountId = _uuid("parent_account_id")
    portfolioId = _uuid("portfolio_id")
    segmentId = _uuid("segment_id")
    blocked = StrictBooleanField()


class MembersInputSerializer(serializers.Serializer):
    """Accounts and portfolios to put into (or take out of) a segment, by id."""

    accountIds = serializers.ListField(
        child=TextUUIDField(),
        required=False,
        max_length=BULK_MEMBERS_MAX,
        help_text="At most 10,000 ids in accountIds and portfolioIds together.",
    )
    portfolioIds = serializers.ListField(
        child=TextUUIDField(),
        required=False,
        max_length=BULK_MEMBERS_MAX,
        help_text="At most 10,000 ids in accountIds and portfolioIds together.",
    )


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
    """The JSON type an input field takes (None: any)."""
    if isinstance(field, serializers.Serializer | MetadataField):
        return "object"
    if isinstance(field, serializers.ListField):
        return "array"
    if isinstance(field, serializers.BooleanField):
        return "boolean"
    if isinstance(field, serializers.CharField | serializers.UUIDField | serializers.ChoiceField):
        return "string"
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
