"""The JSON shapes of the API, in camelCase as Midaz names them.

Output serializers render entities. Input serializers only parse: they know each field's
type and the model field it sets, and nothing about what values are allowed — lengths,
patterns, required fields, references and every other rule are checked by the services,
which raise the domain errors that the API shows. ``segments.api.parsing`` turns a body
into a service's keyword arguments with them.
"""

from __future__ import annotations

from typing import Any, ClassVar

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from segments.models import (
    Account,
    AssignedBy,
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


def assigned_by_field() -> serializers.ChoiceField:
    return serializers.ChoiceField(
        source="segment_assigned_by",
        choices=AssignedBy.values,
        allow_null=True,
        read_only=True,
        help_text="`manual` (pinned: no rule moves it), `rule`, or null without a segment.",
    )


class PortfolioSerializer(EntitySerializer):
    """A portfolio. `entityId` is left out when unset, as Midaz does."""

    organizationId = serializers.UUIDField(source="organization_id")
    ledgerId = serializers.UUIDField(source="ledger_id")
    name = serializers.CharField()
    entityId = serializers.CharField(source="entity_id", required=False)
    segmentId = serializers.UUIDField(source="segment_id", allow_null=True)
    segmentAssignedBy = assigned_by_field()

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
    segmentAssignedBy = assigned_by_field()
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


class OnlyJSONTypeMixin:
    """A field that takes only values of ``json_types`` (DRF would coerce others: ``1`` to
    ``"1"``, ``"yes"`` to ``True``); optional, and null passes to the services, which
    decide."""

    json_types: tuple[type, ...]

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        kwargs.setdefault("allow_null", True)
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> Any:
        if not isinstance(data, self.json_types):
            self.fail("invalid")
        return data


class StrictCharField(OnlyJSONTypeMixin, serializers.CharField):
    """Text only (a number is not text); blank passes to the services too."""

    json_types = (str,)

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("allow_blank", True)
        kwargs.setdefault("trim_whitespace", False)
        super().__init__(**kwargs)


class StrictBooleanField(OnlyJSONTypeMixin, serializers.BooleanField):
    """``true`` or ``false`` only (not ``"yes"`` nor ``1``)."""

    json_types = (bool,)


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
