"""Project-level promises: settings from the environment, commands, migrations, lint."""

import os
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command

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

ROOT = Path(__file__).resolve().parent.parent


def _settings_env(**overrides: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"SECRET_KEY", "DEBUG", "DJANGO_SETTINGS_MODULE"}
    }
    env.update(overrides)
    return env


def _import_settings(env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            sys.executable,
            "-c",
            "import segments_console.settings as s; "
            "print(s.DEBUG, s.TIME_ZONE, s.DATABASES['default']['ENGINE'])",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_settings_refuse_to_start_without_secret_key_when_not_debug():
    result = _import_settings(_settings_env())
    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr


def test_settings_give_a_dev_secret_only_in_debug_and_default_to_sqlite():
    env = _settings_env(DEBUG="1")
    env.pop("DATABASE_URL", None)
    result = _import_settings(env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["True", "UTC", "django.db.backends.sqlite3"]


def test_settings_read_database_url():
    result = _import_settings(
        _settings_env(SECRET_KEY="x" * 50, DATABASE_URL="postgres://u@127.0.0.1:5432/somedb")
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", "UTC", "django.db.backends.postgresql"]


@pytest.mark.django_db
def test_seed_demo_is_idempotent_and_prints_login_and_token():
    first, second = StringIO(), StringIO()
    call_command("seed_demo", stdout=first)
    counts = [
        m.objects.count() for m in (Organization, Ledger, Segment, Account, Portfolio, Membership)
    ]
    call_command("seed_demo", stdout=second)
    assert counts == [
        m.objects.count() for m in (Organization, Ledger, Segment, Account, Portfolio, Membership)
    ]
    organization = Organization.objects.get(legal_name="Lerian Bank")
    assert set(Ledger.objects.filter(organization=organization).values_list("name", flat=True)) == {
        "Cards",
        "Banking",
    }
    assert set(Segment.objects.filter(ledger__isnull=False).values_list("name", flat=True)) == {
        "Black",
        "Platinum",
        "Student",
        "Tier black (dynamic)",
    }
    dynamic = Segment.objects.get(name="Tier black (dynamic)")
    assert dynamic.rule.expression == 'metadata.tier == "black"'
    members = Account.objects.filter(segment=dynamic)
    assert members.exists() and all(a.metadata["tier"] == "black" for a in members)
    assert set(members.values_list("segment_assigned_by", flat=True)) == {"rule"}
    assert Segment.objects.get(ledger__isnull=True).name == "Private"
    assert 55 <= Account.objects.count() <= 65
    assert Portfolio.objects.count() == 6
    assert (
        Membership.objects.get(user__username="demo", organization=organization).role
        == Role.OPERATOR
    )
    output = second.getvalue()
    assert "demo / demo" in output
    assert "/ledgers/" in output and "Bearer sc_" in output
    token = output.split("Bearer ")[1].split('"')[0]
    assert ApiToken.objects.filter(token_hash=ApiToken.hash(token), user__username="demo").exists()


@pytest.mark.django_db
def test_create_api_token_prints_only_a_token_for_that_user(users):
    out = StringIO()
    call_command("create_api_token", "viewer", stdout=out)
    token = out.getvalue().strip()
    assert token.startswith("sc_") and "\n" not in token
    assert ApiToken.objects.get(token_hash=ApiToken.hash(token)).user == users["viewer"]


@pytest.mark.django_db
def test_migrations_match_the_models():
    call_command("makemigrations", "--check", "--dry-run", stdout=StringIO())


def test_ruff_is_clean():
    ruff = Path(sys.executable).with_name("ruff")
    if not ruff.exists():
        pytest.skip("ruff is not installed in this environment")
    result = subprocess.run([str(ruff), "check", "."], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout
