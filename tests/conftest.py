import os

import pytest
from django.db import connection

from segments.models import Role
from tests.factories import LedgerFactory, OrganizationFactory, UserFactory, member


def pytest_report_header(config):
    from django.conf import settings

    engine = settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]
    banner = f"database: {engine}"
    if engine != "postgresql":
        banner += "  <<< NOT PostgreSQL: PostgreSQL-only tests are skipped >>>"
    return banner


def pytest_sessionstart(session):
    from django.conf import settings

    engine = settings.DATABASES["default"]["ENGINE"]
    if os.environ.get("REQUIRE_POSTGRES") and not engine.endswith("postgresql"):
        raise pytest.UsageError("REQUIRE_POSTGRES is set but the suite is not on PostgreSQL.")


def pytest_collection_modifyitems(config, items):
    from django.conf import settings

    if settings.DATABASES["default"]["ENGINE"].endswith("postgresql"):
        return
    skip = pytest.mark.skip(reason="needs PostgreSQL (suite is running on SQLite)")
    for item in items:
        if "postgres" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def on_postgres():
    return connection.vendor == "postgresql"


@pytest.fixture
def organization(db):
    return OrganizationFactory(legal_name="Acme Bank")


@pytest.fixture
def ledger(organization):
    return LedgerFactory(organization=organization, name="Cards")


@pytest.fixture
def other_organization(db):
    return OrganizationFactory(legal_name="Other Bank")


@pytest.fixture
def other_ledger(other_organization):
    return LedgerFactory(organization=other_organization, name="Other ledger")


@pytest.fixture
def users(organization):
    """One user per actor of the tenancy matrix, members of ``organization``."""
    viewer, operator, admin = (
        UserFactory(username="viewer"),
        UserFactory(username="operator"),
        UserFactory(username="admin"),
    )
    member(viewer, organization, Role.VIEWER)
    member(operator, organization, Role.OPERATOR)
    member(admin, organization, Role.ADMIN)
    return {
        "viewer": viewer,
        "operator": operator,
        "admin": admin,
        "outsider": UserFactory(username="outsider"),
    }


@pytest.fixture
def operator(users):
    return users["operator"]


@pytest.fixture
def admin_user(users):
    return users["admin"]
