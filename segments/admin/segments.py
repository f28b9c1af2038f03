"""Admin pages of segments and of their history.

A segment's page shows its member counts, with links to the account and portfolio lists
filtered on it (never an inline of its members), and its latest history. Its actions go
through the services, so each one is recorded in the segment's history:

- activate / deactivate (members stay; an inactive segment only refuses new ones);
- detach members and delete (after a confirmation page listing the counts);
- restore a deleted segment, if its name is still free in its scope;
- export the members of the selected segments as CSV.
"""

from __future__ import annotations

import json
from typing import Any

from django.contrib import admin, messages
from django.contrib.admin import ActionLocation
from django.contrib.admin.utils import unquote
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from segments import errors, selectors, services
from segments.admin.base import EntityAdmin
from segments.admin.benefits import benefit_rows
from segments.admin.changelists import BigTableMixin, QuickDatesChangeList
from segments.admin.choices import LabelledChoicesMixin
from segments.admin.filters import DeletedFilter, LabelledRelatedFilter, SegmentFilter
from segments.admin.forms import ServiceForm
from segments.admin.readonly import ReadOnlyAdminMixin
from segments.console.exports import (
    MEMBER_COLUMNS,
    csv_response,
    dated_filename,
    segments_members_rows,
)
from segments.console.presenters import (
    MemberLabels,
    member_counts_in_words,
    member_labels,
    members_named,
)
from segments.models import HistoryAction, Segment, SegmentHistory, Status

EVERYWHERE = [ActionLocation.CHANGE_LIST, ActionLocation.CHANGE_FORM]
LATEST_HISTORY = 10


