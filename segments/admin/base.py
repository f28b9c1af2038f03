"""What every back-office admin page of the five entities shares.

Rules the admin keeps, whatever the model:

- a save or a delete is a service call (``admin.forms``), an action a service call per
  selected row (``admin.actions``);
- deleted rows are hidden unless the "deleted" filter asks for them (``admin.filters``),
  and open read-only;
- ids and timestamps are read-only, and so are the fields the service never changes (a
  segment's scope, an account's ledger, type, asset code and alias …) once the row exists;
- a pasted id finds its row by primary key;
- a changelist costs a fixed number of queries whatever its size (``admin.changelists``,
  ``admin.counting``).
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.admin.utils import quote
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.urls import path, reverse
from django.utils.translation import gettext_lazy as _

from segments.admin.actions import RowActionsMixin
from segments.admin.changelists import BigTableMixin
from segments.admin.choices import ChoiceLabels, LabelledAutocompleteJsonView, LabelledChoicesMixin
from segments.admin.forms import METADATA_HELP, ServiceAdminMixin, ServiceForm
from segments.ids import uuid_or_none

RECORD_FIELDS = ("id", "created_at", "updated_at", "deleted_at")


class EntityAdmin(
    ServiceAdminMixin,
    RowActionsMixin,
    BigTableMixin,
    LabelledChoicesMixin,
    ChoiceLabels,
    admin.ModelAdmin,
):
    """The admin of one of the five entities; subclasses name their services
    (``ServiceAdminMixin``). ``create_only_fields`` are the fields the update service never
    changes; ``derived_fields`` are set by the service (an account's organization comes
    from its ledger) and only shown; ``saved_only_fields`` (read-only, in
    ``readonly_fields``) say something of a saved row only and are left off the add page.
    """

    form = ServiceForm
    actions = ("delete_selected",)
    delete_confirmation_template = "admin/segments/delete_confirmation.html"

    create_only_fields: tuple[str, ...] = ()
    derived_fields: tuple[str, ...] = ()
    saved_only_fields: tuple[str, ...] = ()

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
        if obj is None:
            return [
                (name, {**opts, "fields": _without(opts["fields"], self.saved_only_fields)})
                for name, opts in fieldsets
            ]
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
            queryset = queryset.live().select_related(*self.choice_related)
        pk = uuid_or_none(search_term.strip())
        if pk is None:
            return super().get_search_results(request, queryset, search_term)
        return queryset.filter(pk=pk), False

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


def _without(fields: tuple, left_off: tuple[str, ...]) -> tuple:
    return tuple(field for field in fields if field not in left_off)


def _is_deleted(obj: Any) -> bool:
    return obj is not None and getattr(obj, "deleted_at", None) is not None
