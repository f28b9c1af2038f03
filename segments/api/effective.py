"""What an account or a portfolio gets (``segments.effective_benefits``), on the API: the
``benefits`` action of the accounts and portfolios viewsets and the accounts' ``POST
benefits/resolve`` (up to 1,000 accounts, one answer)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from segments import errors
from segments.api import operations as docs
from segments.api.benefit_serializers import (
    EffectiveBenefitsSerializer,
    ResolvedSerializer,
    ResolveInputSerializer,
    effective_bodies,
    effective_body,
)
from segments.api.parsing import parse_body
from segments.effective_benefits import answers_for, effective_benefits, place_accounts
from segments.filters import parse_instant, parse_kind
from segments.models import Account, BenefitKind
from segments.selectors import restrict_within

AT = OpenApiParameter(
    "at",
    {"type": "string", "format": "date-time"},
    description="The instant (ISO 8601, UTC when no offset is given); default now.",
)
KIND = OpenApiParameter(
    "kind", {"type": "string", "enum": BenefitKind.values}, description="Only this kind."
)


def instant_param(request: Request, name: str = "at") -> Any:
    """The instant a query parameter names (0082 when it is not one), None when absent."""
    raw = request.query_params.get(name)
    return parse_instant(raw, name) if raw else None


EFFECTIVE_DOC = (
    "The effective segment (the account's own, else its portfolio's), each of its benefits "
    "as of its version at `at`, and which apply: ACTIVE, `at` inside the window, one per "
    "exclusivity group (the lowest priority). The others are in `notApplied` with a reason."
)


def _effective_doc(operation_id: str, what: str) -> Any:
    return docs.operation(
        operation_id,
        f"What {what} gets",
        "Benefits",
        success={200: OpenApiResponse(EffectiveBenefitsSerializer)},
        errors=docs.READ_ERRORS,
        parameters=[AT, KIND],
        description=EFFECTIVE_DOC,
    )


class EffectiveBenefitsMixin:
    """``GET …/{id}/benefits``: what the viewset's entity gets (its ``get_object``)."""

    subject_key = "accountId"

    @action(detail=True, methods=["get"], name="Benefits")
    def benefits(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        raw_kind = request.query_params.get("kind")
        kind = parse_kind(raw_kind) if raw_kind else None
        [answer] = effective_benefits([self.get_object()], instant_param(request), kind)
        return Response(effective_body(answer, self.subject_key))


class AccountBenefitsMixin(EffectiveBenefitsMixin):
    """Also ``POST …/accounts/benefits/resolve``."""

    # Alike in shape to the @action routes of api/views.py, api/benefits.py and
    # api/rule_preview.py; kept apart because each declares its own route and name (DRF's URL
    # table) and answers with its own body.
    @action(
        detail=False,
        methods=["post"],
        url_path="benefits/resolve",
        url_name="benefits-resolve",
        name="Benefits Resolve",
    )
    def resolve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        ledger = self.scope().ledger
        return Response(resolve_accounts(request.user, ledger, parse_resolve(request)))


def resolve_accounts(user, ledger, body: dict[str, Any]) -> dict[str, Any]:
    """Effective benefits of up to 1,000 accounts of the ledger at one instant, in the
    order asked; ids that are not live accounts of the ledger in ``notFound``."""
    ids = list(dict.fromkeys(body.get("accountIds") or []))
    accounts = restrict_within(
        Account.objects.filter(ledger=ledger, pk__in=ids), user, ledger.organization_id
    )
    by_id = {placed[0].pk: placed for placed in place_accounts(accounts)}
    answers = answers_for([by_id[pk] for pk in ids if pk in by_id], body.get("at"))
    return {
        "items": effective_bodies(answers),
        "notFound": [str(pk) for pk in ids if pk not in by_id],
    }


def parse_resolve(request: Request) -> dict[str, Any]:
    body = parse_body(ResolveInputSerializer, request.data)
    if "accountIds" not in body:
        raise errors.MissingFields(
            "Missing required fields: accountIds.", fields={"accountIds": "required"}
        )
    return body


ACCOUNT_BENEFIT_DOCS = {
    "benefits": _effective_doc("getAccountBenefits", "an account"),
    "resolve": docs.operation(
        "resolveAccountBenefits",
        "Effective benefits of many accounts",
        "Benefits",
        request=ResolveInputSerializer,
        success={200: OpenApiResponse(ResolvedSerializer)},
        errors=docs.READ_ERRORS,
        description="Up to 1,000 accounts of the ledger at one instant, in one answer; ids "
        "that are not live accounts of the ledger are listed in `notFound`. " + EFFECTIVE_DOC,
    ),
}
PORTFOLIO_BENEFIT_DOCS = {"benefits": _effective_doc("getPortfolioBenefits", "a portfolio")}
