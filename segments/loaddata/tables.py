"""Around the load: it starts from empty segments tables (TRUNCATEd in the load's
transaction, which also lets COPY write frozen rows), the tables are VACUUM (ANALYZE)d
after the commit, and the bench user is admin of every generated organization."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core.management.base import CommandError
from django.db import connection

from segments.models import (
    Account,
    Benefit,
    BenefitVersion,
    Ledger,
    Membership,
    Organization,
    Portfolio,
    Role,
    RuleRefresh,
    Segment,
    SegmentHistory,
    SegmentRule,
)

BENCH_USERNAME = "bench"


def empty_tables(*, reset: bool) -> None:
    if not reset and Organization.all_objects.exists():
        raise CommandError(
            "The database already holds organizations; use --reset to empty the segments "
            "tables first (this deletes every organization, ledger, segment, portfolio, "
            "account, membership and history row)."
        )
    tables = ", ".join(
        model._meta.db_table
        for model in (
            BenefitVersion,
            Benefit,
            RuleRefresh,
            SegmentRule,
            SegmentHistory,
            Membership,
            Account,
            Portfolio,
            Segment,
            Ledger,
            Organization,
        )
    )
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {tables}")


def vacuum() -> None:
    with connection.cursor() as cursor:
        for model in (
            Organization,
            Ledger,
            Segment,
            Benefit,
            BenefitVersion,
            Portfolio,
            Account,
            SegmentHistory,
        ):
            cursor.execute(f"VACUUM (ANALYZE) {model._meta.db_table}")


def bench_user() -> AbstractBaseUser:
    """The user ``bench``, password ``bench`` when it is new."""
    user_model = get_user_model()
    user, created = user_model.objects.get_or_create(username=BENCH_USERNAME)
    if created:
        user.set_password(BENCH_USERNAME)
        user.save()
    return user


def make_admin(user: AbstractBaseUser, organization_ids: list[str]) -> None:
    Membership.objects.bulk_create(
        [Membership(user=user, organization_id=pk, role=Role.ADMIN) for pk in organization_ids]
    )
