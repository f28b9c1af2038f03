"""Every URL of the project (API, console and its htmx partials, CSV exports; admin
excluded), walked from the URL resolver, answered for five actors:

- anonymous: 401 (API) or a redirect to the login page (console);
- non-member: 404, never 403 and never the object;
- viewer: reads succeed, writes are refused with 403;
- operator: reads and writes succeed, deletes are refused with 403;
- admin: everything is allowed.

"Allowed" for a write means the request got past tenancy and roles (it may still be a
validation error, since the matrix sends no meaningful body). A new URL is picked up
automatically: if it has no check, or a check in the wrong place, this suite fails.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.test import APIClient

from segments import services
from segments.middleware import route_label
from segments.models import Role
from segments.services.preview import run_preview
from tests.factories import (
    AccountFactory,
    LedgerFactory,
    OrganizationFactory,
    PortfolioFactory,
    SegmentFactory,
    UserFactory,
    member,
    token_for,
)

SKIPPED_NAMESPACES = {"admin"}
PUBLIC_ROUTES = {
    "login/",
    "logout/",
    "i18n/setlang/",
    "v1/openapi.json",
    "v1/openapi.yaml",
    "v1/docs/",
    "v1/errors",
    "v1/errors/<str:code>",
    "v1(?:/.*)?",  # any unrouted API URL: 404 (0484) for everyone
}
AUTHENTICATED_ANYONE = {"", "v1/organizations", "v1/organizations/metrics/count"}
WRITE_NAME = re.compile(r"(create|edit|delete|add|remove|bulk_segment)")
ACTORS = ("anonymous", "outsider", "viewer", "operator", "admin")


@dataclass(frozen=True)
class Route:
    route: str
    name: str
    namespace: str
    view_class: type | None = None
    actions: tuple[str, ...] = ()  # a viewset route's HTTP methods (the router's mapping)

    @property
    def is_api(self) -> bool:
        return self.route.startswith("v1/")

    def __str__(self) -> str:
        return f"{self.namespace}:{self.name} /{self.route}"


def _walk(patterns, prefix: str = "", namespace: str = "") -> list[Route]:
    routes = []
    for pattern in patterns:
        text = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            space = pattern.namespace or namespace
            if space in SKIPPED_NAMESPACES:
                continue
            routes += _walk(pattern.url_patterns, text, space)
        elif isinstance(pattern, URLPattern):
            route = route_label(text)
            view_class = getattr(pattern.callback, "cls", None)
            actions = tuple(getattr(pattern.callback, "actions", None) or ())
            routes.append(Route(route, pattern.name or "", namespace, view_class, actions))
    return routes


ROUTES = [
    route
    for route in _walk(get_resolver().url_patterns)
    if route.route not in PUBLIC_ROUTES and not route.route.startswith("static/")
]


def _route_cases() -> list:
    cases = []
    for route in ROUTES:
        if route.is_api:
            view = route.view_class
            methods = [
                m
                for m in ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")
                if m.lower() in route.actions
                or hasattr(view, m.lower())
                or (m == "HEAD" and "get" in route.actions)
            ]
        else:
            methods = ["GET", "POST"]
        for method in methods:
            cases.append(pytest.param(route, method, id=f"{method} /{route.route}"))
    return cases


@pytest.fixture
def world(db):
    organization = OrganizationFactory()
    ledger = LedgerFactory(organization=organization)
    segment = SegmentFactory(ledger=ledger)
    org_segment = SegmentFactory(ledger=None, organization=organization)
    portfolio = PortfolioFactory(ledger=ledger, segment=segment)
    account = AccountFactory(ledger=ledger, segment=segment, alias="@matrix")
    AccountFactory(ledger=ledger, alias="@external/BRL")
    other = OrganizationFactory()
    users = {name: UserFactory(username=f"matrix-{name}") for name in ACTORS[1:]}
    member(users["outsider"], other, Role.ADMIN)
    member(users["viewer"], organization, Role.VIEWER)
    member(users["operator"], organization, Role.OPERATOR)
    member(users["admin"], organization, Role.ADMIN)
    lounge = {"kind": "service", "parameters": {"serviceCode": "lounge"}}
    admin = users["admin"]
    # Both segments are dynamic, so that ``GET S/rule`` answers 200 (a manual one has none).
    rule = services.put_rule(admin, segment, 'metadata.tier == "black"', "account", 1)
    org_rule = services.put_rule(admin, org_segment, 'metadata.tier == "gold"', "account", 2)
    # A preview job of each level (what a preview past its statement timeout leaves).
    jobs = {
        level: run_preview.enqueue(
            organization_id=str(organization.pk),
            ledger_id=ledger_id,
            expression='metadata.tier == "black"',
            subject="account",
        ).id
        for level, ledger_id in (("ledger", str(ledger.pk)), ("organization", None))
    }
    return {
        "refresh": rule.refresh,
        "org_refresh": org_rule.refresh,
        "jobs": jobs,
        "benefit": services.create_benefit(admin, segment, name="Lounge", **lounge),
        "org_benefit": services.create_benefit(admin, org_segment, name="Lounge", **lounge),
        "organization": organization,
        "ledger": ledger,
        "segment": segment,
        "org_segment": org_segment,
        "portfolio": portfolio,
        "account": account,
        "users": users,
    }


def _fill(route: Route, world) -> str:
    """The route with every parameter replaced by a row of the member organization."""
    path = route.route
    values = {
        "organization_id": world["organization"].pk,
        "ledger_id": world["ledger"].pk,
        "account_id": world["account"].pk,
        "portfolio_id": world["portfolio"].pk,
        "alias": "@matrix",
        "code": "BRL",
    }
    at_org_level = "ledgers/" not in path
    values["segment_id"] = world["org_segment" if at_org_level else "segment"].pk
    values["benefit_id"] = world["org_benefit" if at_org_level else "benefit"].pk
    values["refresh_id"] = world["org_refresh" if at_org_level else "refresh"].pk
    values["preview_id"] = values["job_id"] = world["jobs"][
        "organization" if at_org_level else "ledger"
    ]
    if "<str:id>" in path:
        collection = path.split("/<str:id>")[0].rsplit("/", 1)[-1]
        values["id"] = {
            "organizations": world["organization"].pk,
            "ledgers": world["ledger"].pk,
            "segments": values["segment_id"],
            "portfolios": world["portfolio"].pk,
            "accounts": world["account"].pk,
            "benefits": world["org_benefit" if at_org_level else "benefit"].pk,
        }[collection]

    def replace(match: re.Match) -> str:
        name = match.group(2)
        if name not in values:
            raise AssertionError(f"The matrix does not know how to fill <{name}> in {route}")
        return str(values[name])

    return "/" + re.sub(r"<(?:(\w+):)?(\w+)>", replace, path)


def _client(actor: str, world, api: bool):
    if actor == "anonymous":
        return APIClient() if api else APIClient(enforce_csrf_checks=False)
    user = world["users"][actor]
    client = APIClient()
    if api:
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {token_for(user)}")
    else:
        client.force_login(user)
    return client


# API POSTs that only read: what they are asked, and the body that asks it.
READING_POSTS = {
    "accounts/benefits/resolve": {"accountIds": []},
    "segments/rules/preview": {"expression": 'metadata.tier == "black"', "subject": "account"},
}
# Console POSTs that only read (the rule's live preview, any member may ask it).
READING_CONSOLE_POSTS = re.compile(r"rule_preview$")
# Console fragments polled by htmx: without htmx they send the reader to their tab.
TAB_FRAGMENTS = re.compile(r"rule_refresh$")


def _reading_post(route: Route) -> dict | None:
    return next((body for end, body in READING_POSTS.items() if route.route.endswith(end)), None)


def _request(client, method: str, url: str, api: bool, htmx: bool = False, body=None):
    headers = {"HTTP_HX_REQUEST": "true"} if htmx else {}
    if method in ("GET", "HEAD", "DELETE"):
        return getattr(client, method.lower())(url, **headers)
    if api:
        return getattr(client, method.lower())(url, body or {}, format="json", **headers)
    return client.post(url, {}, **headers)


def _is_write(route: Route, method: str) -> bool:
    if route.is_api:
        writes = method in ("POST", "PUT", "PATCH", "DELETE") and _reading_post(route) is None
        return writes and not route.route.endswith("metrics/count")
    if READING_CONSOLE_POSTS.search(route.name):
        return False
    return method == "POST" or bool(WRITE_NAME.search(route.name))


def _needs_admin(route: Route, method: str) -> bool:
    if route.is_api:
        return method == "DELETE"
    return "delete" in route.name or route.name.endswith("rule_remove")


@pytest.mark.django_db
@pytest.mark.parametrize(("route", "method"), _route_cases())
def test_every_url_answers_each_actor_as_tenancy_and_roles_say(route, method, world):
    url = _fill(route, world)
    answers = {}
    for actor in ("anonymous", "outsider", "viewer", "operator", "admin"):  # admin may delete
        for htmx in (False, True) if not route.is_api and method == "GET" else (False,):
            client = _client(actor, world, route.is_api)
            body = _reading_post(route)
            response = _request(client, method, url, route.is_api, htmx, body)
            answers[(actor, htmx)] = response.status_code
            assert response.status_code < 500, (actor, method, url, response.status_code)
    if answers[("admin", False)] == 405:  # not a method of this console view
        assert not any(200 <= status < 300 for status in answers.values()), answers
        return

    for (actor, htmx), status in answers.items():
        where = f"{actor}{' (htmx)' if htmx else ''} {method} {url}: {status}"
        if actor == "anonymous":
            assert status in ((401,) if route.is_api else (302,)), where
        elif route.route in AUTHENTICATED_ANYONE and not _is_write(route, method):
            assert 200 <= status < 300, where
        elif route.route == "v1/organizations" and method == "POST":
            assert status == 403, where  # creating organizations is for staff users
        elif actor == "outsider":
            assert status == 404, where
        elif _is_write(route, method) and (
            actor == "viewer" or (actor == "operator" and _needs_admin(route, method))
        ):
            assert status == 403, where
        elif _is_write(route, method):
            assert status not in (401, 403, 404, 405), where
        elif TAB_FRAGMENTS.search(route.name) and not htmx:
            assert status == 302, where
        else:
            assert 200 <= status < 300, where


def test_the_matrix_walks_api_console_and_export_urls():
    routes = {route.route for route in ROUTES}
    assert any(r.startswith("v1/organizations/<str:organization_id>/ledgers") for r in routes)
    assert any("segments/<uuid:segment_id>/members/" in r for r in routes)
    assert any(r.endswith("export.csv") for r in routes)
    assert len(ROUTES) >= 50
