"""Every rule that changes data. Each public function runs in one transaction:
it validates first, writes second, and raises a ``DomainError`` (nothing written)
when a rule refuses the change. The API, the console and the admin all call these.

Field names are the models' (``segment_id``, ``status_code`` …); ``changes`` in the
update functions holds only the fields to change. ``metadata`` in ``changes`` is a
JSON Merge Patch: a key set to ``None`` is removed, absent keys are kept, and
``metadata=None`` removes every key.

Every change of membership takes its locks in the one order of ``segments.locking``
(segments, then portfolios, then accounts, each in id order); ``atomic_service`` is the
transaction of every public function here, retried once when it loses a race for locks
(then 409 ``9009``, never "database unavailable").
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, connections, router, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from segments import errors, locking, tenancy
from segments.locking import atomic_service
from segments.models import (
    Account,
    Entity,
    HistoryAction,
    Ledger,
    Membership,
    Organization,
    Portfolio,
    Role,
    Segment,
    SegmentHistory,
    Status,
)
from segments.validators import (
    METADATA_KEY_TOO_LONG,
    METADATA_NESTED,
    METADATA_TOO_MANY_KEYS,
    METADATA_VALUE_TOO_LONG,
    normalize_name,
)

BULK_MEMBERS_MAX = 10_000
HISTORY_ID_SAMPLE = 100

COMMON_FIELDS = {"status_code", "status_description", "metadata"}
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
}
UPDATE_FIELDS: dict[type[Entity], set[str]] = {
    Organization: COMMON_FIELDS
    | {"legal_name", "doing_business_as", "parent_organization_id", "address"},
    Ledger: COMMON_FIELDS | {"name"},
    Segment: COMMON_FIELDS | {"name", "description"},
    Portfolio: COMMON_FIELDS | {"name", "entity_id", "segment_id"},
    Account: COMMON_FIELDS | {"name", "entity_id", "portfolio_id", "segment_id", "blocked"},
}
REQUIRED_FIELDS: dict[type[Entity], tuple[str, ...]] = {
    Organization: ("legal_name", "legal_document"),
    Ledger: ("name",),
    Segment: ("name",),
    Portfolio: ("name",),
    Account: ("type", "asset_code"),
}
NAME_FIELDS: dict[type[Entity], tuple[str, ...]] = {
    Organization: ("legal_name", "doing_business_as"),
    Ledger: ("name",),
    Segment: ("name",),
    Portfolio: ("name",),
    Account: ("name",),
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
}


# --------------------------------------------------------------------------- helpers


def actor_name(actor) -> str:
    if actor is None or not getattr(actor, "is_authenticated", False):
        return "system"
    return actor.get_username()


def entity_etag(obj: Entity) -> str:
    """A strong validator of an entity's current version (changes with every update)."""
    digest = hashlib.sha256(f"{obj.pk}:{obj.updated_at.isoformat()}".encode()).hexdigest()
    return f'"{digest[:32]}"'


def _check_if_match(obj: Entity, if_match: str | None) -> None:
    """A change made with ``If-Match`` applies only to the version the caller read."""
    if if_match is None:
        return
    accepted = {tag.strip() for tag in if_match.split(",")}
    if "*" not in accepted and entity_etag(obj) not in accepted:
        raise errors.PreconditionFailed(entity_type=obj.entity_type)


def _as_uuid(value: Any, field: str) -> uuid.UUID:
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(str(value))
    except (TypeError, ValueError, AttributeError):
        raise errors.InvalidField(
            f"{field} must be a UUID.", fields={field: "must be a UUID"}, values={field: value}
        ) from None


def _refuse_unknown(model: type[Entity], given: Iterable[str], allowed: set[str]) -> None:
    unknown = sorted(set(given) - allowed)
    if unknown:
        raise errors.UnexpectedFields(
            f"These fields cannot be set here: {', '.join(unknown)}.",
            entity_type=model.entity_type,
            fields={name: "unexpected or read-only field" for name in unknown},
        )


def _require(model: type[Entity], fields: Mapping[str, Any]) -> None:
    missing = [
        name
        for name in REQUIRED_FIELDS[model]
        if fields.get(name) is None or (isinstance(fields[name], str) and not fields[name].strip())
    ]
    if missing:
        raise errors.MissingFields(
            f"Missing required fields: {', '.join(missing)}.",
            entity_type=model.entity_type,
            fields={name: "required" for name in missing},
        )


def _validate(obj: Entity) -> None:
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
        missing = {
            field: "required"
            for field, field_codes in codes.items()
            if set(field_codes) & {"blank", "null", "required"}
        }
        return errors.MissingFields(
            f"Missing required fields: {', '.join(missing)}.",
            entity_type=obj.entity_type,
            fields=missing,
        )
    if METADATA_TOO_MANY_KEYS in metadata_codes:
        return errors.InvalidField(fields["metadata"], entity_type=obj.entity_type, fields=fields)
    return errors.InvalidField(message, entity_type=obj.entity_type, fields=fields)


def _save(obj: Entity, *, create: bool) -> None:
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


def _merge_metadata(current: dict | None, patch: Mapping[str, Any] | None) -> dict:
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


