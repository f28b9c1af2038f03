"""What every back-office admin page of the five entities shares.

Rules the admin keeps, whatever the model:

- a save is a service call (``segments.services``), never ``Model.save()``: the form checks
  its fields, then the service performs the change inside the admin's transaction, and a
  refusal (``DomainError``) becomes form errors on the field it names, so no domain rule
  can be skipped and no refusal is a server error;
- a delete is the service's soft delete; a refused delete (a segment with members, a
  ledger with live children …) is an error message and nothing changes;
- deleted rows are hidden unless the "deleted" filter asks for them, and open read-only;
- ids and timestamps are read-only, and so are the fields the service never changes (a
  segment's scope, an account's ledger, type, asset code and alias …) once the row exists;
- a changelist costs a fixed number of queries whatever its size, counts a big table by
  the planner's estimate instead of scanning it on every page load, and builds its date
  drill-down from two index reads.
"""

from __future__ import annotations

import calendar
import datetime as dt
import json
import uuid
from collections.abc import Callable, Iterable
from typing import Any, ClassVar

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.exceptions import NotRegistered
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.utils import quote
from django.contrib.admin.views.autocomplete import AutocompleteJsonView
from django.contrib.admin.views.main import ALL_VAR, PAGE_VAR, ChangeList
from django.contrib.admin.widgets import AutocompleteSelect
from django.core.paginator import Paginator
from django.db import connections, transaction
from django.db.models import Count, ForeignKey, Max, Min, Model, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import formats, timezone
from django.utils.functional import cached_property
from django.utils.html import format_html
from django.utils.text import capfirst
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from segments.errors import DomainError
from segments.filters import creation_window
from segments.models import Entity, Organization, Segment

RECORD_FIELDS = ("id", "created_at", "updated_at", "deleted_at")
JSON_OBJECT_FIELDS = ("metadata", "address")
METADATA_HELP = _(
    'A flat JSON object, e.g. {"tier": "black"}: at most 100 keys of at most 100 characters, '
    "values text, number, true/false (no objects or lists), each at most 2000 characters. "
    "A key set to null is removed."
)


# --------------------------------------------------------------------------- counting


def planner_estimate(queryset: QuerySet) -> int | None:
    """PostgreSQL's estimate of how many rows ``queryset`` returns, or None elsewhere."""
    if connections[queryset.db].vendor != "postgresql":
        return None
    plan = json.loads(queryset.order_by().explain(format="json"))
    if isinstance(plan, list):
        plan = plan[0]
    return int(plan["Plan"]["Plan Rows"])


class EstimatedCountPaginator(Paginator):
    """Counts exactly up to ``exact_limit`` rows (a count bounded by ``LIMIT``) and, past
    that, takes PostgreSQL's planner estimate: a changelist of a million accounts never
    scans the table just to print its size. ``count_is_estimate`` tells which it did.

    With ``bounds_field`` set (the changelist's date drill-down field), the same bounded
    query also reads that field's first and last values, kept in ``bounds`` when the count
    is exact: a search's matches are found once, not once more for the drill-down.

    With ``reads_first_page`` (a changelist asked for its first page), the first page is
    read before anything is counted: when it holds every row (a search for an alias, an
    id, a holder), that one query is the count, the dates and the page; otherwise it is
    the page, and the bounded count follows."""

    exact_limit = 10_000
    count_is_estimate = False
    bounds_field: str | None = None
    bounds: tuple[Any, Any] | None = None
    reads_first_page = False
    first_page_rows: list | None = None

    @cached_property
    def count(self) -> int:
        queryset = self.object_list
        if not isinstance(queryset, QuerySet):
            return len(queryset)
        field = self.bounds_field
        if self.reads_first_page:
            rows = list(queryset[: self.per_page + 1])
            self.first_page_rows = rows[: self.per_page]
            if len(rows) <= self.per_page:
                if field:
                    values = [getattr(row, field) for row in rows]
                    self.bounds = (min(values), max(values)) if values else (None, None)
                return len(rows)
        if field:
            rows = queryset.order_by().values("pk", field)[: self.exact_limit]
            totals = rows.aggregate(count=Count("pk"), first=Min(field), last=Max(field))
            bounded = totals["count"]
        else:
            bounded = queryset.order_by().values("pk")[: self.exact_limit].count()
        if bounded < self.exact_limit:
            if field:
                self.bounds = (totals["first"], totals["last"])
            return bounded
        estimate = planner_estimate(queryset)
        if estimate is None:
            return queryset.order_by().count()
        self.count_is_estimate = True
        return max(estimate, self.exact_limit)

    def page(self, number: Any) -> Any:
        """Page 1 from the rows ``count`` already read, when it read them."""
        number = self.validate_number(number)
        if number == 1 and self.first_page_rows is not None:
            return self._get_page(self.first_page_rows, 1, self)
        return super().page(number)


