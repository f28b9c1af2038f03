"""Routes of the API under ``/v1/``: Midaz paths, no trailing slash. Path ids are taken as
text and checked by the views, so that a malformed one answers 400 (0065), not 404."""

from django.urls import path
from drf_spectacular.views import (
    SpectacularJSONAPIView,
    SpectacularSwaggerSplitView,
    SpectacularYAMLAPIView,
)
from rest_framework.routers import SimpleRouter

from segments.api import benefits, errors, events, views
from segments.api.schema import ApiSchemaGenerator

app_name = "api"

ORGANIZATION = "organizations/(?P<organization_id>[^/]+)"
LEDGER = f"{ORGANIZATION}/ledgers/(?P<ledger_id>[^/]+)"

router = SimpleRouter(trailing_slash=False)
router.register("organizations", views.OrganizationViewSet, basename="organization")
router.register(f"{ORGANIZATION}/ledgers", views.LedgerViewSet, basename="ledger")
router.register(
    f"{ORGANIZATION}/segments", views.OrganizationSegmentViewSet, basename="organization-segment"
)
router.register(f"{LEDGER}/segments", views.SegmentViewSet, basename="segment")
router.register(
    f"{ORGANIZATION}/segments/(?P<segment_id>[^/]+)/benefits",
    benefits.OrganizationBenefitViewSet,
    basename="organization-benefit",
)
router.register(
    f"{LEDGER}/segments/(?P<segment_id>[^/]+)/benefits",
    benefits.BenefitViewSet,
    basename="benefit",
)
router.register(f"{LEDGER}/portfolios", views.PortfolioViewSet, basename="portfolio")
router.register(f"{LEDGER}/accounts", views.AccountViewSet, basename="account")
router.register(f"{ORGANIZATION}/events", events.EventFeedViewSet, basename="organization-event")

urlpatterns = [
    *router.urls,
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
