"""What an event says: its payload per entity and event (the exact key sets of
``shared/spec/events.md``, Midaz's ledger event catalog; metadata is never part of one),
and its CloudEvents 1.0 attributes, one mapping for the relay (binary mode) and the HTTP
feed (structured mode).

Times are RFC 3339 in UTC (``Z``); ``status`` is ``{code, description}`` with
``description`` left out when null; nullable references are JSON null.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings

from segments.models import Account, Benefit, Event, Ledger, Organization, Portfolio, Segment

SPEC_VERSION = "1.0"
SCHEMA_VERSION = "1.0.0"
CONTENT_TYPE = "application/json"


def rfc3339(value: dt.datetime | None) -> str | None:
    """``value`` in UTC as RFC 3339 with ``Z`` (None stays None)."""
    if value is None:
        return None
    text = value.astimezone(dt.UTC).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def status_of(row: Any) -> dict[str, Any]:
    status = {"code": row.status_code}
    if row.status_description is not None:
        status["description"] = row.status_description
    return status


def _address(address: dict | None) -> dict[str, Any]:
    """As the API shows it: the parts that are set, and ``line2`` always."""
    address = address or {}
    shown: dict[str, Any] = {}
    for name in ("line1", "line2", "zipCode", "city", "state", "country"):
        value = address.get(name)
        if name == "line2":
            shown[name] = value or None
        elif value not in (None, ""):
            shown[name] = value
    return shown


def _organization(row: Organization) -> dict[str, Any]:
    return {
        "id": str(row.pk),
        "parentOrganizationId": _text(row.parent_organization_id),
        "legalName": row.legal_name,
        "doingBusinessAs": row.doing_business_as,
        "legalDocument": row.legal_document,
        "address": _address(row.address),
        "status": status_of(row),
    }


def _ledger(row: Ledger) -> dict[str, Any]:
    return {
        "id": str(row.pk),
        "organizationId": str(row.organization_id),
        "name": row.name,
        "status": status_of(row),
    }


def _segment(row: Segment) -> dict[str, Any]:
    return {
        "id": str(row.pk),
        "organizationId": str(row.organization_id),
        "ledgerId": _text(row.ledger_id),
        "name": row.name,
        "status": status_of(row),
    }


def _portfolio(row: Portfolio) -> dict[str, Any]:
    body = {
        "id": str(row.pk),
        "organizationId": str(row.organization_id),
        "ledgerId": str(row.ledger_id),
        "name": row.name,
    }
    if row.entity_id:
        body["entityId"] = row.entity_id
    return body | {"status": status_of(row), "segmentId": _text(row.segment_id)}


# Alike in shape to _segment above; kept apart because each is the published body of its
# own event type, key by key (a segment's ledgerId may be null, an account's may not).
def _account(row: Account) -> dict[str, Any]:
    return {
        "id": str(row.pk),
        "organizationId": str(row.organization_id),
        "ledgerId": str(row.ledger_id),
        "name": row.name,
        "assetCode": row.asset_code,
        "type": row.type,
        "portfolioId": _text(row.portfolio_id),
        "segmentId": _text(row.segment_id),
        "parentAccountId": _text(row.parent_account_id),
        "entityId": row.entity_id,
        "alias": row.alias,
        "status": status_of(row),
        "blocked": row.blocked,
    }


def _benefit(row: Benefit) -> dict[str, Any]:
    """The API's benefit body (``BenefitSerializer``'s names) with its version, without
    metadata."""
    return {
        "id": str(row.pk),
        "organizationId": str(row.organization_id),
        "ledgerId": _text(row.ledger_id),
        "segmentId": str(row.segment_id),
        "name": row.name,
        "description": row.description,
        "kind": row.kind,
        "parameters": row.parameters,
        "validFrom": rfc3339(row.valid_from),
        "validUntil": rfc3339(row.valid_until),
        "priority": row.priority,
        "exclusivityGroup": row.exclusivity_group,
        "status": status_of(row),
        "version": row.version,
        "createdAt": rfc3339(row.created_at),
        "updatedAt": rfc3339(row.updated_at),
        "deletedAt": rfc3339(row.deleted_at),
    }


BODIES = {
    Organization: _organization,
    Ledger: _ledger,
    Segment: _segment,
    Portfolio: _portfolio,
    Account: _account,
}
# Keys an ``<entity>.updated`` leaves out of the created body (Midaz's catalog).
NOT_IN_UPDATED = {
    Organization: {"legalDocument"},
    Account: {"assetCode", "type", "parentAccountId", "alias"},
}
# What an ``<entity>.deleted`` says besides ``id`` and ``deletedAt``.
IN_DELETED = {
    Organization: (),
    Ledger: ("organizationId",),
    Segment: ("organizationId", "ledgerId"),
    Portfolio: ("organizationId", "ledgerId"),
    Account: ("organizationId", "ledgerId", "portfolioId"),
}


def entity_payload(row: Any, event: str) -> tuple[dt.datetime, dict[str, Any]]:
    """The instant and the data of ``<entity>.<event>`` (created, updated or deleted) for
    one of the five entities."""
    model = type(row)
    if model is Benefit:
        return _benefit_time(row, event), _benefit(row)
    body = BODIES[model](row)
    if event == "deleted":
        kept = {"id": body["id"]} | {key: body[key] for key in IN_DELETED[model]}
        return row.deleted_at, kept | {"deletedAt": rfc3339(row.deleted_at)}
    if event == "updated":
        body = {k: v for k, v in body.items() if k not in NOT_IN_UPDATED.get(model, ())}
        return row.updated_at, body | {"updatedAt": rfc3339(row.updated_at)}
    body |= {"createdAt": rfc3339(row.created_at), "updatedAt": rfc3339(row.updated_at)}
    return row.created_at, body


def _benefit_time(row: Benefit, event: str) -> dt.datetime:
    if event == "deleted":
        return row.deleted_at
    return row.created_at if event == "created" else row.updated_at


# --------------------------------------------------------------------------- CloudEvents


def event_source() -> str:
    return getattr(settings, "EVENTS_SOURCE", "ledger")


def event_type(key: str) -> str:
    """``studio.lerian.<source>.<key>``, e.g. ``studio.lerian.ledger.segment.created``."""
    return f"studio.lerian.{event_source()}.{key}"


def attributes(event: Event) -> dict[str, Any]:
    """The CloudEvents context attributes of one outbox row (``datacontenttype`` too)."""
    return {
        "specversion": SPEC_VERSION,
        "id": str(event.pk),
        "source": event_source(),
        "type": event_type(event.key),
        "subject": event.subject,
        "time": rfc3339(event.time),
        "tenantid": str(event.organization_id),
        "schemaversion": SCHEMA_VERSION,
        "datacontenttype": CONTENT_TYPE,
    }


def structured(event: Event) -> dict[str, Any]:
    """The event in CloudEvents structured JSON (the feed's items)."""
    return attributes(event) | {"data": event.data}
