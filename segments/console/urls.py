"""Console URLs. Every screen has its own address; segments have the same pages at
ledger level (``…/ledgers/<ledger>/segments/<id>/``) and organization level
(``…/organizations/<org>/segments/<id>/``)."""

from django.contrib.auth import views as auth_views
from django.urls import path

from segments.console.forms import ThrottledAuthenticationForm
from segments.console.views import (
    account_page,
    benefits,
    home,
    ledgers,
    members,
    records,
    rules,
    segments,
)

app_name = "console"

ORGANIZATION = "organizations/<uuid:organization_id>/"
LEDGER = ORGANIZATION + "ledgers/<uuid:ledger_id>/"
SEGMENT = "segments/<uuid:segment_id>/"
BENEFIT = "benefits/<uuid:benefit_id>/"


def benefit_routes(prefix: str, name_prefix: str) -> list:
    """A segment's Benefits tab, a benefit's page and its dialogs, under ``prefix`` (the
    segment's page)."""
    return [
        path(
            prefix + "benefits/",
            benefits.benefits_tab,
            name=f"{name_prefix}segment_benefits",
        ),
        path(
            prefix + "benefits/new/",
            benefits.create,
            name=f"{name_prefix}segment_benefit_create",
        ),
        path(
            prefix + BENEFIT,
            benefits.benefit_page,
            name=f"{name_prefix}segment_benefit",
        ),
        path(
            prefix + BENEFIT + "edit/",
            benefits.edit,
            name=f"{name_prefix}segment_benefit_edit",
        ),
        path(
            prefix + BENEFIT + "delete/",
            benefits.delete,
            name=f"{name_prefix}segment_benefit_delete",
        ),
    ]


def rule_routes(prefix: str, name_prefix: str) -> list:
    """A segment's Rule tab, its preview (and a preview's job), saving and removing the
    rule, and its refresh's status and "Refresh now", under ``prefix`` (the segment's
    page)."""
    routes = (
        ("rule/", rules.rule_tab, "rule"),
        ("rule/save/", rules.rule_save, "rule_save"),
        ("rule/preview/", rules.rule_preview, "rule_preview"),
        ("rule/preview/<uuid:job_id>/", rules.rule_preview_job, "rule_preview_job"),
        ("rule/remove/", rules.rule_remove, "rule_remove"),
        ("rule/refresh/", rules.rule_refresh, "rule_refresh"),
        ("rule/refresh/run/", rules.rule_refresh_run, "rule_refresh_run"),
    )
    return [
        path(prefix + route, view, name=f"{name_prefix}segment_{name}")
        for route, view, name in routes
    ]


def segment_routes(prefix: str, name_prefix: str) -> list:
    """The segment pages and actions under ``prefix`` (a ledger or an organization)."""
    return [
        path(prefix + "segments/new/", segments.create, name=f"{name_prefix}segment_create"),
        path(prefix + SEGMENT, segments.overview, name=f"{name_prefix}segment"),
        path(prefix + SEGMENT + "members/", members.members, name=f"{name_prefix}segment_members"),
        path(
            prefix + SEGMENT + "members/add/",
            members.add_members,
            name=f"{name_prefix}segment_members_add",
        ),
        path(
            prefix + SEGMENT + "members/remove/",
            members.remove_members,
            name=f"{name_prefix}segment_members_remove",
        ),
        path(prefix + SEGMENT + "history/", segments.history, name=f"{name_prefix}segment_history"),
        *rule_routes(prefix + SEGMENT, name_prefix),
        *benefit_routes(prefix + SEGMENT, name_prefix),
        path(prefix + SEGMENT + "edit/", segments.edit, name=f"{name_prefix}segment_edit"),
        path(prefix + SEGMENT + "delete/", segments.delete, name=f"{name_prefix}segment_delete"),
    ]


urlpatterns = [
    path(
        "login/",
        auth_views.LoginView.as_view(
            template_name="console/login.html",
            redirect_authenticated_user=True,
            authentication_form=ThrottledAuthenticationForm,
        ),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("", home.organizations, name="home"),
    path(ORGANIZATION, home.organization, name="organization"),
    path(LEDGER, ledgers.overview, name="ledger"),
    path(LEDGER + "segments/", ledgers.segments_tab, name="ledger_segments"),
    path(LEDGER + "accounts/", records.accounts_tab, name="ledger_accounts"),
    path(LEDGER + "accounts/new/", records.account_create, name="account_create"),
    path(LEDGER + "accounts/<uuid:account_id>/", account_page.account_page, name="account"),
    path(LEDGER + "accounts/segment/", records.accounts_bulk_segment, name="accounts_bulk_segment"),
    path(LEDGER + "accounts/<uuid:account_id>/edit/", records.account_edit, name="account_edit"),
    path(LEDGER + "portfolios/", records.portfolios_tab, name="ledger_portfolios"),
    path(LEDGER + "portfolios/new/", records.portfolio_create, name="portfolio_create"),
    path(
        LEDGER + "portfolios/segment/",
        records.portfolios_bulk_segment,
        name="portfolios_bulk_segment",
    ),
    path(
        LEDGER + "portfolios/<uuid:portfolio_id>/edit/",
        records.portfolio_edit,
        name="portfolio_edit",
    ),
    *segment_routes(LEDGER, ""),
    *segment_routes(ORGANIZATION, "org_"),
]