def _apply_changes(obj: Entity, changes: Mapping[str, Any], handled: set[str]) -> None:
    for name, value in changes.items():
        if name in handled:
            continue
        if name == "metadata":
            obj.metadata = _merge_metadata(obj.metadata, value)
        elif name == "status_code" and value is None:
            continue
        else:
            setattr(obj, name, value)


def _hold_live(model: type[Entity], pk) -> bool:
    """Whether the row is live, holding it (FOR KEY SHARE on PostgreSQL) until commit so
    that a concurrent delete of it waits for this transaction, and sees what it wrote."""
    if connection.vendor != "postgresql":
        return model.objects.filter(pk=pk).exists()
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT 1 FROM {model._meta.db_table} WHERE id = %s AND deleted_at IS NULL "
            "FOR KEY SHARE",
            [pk],
        )
        return cursor.fetchone() is not None


def _hold_parent(model: type[Entity], pk) -> None:
    if not _hold_live(model, pk):
        raise errors.EntityNotFound(
            f"The {model.entity_type.lower()} was not found or was deleted.",
            entity_type=model.entity_type,
        )


def _lock_for_update(obj: Entity) -> Entity:
    """Re-read a live row under an exclusive lock; 0007 if it was deleted meanwhile."""
    locked = type(obj).objects.select_for_update().filter(pk=obj.pk).first()
    if locked is None:
        raise errors.EntityNotFound(entity_type=obj.entity_type)
    return locked


def _snapshot(segment: Segment) -> dict[str, Any]:
    return {
        "name": segment.name,
        "description": segment.description,
        "status": {"code": segment.status_code, "description": segment.status_description},
        "metadata": dict(segment.metadata or {}),
        "ledgerId": str(segment.ledger_id) if segment.ledger_id else None,
    }


def _record(
    segment: Segment,
    actor,
    action: HistoryAction,
    before: dict | None,
    after: dict | None,
) -> SegmentHistory:
    return SegmentHistory.objects.create(
        segment=segment,
        organization_id=segment.organization_id,
        actor=actor if getattr(actor, "is_authenticated", False) else None,
        actor_name=actor_name(actor),
        action=action,
        before=before,
        after=after,
    )


def _members_payload(account_ids: list, portfolio_ids: list) -> dict[str, Any]:
    return {
        "accounts": len(account_ids),
        "portfolios": len(portfolio_ids),
        "accountIds": [str(pk) for pk in account_ids[:HISTORY_ID_SAMPLE]],
        "portfolioIds": [str(pk) for pk in portfolio_ids[:HISTORY_ID_SAMPLE]],
    }


def _record_membership(
    segment_id, actor, action: HistoryAction, account_ids: list = (), portfolio_ids: list = ()
) -> None:
    if not segment_id or not (account_ids or portfolio_ids):
        return
    segment = Segment.all_objects.get(pk=segment_id)
    payload = _members_payload(list(account_ids), list(portfolio_ids))
    if action == HistoryAction.MEMBERS_ASSIGNED:
        _record(segment, actor, action, None, payload)
    else:
        _record(segment, actor, action, payload, None)


# --------------------------------------------------------------------------- segments as targets


def _require_active(segment: Segment, field: str | None = None) -> None:
    """Only an ACTIVE segment accepts new members (0014)."""
    if segment.status_code != Status.ACTIVE:
        raise errors.SegmentNotActive(
            f"Segment '{segment.name}' is {segment.status_code}; "
            "only ACTIVE segments accept members.",
            entity_type="Segment",
            fields={field: "segment is not active"} if field else None,
        )


def segment_for_member(ledger: Ledger, segment_id: Any) -> Segment:
    """A segment can take an account or portfolio of ``ledger`` only when it is live,
    ACTIVE, and belongs to that ledger or, at organization level, to the ledger's
    organization. Unknown, deleted and other tenants' segments are all "not found"
    (0036); an existing one that is not ACTIVE is refused with 0014. The segment is
    locked until commit (``locking.lock_segments``: call it before locking any member
    row) so that it cannot be deleted under the new member."""
    segment_uuid = _as_uuid(segment_id, "segment_id")
    segment = locking.lock_segments([segment_uuid], organization_id=ledger.organization_id).get(
        segment_uuid
    )
    in_scope = segment is not None and segment.ledger_id in (None, ledger.pk)
    if not in_scope or segment.deleted_at is not None:
        raise errors.SegmentNotFound(
            "The segment was not found in this ledger or its organization.",
            entity_type="Segment",
            fields={"segment_id": "segment not found"},
        )
    _require_active(segment, field="segment_id")
    return segment


def _portfolio_in_ledger(ledger: Ledger, portfolio_id: Any) -> Portfolio:
    """An account's portfolio is a live portfolio of the same ledger (else 0035)."""
    portfolio_uuid = _as_uuid(portfolio_id, "portfolio_id")
    if not Portfolio.objects.filter(
        pk=portfolio_uuid, ledger_id=ledger.pk
    ).exists() or not _hold_live(Portfolio, portfolio_uuid):
        raise errors.PortfolioNotFound(
            entity_type="Portfolio", fields={"portfolio_id": "portfolio not found in this ledger"}
        )
    return Portfolio.objects.get(pk=portfolio_uuid)


