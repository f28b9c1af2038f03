import os

import pytest
from django.core.cache import cache
from django.db import connection

from segments.models import Role
from tests.factories import LedgerFactory, OrganizationFactory, UserFactory, member


def pytest_report_header(config):
    from django.conf import settings

    engine = settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]
    banner = f"database: {engine}"
    if engine != "postgresql":
        banner += "  <<< NOT PostgreSQL: PostgreSQL-only tests are skipped >>>"
    if uses_redis():
        cache_banner = f"cache: redis, key prefix {settings.CACHES['default']['KEY_PREFIX']}"
    else:
        cache_banner = "cache: local memory  <<< NOT Redis: Redis tests are skipped >>>"
    return [banner, cache_banner]


def uses_redis() -> bool:
    """Whether the suite's cache is the shared Redis (``segments_console.test_settings``)."""
    from django.conf import settings

    return settings.CACHES["default"]["BACKEND"].endswith("RedisCache")


def pytest_sessionstart(session):
    from django.conf import settings

    engine = settings.DATABASES["default"]["ENGINE"]
    if os.environ.get("REQUIRE_POSTGRES") and not engine.endswith("postgresql"):
        raise pytest.UsageError("REQUIRE_POSTGRES is set but the suite is not on PostgreSQL.")
    if os.environ.get("REQUIRE_REDIS") and not uses_redis():
        raise pytest.UsageError("REQUIRE_REDIS is set but no Redis answers (set REDIS_URL).")
    if uses_redis():
        location = settings.CACHES["default"]["LOCATION"]
        try:
            cache.get("ping")
        except Exception as error:
            raise pytest.UsageError(
                f"The Redis cache at {location} does not answer: {error}"
            ) from error


def pytest_collection_modifyitems(config, items):
    from django.conf import settings

    if not uses_redis():
        skip_redis = pytest.mark.skip(reason="needs Redis (the cache is local memory)")
        for item in items:
            if "redis" in item.keywords:
                item.add_marker(skip_redis)
    if settings.DATABASES["default"]["ENGINE"].endswith("postgresql"):
        return
    skip = pytest.mark.skip(reason="needs PostgreSQL (suite is running on SQLite)")
    for item in items:
        if "postgres" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def fresh_cache():
    """Every test starts with an empty cache (throttle counts, sign-in failures, form
    tokens): only this session's keys, whatever the backend."""
    cache.clear()
    yield


@pytest.fixture(autouse=True, scope="session")
def _cache_cleaned_up_at_the_end():
    yield
    cache.clear()


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
