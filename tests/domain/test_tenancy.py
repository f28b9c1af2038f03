"""Querysets scoped to a user never show another organization's rows."""

import pytest

from segments import errors
from segments.models import Account, Ledger, Organization, Portfolio, Role, Segment
from segments.tenancy import Action, authorize, get_visible, restrict
from tests.factories import (
    AccountFactory,
    PortfolioFactory,
    SegmentFactory,
    UserFactory,
    member,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def two_tenants(organization, ledger, other_organization, other_ledger):
    rows = {}
    for name, org, led in (
        ("mine", organization, ledger),
        ("theirs", other_organization, other_ledger),
    ):
        rows[name] = {
            Organization: org,
            Ledger: led,
            Segment: SegmentFactory(ledger=led),
            Portfolio: PortfolioFactory(ledger=led),
            Account: AccountFactory(ledger=led),
        }
    return rows


@pytest.mark.parametrize("model", [Organization, Ledger, Segment, Portfolio, Account])
@pytest.mark.parametrize("role", [Role.VIEWER, Role.OPERATOR, Role.ADMIN])
def test_scoped_queryset_shows_only_the_users_organizations(two_tenants, organization, model, role):
    user = UserFactory()
    member(user, organization, role)
    visible = set(restrict(model.objects.all(), user).values_list("pk", flat=True))
    assert visible == {two_tenants["mine"][model].pk}


@pytest.mark.parametrize("model", [Organization, Ledger, Segment, Portfolio, Account])
def test_outsiders_and_anonymous_see_nothing(two_tenants, model):
    from django.contrib.auth.models import AnonymousUser

    assert not restrict(model.objects.all(), UserFactory()).exists()
    assert not restrict(model.objects.all(), AnonymousUser()).exists()


def test_roles_decide_what_a_member_may_change(two_tenants, organization, users):
    assert restrict(Segment.objects.all(), users["viewer"], Action.CHANGE).count() == 0
    assert restrict(Segment.objects.all(), users["operator"], Action.CHANGE).count() == 1
    assert restrict(Segment.objects.all(), users["operator"], Action.DELETE).count() == 0
    assert restrict(Segment.objects.all(), users["admin"], Action.DELETE).count() == 1
    with pytest.raises(errors.PermissionDenied):
        authorize(users["viewer"], organization.pk, Action.CHANGE)
    authorize(users["operator"], organization.pk, Action.CHANGE)


def test_another_tenants_row_is_not_found_never_forbidden(two_tenants, users):
    theirs = two_tenants["theirs"][Segment]
    with pytest.raises(errors.EntityNotFound) as refused:
        get_visible(Segment.objects.all(), users["admin"], pk=theirs.pk)
    assert refused.value.code == "0007"


def test_deleted_rows_are_hidden_from_scoped_queries(two_tenants, users):
    segment = two_tenants["mine"][Segment]
    Segment.all_objects.filter(pk=segment.pk).update(deleted_at=segment.created_at)
    assert not restrict(Segment.objects.all(), users["viewer"]).exists()


def test_inactive_user_sees_nothing(two_tenants, users):
    users["admin"].is_active = False
    users["admin"].save()
    assert not restrict(Organization.objects.all(), users["admin"]).exists()