def _parent_account_in_ledger(account: Account, parent_id: Any) -> None:
    """A parent account is a live account of the same ledger, and never a descendant
    of the account itself (no cycles)."""
    parent_uuid = _as_uuid(parent_id, "parent_account_id")
    parent = Account.objects.filter(pk=parent_uuid, ledger_id=account.ledger_id).first()
    if parent is None or not _hold_live(Account, parent_uuid):
        raise errors.InvalidField(
            "The parent account was not found in this ledger.",
            entity_type="Account",
            fields={"parent_account_id": "parent account not found in this ledger"},
        )
    seen = {account.pk}
    cursor: Account | None = parent
    while cursor is not None:
        if cursor.pk in seen:
            raise errors.InvalidField(
                "An account cannot be its own ancestor.",
                entity_type="Account",
                fields={"parent_account_id": "would create a cycle"},
            )
        seen.add(cursor.pk)
        cursor = (
            Account.all_objects.filter(pk=cursor.parent_account_id).first()
            if cursor.parent_account_id
            else None
        )


# --------------------------------------------------------------------------- organizations


@atomic_service
def create_organization(actor, *, back_office: bool = False, **fields: Any) -> Organization:
    """Create an organization. The creating user becomes its admin. A parent must be a
    live organization the actor may name (``_set_parent_organization``; 0038 otherwise).
    ``back_office`` is the Django admin's call (staff may name any organization)."""
    _refuse_unknown(Organization, fields, CREATE_FIELDS[Organization])
    _require(Organization, fields)
    organization = Organization(**_without(fields, {"parent_organization_id", "metadata"}))
    organization.metadata = _merge_metadata({}, fields.get("metadata") or {})
    if fields.get("parent_organization_id"):
        _set_parent_organization(
            organization, fields["parent_organization_id"], actor, back_office=back_office
        )
    _validate(organization)
    _save(organization, create=True)
    if getattr(actor, "is_authenticated", False):
        Membership.objects.create(user=actor, organization=organization, role=Role.ADMIN)
    return organization


def _set_parent_organization(
    organization: Organization, parent_id: Any, actor, *, back_office: bool = False
) -> None:
    """A parent organization is a live organization that the actor may name
    (``tenancy.may_name_parent_organization``: one they cannot see is "not found", 0038,
    with the very body of an id that does not exist), other than itself and not one of its
    descendants. Keeping the current parent is always allowed."""
    if parent_id is None:
        organization.parent_organization_id = None
        return
    parent_uuid = _as_uuid(parent_id, "parent_organization_id")
    if parent_uuid == organization.parent_organization_id:
        return
    if not tenancy.may_name_parent_organization(
        actor, parent_uuid, back_office=back_office
    ) or not _hold_live(Organization, parent_uuid):
        raise errors.OrganizationNotFound(
            entity_type="Organization",
            fields={"parent_organization_id": "organization not found"},
        )
    ancestor = Organization.all_objects.filter(pk=parent_uuid).first()
    while ancestor is not None:
        if ancestor.pk == organization.pk:
            raise errors.InvalidField(
                "An organization cannot be its own ancestor.",
                entity_type="Organization",
                fields={"parent_organization_id": "would create a cycle"},
            )
        ancestor = ancestor.parent_organization
    organization.parent_organization_id = parent_uuid


@atomic_service
def update_organization(
    actor,
    organization: Organization,
    changes: Mapping[str, Any],
    *,
    if_match: str | None = None,
    back_office: bool = False,
) -> Organization:
    """Change an organization's fields; legal document and ids never change. A new parent
    follows ``_set_parent_organization`` (``back_office``: the Django admin's call)."""
    _refuse_unknown(Organization, changes, UPDATE_FIELDS[Organization])
    organization = _lock_for_update(organization)
    if "parent_organization_id" in changes:
        _set_parent_organization(
            organization, changes["parent_organization_id"], actor, back_office=back_office
        )
    _apply_changes(organization, changes, {"parent_organization_id"})
    return _finish_update(organization, if_match)


@atomic_service
def delete_organization(actor, organization: Organization, *, if_match: str | None = None) -> None:
    """An organization that still holds live ledgers, segments or child organizations
    cannot be deleted (9002)."""
    organization = _lock_for_update(organization)
    _check_if_match(organization, if_match)
    children = {
        "ledgers": organization.ledgers.filter(deleted_at__isnull=True).count(),
        "segments": organization.segments.filter(deleted_at__isnull=True).count(),
        "organizations": organization.children.filter(deleted_at__isnull=True).count(),
    }
    _refuse_if_children(organization, children)
    _soft_delete(organization)


# --------------------------------------------------------------------------- ledgers


@atomic_service
def create_ledger(actor, organization: Organization, **fields: Any) -> Ledger:
    """Create a ledger in a live organization. Its name (trimmed) must be free,
    case-insensitively, among the live ledgers of the organization (0002)."""
    _refuse_unknown(Ledger, fields, CREATE_FIELDS[Ledger])
    _require(Ledger, fields)
    _hold_parent(Organization, organization.pk)
    ledger = Ledger(organization=organization, **_without(fields, {"metadata"}))
    ledger.metadata = _merge_metadata({}, fields.get("metadata") or {})
    _validate(ledger)
    _save(ledger, create=True)
    return ledger


