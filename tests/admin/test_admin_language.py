"""The back office speaks the language the browser asks for: with ``Accept-Language:
pt-br`` our admin customisations (site header, filters, actions, column titles, the
segment's page, confirmation pages, messages, history lines) read in Brazilian
Portuguese; without it, in English. Model and field names stay English (see README)."""

from __future__ import annotations

import pytest

from segments import services
from tests.factories import AccountFactory, PortfolioFactory, SegmentFactory

pytestmark = pytest.mark.django_db

SEGMENTS = "/admin/segments/segment/"
PT = {"accept-language": "pt-br"}


def messages_of(response) -> list[str]:
    return [str(m) for m in response.wsgi_request._messages]


def test_the_segment_list_in_portuguese_and_in_english(staff_client, segment):
    portuguese = staff_client.get(SEGMENTS, headers=PT).content.decode()
    for text in (
        "Console de Segmentos · back office",
        "Somente excluídos",
        "Somente não excluídos",
        "Ativar os segmentos selecionados",
        "Desvincular membros e excluir os segmentos selecionados",
        "Exportar os membros dos segmentos selecionados (CSV)",
        "Nome ou descrição do segmento, ou um id completo.",
        "Escopo",
    ):
        assert text in portuguese, text
    english = staff_client.get(SEGMENTS).content.decode()
    for text in (
        "Segments Console · back office",
        "Deleted only",
        "Live only",
        "Activate selected segments",
        "Export members of selected segments (CSV)",
    ):
        assert text in english, text
    assert "Somente excluídos" not in english


def test_the_segment_page_in_portuguese(staff_client, staff, ledger):
    segment = SegmentFactory(ledger=ledger, name="Black")
    account = AccountFactory(ledger=ledger, alias="@ana")
    services.assign_members(staff, segment, account_ids=[account.pk])
    page = staff_client.get(f"{SEGMENTS}{segment.pk}/change/", headers=PT).content.decode()
    for text in (
        "Baixar membros (CSV)",
        "Membros",
        "1 conta",
        "0 portfólio",
        "Contas alcançadas:",
        "Histórico recente",
        "+1 conta: @ana",
        "Todo o histórico deste segmento",
    ):
        assert text in page, text
    assert "Latest history" not in page


def test_a_refused_delete_and_the_detach_confirmation_in_portuguese(staff_client, ledger):
    segment = SegmentFactory(ledger=ledger)
    AccountFactory.create_batch(2, ledger=ledger, segment=segment)
    PortfolioFactory(ledger=ledger, segment=segment)
    refused = staff_client.post(
        f"{SEGMENTS}{segment.pk}/delete/", {"post": "yes"}, headers=PT, follow=True
    )
    assert any(
        "Não excluído: o segmento ainda tem 2 conta(s) e 1 portfólio(s)" in m
        for m in messages_of(refused)
    )

    confirm = staff_client.post(
        SEGMENTS,
        {"action": "detach_and_delete", "_selected_action": [str(segment.pk)]},
        headers=PT,
    ).content.decode()
    assert "Cada segmento perde todos os seus membros" in confirm
    assert "2 conta(s), 1 portfólio(s)" in confirm
    assert "Sim, desvincular e excluir" in confirm

    done = staff_client.post(
        SEGMENTS,
        {"action": "detach_and_delete", "_selected_action": [str(segment.pk)], "post": "yes"},
        headers=PT,
        follow=True,
    )
    assert any("2 conta(s) e 1 portfólio(s) desvinculados" in m for m in messages_of(done)), (
        messages_of(done)
    )
    history = staff_client.get("/admin/segments/segmenthistory/", headers=PT).content.decode()
    assert "2 contas, 1 portfólio desvinculados" in history


def test_a_restore_of_a_live_segment_explains_in_portuguese(staff_client, segment):
    response = staff_client.post(
        SEGMENTS,
        {"action": "restore", "_selected_action": [str(segment.pk)]},
        headers=PT,
        follow=True,
    )
    assert any(
        "Nenhum dos segmentos selecionados está excluído" in m for m in messages_of(response)
    )
