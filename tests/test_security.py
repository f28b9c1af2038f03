"""Production mode: `check --deploy` is clean and the security headers are sent."""

import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.cache import cache
from django.urls import reverse

from tests.factories import UserFactory

ROOT = Path(__file__).resolve().parent.parent


def test_check_deploy_reports_nothing_in_production_mode():
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DEBUG", "SECURE_SSL_REDIRECT", "SECURE_COOKIES", "SECURE_HSTS_SECONDS"}
        and not k.startswith("DJANGO_")
    }
    env.update(
        SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS="console.example.com",
        DJANGO_SETTINGS_MODULE="segments_console.settings",
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "DEBUG"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout


@pytest.mark.django_db
def test_login_is_rate_limited_even_for_the_right_password(client):
    cache.clear()
    UserFactory(username="teller")
    for _ in range(5):
        response = client.post(reverse("console:login"), {"username": "teller", "password": "no"})
        assert response.status_code == 200
        assert "Too many failed sign-ins" not in response.content.decode()
    response = client.post(reverse("console:login"), {"username": "teller", "password": "pw"})
    assert response.status_code == 200
    assert "Too many failed sign-ins" in response.content.decode()
    assert "_auth_user_id" not in client.session
    cache.clear()
    response = client.post(reverse("console:login"), {"username": "teller", "password": "pw"})
    assert response.status_code == 302


@pytest.mark.django_db
def test_console_pages_send_the_security_headers(client):
    response = client.get(reverse("console:login"))
    assert response["X-Frame-Options"] == "DENY"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["X-Content-Type-Options"] == "nosniff"
    policy = response["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "style-src 'self'" in policy
    assert "unsafe-inline" not in policy
    assert "frame-ancestors 'none'" in policy


def test_no_template_has_inline_script_or_style():
    inline = re.compile(
        r"<script(?![^>]*\bsrc=)[^>]*>|<style\b|\sstyle=\"|\son[a-z]+=\"", re.IGNORECASE
    )
    offenders = []
    for template in (ROOT / "templates").rglob("*.html"):
        if "admin" in template.parts:
            continue
        for number, line in enumerate(template.read_text().splitlines(), 1):
            if inline.search(line) and 'type="application/json"' not in line:
                offenders.append(f"{template.relative_to(ROOT)}:{number}: {line.strip()}")
    assert not offenders, "\n".join(offenders)