@atomic_service
def update_ledger(
    actor, ledger: Ledger, changes: Mapping[str, Any], *, if_match: str | None = None
) -> Ledger:
    """Change a ledger; a new name must be free, case-insensitively, among the other live
    ledgers of its organization (0002)."""
    _refuse_unknown(Ledger, changes, UPDATE_FIELDS[Ledger])
    ledger = _lock_for_update(ledger)
    _apply_changes(ledger, changes, set())
    return _finish_update(ledger, if_match)


@atomic_service
def delete_ledger(actor, ledger: Ledger, *, if_match: str | None = None) -> None:
    """A ledger that still holds live accounts, portfolios or segments cannot be deleted
    (9002)."""
    ledger = _lock_for_update(ledger)
    _check_if_match(ledger, if_match)
    children = {
        "accounts": ledger.accounts.filter(deleted_at__isnull=True).count(),
        "portfolios": ledger.portfolios.filter(deleted_at__isnull=True).count(),
        "segments": ledger.segments.filter(deleted_at__isnull=True).count(),
    }
    _refuse_if_children(ledger, children)
    _soft_delete(ledger)


# --------------------------------------------------------------------------- segments


@atomic_service
def create_segment(
    actor, organization: Organization, ledger: Ledger | None = None, **fields: Any
) -> Segment:
    """Create a segment in a ledger, or at organization level when ``ledger`` is None.
    Its name (trimmed) must be free, case-insensitively, among the live segments of that
    scope (0015)."""
    _refuse_unknown(Segment, fields, CREATE_FIELDS[Segment])
    _require(Segment, fields)
    _hold_parent(Organization, organization.pk)
    if ledger is not None:
        if ledger.organization_id != organization.pk:
            raise errors.LedgerNotFound(entity_type="Ledger")
        _hold_parent(Ledger, ledger.pk)
    segment = Segment(organization=organization, ledger=ledger, **_without(fields, {"metadata"}))
    segment.metadata = _merge_metadata({}, fields.get("metadata") or {})
    _validate(segment)
    _save(segment, create=True)
    _record(segment, actor, HistoryAction.CREATED, None, _snapshot(segment))
    return segment


@atomic_service
def update_segment(
    actor, segment: Segment, changes: Mapping[str, Any], *, if_match: str | None = None
) -> Segment:
    """Change a segment's name, description, status or metadata. The scope never changes.
    Members stay when the status leaves ACTIVE; only new assignments are refused then."""
    _refuse_unknown(Segment, changes, UPDATE_FIELDS[Segment])
    segment = _lock_for_update(segment)
    before = _snapshot(segment)
    _apply_changes(segment, changes, set())
    segment = _finish_update(segment, if_match)
    after = _snapshot(segment)
    changed = [key for key in after if before[key] != after[key]]
    _record(
        segment,
        actor,
        HistoryAction.UPDATED,
        {key: before[key] for key in changed},
        {key: after[key] for key in changed},
    )
    return segment


@atomic_service
def delete_segment(
    actor, segment: Segment, *, detach: bool = False, if_match: str | None = None
) -> dict[str, int]:
    """A segment that still has members (accounts or portfolios tagged with it) cannot be
    deleted (9001, counts in the message) unless ``detach`` is asked: then its members are
    cleared and it is deleted in the same transaction. No row, live or deleted, is left
    pointing at a deleted segment. Returns the counts detached."""
    segment = _lock_for_update(segment)
    _check_if_match(segment, if_match)
    counts = {
        "accounts": Account.objects.filter(segment_id=segment.pk).count(),
        "portfolios": Portfolio.objects.filter(segment_id=segment.pk).count(),
    }
    if (counts["accounts"] or counts["portfolios"]) and not detach:
        raise errors.SegmentHasMembers(
            f"Segment '{segment.name}' still has {counts['accounts']} account(s) and "
            f"{counts['portfolios']} portfolio(s). Remove them first or delete with detach=true.",
            entity_type="Segment",
            values=counts,
        )
    now = timezone.now()
    # The segment is held: whoever else locks one of its members and then waits for more
    # holds it first (segments.locking), so one statement per table detaches them all.
    Portfolio.all_objects.filter(segment_id=segment.pk).update(segment=None, updated_at=now)
    Account.all_objects.filter(segment_id=segment.pk).update(segment=None, updated_at=now)
    before = _snapshot(segment) | {"detached": counts}
    _soft_delete(segment, now=now)
    _record(segment, actor, HistoryAction.DELETED, before, None)
    return counts


@atomic_service
def restore_segment(actor, segment: Segment) -> Segment:
    """Bring a deleted segment back, if its name is still free in its scope (0015) and its
    ledger and organization are live. Members detached at delete stay detached."""
    segment = Segment.all_objects.select_for_update().get(pk=segment.pk)
    if segment.deleted_at is None:
        return segment
    _hold_parent(Organization, segment.organization_id)
    if segment.ledger_id:
        _hold_parent(Ledger, segment.ledger_id)
    segment.deleted_at = None
    segment.updated_at = timezone.now()
    _save(segment, create=False)
    _record(segment, actor, HistoryAction.RESTORED, None, _snapshot(segment))
    return segment