class ScopeFilter(admin.SimpleListFilter):
    """Organization segments (serving every ledger) or ledger segments."""

    # Django's SimpleListFilter, shaped like ``admin.filters.DeletedFilter`` as every such
    # filter is: a title, a parameter, its choices and what each one shows.

    title = _("scope")
    parameter_name = "scope"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list:
        return [("organization", _("Organization")), ("ledger", _("Ledger"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if self.value() == "organization":
            return queryset.filter(ledger__isnull=True)
        if self.value() == "ledger":
            return queryset.filter(ledger__isnull=False)
        return queryset


@admin.register(Segment)
class SegmentAdmin(EntityAdmin):
    """A segment of a ledger, or of an organization when it has no ledger. Its scope never
    changes; its name is unique (case-insensitively) among the live segments of its
    scope. One with members is deleted only by "Detach members and delete"."""

    # Declared like the other entities' admins, on purpose (see ``admin.entities``).

    list_display = (
        "name",
        "scope",
        "organization",
        "status_code",
        "accounts",
        "portfolios",
        "created_at",
    )
    list_select_related = ("organization", "ledger")
    list_filter = (
        "status_code",
        ScopeFilter,
        ("organization", LabelledRelatedFilter),
        ("ledger", LabelledRelatedFilter),
        DeletedFilter,
    )
    search_fields = ("name", "description")
    search_help_text = _("Segment name or description, or a whole id.")
    autocomplete_fields = ("organization", "ledger")
    create_only_fields = ("organization", "ledger")
    parent_fields = ("organization", "ledger")
    choice_related = ("organization", "ledger")
    fieldsets = (
        (None, {"fields": ("organization", "ledger", "name", "description")}),
        (_("Status"), {"fields": ("status_code", "status_description")}),
        (_("Metadata"), {"fields": ("metadata",)}),
    )
    actions = (
        "activate",
        "deactivate",
        "detach_and_delete",
        "restore",
        "export_members_csv",
        "delete_selected",
    )
    change_form_template = "admin/segments/segment/change_form.html"
    error_fields = {errors.LedgerNotFound: "ledger"}
    update_service = staticmethod(services.update_segment)
    delete_service = staticmethod(services.delete_segment)

    # ----------------------------------------------------------------- list and form

    @admin.display(description=_("scope"), ordering="ledger__name")
    def scope(self, obj: Segment) -> str:
        if obj.is_organization_level:
            return gettext("Organization")
        return gettext("Ledger · %(ledger)s") % {"ledger": obj.ledger.name}

    @admin.display(description=_("accounts"), ordering="account_count")
    def accounts(self, obj: Segment) -> int:
        return obj.account_count

    @admin.display(description=_("portfolios"), ordering="portfolio_count")
    def portfolios(self, obj: Segment) -> int:
        return obj.portfolio_count

    def choice_label(self, obj: Segment) -> str:
        if obj.is_organization_level:
            return gettext("%(segment)s · %(organization)s (organization)") % {
                "segment": obj.name,
                "organization": obj.organization.legal_name,
            }
        return f"{obj.name} · {obj.ledger.name}"

    def get_form(self, request, obj=None, change=False, **kwargs) -> type[ServiceForm]:
        form_class = super().get_form(request, obj, change=change, **kwargs)
        if "ledger" in form_class.base_fields:
            form_class.base_fields["ledger"].help_text = gettext(
                "Leave empty for an organization segment, usable by every ledger of the "
                "organization. A ledger must belong to the organization."
            )
        return form_class

    def create(self, actor: Any, form: ServiceForm, fields: dict[str, Any]) -> Segment:
        data = form.cleaned_data
        ledger, organization = data.get("ledger"), data["organization"]
        if ledger is not None and ledger.organization_id != organization.pk:
            raise errors.LedgerNotFound(entity_type="Ledger")
        return services.create_segment(actor, ledger or organization, **fields)

    def refusal(self, error: errors.DomainError) -> str:
        if isinstance(error, errors.SegmentHasMembers):
            counts = error.values
            return gettext(
                "Not deleted: the segment still has %(accounts)s account(s) and "
                "%(portfolios)s portfolio(s). Use the action “Detach members and delete” to "
                "take them out and delete it."
            ) % {"accounts": counts.get("accounts", 0), "portfolios": counts.get("portfolios", 0)}
        return error.message

    # ----------------------------------------------------------------- the segment's page

    def render_change_form(
        self, request: HttpRequest, context: dict, add=False, change=False, form_url="", obj=None
    ):
        if obj is not None and obj.pk:
            context.update(self.members_and_history(obj))
        return super().render_change_form(request, context, add, change, form_url, obj)

    def members_and_history(self, segment: Segment) -> dict[str, Any]:
        """Member counts with links to the filtered lists, and the latest history."""
        counts = selectors.member_counts(segment)
        history = list(SegmentHistory.objects.filter(segment=segment)[:LATEST_HISTORY])
        return {
            "member_counts": counts,
            "accounts_url": reverse("admin:segments_account_changelist") + f"?segment={segment.pk}",
            "portfolios_url": reverse("admin:segments_portfolio_changelist")
            + f"?segment={segment.pk}",
            "members_csv_url": reverse("admin:segments_segment_members_csv", args=[segment.pk]),
            "history_url": reverse("admin:segments_segmenthistory_changelist")
            + f"?segment={segment.pk}",
            "latest_history": list(zip(history, history_summaries(history), strict=True)),
            "benefits": benefit_rows(segment),
            "add_benefit_url": reverse("admin:segments_benefit_add") + f"?segment={segment.pk}",
        }

    def get_urls(self) -> list:
        return [
            path(
                "<path:object_id>/members.csv",
                self.admin_site.admin_view(self.members_csv_view),
                name="segments_segment_members_csv",
            ),
            *super().get_urls(),
        ]

    def members_csv_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """Download one segment's members (the link on its page)."""
        segment = self.get_object(request, unquote(object_id))
        if segment is None:
            raise Http404(gettext("No such segment."))
        if not self.has_view_permission(request, segment):
            raise PermissionDenied
        return self._members_csv([segment])

    # ----------------------------------------------------------------- actions

    @admin.action(
        permissions=["change"], description=_("Activate selected segments"), location=EVERYWHERE
    )
    def activate(self, request: HttpRequest, queryset: QuerySet[Segment]) -> None:
        """Set ACTIVE: the segment accepts members again."""
        self._set_status(request, queryset, Status.ACTIVE)

    @admin.action(
        permissions=["change"], description=_("Deactivate selected segments"), location=EVERYWHERE
    )
    def deactivate(self, request: HttpRequest, queryset: QuerySet[Segment]) -> None:
        """Set INACTIVE: members stay, new ones are refused."""
        self._set_status(request, queryset, Status.INACTIVE)

    def _set_status(self, request: HttpRequest, queryset: QuerySet[Segment], status: str) -> None:
        self.each_row(
            request,
            queryset.live().exclude(status_code=status),
            lambda segment: services.update_segment(request.user, segment, {"status_code": status}),
            log=lambda segment: self.log_change(request, segment, f"Status set to {status}."),
            done=lambda count, _results: (
                gettext("%(count)s %(entities)s set to %(status)s.")
                % {"count": count, "entities": self._plural(count), "status": status}
            ),
        )

    @admin.action(
        permissions=["delete"],
        description=_("Detach members and delete selected segments"),
        location=EVERYWHERE,
    )
    def detach_and_delete(
        self, request: HttpRequest, queryset: QuerySet[Segment]
    ) -> HttpResponse | None:
        """Take every account and portfolio out of each segment and delete it, in one
        transaction per segment, after a confirmation page that shows the counts."""
        # The confirm-then-act of ``delete_selected``: the page (``confirm_action``) and the
        # per-row calls (``each_row``) are shared; the words and counts are this action's.
        live = queryset.live()
        if not request.POST.get("post"):
            return self.confirm_action(
                request,
                live,
                action="detach_and_delete",
                title=gettext("Detach members and delete segments?"),
                question=gettext(
                    "Each segment loses all its members (they stay, without this segment) and "
                    "is deleted. Its history is kept."
                ),
                button=gettext("Yes, detach and delete"),
                rows=[
                    (
                        s,
                        gettext("%(accounts)s account(s), %(portfolios)s portfolio(s)")
                        % {"accounts": s.account_count, "portfolios": s.portfolio_count},
                    )
                    for s in live
                ],
            )
        self.each_row(
            request,
            live,
            lambda segment: services.delete_segment(request.user, segment, detach=True),
            log=lambda segment: self.log_deletions(request, [segment]),
            done=self._detached_and_deleted,
        )
        return None

    def _detached_and_deleted(self, count: int, detached: list[dict[str, int]]) -> str:
        """What "Detach members and delete" did, from each deleted segment's counts."""
        return gettext(
            "Deleted %(count)s %(entities)s; detached %(accounts)s account(s) and "
            "%(portfolios)s portfolio(s)."
        ) % {
            "count": count,
            "entities": self._plural(count),
            "accounts": sum(counts["accounts"] for counts in detached),
            "portfolios": sum(counts["portfolios"] for counts in detached),
        }

    @admin.action(
        permissions=["change"],
        description=_("Restore selected deleted segments"),
        location=EVERYWHERE,
    )
    def restore(self, request: HttpRequest, queryset: QuerySet[Segment]) -> None:
        """Bring deleted segments back when their name is still free in their scope and
        their ledger and organization are live. Members detached at delete stay out."""
        deleted = list(queryset.deleted())
        if not deleted:
            self.message_user(
                request,
                gettext(
                    "None of the selected segments is deleted. Choose “Deleted only” in the "
                    "“deleted” filter to find deleted segments."
                ),
                messages.WARNING,
            )
            return
        self.each_row(
            request,
            deleted,
            lambda segment: services.restore_segment(request.user, segment),
            log=lambda segment: self.log_change(request, segment, "Restored."),
            done=lambda count, _results: (
                gettext("Restored %(count)s %(entities)s.")
                % {"count": count, "entities": self._plural(count)}
            ),
        )

    @admin.action(
        permissions=["view"],
        description=_("Export members of selected segments (CSV)"),
        location=EVERYWHERE,
    )
    def export_members_csv(self, request: HttpRequest, queryset: QuerySet[Segment]) -> HttpResponse:
        """Every live member of the selected segments, streamed: the file that
        ``manage.py import_segment_members`` reads back."""
        return self._members_csv(list(queryset.order_by("name", "id")))

    def _members_csv(self, segments: list[Segment]) -> HttpResponse:
        if len(segments) == 1:
            filename = dated_filename("segment", segments[0].name, "members")
        else:
            filename = dated_filename("segments", "members")
        return csv_response(filename, MEMBER_COLUMNS, segments_members_rows(segments))


# --------------------------------------------------------------------------- history


def _short(value: Any) -> str:
    if isinstance(value, dict) and "code" in value:
        value = value["code"]
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 60 else text[:59] + "…"


def _counted(counts: dict) -> str:
    """``3 accounts, 1 portfolio`` (kinds with none left out)."""
    return ", ".join(member_counts_in_words(counts))


def history_summary(entry: SegmentHistory, labels: MemberLabels) -> str:
    """One line saying what a history entry changed, its members named (``labels``, from
    ``presenters.member_labels``: up to ten, then "and N more")."""
    before, after = entry.before or {}, entry.after or {}
    if entry.action == HistoryAction.UPDATED:
        return "; ".join(
            f"{key}: {_short(before.get(key))} → {_short(after[key])}" for key in after
        )
    if entry.action in (HistoryAction.MEMBERS_ASSIGNED, HistoryAction.MEMBERS_REMOVED):
        payload = after if entry.action == HistoryAction.MEMBERS_ASSIGNED else before
        sign = "+" if entry.action == HistoryAction.MEMBERS_ASSIGNED else "−"
        named = members_named(payload, labels)
        return f"{sign}{_counted(payload)}" + (f": {named}" if named else "")
    if entry.action == HistoryAction.DELETED:
        detached = _counted(before.get("detached") or {})
        return gettext("detached %(members)s") % {"members": detached} if detached else ""
    return gettext("name: %(name)s") % {"name": _short(after.get("name"))} if after else ""


def history_summaries(entries: list[SegmentHistory]) -> list[str]:
    """``history_summary`` of each entry, their members' names looked up once."""
    labels = member_labels(entries)
    return [history_summary(entry, labels) for entry in entries]


class HistoryChangeList(QuickDatesChangeList):
    """Describes the page's entries once, so that naming their members costs two queries
    for the page rather than two per row."""

    def get_results(self, request: HttpRequest) -> None:
        super().get_results(request)
        self.result_list = list(self.result_list)
        for entry, summary in zip(
            self.result_list, history_summaries(self.result_list), strict=True
        ):
            entry.summary_line = summary


def _pretty(value: Any) -> str:
    if not value:
        return "—"
    return format_html("<pre>{}</pre>", json.dumps(value, indent=2, ensure_ascii=False))


class HistorySegmentFilter(SegmentFilter):
    """The history of one segment (``?segment=<id>``, the link on a segment's page)."""

    offer_any_or_none = False


@admin.register(SegmentHistory)
class SegmentHistoryAdmin(
    ReadOnlyAdminMixin, BigTableMixin, LabelledChoicesMixin, admin.ModelAdmin
):
    """What happened to each segment: who, when, what (before → after). Read-only: the
    services write it, nobody edits it."""

    list_display = ("created_at", "segment", "action", "summary", "actor_name", "organization")
    list_select_related = ("segment", "organization")
    list_filter = ("action", HistorySegmentFilter, ("organization", LabelledRelatedFilter))
    search_fields = ("segment__name", "actor_name")
    search_help_text = _("Segment name or the user who made the change.")
    autocomplete_fields = ("segment", "organization", "actor")
    actions = None
    fields = (
        "segment",
        "organization",
        "action",
        "summary",
        "actor",
        "actor_name",
        "created_at",
        "before_json",
        "after_json",
        "id",
    )
    readonly_fields = fields

    def get_changelist(self, request: HttpRequest, **kwargs: Any) -> type[ChangeList]:
        return HistoryChangeList

    @admin.display(description=_("change"))
    def summary(self, obj: SegmentHistory) -> str:
        if hasattr(obj, "summary_line"):
            return obj.summary_line
        return history_summaries([obj])[0]

    @admin.display(description=_("before"))
    def before_json(self, obj: SegmentHistory) -> str:
        return _pretty(obj.before)

    @admin.display(description=_("after"))
    def after_json(self, obj: SegmentHistory) -> str:
        return _pretty(obj.after)
