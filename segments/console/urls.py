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


# A segment's pages and dialogs, under its address (``SEGMENT``), as (route, view, name):
# its overview, members and history; its Rule tab, the rule's preview (and a preview's
# job), saving and removing the rule, its refresh's status and "Refresh now"; its
# Benefits tab, a benefit's page and dialogs; and editing and deleting the segment.
SEGMENT_PAGES = (
    ("", segments.overview, "segment"),
    ("members/", members.members, "segment_members"),
    ("members/add/", members.add_members, "segment_members_add"),
    ("members/remove/", members.remove_members, "segment_members_remove"),
    ("history/", segments.history, "segment_history"),
    ("rule/", rules.rule_tab, "segment_rule"),
    ("rule/save/", rules.rule_save, "segment_rule_save"),
    ("rule/preview/", rules.rule_preview, "segment_rule_preview"),
    ("rule/preview/<uuid:job_id>/", rules.rule_preview_job, "segment_rule_preview_job"),
    ("rule/remove/", rules.rule_remove, "segment_rule_remove"),
    ("rule/refresh/", rules.rule_refresh, "segment_rule_refresh"),
    ("rule/refresh/run/", rules.rule_refresh_run, "segment_rule_refresh_run"),
    ("benefits/", benefits.benefits_tab, "segment_benefits"),
    ("benefits/new/", benefits.create, "segment_benefit_create"),
    (BENEFIT, benefits.benefit_page, "segment_benefit"),
    (BENEFIT + "edit/", benefits.edit, "segment_benefit_edit"),
    (BENEFIT + "delete/", benefits.delete, "segment_benefit_delete"),
    ("edit/", segments.edit, "segment_edit"),
    ("delete/", segments.delete, "segment_delete"),
)


def segment_routes(prefix: str, name_prefix: str) -> list:
    """The segment pages and actions under ``prefix`` (a ledger or an organization)."""
    return [
        path(prefix + "segments/new/", segments.create, name=f"{name_prefix}segment_create"),
        *(
            path(prefix + SEGMENT + route, view, name=name_prefix + name)
            for route, view, name in SEGMENT_PAGES
        ),
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
