"""Issue #15 item 4: the admin's outbox page. Events are listed read-only, filtered by
status, type and organization, found by id or subject, at a fixed number of queries; the
"Retry" action sends dead rows again through ``services.events.retry_dead_events`` (dead
rows only, who retried recorded) and only for staff allowed to retry — a refusal changes
nothing."""

import datetime as dt
import uuid

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from segments import services
from segments.errors import PermissionDenied
from segments.models import Event, EventStatus, Role
from segments.services.events import retry_dead_events
from tests.factories import LedgerFactory, OrganizationFactory, UserFactory, member

pytestmark = pytest.mark.django_db

EVENTS = "/admin/segments/event/"
MAX_CHANGELIST_QUERIES = 10
ROW_FIELDS = (
    "status",
    "attempts",
    "next_attempt_at",
    "last_error",
    "published_at",
    "retried_by",
    "retried_at",
)


def segment_events(ledger, count: int) -> list[Event]:
    """``count`` ``segment.created`` events, written by the service (pending)."""
    made = [services.create_segment(None, ledger, name=f"S{uuid.uuid4()}") for _ in range(count)]
    return list(Event.objects.filter(subject__in=[str(s.pk) for s in made]).order_by("id"))


def mark(events, status: str) -> None:
    """The relay's outcome for these rows: published, or dead after its last attempt."""
    ids = [e.pk for e in events]
    if status == EventStatus.PUBLISHED:
        Event.objects.filter(pk__in=ids).update(status=status, published_at=timezone.now())
    else:
        Event.objects.filter(pk__in=ids).update(
            status=status,
            attempts=10,
            last_error="UnroutableError: the broker did not take it",
            next_attempt_at=timezone.now() + dt.timedelta(minutes=5),
        )


def rows(events) -> dict:
    found = Event.objects.filter(pk__in=[e.pk for e in events]).values("pk", *ROW_FIELDS)
    return {row.pop("pk"): row for row in found}


def listed(response) -> set:
    assert response.status_code == 200
    return {row.pk for row in response.context["cl"].result_list}


def retry(client, events):
    data = {"action": "retry", "_selected_action": [str(e.pk) for e in events]}
    return client.post(EVENTS, data, follow=True)


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


@pytest.fixture
def outbox(ledger):
    """Two pending, two published and two dead ``segment.created`` events."""
    events = segment_events(ledger, 6)
    mark(events[2:4], EventStatus.PUBLISHED)
    mark(events[4:], EventStatus.DEAD)
    return {"pending": events[:2], "published": events[2:4], "dead": events[4:]}


def staff_with(*codenames: str):
    user = UserFactory(is_staff=True)
    user.user_permissions.set(
        Permission.objects.filter(content_type__app_label="segments", codename__in=codenames)
    )
    return user


# --------------------------------------------------------------------------- the list


def test_the_list_shows_each_events_state(staff_client, outbox):
    response = staff_client.get(EVENTS)
    text = response.content.decode()
    assert listed(response) == {e.pk for group in outbox.values() for e in group}
    assert "segment.created" in text
    assert "UnroutableError: the broker did not take it" in text
    for label in ("next attempt / published at", "last error", "attempts"):
        assert label in text.lower()


@pytest.mark.parametrize("status", ["pending", "published", "dead"])
def test_the_status_filter(staff_client, outbox, status):
    response = staff_client.get(EVENTS, {"status__exact": status})
    assert listed(response) == {e.pk for e in outbox[status]}


def test_the_type_filter(staff_client, ledger, outbox):
    segment = services.create_segment(None, ledger, name="Renamed")
    services.update_segment(None, segment, {"name": "Renamed again"})
    updated = Event.objects.get(key="segment.updated")
    assert listed(staff_client.get(EVENTS, {"key": "segment.updated"})) == {updated.pk}
    page = staff_client.get(EVENTS).content.decode()
    assert "segment.members.changed" in page  # the contract's keys are offered


def test_the_organization_filter(staff_client, ledger, outbox):
    other = LedgerFactory(organization=OrganizationFactory(legal_name="Other Bank"))
    theirs = segment_events(other, 1)
    response = staff_client.get(EVENTS, {"organization__id__exact": str(other.organization_id)})
    assert listed(response) == {theirs[0].pk}
    mine = staff_client.get(EVENTS, {"organization__id__exact": str(ledger.organization_id)})
    assert theirs[0].pk not in listed(mine) and len(listed(mine)) == 6


def test_search_by_event_id_and_by_subject(staff_client, ledger, outbox):
    event = outbox["dead"][0]
    assert listed(staff_client.get(EVENTS, {"q": str(event.pk)})) == {event.pk}
    segment = services.create_segment(None, ledger, name="Searched")
    services.update_segment(None, segment, {"name": "Searched again"})
    about = set(Event.objects.filter(subject=str(segment.pk)).values_list("pk", flat=True))
    assert len(about) == 2
    assert listed(staff_client.get(EVENTS, {"q": f" {segment.pk} "})) == about
    assert listed(staff_client.get(EVENTS, {"q": "no such subject"})) == set()