# --------------------------------------------------------------------------- date drill-down


class QuickDatesChangeList(ChangeList):
    """A changelist whose "filter by created at" links span the first and last rows in id
    order (two index reads, or the paginator's count for a small result: ``_bounds``)
    instead of Django's scan of every row for its distinct dates, which takes seconds on a
    million rows. Ids follow creation time (UUIDv7, sequences), so no period with rows is
    left out; a link may lead to a period without rows."""

    def get_results(self, request: HttpRequest) -> None:
        """Django's, except that rows the paginator already read whole (a result of one
        page) are not read again."""
        super().get_results(request)
        rows = getattr(self.paginator, "first_page_rows", None)
        if rows is not None and not self.multi_page:
            self.result_list = rows

    def get_filters(self, request: HttpRequest) -> tuple:
        """Django's filters, except the drill-down's period (``created_at__year`` …): its
        bounds come from ``filters.creation_window``, as the lists' date filters do. Django
        ends a period where the next one begins, and the year 9999 has no next one."""
        hierarchy, self.date_hierarchy = self.date_hierarchy, None
        try:
            specs, has_filters, lookups, duplicates, active = super().get_filters(request)
        finally:
            self.date_hierarchy = hierarchy
        if hierarchy and f"{hierarchy}__year" in lookups:
            period = [lookups.pop(f"{hierarchy}__{part}", [None])[-1] for part in DRILL_PARTS]
            lookups |= _period_lookups(hierarchy, *period)
        return specs, has_filters, lookups, duplicates, active

    @cached_property
    def date_drilldown(self) -> dict[str, Any]:
        if not self.date_hierarchy:
            return {"show": False}
        name = self.date_hierarchy
        first, last = self._bounds(name)
        if first is None:
            return {"show": False}
        year = _int(self.params.get(f"{name}__year"))
        month = _int(self.params.get(f"{name}__month"))
        day = _int(self.params.get(f"{name}__day"))
        if not (year or month or day) and first.year == last.year:
            year = first.year
            month = first.month if first.month == last.month else None
        field = self.model._meta.get_field(name)
        drill = {"show": True, "field_name": field.verbose_name}

        def link(**lookups: int) -> str:
            params = {f"{name}__{part}": value for part, value in lookups.items()}
            return self.get_query_string(params, [f"{name}__"])

        if year and month and day:
            date = dt.date(year, month, day)
            drill["back"] = {
                "link": link(year=year, month=month),
                "title": capfirst(formats.date_format(date, "YEAR_MONTH_FORMAT")),
            }
            drill["choices"] = [{"title": formats.date_format(date, "MONTH_DAY_FORMAT")}]
        elif year and month:
            start = first.day if (first.year, first.month) == (year, month) else 1
            end = (
                last.day
                if (last.year, last.month) == (year, month)
                else calendar.monthrange(year, month)[1]
            )
            drill["back"] = {"link": link(year=year), "title": str(year)}
            drill["choices"] = [
                {
                    "link": link(year=year, month=month, day=number),
                    "title": formats.date_format(dt.date(year, month, number), "MONTH_DAY_FORMAT"),
                }
                for number in range(start, end + 1)
            ]
        elif year:
            start = first.month if first.year == year else 1
            end = last.month if last.year == year else 12
            drill["back"] = {"link": link(), "title": gettext("All dates")}
            drill["choices"] = [
                {
                    "link": link(year=year, month=number),
                    "title": capfirst(
                        formats.date_format(dt.date(year, number, 1), "YEAR_MONTH_FORMAT")
                    ),
                }
                for number in range(start, end + 1)
            ]
        else:
            drill["back"] = None
            drill["choices"] = [
                {"link": link(year=number), "title": str(number)}
                for number in range(first.year, last.year + 1)
            ]
        return drill

    def _bounds(self, name: str) -> tuple[Any, Any]:
        """The first and last values of ``name`` among the listed rows. A result counted
        exactly (at most ``exact_limit`` rows: a search, a narrow filter) has them from the
        paginator's count, which aggregated them from the matching rows; reading the id
        index from each end would walk past every row that does not match, up to the whole
        table when the matches are few (a search over 1M accounts: 0.3 s per end). A large
        result (an estimated count) is dense in the id index: two short index reads."""
        counted = getattr(self.paginator, "bounds", None)
        if counted is not None and getattr(self.paginator, "bounds_field", None) == name:
            ends = list(counted)
        else:
            rows = self.queryset.values_list(name, flat=True)
            ends = [rows.order_by("pk").first(), rows.order_by("-pk").first()]
        if ends[0] is None or ends[1] is None:
            return None, None
        first, last = sorted(timezone.localtime(value) for value in ends)
        return first, last


