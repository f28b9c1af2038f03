"""The admin's list filters: live rows unless the "deleted" filter asks otherwise, rows by
segment (any, none, one), members by how they were assigned (by hand, by rule), and
related entities (organization, ledger) labelled as their autocomplete reads, few enough
to list."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

from django.contrib import admin
from django.contrib.admin.options import IncorrectLookupParameters
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from segments.admin.choices import entity_admin_of, with_related
from segments.ids import uuid_or_none
from segments.models import AssignedBy, Organization, Segment


class DeletedFilter(admin.SimpleListFilter):
    """Live rows unless asked otherwise: deleted rows only, or both."""

    title = _("deleted")
    parameter_name = "deleted"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list:
        return [("yes", _("Deleted only")), ("all", _("Live and deleted"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if self.value() == "yes":
            return queryset.deleted()
        if self.value() == "all":
            return queryset
        return queryset.live()

    def choices(self, changelist) -> Iterable[dict[str, Any]]:
        yield {
            "selected": self.value() not in ("yes", "all"),
            "query_string": changelist.get_query_string(remove=[self.parameter_name]),
            "display": _("Live only"),
        }
        for value, label in self.lookup_choices:
            yield {
                "selected": self.value() == value,
                "query_string": changelist.get_query_string({self.parameter_name: value}),
                "display": label,
            }


class SegmentFilter(admin.SimpleListFilter):
    """Rows in any segment, in none, or in one segment (``?segment=<id>``: the links on a
    segment's page). The one segment is offered only once chosen, so the sidebar never
    lists every segment of every tenant."""

    title = _("segment")
    parameter_name = "segment"
    field = "segment"
    offer_any_or_none = True

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list:
        choices = [("any", _("In a segment")), ("none", _("In no segment"))]
        if not self.offer_any_or_none:
            choices = []
        selected = self._selected_id()
        if selected is not None:
            segment = Segment.all_objects.select_related("ledger").filter(pk=selected).first()
            if segment is not None:
                scope = (
                    gettext("organization")
                    if segment.is_organization_level
                    else segment.ledger.name
                )
                label = gettext("%(segment)s (%(scope)s)") % {
                    "segment": segment.name,
                    "scope": scope,
                }
                choices.append((str(segment.pk), label))
        return choices

    def _selected_id(self) -> uuid.UUID | None:
        return uuid_or_none(self.value())

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        value = self.value()
        if value is None:
            return queryset
        if value == "any" and self.offer_any_or_none:
            return queryset.filter(**{f"{self.field}__isnull": False})
        if value == "none" and self.offer_any_or_none:
            return queryset.filter(**{f"{self.field}__isnull": True})
        selected = self._selected_id()
        if selected is None:
            raise IncorrectLookupParameters(
                gettext("'%(value)s' is not a segment id.") % {"value": value}
            )
        return queryset.filter(**{f"{self.field}_id": selected})


class AssignedByFilter(admin.SimpleListFilter):
    """Members assigned by hand (pinned: no rule moves them) or chosen by a rule
    (``segment_assigned_by``); a value that is neither is refused, not ignored."""

    title = _("assigned by")
    parameter_name = "assigned_by"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list:
        return [
            (AssignedBy.MANUAL.value, _("By hand (pinned)")),
            (AssignedBy.RULE.value, _("By rule")),
        ]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        value = self.value()
        if value is None:
            return queryset
        if value not in AssignedBy.values:
            raise IncorrectLookupParameters(
                gettext("'%(value)s' is neither 'manual' nor 'rule'.") % {"value": value}
            )
        return queryset.filter(segment_assigned_by=value)


class LabelledRelatedFilter(admin.RelatedFieldListFilter):
    """A filter by a related entity (organization, ledger) whose choices read like the
    autocomplete labels ("Cards · Lerian Bank"), live rows only, alphabetical.

    The choices stay few: a ledger filter lists the ledgers of the organization chosen in
    the organization filter, when one is, and more than ``max_choices`` are not listed (the
    chosen one stays): a sidebar of every ledger (1,000 at bench scale) cost more than the
    search beside it."""

    max_choices = 100
    organization_parameter = "organization__id__exact"

    def field_choices(self, field, request: HttpRequest, model_admin: admin.ModelAdmin) -> list:
        target = entity_admin_of(model_admin.admin_site, field.remote_field.model)
        if target is None:
            return super().field_choices(field, request, model_admin)
        related = with_related(field.remote_field.model._default_manager.all(), target)
        organization = uuid_or_none(request.GET.get(self.organization_parameter))
        if organization and field.remote_field.model is not Organization:
            related = related.filter(organization_id=organization)
        rows = list(related[: self.max_choices + 1])
        if len(rows) > self.max_choices:
            selected = [pk for pk in map(uuid_or_none, self.lookup_val or []) if pk]
            rows = list(related.filter(pk__in=selected)) if selected else []
        return sorted(((obj.pk, target.choice_label(obj)) for obj in rows), key=lambda c: c[1])

    def has_output(self) -> bool:
        """Shown with a single choice too when that one is chosen (to see and clear it)."""
        return super().has_output() or bool(self.lookup_choices and self.lookup_val)