# --------------------------------------------------------------------------- portfolios


@atomic_service
def create_portfolio(actor, ledger: Ledger, **fields: Any) -> Portfolio:
    """Create a portfolio in a live ledger; its segment, if any, must accept members of
    that ledger (see ``segment_for_member``)."""
    _refuse_unknown(Portfolio, fields, CREATE_FIELDS[Portfolio])
    _require(Portfolio, fields)
    _hold_parent(Ledger, ledger.pk)
    portfolio = Portfolio(
        organization_id=ledger.organization_id,
        ledger=ledger,
        **_without(fields, {"segment_id", "metadata"}),
    )
    portfolio.metadata = _merge_metadata({}, fields.get("metadata") or {})
    if fields.get("segment_id") is not None:
        portfolio.segment = segment_for_member(ledger, fields["segment_id"])
    _validate(portfolio)
    _save(portfolio, create=True)
    _record_membership(
        portfolio.segment_id, actor, HistoryAction.MEMBERS_ASSIGNED, portfolio_ids=[portfolio.pk]
    )
    return portfolio


@atomic_service
def update_portfolio(
    actor, portfolio: Portfolio, changes: Mapping[str, Any], *, if_match: str | None = None
) -> Portfolio:
    """Change a portfolio; ``segment_id=None`` takes it out of its segment."""
    _refuse_unknown(Portfolio, changes, UPDATE_FIELDS[Portfolio])
    if "segment_id" in changes:
        new_id = changes["segment_id"]
        locking.lock_members(
            portfolio.organization_id,
            segments=[_as_uuid(new_id, "segment_id")] if new_id is not None else [],
            portfolios=[portfolio.pk],
        )
    portfolio = _lock_for_update(portfolio)
    previous_segment_id = portfolio.segment_id
    if "segment_id" in changes:
        new_id = changes["segment_id"]
        portfolio.segment = (
            segment_for_member(portfolio.ledger, new_id) if new_id is not None else None
        )
    _apply_changes(portfolio, changes, {"segment_id"})
    portfolio = _finish_update(portfolio, if_match)
    if portfolio.segment_id != previous_segment_id:
        _record_membership(
            previous_segment_id, actor, HistoryAction.MEMBERS_REMOVED, portfolio_ids=[portfolio.pk]
        )
        _record_membership(
            portfolio.segment_id,
            actor,
            HistoryAction.MEMBERS_ASSIGNED,
            portfolio_ids=[portfolio.pk],
        )
    return portfolio


@atomic_service
def delete_portfolio(actor, portfolio: Portfolio, *, if_match: str | None = None) -> None:
    """A portfolio that still holds live accounts cannot be deleted (9002); leaving, it
    leaves its segment too."""
    locking.lock_members(portfolio.organization_id, portfolios=[portfolio.pk])
    portfolio = _lock_for_update(portfolio)
    _check_if_match(portfolio, if_match)
    _refuse_if_children(
        portfolio, {"accounts": portfolio.accounts.filter(deleted_at__isnull=True).count()}
    )
    _soft_delete(portfolio)
    _record_membership(
        portfolio.segment_id, actor, HistoryAction.MEMBERS_REMOVED, portfolio_ids=[portfolio.pk]
    )


# --------------------------------------------------------------------------- accounts


@atomic_service
def create_account(actor, ledger: Ledger, **fields: Any) -> Account:
    """Create an account in a live ledger. Its alias is free among the ledger's live
    accounts (0020); its portfolio belongs to the same ledger (0035); its parent account
    too, without cycles; its segment accepts members of that ledger."""
    _refuse_unknown(Account, fields, CREATE_FIELDS[Account])
    _require(Account, fields)
    _hold_parent(Ledger, ledger.pk)
    account = Account(
        organization_id=ledger.organization_id,
        ledger=ledger,
        **_without(fields, {"segment_id", "portfolio_id", "parent_account_id", "metadata"}),
    )
    account.metadata = _merge_metadata({}, fields.get("metadata") or {})
    if account.blocked is None:
        account.blocked = False
    if fields.get("segment_id") is not None:  # segments before member rows (locking)
        account.segment = segment_for_member(ledger, fields["segment_id"])
    if fields.get("portfolio_id") is not None:
        account.portfolio = _portfolio_in_ledger(ledger, fields["portfolio_id"])
    if fields.get("parent_account_id") is not None:
        _parent_account_in_ledger(account, fields["parent_account_id"])
        account.parent_account_id = _as_uuid(fields["parent_account_id"], "parent_account_id")
    _validate(account)
    _save(account, create=True)
    _record_membership(
        account.segment_id, actor, HistoryAction.MEMBERS_ASSIGNED, account_ids=[account.pk]
    )
    return account