DRILL_PARTS = ("year", "month", "day")


def _period_lookups(name: str, year: Any, month: Any, day: Any) -> dict[str, list]:
    """The ``__gte`` / ``__lt`` lookups of a drill-down period (a year, a month or a day),
    or IncorrectLookupParameters (Django's "bad filter" answer) for one that is no date."""
    try:
        first = dt.date(int(year), int(month or 1), int(day or 1))
        if day:
            last = first
        elif month:
            last = first.replace(day=calendar.monthrange(first.year, first.month)[1])
        else:
            last = first.replace(month=12, day=31)
        start, before = creation_window(first.isoformat(), last.isoformat())
    except (TypeError, ValueError, DomainError) as error:
        raise IncorrectLookupParameters(error) from error
    lookups = {f"{name}__gte": [start]}
    if before is not None:
        lookups[f"{name}__lt"] = [before]
    return lookups


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


class BigTableMixin:
    """Changelists that stay fast on a million rows: a fixed number of queries, a count
    bounded by ``LIMIT`` (then an estimate), no unfiltered second count, no facet counts,
    and the quick date drill-down."""

    paginator = EstimatedCountPaginator
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER
    date_hierarchy = "created_at"
    ordering = ("-pk",)  # ids are time-ordered (UUIDv7, sequences): newest first, from the pk index
    list_per_page = 50

    def get_changelist(self, request: HttpRequest, **kwargs: Any) -> type[ChangeList]:
        return QuickDatesChangeList

    def get_paginator(
        self, request: HttpRequest, queryset: QuerySet, per_page: int, *args: Any, **kwargs: Any
    ) -> Paginator:
        paginator = super().get_paginator(request, queryset, per_page, *args, **kwargs)
        if isinstance(paginator, EstimatedCountPaginator):
            paginator.bounds_field = self.date_hierarchy
            match = getattr(request, "resolver_match", None)
            paginator.reads_first_page = (
                bool(match and match.url_name and match.url_name.endswith("_changelist"))
                and request.GET.get(PAGE_VAR, "1") == "1"
                and ALL_VAR not in request.GET
            )
        return paginator


# --------------------------------------------------------------------------- list filters