def test_the_list_costs_the_same_queries_for_5_or_30_rows(
    staff_client, ledger, django_assert_max_num_queries
):
    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert staff_client.get(EVENTS).status_code == 200
        return len(captured)

    mark(segment_events(ledger, 5), EventStatus.DEAD)
    with django_assert_max_num_queries(MAX_CHANGELIST_QUERIES):
        with_five = queries()
    segment_events(ledger, 25)
    with django_assert_max_num_queries(MAX_CHANGELIST_QUERIES):
        with_thirty = queries()
    assert with_thirty == with_five


def test_events_are_read_only(staff_client, outbox):
    event = outbox["pending"][0]
    before = rows([event])
    assert staff_client.get(f"{EVENTS}add/").status_code == 403
    page = staff_client.get(f"{EVENTS}{event.pk}/change/")
    assert page.status_code == 200
    assert 'name="_save"' not in page.content.decode()
    assert "segment.created" in page.content.decode()
    changed = staff_client.post(f"{EVENTS}{event.pk}/change/", {"status": "published"})
    assert changed.status_code == 403
    assert staff_client.post(f"{EVENTS}{event.pk}/delete/", {"post": "yes"}).status_code == 403
    deleted = staff_client.post(
        EVENTS, {"action": "delete_selected", "_selected_action": [str(event.pk)], "post": "yes"}
    )
    assert deleted.status_code in (200, 302)
    assert rows([event]) == before


# --------------------------------------------------------------------------- retry


def test_retry_sends_dead_rows_again_and_leaves_the_others(staff_client, staff, outbox):
    untouched = outbox["pending"] + outbox["published"]
    before = rows(untouched)
    response = retry(staff_client, [e for group in outbox.values() for e in group])
    assert messages_of(response) == [
        "Retried 2 dead events: they are pending again. 4 selected events were not dead "
        "and were left as they were."
    ]
    assert rows(untouched) == before
    for row in rows(outbox["dead"]).values():
        assert row["status"] == EventStatus.PENDING
        assert row["attempts"] == 0
        assert row["next_attempt_at"] <= timezone.now()
        assert row["retried_by"] == "staff"
        assert row["retried_at"] is not None
        assert row["last_error"].startswith("UnroutableError")  # kept until the next try


def test_retrying_only_rows_that_are_not_dead_changes_nothing(staff_client, outbox):
    untouched = outbox["pending"] + outbox["published"]
    before = rows(untouched)
    response = retry(staff_client, untouched)
    assert messages_of(response) == [
        "Retried 0 dead events: they are pending again. 4 selected events were not dead "
        "and were left as they were."
    ]
    assert rows(untouched) == before


def test_staff_with_the_retry_permission_may_retry(client, outbox):
    user = staff_with("view_event", "retry_event")
    client.force_login(user)
    response = retry(client, outbox["dead"][:1])
    assert messages_of(response) == ["Retried 1 dead event: it is pending again."]
    assert rows(outbox["dead"][:1])[outbox["dead"][0].pk]["retried_by"] == user.username


def test_staff_without_the_retry_permission_is_refused_and_nothing_changes(client, outbox):
    client.force_login(staff_with("view_event"))
    page = client.get(EVENTS)
    assert page.status_code == 200
    assert 'value="retry"' not in page.content.decode()  # not offered
    before = rows(outbox["dead"])
    response = retry(client, outbox["dead"])
    assert not any("Retried" in m for m in messages_of(response))
    assert rows(outbox["dead"]) == before


@pytest.mark.parametrize("who", ["non-staff", "operator", "anonymous"])
def test_anyone_else_is_refused_and_nothing_changes(client, organization, outbox, who):
    if who != "anonymous":
        user = UserFactory(is_staff=False)
        if who == "operator":
            member(user, organization, Role.OPERATOR)
        client.force_login(user)
    before = rows(outbox["dead"])
    response = client.post(
        EVENTS, {"action": "retry", "_selected_action": [str(e.pk) for e in outbox["dead"]]}
    )
    assert response.status_code == 302 and "/login/" in response["Location"]
    assert rows(outbox["dead"]) == before


def test_the_service_refuses_a_caller_not_allowed_and_changes_nothing(organization, outbox):
    operator = UserFactory()
    member(operator, organization, Role.ADMIN)
    before = rows(outbox["dead"])
    for actor in (None, operator, staff_with("view_event")):
        with pytest.raises(PermissionDenied):
            retry_dead_events(actor, [e.pk for e in outbox["dead"]])
    assert rows(outbox["dead"]) == before
