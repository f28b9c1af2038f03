"""Benefits in the admin (issue #13 item 5): their own pages save through the services, so
every rule holds there (a kind's parameters, the 9012 ambiguity, the 9013 name) with the
refusal beside its field; the segment's page lists its benefits."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from segments import services
from segments.models import Benefit, HistoryAction, SegmentHistory, Status

pytestmark = pytest.mark.django_db

ADD_BENEFIT = reverse("admin:segments_benefit_add")


def form_errors(response) -> dict[str, list[str]]:
    assert response.status_code == 200, "expected the form back with errors"
    form = response.context["adminform"].form
    return {field: [str(e) for e in errors] for field, errors in form.errors.items()}


def benefit_data(segment, **overrides) -> dict:
    data = {
        "segment": str(segment.pk),
        "name": "Lounge",
        "description": "",
        "kind": "service",
        "parameters": json.dumps({"serviceCode": "vip-lounge"}),
        "valid_from_0": "",
        "valid_from_1": "",
        "valid_until_0": "",
        "valid_until_1": "",
        "priority": "100",
        "exclusivity_group": "",
        "status_code": Status.ACTIVE,
        "status_description": "",
        "metadata": "{}",
    }
    return data | overrides


def test_adding_a_benefit_goes_through_the_service(staff_client, segment):
    response = staff_client.post(ADD_BENEFIT, benefit_data(segment))
    assert response.status_code == 302, form_errors(response)
    benefit = Benefit.objects.get()
    assert (benefit.segment, benefit.version, benefit.ledger_id) == (
        segment,
        1,
        segment.ledger_id,
    )
    assert SegmentHistory.objects.filter(
        segment=segment, action=HistoryAction.BENEFIT_CREATED
    ).exists()


def test_bad_parameters_are_an_error_beside_the_parameters(staff_client, segment):
    data = benefit_data(
        segment, kind="cashback", parameters=json.dumps({"percentage": "101", "assetCode": "BRL"})
    )
    errors = form_errors(staff_client.post(ADD_BENEFIT, data))
    assert "parameters" in errors, errors
    assert "parameters.percentage" in " ".join(errors["parameters"])
    assert not Benefit.all_objects.exists()


def test_an_ambiguous_benefit_is_refused_beside_its_group(staff, staff_client, segment):
    services.create_benefit(
        staff,
        segment,
        name="Lounge",
        kind="service",
        parameters={"serviceCode": "lounge"},
        exclusivity_group="travel",
    )
    data = benefit_data(segment, name="Insurance", exclusivity_group="travel")
    errors = form_errors(staff_client.post(ADD_BENEFIT, data))
    assert "exclusivity_group" in errors, errors
    assert Benefit.objects.count() == 1
    taken = form_errors(staff_client.post(ADD_BENEFIT, benefit_data(segment, name="LOUNGE")))
    assert "name" in taken, taken


def test_the_segment_page_lists_its_benefits(staff, staff_client, segment):
    benefit = services.create_benefit(
        staff,
        segment,
        name="Cashback",
        kind="cashback",
        parameters={"percentage": "2.5", "assetCode": "BRL"},
    )
    page = staff_client.get(reverse("admin:segments_segment_change", args=[segment.pk]))
    text = page.content.decode()
    assert page.status_code == 200
    assert "2.5 % cashback on BRL" in text
    assert reverse("admin:segments_benefit_change", args=[benefit.pk]) in text
    listing = staff_client.get(reverse("admin:segments_benefit_changelist"))
    assert listing.status_code == 200 and "Cashback" in listing.content.decode()