class DeletedFilter(admin.SimpleListFilter):
    """Live rows unless asked otherwise: deleted rows only, or both."""

    title = _("deleted")
    parameter_name = "deleted"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list:
        return [("yes", _("Deleted only")), ("all", _("Live and deleted"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if self.value() == "yes":
            return queryset.filter(deleted_at__isnull=False)
        if self.value() == "all":
            return queryset
        return queryset.filter(deleted_at__isnull=True)

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
                scope = segment.ledger.name if segment.ledger_id else gettext("organization")
                label = gettext("%(segment)s (%(scope)s)") % {
                    "segment": segment.name,
                    "scope": scope,
                }
                choices.append((str(segment.pk), label))
        return choices

    def _selected_id(self) -> uuid.UUID | None:
        try:
            return uuid.UUID(str(self.value()))
        except ValueError:
            return None

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
        related = _with_related(field.remote_field.model._default_manager.all(), target)
        organization = _uuid_or_none(request.GET.get(self.organization_parameter))
        if organization and field.remote_field.model is not Organization:
            related = related.filter(organization_id=organization)
        rows = list(related[: self.max_choices + 1])
        if len(rows) > self.max_choices:
            selected = [pk for pk in map(_uuid_or_none, self.lookup_val or []) if pk]
            rows = list(related.filter(pk__in=selected)) if selected else []
        return sorted(((obj.pk, target.choice_label(obj)) for obj in rows), key=lambda c: c[1])

    def has_output(self) -> bool:
        """Shown with a single choice too when that one is chosen (to see and clear it)."""
        return super().has_output() or bool(self.lookup_choices and self.lookup_val)


def _uuid_or_none(value: Any) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


# --------------------------------------------------------------------------- autocomplete


class LabelledAutocompleteJsonView(AutocompleteJsonView):
    """Autocomplete answers that say where a choice lives ("Black · Cards"), from the
    searched model's ``EntityAdmin.choice_label``."""

    def serialize_result(self, obj: Model, to_field_name: str) -> dict[str, str]:
        result = super().serialize_result(obj, to_field_name)
        if isinstance(self.model_admin, EntityAdmin):
            result["text"] = self.model_admin.choice_label(obj)
        return result


class LabelledAutocompleteSelect(AutocompleteSelect):
    """The admin's autocomplete widget, asking the searched model's admin for its
    labelled answers."""

    def get_url(self) -> str:
        opts = self.field.remote_field.model._meta
        return reverse(f"{self.admin_site.name}:{opts.app_label}_{opts.model_name}_autocomplete")


class LabelledChoicesMixin:
    """Foreign keys to an entity are chosen by autocomplete and shown with their
    ``choice_label``; choices are live rows only (the models' default manager)."""

    def formfield_for_foreignkey(
        self, db_field: ForeignKey, request: HttpRequest, **kwargs: Any
    ) -> forms.Field | None:
        target = entity_admin_of(self.admin_site, db_field.remote_field.model)
        if target is not None and db_field.name in self.get_autocomplete_fields(request):
            kwargs.setdefault(
                "widget",
                LabelledAutocompleteSelect(db_field, self.admin_site, using=kwargs.get("using")),
            )
        formfield = super().formfield_for_foreignkey(db_field, request, **kwargs)
        if formfield is not None and target is not None:
            formfield.label_from_instance = target.choice_label
            formfield.queryset = _with_related(formfield.queryset, target)
        return formfield


# --------------------------------------------------------------------------- forms


def metadata_patch(before: Any, after: Any) -> Any:
    """The admin edits metadata as a whole; the services take a JSON Merge Patch. Keys that
    disappeared become ``None`` (removed)."""
    if not isinstance(after, dict):
        return after
    previous = before if isinstance(before, dict) else {}
    return {**{key: None for key in previous if key not in after}, **after}


class PageSafeJSONEncoder(json.JSONEncoder):
    """Shows a JSON value as typed, except that text holding an unpaired surrogate
    (``"\\ud800"``, refused by the models' rules) stays escaped: a page is UTF-8, which
    has no such character, so the form shown again with its error would fail to render."""

    def encode(self, o: Any) -> str:
        text = super().encode(o)
        if self.ensure_ascii or not any("\ud800" <= char <= "\udfff" for char in text):
            return text
        self.ensure_ascii = True
        return super().encode(o)


class ServiceForm(forms.ModelForm):
    """A model form whose save is a service call.

    Field and model validation run first (the models' validators are the domain's field
    rules). When they pass, the admin's service call performs the change, and a refused
    change becomes this form's errors: on the field it names, else on the form. Either way
    the admin never calls ``save()`` on the instance itself.
    """

    admin: ClassVar[EntityAdmin | None] = None
    actor: ClassVar[Any] = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name in JSON_OBJECT_FIELDS:
            if isinstance(self.fields.get(name), forms.JSONField):
                self.fields[name].encoder = PageSafeJSONEncoder

    def clean_metadata(self) -> Any:
        return self._model_field_rules("metadata")

    def clean_address(self) -> Any:
        return self._model_field_rules("address")

    def _model_field_rules(self, name: str) -> Any:
        """A JSON field's rules, with their own messages (model validation would report any
        of them as "Enter a valid JSON")."""
        value = self.cleaned_data.get(name)
        for validator in self._meta.model._meta.get_field(name).validators:
            validator(value)
        return value

    def validate_unique(self) -> None:
        """Uniqueness (segment names, aliases) is the service's rule, checked as it writes,
        with the domain's message."""

    def full_clean(self) -> None:
        super().full_clean()
        if not self.is_bound or self.errors or self.admin is None:
            return
        try:
            self.instance = self.admin.save_through_service(self.actor, self)
        except DomainError as error:
            for field, message in self.admin.form_errors(error, self):
                self.add_error(field, message)


# --------------------------------------------------------------------------- the admin


class EntityAdmin(BigTableMixin, LabelledChoicesMixin, admin.ModelAdmin):
    """The admin of one of the five entities; subclasses name their services.

    ``create()`` calls the entity's create service; ``update_service`` and
    ``delete_service`` are its update and delete services. ``create_only_fields`` are the
    fields the update service never changes; ``derived_fields`` are set by the service
    (an account's organization comes from its ledger) and only shown; ``parent_fields`` are
    handed to ``create()`` as objects rather than as fields. ``error_fields`` places an
    error that names no field.
    """

    form = ServiceForm
    actions = ("delete_selected",)
    delete_confirmation_template = "admin/segments/delete_confirmation.html"

    create_only_fields: tuple[str, ...] = ()
    derived_fields: tuple[str, ...] = ()
    parent_fields: tuple[str, ...] = ()
    choice_related: tuple[str, ...] = ()
    error_fields: ClassVar[dict[type[DomainError], str]] = {}
    update_service: Callable[..., Entity]
    delete_service: Callable[..., Any]

    # ----------------------------------------------------------------- services

    def create(self, actor: Any, form: ServiceForm, fields: dict[str, Any]) -> Entity:
        """Create the row through the entity's create service."""
        raise NotImplementedError

    def save_through_service(self, actor: Any, form: ServiceForm) -> Entity:
        """Create or change the row from a valid form; a refusal raises ``DomainError``."""
        fields = self.service_fields(form)
        if form.instance._state.adding:
            return self.create(actor, form, fields)
        if not fields:
            return form.instance
        return self.update_service(actor, form.instance, fields)

    def service_fields(self, form: ServiceForm) -> dict[str, Any]:
        """The form's values under the services' names (``segment`` → ``segment_id``):
        every field on create, the changed ones on update, metadata as a merge patch."""
        adding = form.instance._state.adding
        names = form.fields if adding else form.changed_data
        values: dict[str, Any] = {}
        for name in names:
            if name in self.parent_fields:
                continue
            model_field = self.model._meta.get_field(name)
            value = form.cleaned_data.get(name)
            if not adding and _same(value, form.initial.get(name)):
                continue
            if model_field.is_relation:
                values[model_field.attname] = value.pk if value is not None else None
            elif name in JSON_OBJECT_FIELDS:
                value = {} if value is None else value
                if name == "metadata" and not adding:
                    value = metadata_patch(form.initial.get(name), value)
                values[name] = value
            else:
                values[name] = value
        return values

    def form_errors(self, error: DomainError, form: forms.Form) -> list[tuple[str | None, str]]:
        """Where a refusal shows: the message on the one field it names; each field's own
        text when it names several; the form's top otherwise."""
        if not error.fields:
            field = self.error_fields.get(type(error))
            return [(field if field in form.fields else None, error.message)]
        if len(error.fields) == 1:
            (name,) = error.fields
            return [(self._form_field(name, form), error.message)]
        placed = []
        for name, text in error.fields.items():
            field = self._form_field(name, form)
            placed.append((field, text if field else f"{name}: {text}"))
        return placed

    @staticmethod
    def _form_field(name: str, form: forms.Form) -> str | None:
        for candidate in (name, name.removesuffix("_id")):
            if candidate in form.fields:
                return candidate
        return None

    def refusal(self, error: DomainError) -> str:
        """The error message shown when a delete or an action is refused."""
        return error.message

    # ----------------------------------------------------------------- form and pages

    def get_form(
        self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any
    ) -> type[ServiceForm]:
        form_class = super().get_form(request, obj, change=change, **kwargs)
        form_class.admin = self
        form_class.actor = request.user
        if "metadata" in form_class.base_fields:
            form_class.base_fields["metadata"].help_text = METADATA_HELP
        return form_class

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> list:
        fieldsets = list(super().get_fieldsets(request, obj))
        if obj is not None:
            record = {"fields": (*self.derived_fields, *RECORD_FIELDS), "classes": ("collapse",)}
            fieldsets.append((_("Record"), record))
        return fieldsets

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        readonly = (*RECORD_FIELDS, *self.derived_fields, *self.readonly_fields)
        return (*readonly, *self.create_only_fields) if obj is not None else readonly

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        """Every row, deleted ones included: the "deleted" filter decides what a list shows,
        and a deleted row's page opens read-only."""
        queryset = self.model.all_objects.all()
        ordering = self.get_ordering(request)
        return queryset.order_by(*ordering) if ordering else queryset

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet, search_term: str
    ) -> tuple[QuerySet, bool]:
        """A pasted id finds that row (by primary key, not by scanning text); anything else
        searches ``search_fields``. Autocomplete offers live rows only."""
        if request.resolver_match and request.resolver_match.url_name.endswith("autocomplete"):
            queryset = queryset.filter(deleted_at__isnull=True).select_related(*self.choice_related)
        try:
            pk = uuid.UUID(search_term.strip())
        except ValueError:
            return super().get_search_results(request, queryset, search_term)
        return queryset.filter(pk=pk), False

    def choice_label(self, obj: Any) -> str:
        """How a row reads in another row's choices (autocomplete, read-only links)."""
        return str(obj)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return super().has_change_permission(request, obj) and not _is_deleted(obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return super().has_delete_permission(request, obj) and not _is_deleted(obj)

    def get_urls(self) -> list:
        opts = self.opts
        return [
            path(
                "autocomplete/",
                self.admin_site.admin_view(self.autocomplete_view),
                name=f"{opts.app_label}_{opts.model_name}_autocomplete",
            ),
            *super().get_urls(),
        ]

    def autocomplete_view(self, request: HttpRequest) -> HttpResponse:
        return LabelledAutocompleteJsonView.as_view(admin_site=self.admin_site)(request)

    def change_url(self, obj: Any) -> str:
        opts = self.opts
        return reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[quote(obj.pk)])

    # ----------------------------------------------------------------- saving and deleting

    def save_model(self, request: HttpRequest, obj: Any, form: forms.Form, change: bool) -> None:
        """Nothing to do: the form's service call already saved the row."""

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        """The service's soft delete; a refusal raises ``DomainError`` (see delete_view)."""
        self.delete_service(request.user, obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet) -> None:
        """All or nothing, through the service, one row at a time."""
        with transaction.atomic():
            for obj in queryset.filter(deleted_at__isnull=True):
                self.delete_service(request.user, obj)

    def delete_view(
        self, request: HttpRequest, object_id: str, extra_context: dict | None = None
    ) -> HttpResponse:
        """The soft delete; a refused one rolls back and says why on the row's page."""
        try:
            return super().delete_view(request, object_id, extra_context)
        except DomainError as error:
            self.message_user(request, self.refusal(error), messages.ERROR)
            opts = self.opts
            return HttpResponseRedirect(
                reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[object_id])
            )

    def get_deleted_objects(
        self, objs: Iterable[Any], request: HttpRequest
    ) -> tuple[list, dict, set, list]:
        """A soft delete removes nothing else: the confirmation lists the rows themselves,
        and protected references (history, members) never block the page."""
        objs = list(objs)
        links = [
            format_html(
                '{}: <a href="{}">{}</a>', capfirst(self.opts.verbose_name), self.change_url(o), o
            )
            for o in objs
        ]
        return links, {self.opts.verbose_name_plural: len(objs)}, set(), []

    @admin.action(permissions=["delete"], description=_("Delete selected %(verbose_name_plural)s"))
    def delete_selected(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        """Soft delete each selected live row through the service, after a confirmation
        page; refused rows stay and are listed with the reason."""
        live = queryset.filter(deleted_at__isnull=True)
        if not request.POST.get("post"):
            return self.confirm_action(
                request,
                live,
                action="delete_selected",
                title=gettext("Delete %(entities)s?") % {"entities": self.opts.verbose_name_plural},
                question=gettext(
                    "These %(entities)s will be deleted: hidden from every list, kept in the "
                    "database for audit."
                )
                % {"entities": self.opts.verbose_name_plural},
                button=gettext("Yes, delete"),
            )
        deleted, refused = 0, []
        for obj in live:
            try:
                self.delete_service(request.user, obj)
            except DomainError as error:
                refused.append(refused_row(obj, self.refusal(error)))
                continue
            self.log_deletions(request, [obj])
            deleted += 1
        done = gettext("Deleted %(count)s %(entities)s.") % {
            "count": deleted,
            "entities": self._plural(deleted),
        }
        self.report(request, done, refused)
        return None

    # ----------------------------------------------------------------- action helpers

    def confirm_action(
        self,
        request: HttpRequest,
        queryset: QuerySet,
        *,
        action: str,
        title: str,
        question: str,
        button: str,
        rows: Iterable[tuple[Any, str]] | None = None,
    ) -> TemplateResponse:
        """A confirmation page for a destructive action: it posts the same action back
        with ``post=yes``, from the changelist or from a row's page."""
        prefix = "CHANGE_FORM-" if "CHANGE_FORM-action" in request.POST else ""
        context = {
            **self.admin_site.each_context(request),
            "title": title,
            "question": question,
            "button": button,
            "rows": list(rows) if rows is not None else [(obj, "") for obj in queryset],
            "action": action,
            "action_field": f"{prefix}action",
            "opts": self.opts,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            "media": self.media,
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, "admin/segments/confirm_action.html", context)

    def report(self, request: HttpRequest, done: str, refused: list[str]) -> None:
        """One success message, and one error message listing every refusal."""
        self.message_user(request, done, messages.SUCCESS if not refused else messages.WARNING)
        if refused:
            self.message_user(
                request,
                gettext("Refused %(count)s: %(reasons)s")
                % {"count": len(refused), "reasons": " · ".join(refused)},
                messages.ERROR,
            )

    def _plural(self, count: int) -> str:
        return str(self.opts.verbose_name if count == 1 else self.opts.verbose_name_plural)


def refused_row(obj: Any, reason: str) -> str:
    """One refusal of an action, as ``report`` lists it: ``“Black”: the reason``."""
    return gettext("“%(row)s”: %(reason)s") % {"row": obj, "reason": reason}


def entity_admin_of(site: admin.AdminSite, model: type[Model]) -> EntityAdmin | None:
    """The ``EntityAdmin`` registered for ``model``, if any."""
    try:
        model_admin = site.get_model_admin(model)
    except NotRegistered:
        return None
    return model_admin if isinstance(model_admin, EntityAdmin) else None


def _same(value: Any, initial: Any) -> bool:
    """Whether a form value is the row's current one (``{}`` and empty count as equal)."""
    if isinstance(value, Model):
        value = value.pk
    if value in (None, "", {}) and initial in (None, "", {}):
        return True
    return value == initial


def _with_related(queryset: QuerySet, target: EntityAdmin) -> QuerySet:
    """``queryset`` joined to what ``target.choice_label`` reads."""
    return queryset.select_related(*target.choice_related) if target.choice_related else queryset


def _is_deleted(obj: Any) -> bool:
    return obj is not None and getattr(obj, "deleted_at", None) is not None
