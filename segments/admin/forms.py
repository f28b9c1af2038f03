"""The admin's forms and their one way to the services.

- a save is a service call (``segments.services``), never ``Model.save()``: the form checks
  its fields, then the service performs the change inside the admin's transaction, and a
  refusal (``DomainError``) becomes form errors on the field it names, so no domain rule
  can be skipped and no refusal is a server error;
- a form's values reach the service under the service's names, changed ones only on an
  update, metadata as a JSON Merge Patch;
- a delete is the service's soft delete; a refused delete (a segment with members, a
  ledger with live children …) is an error message and nothing changes.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, ClassVar

from django import forms
from django.contrib import messages
from django.db import transaction
from django.db.models import Model, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from segments.errors import DomainError

JSON_OBJECT_FIELDS = ("metadata", "address")
METADATA_HELP = _(
    'A flat JSON object, e.g. {"tier": "black"}: at most 100 keys of at most 100 characters, '
    "values text, number, true/false (no objects or lists), each at most 2000 characters. "
    "A key set to null is removed."
)


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

    admin: ClassVar[Any] = None  # the ServiceAdminMixin that saves it (set by get_form)
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


class ServiceAdminMixin:
    """An entity admin's saves and deletes, through its services.

    ``create_service``, ``update_service`` and ``delete_service`` are the entity's
    services. ``parent_fields`` are handed to ``create()`` as objects rather than as
    fields; with one of them, ``create()`` calls ``create_service(actor, parent, **fields)``
    (an entity with another way to create overrides ``create()``). ``error_fields`` places
    an error that names no field.
    """

    parent_fields: tuple[str, ...] = ()
    error_fields: ClassVar[dict[type[DomainError], str]] = {}
    create_service: Callable[..., Model]
    update_service: Callable[..., Model]
    delete_service: Callable[..., Any]

    def create(self, actor: Any, form: ServiceForm, fields: dict[str, Any]) -> Model:
        """Create the row through the entity's create service, under its one parent."""
        [parent_field] = self.parent_fields
        return self.create_service(actor, form.cleaned_data[parent_field], **fields)

    def save_through_service(self, actor: Any, form: ServiceForm) -> Model:
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
        # ``parameters.percentage``: a path inside a field is shown on that field.
        for candidate in (name, name.removesuffix("_id"), name.partition(".")[0]):
            if candidate in form.fields:
                return candidate
        return None

    def refusal(self, error: DomainError) -> str:
        """The error message shown when a delete or an action is refused."""
        return error.message

    def save_model(self, request: HttpRequest, obj: Any, form: forms.Form, change: bool) -> None:
        """Nothing to do: the form's service call already saved the row."""

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        """The service's soft delete; a refusal raises ``DomainError`` (see delete_view)."""
        self.delete_service(request.user, obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet) -> None:
        """All or nothing, through the service, one row at a time."""
        with transaction.atomic():
            for obj in queryset.live():
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


def _same(value: Any, initial: Any) -> bool:
    """Whether a form value is the row's current one (``{}`` and empty count as equal)."""
    if isinstance(value, Model):
        value = value.pk
    if value in (None, "", {}) and initial in (None, "", {}):
        return True
    return value == initial
