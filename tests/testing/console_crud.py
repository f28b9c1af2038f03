"""The console CRUD case: the same list, create, edit and permission checks for every
entity the console edits in a dialog, written once (the console twin of
``tests.testing.api_crud``).

A test module under ``tests/console/`` subclasses ``EntityConsoleTestCase`` per entity and
says which URL names serve it, how to make one, what a form sends and what it expects;
a new entity gets every check by declaring those. Forms are sent as a browser sends them:
the dialog is loaded first and its hidden inputs (form token, ETag) go with the post.
Actors: ``viewer``, ``operator`` (members of ``organization``) and ``outsider`` (fixtures
``users``, ``organization``, ``ledger`` of ``tests/conftest.py``).
"""

from __future__ import annotations

import json
from html.parser import HTMLParser
from typing import Any, ClassVar

import pytest
from django.db.models import Model
from django.test import Client
from django.urls import reverse

DIALOG = {"HX-Request": "true", "HX-Target": "dialog-body"}


class _HiddenInputs(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.values: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "input" and found.get("type") == "hidden" and found.get("name"):
            self.values[found["name"]] = found.get("value") or ""


def hidden_inputs(html: str) -> dict[str, str]:
    """The hidden inputs of a form page (``form_token``, ``etag``, …) by name."""
    parser = _HiddenInputs()
    parser.feed(html)
    return parser.values


def beside(html: str, field: str) -> str:
    """The part of a form page from ``field``'s label to the next field's label: where an
    error "beside the field" is shown."""
    start = html.index(f'for="id_{field}"')
    end = html.find('for="id_', start + 1)
    return html[start : end if end != -1 else len(html)]


class EntityConsoleTestCase:
    """The checks. Subclasses set the class attributes below and ``make``."""

    model: ClassVar[type[Model]]
    list_name: ClassVar[str]  # console URL names, e.g. "ledger_accounts"
    create_name: ClassVar[str]
    edit_name: ClassVar[str]
    pk_kwarg: ClassVar[str]  # the edit URL's id, e.g. "account_id"
    create_data: ClassVar[dict[str, Any]]
    created: ClassVar[dict[str, Any]]  # a lookup that finds the created row
    created_message: ClassVar[str]
    update_data: ClassVar[dict[str, Any]]
    updated: ClassVar[dict[str, Any]]  # attribute values after the update
    updated_message: ClassVar[str]
    invalid_data: ClassVar[dict[str, Any]]
    invalid_field: ClassVar[str]  # the field whose label the error is shown beside
    invalid_message: ClassVar[str]

    @pytest.fixture(autouse=True)
    def _world(self, users, organization, ledger):
        self.users = users
        self.organization = organization
        self.ledger = ledger

    # --------------------------------------------------------------- per entity

    def make(self) -> Model:
        raise NotImplementedError

    def shown_as(self, obj: Model) -> str:
        """The text by which the list tab shows ``obj``."""
        return str(obj.name)

    def url(self, name: str, **kwargs: Any) -> str:
        scope = {"organization_id": self.organization.pk, "ledger_id": self.ledger.pk}
        return reverse(f"console:{name}", kwargs=scope | kwargs)

    def edit_url(self, obj: Model) -> str:
        return self.url(self.edit_name, **{self.pk_kwarg: obj.pk})

    def as_(self, actor: str | None) -> Client:
        client = Client()
        if actor is not None:
            client.force_login(self.users[actor])
        return client

    def send(self, client: Client, url: str, data: dict[str, Any]):
        """Load the dialog, then post ``data`` with its hidden inputs, as a browser does."""
        dialog = client.get(url, headers=DIALOG)
        assert dialog.status_code == 200, dialog.content
        return client.post(url, hidden_inputs(dialog.text) | data, headers=DIALOG)

    # --------------------------------------------------------------- list

    def test_list_tab_shows_the_entity(self):
        obj = self.make()
        response = self.as_("viewer").get(self.url(self.list_name))
        assert response.status_code == 200
        assert self.shown_as(obj) in response.text

    # --------------------------------------------------------------- create

    def test_create_dialog_is_a_fragment_for_htmx(self):
        response = self.as_("operator").get(self.url(self.create_name), headers=DIALOG)
        assert response.status_code == 200
        assert "<html" not in response.text
        assert 'id="dialog-title"' in response.text

    def test_create_answers_204_with_a_toast_and_the_row_exists(self):
        response = self.send(self.as_("operator"), self.url(self.create_name), self.create_data)
        assert response.status_code == 204, response.content
        assert json.loads(response["HX-Trigger"])["toast"]["message"] == self.created_message
        assert self.model.objects.filter(**self.created).count() == 1

    def test_a_bad_value_is_shown_beside_its_field_and_nothing_is_written(self):
        before = self.model.objects.count()
        response = self.send(self.as_("operator"), self.url(self.create_name), self.invalid_data)
        assert response.status_code == 422
        assert self.invalid_message in beside(response.text, self.invalid_field)
        assert self.model.objects.count() == before

    # --------------------------------------------------------------- edit

    def test_edit_answers_204_with_a_toast_and_changes_the_row(self):
        obj = self.make()
        response = self.send(self.as_("operator"), self.edit_url(obj), self.update_data)
        assert response.status_code == 204, response.content
        assert json.loads(response["HX-Trigger"])["toast"]["message"] == self.updated_message
        obj.refresh_from_db()
        assert {name: getattr(obj, name) for name in self.updated} == self.updated

    # --------------------------------------------------------------- who may

    def test_a_viewer_is_refused_with_403_and_nothing_changes(self):
        obj = self.make()
        client = self.as_("viewer")
        before = self.model.objects.count()
        assert client.get(self.url(self.create_name), headers=DIALOG).status_code == 403
        assert client.post(self.url(self.create_name), self.create_data).status_code == 403
        assert client.get(self.edit_url(obj)).status_code == 403
        assert client.post(self.edit_url(obj), self.update_data).status_code == 403
        assert self.model.objects.count() == before
        obj.refresh_from_db()
        assert {name: getattr(obj, name) for name in self.updated} != self.updated

    def test_an_outsider_gets_404(self):
        obj = self.make()
        client = self.as_("outsider")
        assert client.get(self.url(self.list_name)).status_code == 404
        assert client.post(self.url(self.create_name), self.create_data).status_code == 404
        assert client.get(self.edit_url(obj)).status_code == 404

    def test_an_anonymous_visitor_is_sent_to_sign_in(self):
        response = self.as_(None).get(self.url(self.create_name))
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("console:login"))
