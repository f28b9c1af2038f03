"""How a row reads in another row's choices: an entity's admin names it with
``choice_label`` ("Black · Cards") in autocomplete answers, foreign-key widgets and list
filters; choices are live rows only (the models' default manager)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.admin.exceptions import NotRegistered
from django.contrib.admin.views.autocomplete import AutocompleteJsonView
from django.contrib.admin.widgets import AutocompleteSelect
from django.db.models import ForeignKey, Model, QuerySet
from django.http import HttpRequest
from django.urls import reverse


class ChoiceLabels:
    """An admin whose rows read as ``choice_label`` wherever another row chooses them;
    ``choice_related`` are the joins that label reads."""

    choice_related: tuple[str, ...] = ()

    def choice_label(self, obj: Any) -> str:
        """How a row reads in another row's choices (autocomplete, read-only links)."""
        return str(obj)


def entity_admin_of(site: admin.AdminSite, model: type[Model]) -> ChoiceLabels | None:
    """The admin registered for ``model`` when it labels its rows (an entity's), if any."""
    try:
        model_admin = site.get_model_admin(model)
    except NotRegistered:
        return None
    return model_admin if isinstance(model_admin, ChoiceLabels) else None


def with_related(queryset: QuerySet, target: ChoiceLabels) -> QuerySet:
    """``queryset`` joined to what ``target.choice_label`` reads."""
    return queryset.select_related(*target.choice_related) if target.choice_related else queryset


class LabelledAutocompleteJsonView(AutocompleteJsonView):
    """Autocomplete answers that say where a choice lives ("Black · Cards"), from the
    searched model's ``ChoiceLabels.choice_label``."""

    def serialize_result(self, obj: Model, to_field_name: str) -> dict[str, str]:
        result = super().serialize_result(obj, to_field_name)
        if isinstance(self.model_admin, ChoiceLabels):
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
            formfield.queryset = with_related(formfield.queryset, target)
        return formfield
