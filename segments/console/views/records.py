"""The ledger's Accounts and Portfolios tabs: lists with a Segment column and a filter by
segment (or "No segment"), create/edit dialogs with a searchable Segment select, and
bulk "Set segment…" / "Clear segment" on the checked rows — one service call (one
transaction) per action."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils.functional import Promise
from django.utils.translation import gettext, ngettext_lazy
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_safe

from segments import errors, selectors, services
from segments.console.forms import (
    AccountForm,
    MemberForm,
    PortfolioForm,
    add_domain_error,
    is_uuid,
    non_field_text,
    selected_ids,
)
from segments.console.presenters import status_label
from segments.console.views.htmx import htmx_done, refuse, render_page, with_toast
from segments.console.views.ledgers import TAB_PARTIALS, ledger_context
from segments.console.views.lists import list_state, paginate_or_error, render_list_page
from segments.console.views.scope import (
    Scope,
    console_view,
    require,
    resolve_scope,
    segment_url,
)
from segments.console.views.segment_lists import with_rule_priority
from segments.models import Account, Ledger, Portfolio
from segments.tenancy import Action


@dataclass(frozen=True)
class Records:
    """What differs between the Accounts and the Portfolios tab."""

    key: str
    model: type[Account] | type[Portfolio]
    form_class: type[MemberForm]
    list: Callable[..., Any]
    create: Callable[..., Any]
    update: Callable[..., Any]
    new_title: Promise
    edit_title: Promise
    created: Promise
    updated: Promise
    segment_set: Promise  # ngettext_lazy, by "count"
    segment_cleared: Promise

    @property
    def event(self) -> str:
        return f"{self.key}-changed"

    @property
    def ids_field(self) -> str:
        return f"{self.key[:-1]}_ids"

    def url(self, scope: Scope, name: str = "", **extra: Any) -> str:
        singular = self.key[:-1]
        route = {
            "": f"ledger_{self.key}",
            "create": f"{singular}_create",
            "edit": f"{singular}_edit",
            "bulk": f"{self.key}_bulk_segment",
            "page": singular,
        }[name]
        return reverse(f"console:{route}", kwargs=scope.kwargs | extra)

    def get(self, request: HttpRequest, scope: Scope, pk: Any) -> Account | Portfolio:
        org, ledger = scope.organization.pk, scope.ledger.pk
        if self.model is Account:
            return selectors.get_account(request.user, org, ledger, pk=pk)
        return selectors.get_portfolio(request.user, org, ledger, pk)

    def counted(self, count: int, what: str) -> str:
        """What a bulk "set" or "clear" did, in words."""
        text = self.segment_set if what == "set" else self.segment_cleared
        return text % {"count": count}


# The two tabs' settings, alike line for line on purpose: one value of ``Records`` each,
# and these arguments are exactly what differs between the tabs.
ACCOUNTS = Records(
    key="accounts",
    model=Account,
    form_class=AccountForm,
    list=selectors.list_accounts,
    create=services.create_account,
    update=services.update_account,
    new_title=_("New account"),
    edit_title=_("Edit account"),
    created=_("Account created"),
    updated=_("Account updated"),
    segment_set=ngettext_lazy(
        "Segment set on %(count)s account", "Segment set on %(count)s accounts", "count"
    ),
    segment_cleared=ngettext_lazy(
        "Segment cleared on %(count)s account", "Segment cleared on %(count)s accounts", "count"
    ),
)
PORTFOLIOS = Records(
    key="portfolios",
    model=Portfolio,
    form_class=PortfolioForm,
    list=selectors.list_portfolios,
    create=services.create_portfolio,
    update=services.update_portfolio,
    new_title=_("New portfolio"),
    edit_title=_("Edit portfolio"),
    created=_("Portfolio created"),
    updated=_("Portfolio updated"),
    segment_set=ngettext_lazy(
        "Segment set on %(count)s portfolio", "Segment set on %(count)s portfolios", "count"
    ),
    segment_cleared=ngettext_lazy(
        "Segment cleared on %(count)s portfolio",
        "Segment cleared on %(count)s portfolios",
        "count",
    ),
)
RECORD_FILTERS = ("q", "segment_id")


# --------------------------------------------------------------------------- lists


def _tab(request: HttpRequest, organization_id, ledger_id, records: Records) -> HttpResponse:
    scope = resolve_scope(request, organization_id, ledger_id)
    state = list_state(request.GET, RECORD_FILTERS)
    page, error = paginate_or_error(
        lambda: records.list(request.user, scope.ledger, state.params), state.params
    )
    for row in page.object_list:
        row.edit_url = records.url(scope, "edit", **{f"{records.key[:-1]}_id": row.pk})
        if records is ACCOUNTS:
            row.page_url = records.url(scope, "page", account_id=row.pk)
        row.status_label = status_label(row.status_code)
        row.segment_url = segment_url(row.segment) if row.segment_id else None
    context = ledger_context(request, scope, records.key) | {
        "records": records,
        "state": state,
        "page": page,
        "filter_error": error,
        "list_url": records.url(scope),
        "create_url": records.url(scope, "create"),
        "bulk_url": records.url(scope, "bulk"),
        "segments": list(
            with_rule_priority(selectors.segments_usable_in(request.user, scope.ledger))
        ),
    }
    return render_list_page(
        request,
        "console/ledger/records.html",
        context,
        TAB_PARTIALS | {f"{records.key}-table": "table"},
        page,
    )


@console_view
@require_safe
def accounts_tab(request: HttpRequest, organization_id, ledger_id) -> HttpResponse:
    """Accounts: searchable (name, alias, id), filterable by segment, paged."""
    return _tab(request, organization_id, ledger_id, ACCOUNTS)


@console_view
@require_safe
def portfolios_tab(request: HttpRequest, organization_id, ledger_id) -> HttpResponse:
    """Portfolios: searchable (name, entity id, id), filterable by segment, paged."""
    return _tab(request, organization_id, ledger_id, PORTFOLIOS)


# --------------------------------------------------------------------------- create, edit


def _form_view(
    request: HttpRequest, organization_id, ledger_id, records: Records, pk: Any = None
) -> HttpResponse:
    scope = resolve_scope(request, organization_id, ledger_id)
    instance = records.get(request, scope, pk) if pk is not None else None
    require(request, scope, Action.CHANGE)
    options = _form_options(request, scope.ledger, records)
    if request.method != "POST":
        initial = {"etag": services.entity_etag(instance)} if instance else {}
        form = records.form_class(instance=instance, initial=initial, **options)
        return _render_form(request, scope, records, form)
    form = records.form_class(request.POST, instance=instance, **options)
    if not form.is_valid():
        return _render_form(request, scope, records, form, status=422)
    try:
        if instance is None:
            records.create(request.user, scope.ledger, **form.values())
        else:
            records.update(
                request.user, instance, form.changes(), if_match=form.cleaned_data["etag"] or None
            )
    except errors.DomainError as exc:
        toast = add_domain_error(form, exc, entity=records.key[:-1])
        return with_toast(_render_form(request, scope, records, form, status=422), toast)
    message = records.created if instance is None else records.updated
    return htmx_done(
        request, str(message), events=(records.event,), fallback_url=records.url(scope)
    )


def _form_options(request: HttpRequest, ledger: Ledger, records: Records) -> dict[str, Any]:
    options: dict[str, Any] = {"segments": selectors.segments_usable_in(request.user, ledger)}
    if records is ACCOUNTS:
        options["portfolios"] = selectors.list_portfolios(
            request.user, ledger, {"sort": "name", "sort_order": "asc"}
        )
    return options


def _render_form(
    request: HttpRequest, scope: Scope, records: Records, form: MemberForm, *, status: int = 200
) -> HttpResponse:
    instance = form.instance
    context = {
        "scope": scope,
        "records": records,
        "form": form,
        "instance": instance,
        "title": records.edit_title if instance else records.new_title,
        "form_action": (
            records.url(scope, "edit", **{f"{records.key[:-1]}_id": instance.pk})
            if instance
            else records.url(scope, "create")
        ),
        "cancel_url": records.url(scope),
    }
    return render_page(
        request, "console/records/form.html", context, {"dialog-body": "dialog"}, status=status
    )


@console_view
def account_create(request: HttpRequest, organization_id, ledger_id) -> HttpResponse:
    return _form_view(request, organization_id, ledger_id, ACCOUNTS)


@console_view
def account_edit(request: HttpRequest, organization_id, ledger_id, account_id) -> HttpResponse:
    return _form_view(request, organization_id, ledger_id, ACCOUNTS, account_id)


@console_view
def portfolio_create(request: HttpRequest, organization_id, ledger_id) -> HttpResponse:
    return _form_view(request, organization_id, ledger_id, PORTFOLIOS)


@console_view
def portfolio_edit(request: HttpRequest, organization_id, ledger_id, portfolio_id) -> HttpResponse:
    return _form_view(request, organization_id, ledger_id, PORTFOLIOS, portfolio_id)


# --------------------------------------------------------------------------- bulk segment


def _bulk_segment(
    request: HttpRequest, organization_id, ledger_id, records: Records
) -> HttpResponse:
    """``action=set`` puts the checked rows into ``segment_id`` (``services.assign_members``);
    ``action=clear`` takes them out of their segments (``services.clear_segments``)."""
    scope = resolve_scope(request, organization_id, ledger_id)
    require(request, scope, Action.CHANGE)
    back = records.url(scope)
    ids = selected_ids(request.POST, records.ids_field)
    if request.method != "POST" or not ids:
        return refuse(request, gettext("Select at least one row first."), fallback_url=back)
    action = "clear" if request.POST.get("action") == "clear" else "set"
    try:
        if action == "clear":
            services.clear_segments(request.user, scope.ledger, **{records.ids_field: ids})
        else:
            segment = _usable_segment(request, scope.ledger, request.POST.get("segment_id", ""))
            if segment is None:
                return refuse(request, gettext("Choose a segment to set."), fallback_url=back)
            services.assign_members(request.user, segment, **{records.ids_field: ids})
    except errors.InvalidField:
        message = gettext("Some selected rows are no longer in this ledger.")
        return refuse(request, message, fallback_url=back)
    except errors.DomainError as exc:
        return refuse(request, non_field_text(exc), fallback_url=back)
    return htmx_done(
        request, records.counted(len(set(ids)), action), events=(records.event,), fallback_url=back
    )


def _usable_segment(request: HttpRequest, ledger: Ledger, segment_id: str):
    if not is_uuid(segment_id):
        return None
    return selectors.segments_usable_in(request.user, ledger).filter(pk=segment_id).first()


@console_view
def accounts_bulk_segment(request: HttpRequest, organization_id, ledger_id) -> HttpResponse:
    return _bulk_segment(request, organization_id, ledger_id, ACCOUNTS)


@console_view
def portfolios_bulk_segment(request: HttpRequest, organization_id, ledger_id) -> HttpResponse:
    return _bulk_segment(request, organization_id, ledger_id, PORTFOLIOS)
