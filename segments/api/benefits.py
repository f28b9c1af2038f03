"""The benefits API: a segment's benefits (CRUD, count, versions, ``?at=``) under both
segment paths. Same shape as ``segments.api.views``: selectors read, services write, the
entity's hooks are its whole adapter. ``GET …/benefits/midaz-fee-projection`` answers the
segment's fee benefits as Midaz fee-package fragments (``segments.fee_projection``). What an
account or a portfolio gets is ``segments.api.effective``."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiResponse, extend_schema_view
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from segments import errors, selectors, services
from segments.api import operations as docs
from segments.api.benefit_serializers import (
    BenefitSerializer,
    BenefitVersionSerializer,
)
from segments.api.effective import AT, instant_param
from segments.api.fee_projection_serializers import MidazFeeProjectionSerializer, projection_body
from segments.api.shapes import SERIALIZERS
from segments.api.views import EntityViewSet, Scope
from segments.fee_projection import fee_projection
from segments.filters import BenefitFilterSet
from segments.models import Benefit, BenefitVersion, Segment
from segments.models.benefits import VERSIONED_FIELDS

VERSION_PAGE = docs.page_of("BenefitVersionPage", BenefitVersionSerializer)
FEE_PROJECTION_DOC = (
    "The segment's `feeWaiver` and `feeDiscount` benefits that apply at `at` (as for an "
    "account's effective benefits: each as of its version then, ACTIVE, `at` inside the "
    "window, one per exclusivity group), as the fragments of Midaz fee packages that "
    'reproduce them: a waiver is the `waivedAccounts: ["segment:<id>"]` entry to add to the '
    "packages (of `transactionRoute`) holding the fees `feeKeys` (null: every fee); a "
    "discount is a package scoped by `segmentId` whose fee is the discount. The fee "
    "benefits that do not apply are in `notProjected` with a reason; other kinds are not "
    "mentioned."
)


def _benefit_docs(label: str, tag: str) -> dict[str, Any]:
    return {
        **docs.crud_docs(label, f"{label}s", tag, Benefit),
        "retrieve": docs.get_operation(
            label,
            tag,
            BenefitSerializer,
            parameters=[AT],
            description="The benefit and its ETag; with `at`, the version it had then "
            "(0007 when it did not exist yet).",
        ),
        "versions": docs.operation(
            f"list{label}Versions",
            "A benefit's versions",
            tag,
            success={
                200: OpenApiResponse(docs.page_of("BenefitVersionPage", BenefitVersionSerializer))
            },
            errors=docs.READ_ERRORS,
            parameters=[*docs.PAGE_PARAMETERS, docs.TOTAL_COUNT],
            description="Every state the benefit has been in, newest first: who and when.",
        ),
        "midaz_fee_projection": docs.operation(
            f"get{label}MidazFeeProjection",
            "A segment's fee benefits as Midaz fee-package fragments",
            tag,
            success={200: OpenApiResponse(MidazFeeProjectionSerializer)},
            errors=docs.READ_ERRORS,
            parameters=[AT],
            description=FEE_PROJECTION_DOC,
        ),
    }


class BenefitViewSet(EntityViewSet):
    """Benefits of a ledger segment (``OrganizationBenefitViewSet``: of an
    organization-level one). Its parts are declared as every entity's viewset declares
    them (``segments.api.views``): alike on purpose."""

    view_label = "Benefit"
    queryset = Benefit.objects.all()
    serializer_class, input_serializer = SERIALIZERS[Benefit]
    filterset_class = BenefitFilterSet
    create_entity = staticmethod(services.create_benefit)
    update_entity = staticmethod(services.update_benefit)
    delete_entity = staticmethod(services.delete_benefit)

    def segment(self) -> Segment:
        if not hasattr(self, "_segment"):
            path = self.kwargs
            self._segment = selectors.get_segment(
                self.request.user,
                path["organization_id"],
                path.get("ledger_id"),
                path["segment_id"],
            )
        return self._segment

    def scope(self) -> Scope:
        segment = self.segment()
        return Scope(organization=segment.organization, ledger=segment.ledger)

    def perform_create(self, scope: Scope, fields: dict[str, Any]) -> Benefit:
        return self.create_entity(self.request.user, self.segment(), **fields)

    def get_queryset(self) -> QuerySet[Benefit]:
        return selectors.benefits_of(self.request.user, self.segment())

    def get_object(self) -> Benefit:
        return selectors.get_benefit(self.request.user, self.segment(), self.kwargs["id"])

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        benefit = self.get_object()
        at = instant_param(request)
        if at is None:
            return self.entity_response(benefit)
        version = selectors.benefit_version_at(benefit, at)
        if version is None:
            raise errors.EntityNotFound(
                "The benefit did not exist at that instant.", entity_type="Benefit"
            )
        return self.entity_response(_as_of(benefit, version))

    @action(detail=True, methods=["get"], name="Versions")
    def versions(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        versions = selectors.benefit_versions(self.get_object())
        return self.page_response(versions, serializer_class=BenefitVersionSerializer)

    # Alike in shape to the @action routes of api/views.py (by_alias, by_external_code); kept
    # apart because each declares its own route, name and answer, and DRF reads these
    # decorators as the URL table: a wrapper would only hide which route is which.
    @action(
        detail=False,
        methods=["get"],
        url_path="midaz-fee-projection",
        url_name="midaz-fee-projection",
        name="Midaz Fee Projection",
    )
    def midaz_fee_projection(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        projection = fee_projection(self.segment(), instant_param(request))
        return Response(projection_body(projection))


def _as_of(benefit: Benefit, version: BenefitVersion) -> Benefit:
    """The benefit with its versioned fields as ``version`` had them (not saved)."""
    past = Benefit(
        **{f.attname: getattr(benefit, f.attname) for f in Benefit._meta.concrete_fields}
    )
    for name in VERSIONED_FIELDS:
        setattr(past, name, getattr(version, name))
    past.version = version.version
    return past


extend_schema_view(**_benefit_docs("Benefit", "Benefits"))(BenefitViewSet)


@extend_schema_view(**_benefit_docs("OrganizationBenefit", "Organization segment benefits"))
class OrganizationBenefitViewSet(BenefitViewSet):
    view_label = "Organization Benefit"
