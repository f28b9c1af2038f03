"""Validating and saving one entity, shared by every aggregate's services: which fields a
call may set and must give, the models' field rules as domain errors, uniqueness
constraints as domain errors, versions (``If-Match``) and the update tail.

Field names are the models' (``segment_id``, ``status_code`` …); ``changes`` in the
update functions holds only the fields to change. ``metadata`` in ``changes`` is a
JSON Merge Patch: a key set to ``None`` is removed, absent keys are kept, and
``metadata=None`` removes every key.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from segments import errors
from segments.models import Account, Benefit, Entity, Ledger, Organization, Portfolio, Segment
from segments.validators import (
    METADATA_KEY_TOO_LONG,
    METADATA_NESTED,
    METADATA_TOO_MANY_KEYS,
    METADATA_VALUE_TOO_LONG,
    normalize_name,
)

COMMON_FIELDS = {"status_code", "status_description", "metadata"}
BENEFIT_FIELDS = {
    "name",
    "description",
    "kind",
    "parameters",
    "valid_from",
    "valid_until",
    "priority",
    "exclusivity_group",
}
CREATE_FIELDS: dict[type[Entity], set[str]] = {
    Organization: COMMON_FIELDS
    | {"legal_name", "legal_document", "doing_business_as", "parent_organization_id", "address"},
    Ledger: COMMON_FIELDS | {"name"},
    Segment: COMMON_FIELDS | {"name", "description"},
    Portfolio: COMMON_FIELDS | {"name", "entity_id", "segment_id"},
    Account: COMMON_FIELDS
    | {
        "name",
        "type",
        "asset_code",
        "alias",
        "entity_id",
        "parent_account_id",
        "portfolio_id",
        "segment_id",
        "blocked",
    },
    Benefit: COMMON_FIELDS | BENEFIT_FIELDS,
}
UPDATE_FIELDS: dict[type[Entity], set[str]] = {
    Organization: COMMON_FIELDS
    | {"legal_name", "doing_business_as", "parent_organization_id", "address"},
    Ledger: COMMON_FIELDS | {"name"},
    Segment: COMMON_FIELDS | {"name", "description"},
    Portfolio: COMMON_FIELDS | {"name", "entity_id", "segment_id"},
    Account: COMMON_FIELDS | {"name", "entity_id", "portfolio_id", "segment_id", "blocked"},
    Benefit: COMMON_FIELDS | BENEFIT_FIELDS,
}
REQUIRED_FIELDS: dict[type[Entity], tuple[str, ...]] = {
    Organization: ("legal_name", "legal_document"),
    Ledger: ("name",),
    Segment: ("name",),
    Portfolio: ("name",),
    Account: ("type", "asset_code"),
    Benefit: ("name", "kind"),
}
NAME_FIELDS: dict[type[Entity], tuple[str, ...]] = {
    Organization: ("legal_name", "doing_business_as"),
    Ledger: ("name",),
    Segment: ("name",),
    Portfolio: ("name",),
    Account: ("name",),
    Benefit: ("name",),
}
CONSTRAINT_ERRORS: dict[str, tuple[type[errors.DomainError], str]] = {
    "ledger_name_unique_per_organization": (
        errors.LedgerNameConflict,
        "A ledger with this name already exists in this organization.",
    ),
    "segment_name_unique_per_ledger": (
        errors.DuplicateSegmentName,
        "A segment with this name already exists in this ledger.",
    ),
    "segment_name_unique_per_organization": (
        errors.DuplicateSegmentName,
        "A segment with this name already exists in this organization.",
    ),
    "account_alias_unique_per_ledger": (
        errors.DuplicateAlias,
        "An account with this alias already exists in this ledger.",
    ),
    "benefit_name_unique_per_segment": (
        errors.DuplicateBenefitName,
        "A benefit with this name already exists in this segment.",
    ),
    "segment_rule_priority_unique_per_organization": (
        errors.DuplicateRulePriority,
        "Another dynamic segment of this organization has this priority.",
    ),
}


def entity_etag(obj: Entity) -> str:
    """A strong validator of an entity's current version (changes with every update)."""
    digest = hashlib.sha256(f"{obj.pk}:{obj.updated_at.isoformat()}".encode()).hexdigest()
    return f'"{digest[:32]}"'


def check_if_match(obj: Entity, if_match: str | None) -> None:
    """A change made with ``If-Match`` applies only to the version the caller read."""
    if if_match is None:
        return
    accepted = {tag.strip() for tag in if_match.split(",")}
    if "*" not in accepted and entity_etag(obj) not in accepted:
        raise errors.PreconditionFailed(entity_type=obj.entity_type)


def refuse_unknown(model: type[Entity], given: Iterable[str], allowed: set[str]) -> None:
    unknown = sorted(set(given) - allowed)
    if unknown:
        raise errors.UnexpectedFields(
            f"These fields cannot be set here: {', '.join(unknown)}.",
            entity_type=model.entity_type,
            fields={name: "unexpected or read-only field" for name in unknown},
        )


def refuse_unknown_changes(model: type[Entity], changes: Iterable[str]) -> None:
    """An update changes only its model's ``UPDATE_FIELDS`` (0053 otherwise)."""
    refuse_unknown(model, changes, UPDATE_FIELDS[model])


def require(model: type[Entity], fields: Mapping[str, Any]) -> None:
    missing = [
        name
        for name in REQUIRED_FIELDS[model]
        if fields.get(name) is None or (isinstance(fields[name], str) and not fields[name].strip())
    ]
    if missing:
        raise errors.MissingFields.naming(missing, entity_type=model.entity_type)


