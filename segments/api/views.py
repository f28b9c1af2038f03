"""The API views: each one parses the request, calls a selector or a service, renders.

Tenancy comes from the selectors (an entity the caller may not see is 404, 0007) and from
``tenancy.authorize`` (a member whose role does not allow a write gets 403, 9004); rules
come from the services. An ``Endpoint`` tells the generic views how one entity reaches
them; the concrete view classes at the bottom only add the OpenAPI documentation.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from functools import wraps
from typing import Any, ClassVar

from django.db.models import QuerySet
from rest_framework import status
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import Serializer
from rest_framework.views import APIView

from segments import errors, selectors, services
from segments.api import schema as docs
from segments.api.renderers import FastJSONRenderer, ProblemAwareNegotiation
from segments.api.rows import ACCOUNT_ROWS, PORTFOLIO_ROWS, SEGMENT_ROWS, RowFormat
from segments.api.serializers import (
    AccountInputSerializer,
    AccountSerializer,
    HistoryEntrySerializer,
    LedgerInputSerializer,
    LedgerSerializer,
    MembersInputSerializer,
    OrganizationInputSerializer,
    OrganizationSerializer,
    PortfolioInputSerializer,
    PortfolioSerializer,
    SegmentInputSerializer,
    SegmentSerializer,
    parse_body,
)
from segments.api.throttling import ApiRateThrottle
from segments.idempotency import (
    IDEMPOTENCY_HEADER,
    REPLAYED_HEADER,
    REPLAYED_RESPONSE_HEADERS,
    StoredAnswer,
    request_fingerprint,
    run_once,
)
from segments.models import Account, Entity, Ledger, Organization, Portfolio, Segment
from segments.tenancy import Action, authorize, authorize_organization_create

TOTAL_COUNT_HEADER = "X-Total-Count"


class ApiView(APIView):
    """Authenticated (Bearer token or session), throttled per token, errors as problem
    documents. Path ids must be UUIDs: anything else is 400 (0065)."""

    throttle_classes = [ApiRateThrottle]
    renderer_classes = [FastJSONRenderer]
    content_negotiation_class = ProblemAwareNegotiation
    schema = docs.ApiAutoSchema()

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        for name in docs.PATH_UUIDS:
            if name in kwargs:
                _check_path_uuid(name, kwargs[name])


def _check_path_uuid(name: str, value: str) -> None:
    try:
        uuid.UUID(value)
    except ValueError:
        raise errors.InvalidPathParameter(
            f"Path parameter '{name}' must be a UUID (got '{value[:64]}').",
            fields={name: "must be a UUID"},
            values={name: value[:64]},
        ) from None


def _query_flag(params: Mapping[str, Any], name: str) -> bool:
    raw = (params.get(name) or "false").strip().lower()
    if raw not in ("true", "false"):
        raise errors.MalformedQuery(f"Query parameter '{name}' must be true or false.")
    return raw == "true"


def offset_page(
    output: type[Serializer],
    queryset: QuerySet,
    params: Mapping[str, Any],
    rows: RowFormat | None = None,
    total: int | None = None,
) -> tuple[dict[str, Any], int]:
    """``{"items": [...], "page": n, "limit": n}`` by page number, and the total. With
    ``rows`` the page is read as ``values()`` and rendered by it (the same JSON as
    ``output``, without per-item serializers: issue #7)."""
    if rows is not None:
        page = selectors.paginate(queryset.values(*rows.columns), params, total)
        items = rows.items(page.items)
    else:
        page = selectors.paginate(queryset, params, total)
        items = output(page.items, many=True).data
    body = {"items": items, "page": page.page, "limit": page.limit}
    return body, page.total


# --------------------------------------------------------------------------- endpoints


@dataclass(frozen=True)
class Scope:
    """The parents named by the path of a collection."""

    organization: Organization | None = None
    ledger: Ledger | None = None


class Endpoint:
    """How one entity's routes reach the selectors and services."""

    model: ClassVar[type[Entity]]
    output: ClassVar[type[Serializer]]
    input: ClassVar[type[Serializer]]
    rows: ClassVar[RowFormat | None] = None  # renders list pages like ``output``, faster

    def scope(self, user, path: Mapping[str, str]) -> Scope:
        raise NotImplementedError

    def fetch(self, user, path: Mapping[str, str]) -> Entity:
        raise NotImplementedError

    def queryset(self, user, scope: Scope, params: Mapping[str, Any]) -> QuerySet:
        raise NotImplementedError

    def create(self, actor, scope: Scope, fields: dict[str, Any]) -> Entity:
        raise NotImplementedError

    def update(self, actor, obj: Entity, changes: dict[str, Any], if_match: str | None) -> Entity:
        raise NotImplementedError

    def delete(self, actor, obj: Entity, if_match: str | None, params: Mapping[str, Any]) -> None:
        raise NotImplementedError

    def organization_id(self, obj: Entity):
        return obj.organization_id

    def authorize_create(self, user, scope: Scope) -> None:
        """Creating under a parent needs a role that may change the organization."""
        authorize(user, scope.organization.pk, Action.CHANGE)

    def prepare(self, obj: Entity) -> Entity:
        """The entity with what its body shows beyond its own columns."""
        return obj

    def page(self, queryset: QuerySet, params: Mapping[str, Any]) -> tuple[dict[str, Any], int]:
        """One page of the list, and the total over all pages."""
        return offset_page(self.output, queryset, params, self.rows)


class Organizations(Endpoint):
    model, output, input = Organization, OrganizationSerializer, OrganizationInputSerializer

    def scope(self, user, path):
        return Scope()

    def fetch(self, user, path):
        return selectors.get_organization(user, path["id"])

    def queryset(self, user, scope, params):
        return selectors.list_organizations(user, params)

    def authorize_create(self, user, scope):
        authorize_organization_create(user)

    def create(self, actor, scope, fields):
        return services.create_organization(actor, **fields)

    def update(self, actor, obj, changes, if_match):
        return services.update_organization(actor, obj, changes, if_match=if_match)

    def delete(self, actor, obj, if_match, params):
        services.delete_organization(actor, obj, if_match=if_match)

    def organization_id(self, obj):
        return obj.pk


class Ledgers(Endpoint):
    model, output, input = Ledger, LedgerSerializer, LedgerInputSerializer

    def scope(self, user, path):
        return Scope(organization=selectors.get_organization(user, path["organization_id"]))

    def fetch(self, user, path):
        return selectors.get_ledger(user, path["organization_id"], path["id"])

    def queryset(self, user, scope, params):
        return selectors.list_ledgers(user, scope.organization, params)

    def create(self, actor, scope, fields):
        return services.create_ledger(actor, scope.organization, **fields)

    def update(self, actor, obj, changes, if_match):
        return services.update_ledger(actor, obj, changes, if_match=if_match)

    def delete(self, actor, obj, if_match, params):
        services.delete_ledger(actor, obj, if_match=if_match)


class InLedger(Endpoint):
    """Entities that live in a ledger: the path names the organization and the ledger."""

    def scope(self, user, path):
        ledger = selectors.get_ledger(user, path["organization_id"], path["ledger_id"])
        return Scope(organization=ledger.organization, ledger=ledger)


class Segments(InLedger):
    """Segments of a ledger. Their bodies carry their direct members' counts."""

    model, output, input = Segment, SegmentSerializer, SegmentInputSerializer
    rows = SEGMENT_ROWS

    def fetch(self, user, path):
        return selectors.get_segment(
            user, path["organization_id"], path.get("ledger_id"), path["id"]
        )

    def queryset(self, user, scope, params):
        return selectors.list_segments(user, scope.organization, scope.ledger, params)

    def create(self, actor, scope, fields):
        return services.create_segment(actor, scope.ledger or scope.organization, **fields)

    def update(self, actor, obj, changes, if_match):
        return services.update_segment(actor, obj, changes, if_match=if_match)

    def delete(self, actor, obj, if_match, params):
        """``?detach=true`` takes the members out and deletes in one transaction."""
        detach = _query_flag(params, "detach")
        services.delete_segment(actor, obj, detach=detach, if_match=if_match)

    # The member counts are the segment's own columns (kept by triggers): nothing to add.


class OrganizationSegments(Segments):
    """Organization-level segments: usable by accounts and portfolios of every ledger."""

    def scope(self, user, path):
        return Scope(organization=selectors.get_organization(user, path["organization_id"]))


class Portfolios(InLedger):
    model, output, input = Portfolio, PortfolioSerializer, PortfolioInputSerializer
    rows = PORTFOLIO_ROWS

    def fetch(self, user, path):
        return selectors.get_portfolio(user, path["organization_id"], path["ledger_id"], path["id"])

    def queryset(self, user, scope, params):
        return selectors.list_portfolios(user, scope.ledger, params)

    def create(self, actor, scope, fields):
        return services.create_portfolio(actor, scope.ledger, **fields)

    def update(self, actor, obj, changes, if_match):
        return services.update_portfolio(actor, obj, changes, if_match=if_match)

    def delete(self, actor, obj, if_match, params):
        services.delete_portfolio(actor, obj, if_match=if_match)


class Accounts(InLedger):
    model, output, input = Account, AccountSerializer, AccountInputSerializer
    rows = ACCOUNT_ROWS

    def fetch(self, user, path):
        return selectors.get_account(
            user, path["organization_id"], path["ledger_id"], pk=path["id"]
        )

    def queryset(self, user, scope, params):
        return selectors.list_accounts(user, scope.ledger, params)

    def create(self, actor, scope, fields):
        return services.create_account(actor, scope.ledger, **fields)

    def update(self, actor, obj, changes, if_match):
        return services.update_account(actor, obj, changes, if_match=if_match)

    def delete(self, actor, obj, if_match, params):
        services.delete_account(actor, obj, if_match=if_match)

    def page(self, queryset, params):
        """Pages after the first may be asked by number (offset) or by ``cursor`` (keyset,
        stable under inserts); the first page and every cursor page answer
        ``next_cursor`` / ``prev_cursor`` when there is more that way. A ``sort`` other
        than creation order pages by number only (``selectors.cursor_paging``)."""
        page_number, _ = selectors.page_params(params)
        if not selectors.cursor_paging(params) or (page_number > 1 and not params.get("cursor")):
            return super().page(queryset, params)
        page = selectors.paginate_by_cursor(queryset.values(*self.rows.columns), params)
        body: dict[str, Any] = {"items": self.rows.items(page.items)}
        if not params.get("cursor"):
            body["page"] = 1
        body["limit"] = page.limit
        if page.next_cursor:
            body["next_cursor"] = page.next_cursor
        if page.prev_cursor:
            body["prev_cursor"] = page.prev_cursor
        if not params.get("cursor") and not page.next_cursor:
            return body, len(page.items)  # the whole list fits in this first page
        return body, queryset.order_by().count()


ORGANIZATIONS = Organizations()
LEDGERS = Ledgers()
SEGMENTS = Segments()
ORGANIZATION_SEGMENTS = OrganizationSegments()
PORTFOLIOS = Portfolios()
ACCOUNTS = Accounts()


def entity_response(
    endpoint: Endpoint, obj: Entity, status_code: int = status.HTTP_200_OK
) -> Response:
    obj = endpoint.prepare(obj)
    return Response(
        endpoint.output(obj).data, status=status_code, headers={"ETag": services.entity_etag(obj)}
    )


# --------------------------------------------------------------------------- generic views


def idempotent(handler):
    """A POST made with ``Idempotency-Key`` runs at most once per key within 24 h: a retry
    with the same body gets the first answer again (``Idempotent-Replayed: true``), a
    retry with another body is refused (9007). See ``segments.idempotency``."""

    @wraps(handler)
    def wrapper(self: ApiView, request: Request, **path: str) -> Response:
        key = request.headers.get(IDEMPOTENCY_HEADER)
        if key is None:
            return handler(self, request, **path)
        fingerprint = request_fingerprint(request.method, request.path, request.data)

        def run() -> StoredAnswer:
            response = handler(self, request, **path)
            kept = {name: response[name] for name in REPLAYED_RESPONSE_HEADERS if name in response}
            return StoredAnswer(
                response.status_code, json.loads(JSONRenderer().render(response.data)), kept
            )

        answer, replayed = run_once(request.user, key, fingerprint, run)
        response = Response(answer.body, status=answer.status_code, headers=answer.headers)
        if replayed:
            response[REPLAYED_HEADER] = "true"
        return response

    return wrapper


class CollectionView(ApiView):
    """``GET`` lists (filters, paging, ``X-Total-Count``); ``POST`` creates (201)."""

    endpoint: ClassVar[Endpoint]

    def get(self, request: Request, **path: str) -> Response:
        scope = self.endpoint.scope(request.user, path)
        queryset = self.endpoint.queryset(request.user, scope, request.query_params)
        body, total = self.endpoint.page(queryset, request.query_params)
        return Response(body, headers={TOTAL_COUNT_HEADER: str(total)})

    @idempotent
    def post(self, request: Request, **path: str) -> Response:
        endpoint = self.endpoint
        scope = endpoint.scope(request.user, path)
        endpoint.authorize_create(request.user, scope)
        fields = parse_body(endpoint.input, request.data, output_class=endpoint.output)
        obj = endpoint.create(request.user, scope, fields)
        return entity_response(endpoint, obj, status.HTTP_201_CREATED)


class DetailView(ApiView):
    """``GET`` / ``PATCH`` (partial, ``If-Match``) / ``DELETE`` (204, ``If-Match``)."""

    endpoint: ClassVar[Endpoint]

    def get(self, request: Request, **path: str) -> Response:
        return entity_response(self.endpoint, self.endpoint.fetch(request.user, path))

    def patch(self, request: Request, **path: str) -> Response:
        endpoint = self.endpoint
        obj = endpoint.fetch(request.user, path)
        authorize(request.user, endpoint.organization_id(obj), Action.CHANGE)
        changes = parse_body(
            endpoint.input, request.data, update=True, output_class=endpoint.output
        )
        obj = endpoint.update(request.user, obj, changes, request.headers.get("If-Match"))
        return entity_response(endpoint, obj)

    def delete(self, request: Request, **path: str) -> Response:
        endpoint = self.endpoint
        obj = endpoint.fetch(request.user, path)
        authorize(request.user, endpoint.organization_id(obj), Action.DELETE)
        endpoint.delete(request.user, obj, request.headers.get("If-Match"), request.query_params)
        return Response(status=status.HTTP_204_NO_CONTENT)


class CountView(ApiView):
    """``HEAD .../metrics/count``: 204 with ``X-Total-Count`` (the list's filters apply)."""

    endpoint: ClassVar[Endpoint]

    def head(self, request: Request, **path: str) -> Response:
        scope = self.endpoint.scope(request.user, path)
        total = self.endpoint.queryset(request.user, scope, request.query_params).count()
        return Response(status=status.HTTP_204_NO_CONTENT, headers={TOTAL_COUNT_HEADER: str(total)})


# --------------------------------------------------------------------------- documented routes


def _docs(label: str, plural: str, tag: str, endpoint: Endpoint) -> dict[str, Any]:
    return docs.crud_docs(
        label,
        plural,
        tag,
        endpoint.model,
        endpoint.output,
        endpoint.input,
        cursor=endpoint is ACCOUNTS,
    )


ORGANIZATION_DOCS = _docs("Organization", "Organizations", "Organizations", ORGANIZATIONS)
LEDGER_DOCS = _docs("Ledger", "Ledgers", "Ledgers", LEDGERS)
SEGMENT_DOCS = _docs("Segment", "Segments", "Segments", SEGMENTS)
ORGANIZATION_SEGMENT_DOCS = _docs(
    "OrganizationSegment", "OrganizationSegments", "Organization segments", ORGANIZATION_SEGMENTS
)
PORTFOLIO_DOCS = _docs("Portfolio", "Portfolios", "Portfolios", PORTFOLIOS)
ACCOUNT_DOCS = _docs("Account", "Accounts", "Accounts", ACCOUNTS)


@ORGANIZATION_DOCS["list"]
class OrganizationList(CollectionView):
    endpoint = ORGANIZATIONS


@ORGANIZATION_DOCS["detail"]
class OrganizationDetail(DetailView):
    endpoint = ORGANIZATIONS


@ORGANIZATION_DOCS["count"]
class OrganizationCount(CountView):
    endpoint = ORGANIZATIONS


@LEDGER_DOCS["list"]
class LedgerList(CollectionView):
    endpoint = LEDGERS


@LEDGER_DOCS["detail"]
class LedgerDetail(DetailView):
    endpoint = LEDGERS


@LEDGER_DOCS["count"]
class LedgerCount(CountView):
    endpoint = LEDGERS


@SEGMENT_DOCS["list"]
class SegmentList(CollectionView):
    endpoint = SEGMENTS


@SEGMENT_DOCS["detail"]
class SegmentDetail(DetailView):
    endpoint = SEGMENTS


@SEGMENT_DOCS["count"]
class SegmentCount(CountView):
    endpoint = SEGMENTS


@ORGANIZATION_SEGMENT_DOCS["list"]
class OrganizationSegmentList(CollectionView):
    endpoint = ORGANIZATION_SEGMENTS


@ORGANIZATION_SEGMENT_DOCS["detail"]
class OrganizationSegmentDetail(DetailView):
    endpoint = ORGANIZATION_SEGMENTS


@ORGANIZATION_SEGMENT_DOCS["count"]
class OrganizationSegmentCount(CountView):
    endpoint = ORGANIZATION_SEGMENTS


@PORTFOLIO_DOCS["list"]
class PortfolioList(CollectionView):
    endpoint = PORTFOLIOS


@PORTFOLIO_DOCS["detail"]
class PortfolioDetail(DetailView):
    endpoint = PORTFOLIOS


@PORTFOLIO_DOCS["count"]
class PortfolioCount(CountView):
    endpoint = PORTFOLIOS


@ACCOUNT_DOCS["list"]
class AccountList(CollectionView):
    endpoint = ACCOUNTS


@ACCOUNT_DOCS["detail"]
class AccountDetail(DetailView):
    endpoint = ACCOUNTS


@ACCOUNT_DOCS["count"]
class AccountCount(CountView):
    endpoint = ACCOUNTS


class AccountByAlias(ApiView):
    @docs.get_operation(
        "Account",
        "Accounts",
        AccountSerializer,
        operation_id="getAccountByAlias",
        summary="Retrieve an account by alias",
    )
    def get(self, request: Request, organization_id: str, ledger_id: str, alias: str) -> Response:
        account = selectors.get_account(request.user, organization_id, ledger_id, alias=alias)
        return entity_response(ACCOUNTS, account)


class AccountByExternalCode(ApiView):
    @docs.get_operation(
        "Account",
        "Accounts",
        AccountSerializer,
        operation_id="getAccountExternalByCode",
        summary="Retrieve an external account by code",
        description="The account whose alias is `@external/{code}`.",
    )
    def get(self, request: Request, organization_id: str, ledger_id: str, code: str) -> Response:
        account = selectors.get_account(
            request.user, organization_id, ledger_id, alias=f"@external/{code}"
        )
        return entity_response(ACCOUNTS, account)


# --------------------------------------------------------------------------- segment members


def _segment(request: Request, path: Mapping[str, str]) -> Segment:
    return selectors.get_segment(
        request.user, path["organization_id"], path.get("ledger_id"), path["id"]
    )


def _member_ids(request: Request, segment: Segment) -> dict[str, list]:
    authorize(request.user, segment.organization_id, Action.CHANGE)
    body = parse_body(MembersInputSerializer, request.data)
    return {
        "account_ids": body.get("accountIds", []),
        "portfolio_ids": body.get("portfolioIds", []),
    }


class SegmentMembersView(ApiView):
    """A segment's direct members: accounts and portfolios tagged with it."""

    def get(self, request: Request, **path: str) -> Response:
        segment = _segment(request, path)
        params = request.query_params
        kind = params.get("kind") or "account"
        # Unfiltered, the total is the segment's member counter (no COUNT of 500k rows).
        if kind == "account":
            queryset = selectors.list_segment_accounts(request.user, segment, params)
            known = selectors.member_total(segment, kind, params)
            body, total = offset_page(AccountSerializer, queryset, params, ACCOUNT_ROWS, known)
        elif kind == "portfolio":
            queryset = selectors.list_segment_portfolios(request.user, segment, params)
            known = selectors.member_total(segment, kind, params)
            body, total = offset_page(PortfolioSerializer, queryset, params, PORTFOLIO_ROWS, known)
        else:
            raise errors.MalformedQuery("Query parameter 'kind' must be account or portfolio.")
        return Response(body, headers={TOTAL_COUNT_HEADER: str(total)})

    @idempotent
    def post(self, request: Request, **path: str) -> Response:
        segment = _segment(request, path)
        counts = services.assign_members(request.user, segment, **_member_ids(request, segment))
        return Response({"assigned": counts["accounts"] + counts["portfolios"], **counts})


class SegmentMembersRemoveView(ApiView):
    @idempotent
    def post(self, request: Request, **path: str) -> Response:
        segment = _segment(request, path)
        counts = services.remove_members(request.user, segment, **_member_ids(request, segment))
        return Response({"removed": counts["accounts"] + counts["portfolios"], **counts})


class SegmentHistoryView(ApiView):
    def get(self, request: Request, **path: str) -> Response:
        segment = _segment(request, path)
        history = selectors.list_segment_history(request.user, segment)
        body, total = offset_page(HistoryEntrySerializer, history, request.query_params)
        return Response(body, headers={TOTAL_COUNT_HEADER: str(total)})


SEGMENT_MEMBER_DOCS = docs.member_docs("Segment", "Segments")
ORGANIZATION_SEGMENT_MEMBER_DOCS = docs.member_docs("OrganizationSegment", "Organization segments")


@SEGMENT_MEMBER_DOCS["members"]
class SegmentMembers(SegmentMembersView):
    pass


@SEGMENT_MEMBER_DOCS["remove"]
class SegmentMembersRemove(SegmentMembersRemoveView):
    pass


@SEGMENT_MEMBER_DOCS["history"]
class SegmentHistory(SegmentHistoryView):
    pass


@ORGANIZATION_SEGMENT_MEMBER_DOCS["members"]
class OrganizationSegmentMembers(SegmentMembersView):
    pass


@ORGANIZATION_SEGMENT_MEMBER_DOCS["remove"]
class OrganizationSegmentMembersRemove(SegmentMembersRemoveView):
    pass


@ORGANIZATION_SEGMENT_MEMBER_DOCS["history"]
class OrganizationSegmentHistory(SegmentHistoryView):
    pass