@atomic_service
def update_account(
    actor, account: Account, changes: Mapping[str, Any], *, if_match: str | None = None
) -> Account:
    """Change an account; ``segment_id=None`` or ``portfolio_id=None`` clears them. Type,
    asset code, alias and ledger never change."""
    _refuse_unknown(Account, changes, UPDATE_FIELDS[Account])
    if "segment_id" in changes or "portfolio_id" in changes:
        new_segment, new_portfolio = changes.get("segment_id"), changes.get("portfolio_id")
        locking.lock_members(
            account.organization_id,
            segments=[_as_uuid(new_segment, "segment_id")] if new_segment is not None else [],
            portfolios=[_as_uuid(new_portfolio, "portfolio_id")]
            if new_portfolio is not None
            else [],
            accounts=[account.pk],
        )
    account = _lock_for_update(account)
    previous_segment_id = account.segment_id
    if "portfolio_id" in changes:
        new_id = changes["portfolio_id"]
        account.portfolio = (
            _portfolio_in_ledger(account.ledger, new_id) if new_id is not None else None
        )
    if "segment_id" in changes:
        new_id = changes["segment_id"]
        account.segment = segment_for_member(account.ledger, new_id) if new_id is not None else None
    if changes.get("blocked", False) is None:
        raise errors.InvalidField(
            entity_type="Account", fields={"blocked": "must be true or false"}
        )
    _apply_changes(account, changes, {"portfolio_id", "segment_id"})
    account = _finish_update(account, if_match)
    if account.segment_id != previous_segment_id:
        _record_membership(
            previous_segment_id, actor, HistoryAction.MEMBERS_REMOVED, account_ids=[account.pk]
        )
        _record_membership(
            account.segment_id, actor, HistoryAction.MEMBERS_ASSIGNED, account_ids=[account.pk]
        )
    return account


@atomic_service
def delete_account(actor, account: Account, *, if_match: str | None = None) -> None:
    """An account that is the parent of live accounts cannot be deleted (9002). A deleted
    account leaves its segment (recorded in the segment's history)."""
    locking.lock_members(account.organization_id, accounts=[account.pk])
    account = _lock_for_update(account)
    _check_if_match(account, if_match)
    _refuse_if_children(
        account, {"accounts": account.children.filter(deleted_at__isnull=True).count()}
    )
    _soft_delete(account)
    _record_membership(
        account.segment_id, actor, HistoryAction.MEMBERS_REMOVED, account_ids=[account.pk]
    )


# --------------------------------------------------------------------------- membership in bulk


def _unique_uuids(values: Iterable[Any], field: str) -> list[uuid.UUID]:
    seen: dict[uuid.UUID, None] = {}
    for value in values:
        seen.setdefault(_as_uuid(value, field), None)
    return list(seen)


def _check_bulk_size(account_ids: list, portfolio_ids: list) -> None:
    if len(account_ids) + len(portfolio_ids) > BULK_MEMBERS_MAX:
        raise errors.InvalidField(
            f"At most {BULK_MEMBERS_MAX} ids per request.",
            entity_type="Segment",
            fields={"accountIds": f"at most {BULK_MEMBERS_MAX} ids per request"},
        )


def _refuse_missing(field: str, requested: list, found: set, what: str) -> None:
    missing = [str(pk) for pk in requested if pk not in found]
    if missing:
        shown = ", ".join(missing[:10]) + (
            f" (+{len(missing) - 10} more)" if len(missing) > 10 else ""
        )
        raise errors.InvalidField(
            f"{len(missing)} {what} not found in this segment's scope: {shown}.",
            entity_type="Segment",
            fields={field: f"not found in this segment's scope: {shown}"},
            values={field: missing},
        )


def _scope_filter(segment: Segment) -> Q:
    if segment.ledger_id:
        return Q(ledger_id=segment.ledger_id)
    return Q(organization_id=segment.organization_id)


@atomic_service
def assign_members(
    actor,
    segment: Segment,
    *,
    account_ids: Iterable[Any] = (),
    portfolio_ids: Iterable[Any] = (),
) -> dict[str, int]:
    """Put accounts and portfolios into a segment, all or nothing. Every id must name a
    live account/portfolio that the segment may take (same ledger, or same organization
    for an organization segment), and the segment must be live and ACTIVE. Members moved
    from another segment are recorded as removed in that segment's history. At most
    10,000 ids per call. Returns the counts now assigned."""
    account_uuids = _unique_uuids(account_ids, "accountIds")
    portfolio_uuids = _unique_uuids(portfolio_ids, "portfolioIds")
    _check_bulk_size(account_uuids, portfolio_uuids)
    locking.lock_members(
        segment.organization_id,
        segments=[segment.pk],
        accounts=account_uuids,
        portfolios=portfolio_uuids,
    )
    segment = _lock_for_update(segment)
    _require_active(segment)
    scope = _scope_filter(segment)
    for model, requested, field, what in (
        (Account, account_uuids, "accountIds", "account(s)"),
        (Portfolio, portfolio_uuids, "portfolioIds", "portfolio(s)"),
    ):
        if requested:
            found = set(model.objects.filter(scope, pk__in=requested).values_list("pk", flat=True))
            _refuse_missing(field, requested, found, what)
    moved_portfolios = _move_members(Portfolio, portfolio_uuids, segment, actor)
    moved_accounts = _move_members(Account, account_uuids, segment, actor)
    _record_membership(
        segment.pk, actor, HistoryAction.MEMBERS_ASSIGNED, moved_accounts, moved_portfolios
    )
    return {"accounts": len(account_uuids), "portfolios": len(portfolio_uuids)}


