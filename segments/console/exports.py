"""CSV exports: the console's Segments tab and a segment's Members tab, and the admin's
"export members" action. Every export is streamed row by row from a database cursor, so
it costs the same memory for ten rows as for a million.

Rules:

- an export holds exactly what its screen lists: the same selector, the same tenancy and
  the same filters (``request.GET``), every page of it;
- any member of the organization may export (viewer included); a non-member gets 404 and
  an anonymous visitor the login page;
- a member file is what ``manage.py import_segment_members`` reads back: its ``kind`` and
  ``id`` columns name each account or portfolio; its other columns (``segment_assigned_by``
  among them: ``manual``, ``rule`` or empty) are for reading and the import ignores them —
  importing pins every member it assigns, whatever the file says;
- the header row is in the user's language (``COLUMN_LABELS``: ``kind`` reads
  ``tipo_de_membro`` in Portuguese), machine-friendly in every language (lower case, no
  spaces); ``column_headers`` gives every language's header of a column, so the import
  reads a file exported in any of them. Values (``account``, ``ledger``, ``ACTIVE``) are
  data and are never translated;
- no cell is ever a formula: every value the rows hold is written by ``cell``, and every
  text — names, descriptions, aliases, types, codes, ids alike — goes through
  ``defuse``: one starting with ``= + - @``, a tab or a carriage return gets a leading
  apostrophe (OWASP's rule), so ``=HYPERLINK(…)`` reads ``'=HYPERLINK(…)`` and the alias
  ``@external/x`` reads ``'@external/x``. Real numbers (the member counts) are written as
  numbers, never prefixed; a negative number stored as text (``-5``) is text and reads
  ``'-5``. ``restore`` undoes ``defuse``: the import reads an exported alias back to the
  account it names.
"""

from __future__ import annotations

import csv
import io
import json
import uuid
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.db.models import QuerySet
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBadRequest,
    StreamingHttpResponse,
)
from django.utils import timezone
from django.utils.http import content_disposition_header
from django.utils.text import slugify
from django.utils.translation import override, pgettext_lazy
from django.views.decorators.http import require_GET

from segments import selectors
from segments.console.views.lists import date_window_params
from segments.errors import DomainError, EntityNotFound, MalformedQuery
from segments.models import Account, Ledger, Portfolio, Segment

CHUNK_SIZE = 2000
FLUSH_BYTES = 64 * 1024
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")

SEGMENT_COLUMNS = (
    "id",
    "name",
    "description",
    "scope",
    "organization_id",
    "ledger_id",
    "status",
    "status_description",
    "accounts",
    "portfolios",
    "metadata",
    "created_at",
    "updated_at",
)
# An account's own fields, named alike in a member file and in the model.
ACCOUNT_FIELDS = ("alias", "name", "type", "asset_code", "portfolio_id", "entity_id", "ledger_id")
MEMBER_COLUMNS = (
    "kind",
    "id",
    *ACCOUNT_FIELDS,
    "status",
    "blocked",
    "created_at",
    "segment_id",
    "segment_name",
    "segment_assigned_by",
)
MEMBER_KINDS = ("accounts", "portfolios")


# Spelled out (not built in a loop) so that makemessages finds each header.
COLUMN_LABELS = {
    "id": pgettext_lazy("CSV column header", "id"),
    "name": pgettext_lazy("CSV column header", "name"),
    "description": pgettext_lazy("CSV column header", "description"),
    "scope": pgettext_lazy("CSV column header", "scope"),
    "organization_id": pgettext_lazy("CSV column header", "organization_id"),
    "ledger_id": pgettext_lazy("CSV column header", "ledger_id"),
    "status": pgettext_lazy("CSV column header", "status"),
    "status_description": pgettext_lazy("CSV column header", "status_description"),
    "accounts": pgettext_lazy("CSV column header", "accounts"),
    "portfolios": pgettext_lazy("CSV column header", "portfolios"),
    "metadata": pgettext_lazy("CSV column header", "metadata"),
    "created_at": pgettext_lazy("CSV column header", "created_at"),
    "updated_at": pgettext_lazy("CSV column header", "updated_at"),
    "kind": pgettext_lazy("CSV column header", "kind"),
    "alias": pgettext_lazy("CSV column header", "alias"),
    "type": pgettext_lazy("CSV column header", "type"),
    "asset_code": pgettext_lazy("CSV column header", "asset_code"),
    "portfolio_id": pgettext_lazy("CSV column header", "portfolio_id"),
    "entity_id": pgettext_lazy("CSV column header", "entity_id"),
    "blocked": pgettext_lazy("CSV column header", "blocked"),
    "segment_id": pgettext_lazy("CSV column header", "segment_id"),
    "segment_name": pgettext_lazy("CSV column header", "segment_name"),
    "segment_assigned_by": pgettext_lazy("CSV column header", "segment_assigned_by"),
}


