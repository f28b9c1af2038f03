"""factory-boy factories. They write rows directly (fast fixtures); behaviour under test
goes through the services or HTTP."""

import factory
from django.contrib.auth import get_user_model

from segments.models import (
    Account,
    ApiToken,
    Ledger,
    Membership,
    Organization,
    Portfolio,
    Role,
    Segment,
)


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    password = factory.PostGenerationMethodCall("set_password", "pw")

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):
        if create:
            obj.save()


class OrganizationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Organization

    legal_name = factory.Sequence(lambda n: f"Organization {n}")
    legal_document = factory.Sequence(lambda n: f"{n:014d}")


class LedgerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Ledger

    organization = factory.SubFactory(OrganizationFactory)
    name = factory.Sequence(lambda n: f"Ledger {n}")


class SegmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Segment

    ledger = factory.SubFactory(LedgerFactory)
    organization = factory.LazyAttribute(
        lambda o: o.ledger.organization if o.ledger else OrganizationFactory()
    )
    name = factory.Sequence(lambda n: f"Segment {n}")


class PortfolioFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Portfolio

    ledger = factory.SubFactory(LedgerFactory)
    organization = factory.LazyAttribute(lambda o: o.ledger.organization)
    name = factory.Sequence(lambda n: f"Portfolio {n}")


class AccountFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Account

    ledger = factory.SubFactory(LedgerFactory)
    organization = factory.LazyAttribute(lambda o: o.ledger.organization)
    name = factory.Sequence(lambda n: f"Account {n}")
    type = "deposit"
    asset_code = "BRL"
    alias = factory.Sequence(lambda n: f"@account-{n}")


def member(user, organization, role: str = Role.OPERATOR) -> Membership:
    return Membership.objects.create(user=user, organization=organization, role=role)


def token_for(user) -> str:
    return ApiToken.issue(user, name="test")[1]