def _move_members(model: type[Entity], ids: list, segment: Segment, actor) -> list:
    """Tag the rows (already locked with their segments, ``locking.lock_members``) with
    the segment; returns the ids that were not already members and records their
    departure from their previous segments."""
    if not ids:
        return []
    rows = list(
        model.objects.filter(pk__in=ids)
        .exclude(segment_id=segment.pk)
        .values_list("pk", "segment_id")
    )
    by_previous: dict[Any, list] = {}
    for pk, previous in rows:
        if previous is not None:
            by_previous.setdefault(previous, []).append(pk)
    for previous, moved in sorted(by_previous.items(), key=lambda item: str(item[0])):
        kind = "account_ids" if model is Account else "portfolio_ids"
        _record_membership(previous, actor, HistoryAction.MEMBERS_REMOVED, **{kind: moved})
    changed = [pk for pk, _ in rows]
    if changed:
        model.objects.filter(pk__in=changed).update(segment=segment, updated_at=timezone.now())
    return changed


@atomic_service
def remove_members(
    actor,
    segment: Segment,
    *,
    account_ids: Iterable[Any] = (),
    portfolio_ids: Iterable[Any] = (),
) -> dict[str, int]:
    """Take accounts and portfolios out of a segment, all or nothing: every id must be a
    live member of this segment. At most 10,000 ids per call. Returns the counts removed."""
    account_uuids = _unique_uuids(account_ids, "accountIds")
    portfolio_uuids = _unique_uuids(portfolio_ids, "portfolioIds")
    _check_bulk_size(account_uuids, portfolio_uuids)
    locking.lock_members(
        segment.organization_id,
        segments=[segment.pk],
        accounts=account_uuids,
        portfolios=portfolio_uuids,
    )
    segment = _lock_for_update(segment)
    for model, requested, field, what in (
        (Account, account_uuids, "accountIds", "account(s)"),
        (Portfolio, portfolio_uuids, "portfolioIds", "portfolio(s)"),
    ):
        if requested:
            found = set(
                model.objects.filter(segment_id=segment.pk, pk__in=requested).values_list(
                    "pk", flat=True
                )
            )
            missing = [pk for pk in requested if pk not in found]
            if missing:
                shown = ", ".join(str(pk) for pk in missing[:10])
                raise errors.InvalidField(
                    f"{len(missing)} {what} are not members of this segment: {shown}.",
                    entity_type="Segment",
                    fields={field: f"not members of this segment: {shown}"},
                    values={field: [str(pk) for pk in missing]},
                )
    now = timezone.now()
    if portfolio_uuids:
        Portfolio.objects.filter(pk__in=portfolio_uuids).update(segment=None, updated_at=now)
    if account_uuids:
        Account.objects.filter(pk__in=account_uuids).update(segment=None, updated_at=now)
    _record_membership(
        segment.pk, actor, HistoryAction.MEMBERS_REMOVED, account_uuids, portfolio_uuids
    )
    return {"accounts": len(account_uuids), "portfolios": len(portfolio_uuids)}


@atomic_service
def clear_segments(
    actor,
    ledger: Ledger,
    *,
    account_ids: Iterable[Any] = (),
    portfolio_ids: Iterable[Any] = (),
) -> dict[str, int]:
    """Take accounts and portfolios of a ledger out of whatever segment each is in, all or
    nothing, in one transaction: every id must name a live account/portfolio of the
    ledger; rows without a segment are left as they are. Each segment's history records
    its departures (through ``remove_members``). Returns the counts taken out."""
    account_uuids = _unique_uuids(account_ids, "accountIds")
    portfolio_uuids = _unique_uuids(portfolio_ids, "portfolioIds")
    _check_bulk_size(account_uuids, portfolio_uuids)
    locking.lock_members(ledger.organization_id, accounts=account_uuids, portfolios=portfolio_uuids)
    by_segment: dict[Any, dict[str, list]] = {}
    for model, requested, field, what, kind in (
        (Account, account_uuids, "accountIds", "account(s)", "account_ids"),
        (Portfolio, portfolio_uuids, "portfolioIds", "portfolio(s)", "portfolio_ids"),
    ):
        if not requested:
            continue
        rows = list(
            model.objects.filter(ledger_id=ledger.pk, pk__in=requested).values_list(
                "pk", "segment_id"
            )
        )
        _refuse_missing(field, requested, {pk for pk, _ in rows}, what)
        for pk, segment_id in rows:
            if segment_id is not None:
                members = by_segment.setdefault(
                    segment_id, {"account_ids": [], "portfolio_ids": []}
                )
                members[kind].append(pk)
    counts = {"accounts": 0, "portfolios": 0}
    for segment_id in sorted(by_segment, key=str):
        removed = remove_members(
            actor, Segment.objects.get(pk=segment_id), **by_segment[segment_id]
        )
        counts = {key: counts[key] + removed[key] for key in counts}
    return counts