def validate(obj: Entity) -> None:
    """Field rules of the model (lengths, choices, patterns, metadata), as domain errors.
    Names (``NAME_FIELDS``) are normalised first (``validators.normalize_name``: trimmed,
    NFC, no zero-width or bidi-control characters), so a name's uniqueness is checked on
    the text a reader sees."""
    for field in NAME_FIELDS.get(type(obj), ()):
        value = getattr(obj, field)
        if isinstance(value, str):
            setattr(obj, field, normalize_name(value))
    try:
        obj.full_clean(
            exclude=["organization", "ledger", "segment", "portfolio", "parent_account"],
            validate_unique=False,
            validate_constraints=False,
        )
    except ValidationError as exc:
        raise _domain_error_from(obj, exc) from None


def _domain_error_from(obj: Entity, exc: ValidationError) -> errors.DomainError:
    problems = exc.message_dict if hasattr(exc, "error_dict") else {"__all__": exc.messages}
    codes = {
        field: [error.code for error in field_errors]
        for field, field_errors in getattr(exc, "error_dict", {}).items()
    }
    metadata_codes = codes.get("metadata", [])
    message = "; ".join(f"{field}: {' '.join(msgs)}" for field, msgs in problems.items())
    fields = {field: " ".join(msgs) for field, msgs in problems.items()}
    for code, error_class in (
        (METADATA_NESTED, errors.NestedMetadata),
        (METADATA_KEY_TOO_LONG, errors.MetadataKeyTooLong),
        (METADATA_VALUE_TOO_LONG, errors.MetadataValueTooLong),
    ):
        if code in metadata_codes:
            return error_class(fields["metadata"], entity_type=obj.entity_type, fields=fields)
    if any(
        code in ("blank", "null", "required")
        for field_codes in codes.values()
        for code in field_codes
    ):
        missing = [
            field
            for field, field_codes in codes.items()
            if set(field_codes) & {"blank", "null", "required"}
        ]
        return errors.MissingFields.naming(missing, entity_type=obj.entity_type)
    if METADATA_TOO_MANY_KEYS in metadata_codes:
        return errors.InvalidField(fields["metadata"], entity_type=obj.entity_type, fields=fields)
    return errors.InvalidField(message, entity_type=obj.entity_type, fields=fields)


def save(obj: Entity, *, create: bool) -> None:
    """Save, turning a violated uniqueness constraint into its domain error."""
    try:
        with transaction.atomic():
            obj.save(force_insert=create)
    except IntegrityError as exc:
        text = str(exc)
        cause = getattr(exc, "__cause__", None)
        constraint = getattr(getattr(cause, "diag", None), "constraint_name", None) or ""
        # SQLite names the columns of a plain unique index rather than the constraint.
        if not constraint and "segments_account.alias" in text:
            constraint = "account_alias_unique_per_ledger"
        for name, (error_class, message) in CONSTRAINT_ERRORS.items():
            if name == constraint or name in text:
                field = "alias" if error_class is errors.DuplicateAlias else "name"
                raise error_class(
                    message, entity_type=obj.entity_type, fields={field: message}
                ) from None
        raise


def merge_metadata(current: dict | None, patch: Mapping[str, Any] | None) -> dict:
    """JSON Merge Patch of flat metadata: ``None`` as a value removes that key."""
    if patch is None:
        return {}
    if not isinstance(patch, Mapping):
        raise errors.InvalidField(
            "metadata must be an object.", fields={"metadata": "must be an object"}
        )
    merged = dict(current or {})
    for key, value in patch.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = value
    return merged


def _apply_changes(obj: Entity, changes: Mapping[str, Any], handled: Iterable[str]) -> None:
    for name, value in changes.items():
        if name in handled:
            continue
        if name == "metadata":
            obj.metadata = merge_metadata(obj.metadata, value)
        elif name == "status_code" and value is None:
            continue
        else:
            setattr(obj, name, value)


def without(fields: Mapping[str, Any], names: set[str]) -> dict[str, Any]:
    return {key: value for key, value in fields.items() if key not in names}


def new_entity[E: Entity](
    model: type[E], fields: Mapping[str, Any], *, set_apart: Iterable[str] = (), **parents: Any
) -> E:
    """The unsaved entity that a create asks for: fields it may not set are refused (0053),
    required ones must be there (0009); its ``parents`` and plain fields are set, its
    metadata is a merge patch onto nothing. The fields named in ``set_apart`` (references
    that need checking and locking) are left to the caller."""
    refuse_unknown(model, fields, CREATE_FIELDS[model])
    require(model, fields)
    obj = model(**parents, **without(fields, {"metadata", *set_apart}))
    obj.metadata = merge_metadata({}, fields.get("metadata") or {})
    return obj


def validate_and_insert(obj: Entity) -> None:
    """The tail of every create: the new row's field rules, then its insert."""
    validate(obj)
    save(obj, create=True)


def save_changes[E: Entity](
    obj: E, changes: Mapping[str, Any], if_match: str | None, *, handled: Iterable[str] = ()
) -> E:
    """The tail of every update, on the locked row: apply ``changes`` (but the ``handled``
    ones, which the caller has set), validate the changed row, then check ``If-Match`` (so
    a bad request is refused as such, whatever version it names), then save it as a new
    version."""
    _apply_changes(obj, changes, handled)
    validate(obj)
    check_if_match(obj, if_match)
    obj.updated_at = timezone.now()
    save(obj, create=False)
    return obj