def header_row(columns: Sequence[str]) -> list[str]:
    """The header of ``columns`` in the active language."""
    return [str(COLUMN_LABELS[column]) for column in columns]


def column_headers(column: str) -> set[str]:
    """Every header ``column`` has in a language of the site (lower case); a column that
    no export writes is known by its name alone."""
    headers = {column}
    if column not in COLUMN_LABELS:
        return headers
    for language, _name in settings.LANGUAGES:
        with override(language):
            headers.add(str(COLUMN_LABELS[column]).lower())
    return headers


# --------------------------------------------------------------------------- streaming


def defuse(text: str) -> str:
    """The text of a cell as a spreadsheet shows it instead of running it: text starting
    with ``= + - @``, a tab or a carriage return gets a leading apostrophe."""
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


def restore(text: str) -> str:
    """The text that ``defuse`` wrote as ``text`` (its apostrophe taken off again)."""
    if text.startswith("'") and text[1:].startswith(FORMULA_PREFIXES):
        return text[1:]
    return text


def cell(value: Any) -> str:
    """The text of one CSV cell: empty for None, ``true``/``false``, ISO-8601 for times,
    compact JSON for objects, numbers as they are; any text through ``defuse``."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | Decimal):
        return str(value)
    if isinstance(value, datetime):
        text = value.isoformat()
    elif isinstance(value, dict | list):
        text = json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    else:
        text = str(value)
    return defuse(text)


def csv_chunks(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> Iterator[str]:
    """The CSV text of ``header`` and ``rows`` (values, each written by ``cell``), in
    chunks of about 64 KB."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([cell(value) for value in row])
        if buffer.tell() >= FLUSH_BYTES:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def csv_response(
    filename: str, header: Sequence[str], rows: Iterable[Sequence[Any]]
) -> StreamingHttpResponse:
    """A streamed CSV download of ``rows`` under the ``header`` columns (keys of
    ``COLUMN_LABELS``, written in the active language); ``rows`` is consumed while the
    response is sent."""
    response = StreamingHttpResponse(
        csv_chunks(header_row(header), rows), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = content_disposition_header(True, filename)
    response["Cache-Control"] = "no-store"
    return response


def dated_filename(*parts: str) -> str:
    """``segments-cards-20250101.csv`` from ``("segments", "Cards")``."""
    slug = "-".join(slugify(part) or "export" for part in parts)
    return f"{slug}-{timezone.now():%Y%m%d}.csv"


# --------------------------------------------------------------------------- rows


def segment_rows(segments: QuerySet[Segment]) -> Iterator[list[Any]]:
    """One row per segment; ``segments`` must carry ``account_count`` and
    ``portfolio_count`` (``selectors.with_member_counts``)."""
    for segment in segments.iterator(chunk_size=CHUNK_SIZE):
        yield [
            segment.pk,
            segment.name,
            segment.description,
            "organization" if segment.is_organization_level else "ledger",
            segment.organization_id,
            segment.ledger_id,
            segment.status_code,
            segment.status_description,
            segment.account_count,
            segment.portfolio_count,
            segment.metadata or {},
            segment.created_at,
            segment.updated_at,
        ]


ACCOUNT_VALUES = (
    "pk",
    *ACCOUNT_FIELDS,
    "status_code",
    "blocked",
    "created_at",
    "segment_assigned_by",
)
PORTFOLIO_VALUES = (
    "pk",
    "name",
    "entity_id",
    "ledger_id",
    "status_code",
    "created_at",
    "segment_assigned_by",
)


def member_rows(
    segment: Segment,
    accounts: QuerySet[Account] | None,
    portfolios: QuerySet[Portfolio] | None,
) -> Iterator[list[Any]]:
    """The rows of a segment's members (``MEMBER_COLUMNS``): ``accounts`` first, then
    ``portfolios``; pass None to leave a kind out. ``segment_assigned_by`` is ``manual``
    (pinned), ``rule`` or empty, as stored (data, never translated)."""
    if accounts is not None:
        # ACCOUNT_VALUES are the member columns from ``id`` to ``created_at``, in order,
        # then how the account was assigned.
        values = accounts.values_list(*ACCOUNT_VALUES).iterator(chunk_size=CHUNK_SIZE)
        for *row, assigned_by in values:
            yield ["account", *row, segment.pk, segment.name, assigned_by]
    if portfolios is not None:
        values = portfolios.values_list(*PORTFOLIO_VALUES).iterator(chunk_size=CHUNK_SIZE)
        for pk, name, entity, ledger, status, at, assigned_by in values:
            yield [
                "portfolio",
                pk,
                None,
                name,
                None,
                None,
                None,
                entity,
                ledger,
                status,
                None,
                at,
                segment.pk,
                segment.name,
                assigned_by,
            ]


def segments_members_rows(segments: Iterable[Segment]) -> Iterator[list[Any]]:
    """Every live member of each segment, for back-office staff (no tenancy: the admin
    sees every organization)."""
    for segment in segments:
        yield from member_rows(
            segment,
            Account.objects.filter(segment=segment).order_by("created_at", "id"),
            Portfolio.objects.filter(segment=segment).order_by("created_at", "id"),
        )


# --------------------------------------------------------------------------- console views


def _requested_kinds(request: HttpRequest) -> tuple[str, ...]:
    """``?kind=accounts`` or ``?kind=portfolios`` narrows a member export to one kind."""
    kind = request.GET.get("kind") or ""
    if kind and kind not in MEMBER_KINDS:
        raise MalformedQuery(f"kind must be one of: {', '.join(MEMBER_KINDS)}.")
    return (kind,) if kind else MEMBER_KINDS


def _member_segment(user, organization_id: Any, ledger: Ledger, segment_id: Any) -> Segment:
    """A segment shown in the ledger: its own, or one of its organization's."""
    try:
        return selectors.get_segment(user, organization_id, ledger.pk, segment_id)
    except EntityNotFound:
        return selectors.get_segment(user, organization_id, None, segment_id)


@login_required
@require_GET
def segments_csv(
    request: HttpRequest, organization_id: uuid.UUID, ledger_id: uuid.UUID
) -> HttpResponse:
    """Every segment of the ledger that the Segments tab lists with these filters, with
    its member counts."""
    try:
        ledger = selectors.get_ledger(request.user, organization_id, ledger_id)
        params = request.GET.dict() | date_window_params(request.GET)
        segments = selectors.list_segments(request.user, ledger.organization, ledger, params)
    except EntityNotFound:
        raise Http404("No such ledger.") from None
    except DomainError as error:
        return HttpResponseBadRequest(error.message, content_type="text/plain; charset=utf-8")
    return csv_response(
        dated_filename("segments", ledger.name), SEGMENT_COLUMNS, segment_rows(segments)
    )


@login_required
@require_GET
def segment_members_csv(
    request: HttpRequest, organization_id: uuid.UUID, ledger_id: uuid.UUID, segment_id: uuid.UUID
) -> HttpResponse:
    """Every member of the segment (accounts, then portfolios) that its Members tab lists
    with these filters. An organization segment's members come from all its ledgers."""
    try:
        ledger = selectors.get_ledger(request.user, organization_id, ledger_id)
        segment = _member_segment(request.user, organization_id, ledger, segment_id)
        kinds = _requested_kinds(request)
        accounts = (
            selectors.list_segment_accounts(request.user, segment, request.GET)
            if "accounts" in kinds
            else None
        )
        portfolios = (
            selectors.list_segment_portfolios(request.user, segment, request.GET)
            if "portfolios" in kinds
            else None
        )
    except EntityNotFound:
        raise Http404("No such segment.") from None
    except DomainError as error:
        return HttpResponseBadRequest(error.message, content_type="text/plain; charset=utf-8")
    return csv_response(
        dated_filename("segment", segment.name, "members"),
        MEMBER_COLUMNS,
        member_rows(segment, accounts, portfolios),
    )