# --------------------------------------------------------------------------- shared tails


def _without(fields: Mapping[str, Any], names: set[str]) -> dict[str, Any]:
    return {key: value for key, value in fields.items() if key not in names}


def _finish_update(obj: Entity, if_match: str | None = None) -> Entity:
    """Validate the changed row, then check ``If-Match`` (so a bad request is refused as
    such, whatever version it names), then save it as a new version."""
    _validate(obj)
    _check_if_match(obj, if_match)
    obj.updated_at = timezone.now()
    _save(obj, create=False)
    return obj


def _soft_delete(obj: Entity, *, now=None) -> None:
    obj.deleted_at = now or timezone.now()
    obj.updated_at = obj.deleted_at
    type(obj).all_objects.filter(pk=obj.pk).update(
        deleted_at=obj.deleted_at, updated_at=obj.updated_at
    )


def _refuse_if_children(obj: Entity, children: Mapping[str, int]) -> None:
    live = {kind: count for kind, count in children.items() if count}
    if live:
        described = ", ".join(f"{count} {kind}" for kind, count in live.items())
        raise errors.HasLiveChildren(
            f"This {obj.entity_type.lower()} still holds {described}; delete them first.",
            entity_type=obj.entity_type,
            values=live,
        )


# --------------------------------------------------------------------------- membership by filter


@atomic_service
def assign_accounts_matching(
    actor, segment: Segment, accounts: QuerySet[Account]
) -> dict[str, int]:
    """Put every account of ``accounts`` into the segment, in one transaction and one
    statement however many match (nothing is listed, so the 10,000-id limit of
    ``assign_members`` does not apply). Only live accounts the segment may take are
    assigned: those of its ledger, or of every ledger of its organization for an
    organization segment; the rest of ``accounts`` is left out, not refused. The segment
    must be live and ACTIVE (0014). Its history gets ONE entry with the count and a sample
    of ids; each segment the accounts came from gets one "removed" entry with its count.
    ``accounts`` is a plain filter of accounts (no aggregation or DISTINCT). Returns the
    counts assigned."""
    if accounts.model is not Account:
        raise TypeError("assign_accounts_matching takes a queryset of accounts.")
    database = router.db_for_write(Account)
    matching = (
        accounts.using(database)
        .filter(_scope_filter(segment), deleted_at__isnull=True)
        .exclude(segment_id=segment.pk)
    )
    # Lock order (segments.locking): the segment and every segment the candidates are in
    # now, then the rows in id order; a row that moved meanwhile into a segment not
    # locked here is left out (it changed after this assignment, in effect).
    previous = {
        pk
        for pk in matching.order_by().values_list("segment_id", flat=True).distinct()
        if pk is not None
    }
    locking.lock_segments({segment.pk, *previous}, organization_id=segment.organization_id)
    segment = _lock_for_update(segment)
    _require_active(segment)
    unassigned_or_locked = Q(segment_id__isnull=True)
    if previous:
        unassigned_or_locked |= Q(segment_id__in=previous)
    candidates = (
        matching.filter(unassigned_or_locked)
        .order_by("pk")
        .select_for_update(of=("self",))
        .values_list("pk", "segment_id")
    )
    candidate_sql, params = candidates.query.get_compiler(using=database).as_sql()
    table = Account._meta.db_table
    with connections[database].cursor() as cursor:
        cursor.execute(
            # Lock the matching rows (and keep their previous segment), then update them by
            # primary key: "= ANY(ARRAY(...))" keeps the plan on the primary key index
            # whatever the estimate (a join chose a sequential scan of the table).
            f"WITH old (id, previous) AS ({candidate_sql}), "
            f"moved AS (UPDATE {table} AS a SET segment_id = %s, updated_at = %s "
            "WHERE a.id = ANY (ARRAY(SELECT id FROM old))) "
            f"SELECT previous, count(*), (array_agg(id))[1:{HISTORY_ID_SAMPLE}] "
            "FROM old GROUP BY previous",
            [*params, segment.pk, timezone.now()],
        )
        moved = cursor.fetchall()
    total = sum(count for _, count, _ in moved)
    if not total:
        return {"accounts": 0, "portfolios": 0}
    previous_segments = Segment.all_objects.in_bulk(
        [previous for previous, _, _ in moved if previous is not None]
    )
    sample: list[str] = []
    for previous, count, ids in sorted(moved, key=lambda row: str(row[0])):
        sample.extend(str(pk) for pk in ids)
        if previous is not None:
            payload = {"accounts": count, "portfolios": 0, "portfolioIds": []}
            payload["accountIds"] = [str(pk) for pk in ids]
            _record(
                previous_segments[previous], actor, HistoryAction.MEMBERS_REMOVED, payload, None
            )
    after = {
        "accounts": total,
        "portfolios": 0,
        "accountIds": sample[:HISTORY_ID_SAMPLE],
        "portfolioIds": [],
    }
    _record(segment, actor, HistoryAction.MEMBERS_ASSIGNED, None, after)
    return {"accounts": total, "portfolios": 0}
