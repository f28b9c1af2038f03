"""The API: one DRF viewset per entity, routed by ``segments.api.urls``.

Each viewset reads through the selectors (tenancy: an entity the caller may not see is
404, 0007) and writes through the services (every rule, one transaction), after
``tenancy.authorize`` (a member whose role does not allow a write gets 403, 9004). The
hooks of one entity — ``scope``, ``get_queryset``, ``get_object``, ``perform_create``,
``perform_update``, ``perform_destroy`` — are its whole adapter to the domain; lists are
filtered by the entity's FilterSet (``filtering.EntityFilterBackend``) and paged by
``pagination.EntityPagination``. Routes and their documentation: ``schema``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema_view
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.metadata import SimpleMetadata
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import Serializer
from rest_framework.viewsets import GenericViewSet

from segments import errors, selectors, services
from segments.api import operations as docs
from segments.api.effective import (
    ACCOUNT_BENEFIT_DOCS,
    PORTFOLIO_BENEFIT_DOCS,
    AccountBenefitsMixin,
    EffectiveBenefitsMixin,
)
from segments.api.filtering import EntityFilterBackend
from segments.api.idempotent import idempotent
from segments.api.pagination import TOTAL_COUNT_HEADER, AccountPagination, EntityPagination
from segments.api.parsing import parse_body
from segments.api.renderers import FastJSONRenderer, ProblemAwareNegotiation
from segments.api.rows import ACCOUNT_ROWS, PORTFOLIO_ROWS, SEGMENT_ROWS, RowFormat
from segments.api.rule_preview import (
    EXPLANATION_DOCS,
    RulePreviewMixin,
    SegmentExplanationMixin,
    preview_docs,
)
from segments.api.rules import RuleMixin, rule_docs
from segments.api.schema import PATH_UUIDS, ApiAutoSchema
from segments.api.serializers import (
    AccountSerializer,
    HistoryEntrySerializer,
    MembersInputSerializer,
    PortfolioSerializer,
)
from segments.api.shapes import SERIALIZERS
from segments.api.throttling import ApiRateThrottle
from segments.filters import (
    AccountFilterSet,
    LedgerFilterSet,
    OrganizationFilterSet,
    PortfolioFilterSet,
    SegmentFilterSet,
)
from segments.ids import uuid_or_none
from segments.models import Account, Entity, Ledger, Organization, Portfolio, Segment
from segments.tenancy import Action, authorize, authorize_organization_create


@dataclass(frozen=True)
class Scope:
    """The parents named by the path of a collection."""

    organization: Organization | None = None
    ledger: Ledger | None = None

    @property
    def parent(self) -> Organization | Ledger | None:
        """Where a new entity of the collection goes: the ledger, else the organization."""
        return self.ledger or self.organization


def _check_path_uuid(name: str, value: str) -> None:
    if uuid_or_none(value) is None:
        raise errors.InvalidPathParameter(
            f"Path parameter '{name}' must be a UUID (got '{value[:64]}').",
            fields={name: "must be a UUID"},
            values={name: value[:64]},
        )


def query_flag(request: Request, name: str) -> bool:
    """A ``true``/``false`` query parameter (absent: false), else 0082."""
    raw = (request.query_params.get(name) or "false").strip().lower()
    if raw not in ("true", "false"):
        raise errors.MalformedQuery(f"Query parameter '{name}' must be true or false.")
    return raw == "true"


ROUTE_NAMES = {"List": "List", "Instance": "Detail"}


class RouteMetadata(SimpleMetadata):
    """``OPTIONS``: the route's name, renderers and parsers. No field list: the OpenAPI
    document describes the bodies (DRF's would list the output serializer's fields as
    if they could be sent)."""

    def determine_actions(self, request: Request, view: Any) -> dict:
        return {}


class ApiViewSet(GenericViewSet):
    """What every API route shares: authenticated (Bearer token or session), throttled
    per token, JSON through orjson, errors as problem documents, OPTIONS without field
    lists; path ids must be UUIDs (anything else is 400, 0065)."""

    throttle_classes = [ApiRateThrottle]
    renderer_classes = [FastJSONRenderer]
    content_negotiation_class = ProblemAwareNegotiation
    metadata_class = RouteMetadata
    schema = ApiAutoSchema()

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        for name in PATH_UUIDS:
            if name in kwargs:
                _check_path_uuid(name, kwargs[name])


class EntityViewSet(ApiViewSet):
    """List (filters, paging, ``X-Total-Count``), create (201), retrieve, partial update
    (``If-Match``), destroy (204, ``If-Match``) and ``HEAD metrics/count`` of one entity."""

    filter_backends = [EntityFilterBackend]
    pagination_class = EntityPagination
    lookup_url_kwarg = "id"
    lookup_value_regex = "[^/]+"

    view_label: ClassVar[str]  # "Organization Segment": OPTIONS names the route after it
    input_serializer: ClassVar[type[Serializer]]
    rows: ClassVar[RowFormat | None] = None  # renders list pages like the serializer, faster

    def get_view_name(self) -> str:
        return f"{self.view_label} {self.name or ROUTE_NAMES.get(self.suffix, '')}".strip()

    def get_view_description(self, html: bool = False) -> str:
        return ""  # OPTIONS names the route; the OpenAPI document describes it

    # The adapter of one entity to the selectors and services.

    def scope(self) -> Scope:
        raise NotImplementedError

    def authorize_create(self, scope: Scope) -> None:
        """Creating under a parent needs a role that may change the organization."""
        authorize(self.request.user, scope.organization.pk, Action.CHANGE)

    # The entity's services: create_x(actor, parent, **fields), update_x(actor, obj,
    # changes, *, if_match), delete_x(actor, obj, *, if_match), as staticmethods.
    create_entity: ClassVar[Callable[..., Entity]]
    update_entity: ClassVar[Callable[..., Entity]]
    delete_entity: ClassVar[Callable[..., Any]]

    def perform_create(self, scope: Scope, fields: dict[str, Any]) -> Entity:
        return self.create_entity(self.request.user, scope.parent, **fields)

    def perform_update(self, obj: Entity, changes: dict[str, Any], if_match: str | None) -> Entity:
        return self.update_entity(self.request.user, obj, changes, if_match=if_match)

    def perform_destroy(self, obj: Entity, if_match: str | None) -> None:
        self.delete_entity(self.request.user, obj, if_match=if_match)

    def organization_of(self, obj: Entity) -> Any:
        return obj.organization_id

    # The routes.

    def entity_response(self, obj: Entity, status_code: int = status.HTTP_200_OK) -> Response:
        body = self.get_serializer(obj).data
        return Response(body, status=status_code, headers={"ETag": services.entity_etag(obj)})

    def page_response(
        self,
        queryset: QuerySet,
        *,
        rows: RowFormat | None = None,
        serializer_class: type[Serializer] | None = None,
        total: int | None = None,
    ) -> Response:
        """One page of ``queryset``: read with ``values()`` and rendered by ``rows`` when
        given (the same JSON as the serializer, without per-item serializers: issue #7)."""
        if rows is not None:
            page = self.paginator.paginate_queryset(
                queryset.values(*rows.columns), self.request, self, total=total
            )
            items = rows.items(page)
        else:
            page = self.paginator.paginate_queryset(queryset, self.request, self, total=total)
            items = (serializer_class or self.get_serializer_class())(page, many=True).data
        return self.paginator.get_paginated_response(items)

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self.page_response(self.filter_queryset(self.get_queryset()), rows=self.rows)

    @idempotent
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        scope = self.scope()
        self.authorize_create(scope)
        fields = parse_body(
            self.input_serializer, request.data, output_class=self.get_serializer_class()
        )
        return self.entity_response(self.perform_create(scope, fields), status.HTTP_201_CREATED)

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self.entity_response(self.get_object())

    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        obj = self.get_object()
        authorize(request.user, self.organization_of(obj), Action.CHANGE)
        changes = parse_body(
            self.input_serializer,
            request.data,
            update=True,
            output_class=self.get_serializer_class(),
        )
        obj = self.perform_update(obj, changes, request.headers.get("If-Match"))
        return self.entity_response(obj)

    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        obj = self.get_object()
        authorize(request.user, self.organization_of(obj), Action.DELETE)
        self.perform_destroy(obj, request.headers.get("If-Match"))
        return Response(status=status.HTTP_204_NO_CONTENT)

    @action(
        detail=False, methods=["head"], url_path="metrics/count", url_name="count", name="Count"
    )
    def count(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """204 with ``X-Total-Count``; the list's filters apply."""
        total = self.filter_queryset(self.get_queryset()).count()
        return Response(status=status.HTTP_204_NO_CONTENT, headers={TOTAL_COUNT_HEADER: str(total)})


# Each entity's viewset declares the same parts in the same order (its label, queryset,
# serializers, FilterSet and services, then the hooks from its path to the selectors):
# the one shape every entity has, so the likeness between them is kept on purpose.


@extend_schema_view(
    **docs.crud_docs("Organization", "Organizations", "Organizations", Organization)
)
class OrganizationViewSet(EntityViewSet):
    view_label = "Organization"
    queryset = Organization.objects.all()
    serializer_class, input_serializer = SERIALIZERS[Organization]
    filterset_class = OrganizationFilterSet
    create_entity = staticmethod(services.create_organization)
    update_entity = staticmethod(services.update_organization)
    delete_entity = staticmethod(services.delete_organization)

    def scope(self) -> Scope:
        return Scope()

    def get_queryset(self) -> QuerySet[Organization]:
        return selectors.organizations_visible(self.request.user)

    def get_object(self) -> Organization:
        return selectors.get_organization(self.request.user, self.kwargs["id"])

    def authorize_create(self, scope: Scope) -> None:
        authorize_organization_create(self.request.user)

    def perform_create(self, scope: Scope, fields: dict[str, Any]) -> Organization:
        return self.create_entity(self.request.user, **fields)  # an organization has no parent

    def organization_of(self, obj: Organization) -> Any:
        return obj.pk


@extend_schema_view(**docs.crud_docs("Ledger", "Ledgers", "Ledgers", Ledger))
class LedgerViewSet(EntityViewSet):
    view_label = "Ledger"
    queryset = Ledger.objects.all()
    serializer_class, input_serializer = SERIALIZERS[Ledger]
    filterset_class = LedgerFilterSet
    create_entity = staticmethod(services.create_ledger)
    update_entity = staticmethod(services.update_ledger)
    delete_entity = staticmethod(services.delete_ledger)

    def scope(self) -> Scope:
        organization = selectors.get_organization(self.request.user, self.kwargs["organization_id"])
        return Scope(organization=organization)

    def get_queryset(self) -> QuerySet[Ledger]:
        return selectors.ledgers_of(self.request.user, self.scope().organization)

    def get_object(self) -> Ledger:
        path = self.kwargs
        return selectors.get_ledger(self.request.user, path["organization_id"], path["id"])


class InLedgerViewSet(EntityViewSet):
    """Entities that live in a ledger: the path names the organization and the ledger."""

    def scope(self) -> Scope:
        path = self.kwargs
        ledger = selectors.get_ledger(self.request.user, path["organization_id"], path["ledger_id"])
        return Scope(organization=ledger.organization, ledger=ledger)


@extend_schema_view(
    **docs.crud_docs("Segment", "Segments", "Segments", Segment),
    **docs.member_docs("Segment", "Segments"),
    **rule_docs("Segment", "Segments"),
    **preview_docs("Segment", "Segments"),
)
class SegmentViewSet(RuleMixin, RulePreviewMixin, InLedgerViewSet):
    """Segments of a ledger, their members, their history and their rule. Their bodies
    carry their direct members' counts (the segment's own columns, kept by triggers)."""

    view_label = "Segment"
    queryset = Segment.objects.all()
    serializer_class, input_serializer = SERIALIZERS[Segment]
    filterset_class = SegmentFilterSet
    create_entity = staticmethod(services.create_segment)
    update_entity = staticmethod(services.update_segment)
    delete_entity = staticmethod(services.delete_segment)
    rows = SEGMENT_ROWS

    def get_queryset(self) -> QuerySet[Segment]:
        scope = self.scope()
        return selectors.segments_of(self.request.user, scope.organization, scope.ledger)

    def get_object(self) -> Segment:
        path = self.kwargs
        return selectors.get_segment(
            self.request.user, path["organization_id"], path.get("ledger_id"), path["id"]
        )

    def perform_destroy(self, obj: Segment, if_match: str | None) -> None:
        """``?detach=true`` takes the members out and deletes in one transaction."""
        detach = query_flag(self.request, "detach")
        self.delete_entity(self.request.user, obj, detach=detach, if_match=if_match)

    def _member_ids(self, segment: Segment) -> dict[str, list]:
        authorize(self.request.user, segment.organization_id, Action.CHANGE)
        body = parse_body(MembersInputSerializer, self.request.data)
        return {
            "account_ids": body.get("accountIds", []),
            "portfolio_ids": body.get("portfolioIds", []),
        }

    @action(detail=True, methods=["get", "post"], name="Members")
    def members(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """``GET``: the segment's direct members; ``POST``: put some in."""
        if request.method == "POST":
            return self.assign_members(request, *args, **kwargs)
        return self.list_members(request)

    def list_members(self, request: Request) -> Response:
        """Accounts or portfolios (``kind``) tagged with the segment. Unfiltered, the total
        is the segment's member counter (no COUNT of 500k rows)."""
        segment = self.get_object()
        params = request.query_params
        kind = params.get("kind") or "account"
        if kind == "account":
            queryset = selectors.list_segment_accounts(request.user, segment, params)
            rows, output = ACCOUNT_ROWS, AccountSerializer
        elif kind == "portfolio":
            queryset = selectors.list_segment_portfolios(request.user, segment, params)
            rows, output = PORTFOLIO_ROWS, PortfolioSerializer
        else:
            raise errors.MalformedQuery("Query parameter 'kind' must be account or portfolio.")
        total = selectors.member_total(segment, kind, params)
        return self.page_response(queryset, rows=rows, serializer_class=output, total=total)

    @idempotent
    def assign_members(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        segment = self.get_object()
        counts = services.assign_members(request.user, segment, **self._member_ids(segment))
        return Response({"assigned": counts["accounts"] + counts["portfolios"], **counts})

    @action(
        detail=True,
        methods=["post"],
        url_path="members/remove",
        url_name="members-remove",
        name="Members Remove",
    )
    @idempotent
    def remove_members(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        segment = self.get_object()
        counts = services.remove_members(request.user, segment, **self._member_ids(segment))
        return Response({"removed": counts["accounts"] + counts["portfolios"], **counts})

    @action(detail=True, methods=["get"], name="History")
    def history(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Every change to the segment and its membership, newest first."""
        entries = selectors.list_segment_history(request.user, self.get_object())
        return self.page_response(entries, serializer_class=HistoryEntrySerializer)


@extend_schema_view(
    **docs.crud_docs(
        "OrganizationSegment", "OrganizationSegments", "Organization segments", Segment
    ),
    **docs.member_docs("OrganizationSegment", "Organization segments"),
    **rule_docs("OrganizationSegment", "Organization segments"),
    **preview_docs("OrganizationSegment", "Organization segments"),
)
class OrganizationSegmentViewSet(SegmentViewSet):
    """Organization-level segments: usable by accounts and portfolios of every ledger."""

    view_label = "Organization Segment"

    def scope(self) -> Scope:
        organization = selectors.get_organization(self.request.user, self.kwargs["organization_id"])
        return Scope(organization=organization)


@extend_schema_view(
    **docs.crud_docs("Portfolio", "Portfolios", "Portfolios", Portfolio), **PORTFOLIO_BENEFIT_DOCS
)
class PortfolioViewSet(EffectiveBenefitsMixin, InLedgerViewSet):
    view_label = "Portfolio"
    subject_key = "portfolioId"
    queryset = Portfolio.objects.all()
    serializer_class, input_serializer = SERIALIZERS[Portfolio]
    filterset_class = PortfolioFilterSet
    create_entity = staticmethod(services.create_portfolio)
    update_entity = staticmethod(services.update_portfolio)
    delete_entity = staticmethod(services.delete_portfolio)
    rows = PORTFOLIO_ROWS

    def get_queryset(self) -> QuerySet[Portfolio]:
        return selectors.portfolios_of(self.request.user, self.scope().ledger)

    def get_object(self) -> Portfolio:
        path = self.kwargs
        return selectors.get_portfolio(
            self.request.user, path["organization_id"], path["ledger_id"], path["id"]
        )


@extend_schema_view(
    **docs.crud_docs("Account", "Accounts", "Accounts", Account),
    **docs.ACCOUNT_LOOKUPS,
    **ACCOUNT_BENEFIT_DOCS,
    **EXPLANATION_DOCS,
)
class AccountViewSet(SegmentExplanationMixin, AccountBenefitsMixin, InLedgerViewSet):
    """Accounts of a ledger; pages after the first by number or by keyset ``cursor``."""

    view_label = "Account"
    queryset = Account.objects.all()
    serializer_class, input_serializer = SERIALIZERS[Account]
    filterset_class = AccountFilterSet
    create_entity = staticmethod(services.create_account)
    update_entity = staticmethod(services.update_account)
    delete_entity = staticmethod(services.delete_account)
    pagination_class = AccountPagination
    rows = ACCOUNT_ROWS

    def get_queryset(self) -> QuerySet[Account]:
        return selectors.accounts_of(self.request.user, self.scope().ledger)

    def get_object(self, **lookup: Any) -> Account:
        path = self.kwargs
        return selectors.get_account(
            self.request.user,
            path["organization_id"],
            path["ledger_id"],
            **(lookup or {"pk": path["id"]}),
        )

    @action(
        detail=False,
        methods=["get"],
        url_path="alias/(?P<alias>.+)",
        url_name="by-alias",
        name="By Alias",
    )
    def by_alias(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self.entity_response(self.get_object(alias=kwargs["alias"]))

    @action(
        detail=False,
        methods=["get"],
        url_path="external/(?P<code>[^/]+)",
        url_name="external",
        name="By External Code",
    )
    def by_external_code(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """The account whose alias is ``@external/{code}``."""
        return self.entity_response(self.get_object(alias=f"@external/{kwargs['code']}"))
