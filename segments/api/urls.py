"""Routes of the API under ``/v1/``: Midaz paths, no trailing slash. Path ids are taken as
text and checked by the views, so that a malformed one answers 400 (0065), not 404."""

from django.urls import path
from drf_spectacular.views import (
    SpectacularJSONAPIView,
    SpectacularSwaggerSplitView,
    SpectacularYAMLAPIView,
)

from segments.api import errors, views
from segments.api.schema import ApiSchemaGenerator

app_name = "api"

LEDGER = "organizations/<str:organization_id>/ledgers/<str:ledger_id>"


def crud(prefix: str, name: str, list_view, detail_view, count_view) -> list:
    """The six Midaz routes of one collection: list/create, count, get/update/delete."""
    return [
        path(prefix, list_view.as_view(), name=f"{name}-list"),
        path(f"{prefix}/metrics/count", count_view.as_view(), name=f"{name}-count"),
        path(f"{prefix}/<str:id>", detail_view.as_view(), name=f"{name}-detail"),
    ]


def segment_extras(prefix: str, name: str, members, remove, history) -> list:
    """A segment's members (list, assign), members/remove and history."""
    return [
        path(f"{prefix}/<str:id>/members", members.as_view(), name=f"{name}-members"),
        path(
            f"{prefix}/<str:id>/members/remove",
            remove.as_view(),
            name=f"{name}-members-remove",
        ),
        path(f"{prefix}/<str:id>/history", history.as_view(), name=f"{name}-history"),
    ]


urlpatterns = [
    *crud(
        "organizations",
        "organization",
        views.OrganizationList,
        views.OrganizationDetail,
        views.OrganizationCount,
    ),
    *crud(
        "organizations/<str:organization_id>/ledgers",
        "ledger",
        views.LedgerList,
        views.LedgerDetail,
        views.LedgerCount,
    ),
    *crud(
        "organizations/<str:organization_id>/segments",
        "organization-segment",
        views.OrganizationSegmentList,
        views.OrganizationSegmentDetail,
        views.OrganizationSegmentCount,
    ),
    *segment_extras(
        "organizations/<str:organization_id>/segments",
        "organization-segment",
        views.OrganizationSegmentMembers,
        views.OrganizationSegmentMembersRemove,
        views.OrganizationSegmentHistory,
    ),
    *crud(
        f"{LEDGER}/segments",
        "segment",
        views.SegmentList,
        views.SegmentDetail,
        views.SegmentCount,
    ),
    *segment_extras(
        f"{LEDGER}/segments",
        "segment",
        views.SegmentMembers,
        views.SegmentMembersRemove,
        views.SegmentHistory,
    ),
    *crud(
        f"{LEDGER}/portfolios",
        "portfolio",
        views.PortfolioList,
        views.PortfolioDetail,
        views.PortfolioCount,
    ),
    path(
        f"{LEDGER}/accounts/alias/<path:alias>",
        views.AccountByAlias.as_view(),
        name="account-by-alias",
    ),
    path(
        f"{LEDGER}/accounts/external/<str:code>",
        views.AccountByExternalCode.as_view(),
        name="account-external",
    ),
    *crud(
        f"{LEDGER}/accounts",
        "account",
        views.AccountList,
        views.AccountDetail,
        views.AccountCount,
    ),
    path(
        "openapi.json",
        SpectacularJSONAPIView.as_view(generator_class=ApiSchemaGenerator),
        name="schema",
    ),
    path(
        "openapi.yaml",
        SpectacularYAMLAPIView.as_view(generator_class=ApiSchemaGenerator),
        name="schema-yaml",
    ),
    path(
        "docs/",
        SpectacularSwaggerSplitView.as_view(
            url_name="api:schema", template_name="api/swagger_ui.html"
        ),
        name="docs",
    ),
    path("errors", errors.error_code_page, name="errors"),
    path("errors/<str:code>", errors.error_code_page, name="error-code"),
]
