"""A problem's ``title`` is in the language the request asks for (``Accept-Language``):
Portuguese for ``pt-br``, English otherwise; its ``code``, ``type`` and ``status`` never
change with the language, and the English title stays the one the OpenAPI document and
the ``/v1/errors`` page show."""

from __future__ import annotations

import json

import pytest
from django.utils import translation

from segments.api.problems import PROTOCOL_ERRORS
from segments.errors import EntityNotFound
from segments.models import Segment

pytestmark = pytest.mark.django_db

MISSING = "0191f7e2-0000-7000-8000-000000000000"


@pytest.fixture
def api(client_for, operator, organization, ledger):
    return client_for(operator), f"/v1/organizations/{organization.pk}/ledgers/{ledger.pk}"


def _not_found(client, base, **headers):
    response = client.get(f"{base}/segments/{MISSING}", **headers)
    assert response.status_code == 404, response.content
    return response.json()


def test_a_404_asked_in_portuguese_has_the_portuguese_title_and_the_same_code_and_type(api):
    client, base = api
    english = _not_found(client, base)
    portuguese = _not_found(client, base, HTTP_ACCEPT_LANGUAGE="pt-br")

    assert english["title"] == "Entity Not Found"
    assert portuguese["title"] == "Entidade não encontrada"
    for key in ("code", "type", "status", "entityType"):
        assert portuguese[key] == english[key]
    assert portuguese["code"] == "0007"
    assert portuguese["type"] == "http://testserver/v1/errors/0007"


def test_a_request_after_a_portuguese_one_gets_the_english_title_again(api):
    client, base = api
    assert _not_found(client, base, HTTP_ACCEPT_LANGUAGE="pt-BR,pt;q=0.9")["title"] == (
        "Entidade não encontrada"
    )
    assert _not_found(client, base, HTTP_ACCEPT_LANGUAGE="en-US")["title"] == "Entity Not Found"
    assert _not_found(client, base)["title"] == "Entity Not Found"


def test_a_body_refused_before_the_locale_is_chosen_still_speaks_the_requests_language(api):
    """413 is answered by a middleware that runs before LocaleMiddleware: the title follows
    this request's Accept-Language, not whatever language the thread served last."""
    client, base = api
    body = json.dumps({"name": "Big", "description": "x" * (3 * 1024 * 1024)})
    with translation.override("pt-br"):
        english = client.post(f"{base}/segments", body, content_type="application/json")
    portuguese = client.post(
        f"{base}/segments", body, content_type="application/json", HTTP_ACCEPT_LANGUAGE="pt-br"
    )
    assert english.status_code == portuguese.status_code == 413
    assert "Accept-Language" in portuguese["Vary"], "the title depends on the language"
    assert english.json()["title"] == "Content Too Large"
    assert portuguese.json()["title"] == "Conteúdo grande demais"
    assert portuguese.json()["code"] == english.json()["code"] == "413"
    assert not Segment.objects.exists()


def test_the_error_pages_and_classes_keep_the_english_titles(client):
    assert EntityNotFound.title == "Entity Not Found"
    assert PROTOCOL_ERRORS["413"].title == "Content Too Large"
    page = client.get("/v1/errors/0007", HTTP_ACCEPT="text/html").content.decode()
    assert "Entity Not Found" in page
