"""The app as the fuzzers meet it: a fresh PostgreSQL database, migrated and seeded with
one organization holding one of everything, served by gunicorn in production mode
(``DEBUG`` off) on 127.0.0.1 — over real HTTP, as a client would.

Shared by ``bench/fuzz.py`` (Schemathesis) and ``bench/hostile_fuzz.py`` (hostile
inputs): one place that knows how to build, seed, start and stop the server.
``app_dir`` lets the server run another checkout of the project (a ``git worktree`` of
an older commit) while the fuzzer itself stays the current one.
"""

from __future__ import annotations

import contextlib
import inspect
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def seed_rows(username: str, password: str, role: str, victims: int) -> dict:
    """One organization with one of everything (a ledger, a ledger and an organization
    segment, a portfolio, accounts in and out of the segment, an external account), the
    user (staff, ``role`` in the organization), and ``victims`` sacrificial rows of each
    kind for the delete routes, so that deleting never takes away what every other
    request works on. Returns the ids. Runs inside the app (``manage.py shell``) or a
    test; it imports what it needs, so that its source can be sent to another checkout."""
    from django.contrib.auth import get_user_model

    from segments import services
    from segments.models import Account, Membership

    user = get_user_model().objects.create_user(username, password=password, is_staff=True)
    org = services.create_organization(user, legal_name="Fuzz Bank", legal_document="1")
    Membership.objects.filter(user=user, organization=org).update(role=role)
    ledger = services.create_ledger(user, org, name="Fuzz")
    segment = services.create_segment(user, ledger, name="Black")
    org_segment = services.create_segment(user, org, name="Private")
    portfolio = services.create_portfolio(user, ledger, name="P", segment_id=segment.pk)
    account = services.create_account(
        user, ledger, type="deposit", asset_code="BRL", alias="@maria", portfolio_id=portfolio.pk
    )
    external = services.create_account(user, ledger, type="deposit", asset_code="BRL")
    Account.objects.filter(pk=external.pk).update(alias="@external/BRL")  # system-reserved
    for _ in range(3):
        services.create_account(
            user, ledger, type="deposit", asset_code="BRL", segment_id=segment.pk
        )
    benefit_kinds = ("benefit", "organization_benefit")
    has_benefits = hasattr(services, "create_benefit")  # a checkout from before benefits

    def benefit(owner, name: str) -> str:
        lounge = {"kind": "service", "parameters": {"serviceCode": "lounge"}}
        return str(services.create_benefit(user, owner, name=name, **lounge).pk)

    kinds = ("segment", "organization_segment", "portfolio", "account", "ledger")
    spare: dict[str, list[str]] = {kind: [] for kind in (*kinds, *benefit_kinds)}
    spare["organization"] = []
    for n in range(victims):
        name = f"victim {n}"
        spare["segment"].append(str(services.create_segment(user, ledger, name=name).pk))
        spare["organization_segment"].append(str(services.create_segment(user, org, name=name).pk))
        spare["portfolio"].append(str(services.create_portfolio(user, ledger, name=name).pk))
        spare["account"].append(
            str(
                services.create_account(
                    user, ledger, type="deposit", asset_code="BRL", alias=f"@victim{n}"
                ).pk
            )
        )
        if has_benefits:
            spare["benefit"].append(benefit(segment, name))
            spare["organization_benefit"].append(benefit(org_segment, name))
    for n in range(victims // 5):
        spare["ledger"].append(str(services.create_ledger(user, org, name=f"victim {n}").pk))
        other = services.create_organization(user, legal_name=f"victim {n}", legal_document="1")
        Membership.objects.filter(user=user, organization=other).update(role=role)
        spare["organization"].append(str(other.pk))
    return {
        "user_id": user.pk,
        "organization": str(org.pk),
        "ledger": str(ledger.pk),
        "segment": str(segment.pk),
        "organization_segment": str(org_segment.pk),
        "portfolio": str(portfolio.pk),
        "account": str(account.pk),
        "alias": "@maria",
        "external_code": "BRL",
        "victims": spare,
        **(
            {
                "benefit": benefit(segment, "Lounge"),
                "organization_benefit": benefit(org_segment, "Lounge"),
            }
            if has_benefits
            else {}
        ),
    }


@dataclass
class LiveApp:
    """A served, seeded app: its base URL, the seeded user's credentials and API token,
    the ids of the seeded rows, and the database it runs on."""

    base: str
    database_url: str
    username: str
    password: str
    token: str
    ids: dict
    env: dict[str, str]
    server_log: Path | None = None
    notes: list[str] = field(default_factory=list)


def production_env(database_url: str, **overrides: str) -> dict[str, str]:
    """The environment of a production-mode server on plain HTTP over loopback."""
    return {
        **os.environ,
        "DATABASE_URL": database_url,
        "DEBUG": "0",
        "SECRET_KEY": uuid.uuid4().hex * 2,
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "0",
        "SECURE_COOKIES": "0",
        "API_THROTTLE_RATE": "1000000/minute",
        "LOG_LEVEL": "ERROR",
        "CACHE_KEY_PREFIX": f"fuzz-{uuid.uuid4().hex[:12]}",  # a Redis cache is never shared
        "DJANGO_SETTINGS_MODULE": "segments_console.settings",
        **overrides,
    }


def manage(env: dict[str, str], *args: str, app_dir: Path = ROOT) -> str:
    """Run ``manage.py`` of ``app_dir``; exits the script on failure."""
    result = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=app_dir,
        env={**env, "PYTHONPATH": str(app_dir)},
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        sys.exit(f"manage.py {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout.strip()


def fresh_database(url: str) -> None:
    """Drop and create the database of ``url`` (connecting to ``postgres`` beside it)."""
    import psycopg

    name = url.rsplit("/", 1)[-1]
    with psycopg.connect(url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{name}"')


def wait_until_serving(base: str) -> None:
    for _ in range(150):
        try:
            urllib.request.urlopen(base + "/v1/openapi.json", timeout=30)
            return
        except urllib.error.HTTPError:
            return
        except OSError:  # not listening yet (URLError, ConnectionError), or still booting
            time.sleep(0.2)
    sys.exit("the app did not start")


def seed(
    env: dict[str, str],
    *,
    role: str = "OPERATOR",
    victims: int = 0,
    username: str = "fuzz",
    password: str = "x",
    app_dir: Path = ROOT,
) -> dict:
    """``seed_rows`` inside the served app (its source is sent, so that it also seeds an
    older checkout); the ids."""
    arguments = f"{username!r}, {password!r}, {role.lower()!r}, {victims}"
    script = (
        "import json\n"
        + inspect.getsource(seed_rows)
        + f"\nprint('SEEDED ' + json.dumps(seed_rows({arguments})))\n"
    )
    output = manage(env, "shell", "-c", script, app_dir=app_dir)
    line = next(line for line in output.splitlines()[::-1] if line.startswith("SEEDED "))
    return json.loads(line.removeprefix("SEEDED "))


@contextlib.contextmanager
def gunicorn(
    env: dict[str, str], port: int, *, app_dir: Path = ROOT, workers: int = 2
) -> Iterator[tuple[str, Path]]:
    """Serve the app of ``app_dir`` on 127.0.0.1:``port``; yields the base URL and the
    path of the server's log (its stderr, in a file: a full pipe never blocks it). Stops
    the server on exit."""
    log_dir = Path(tempfile.mkdtemp(prefix="segments-fuzz-"))
    log_path = log_dir / "server.log"
    with log_path.open("wb") as server_log:
        server = subprocess.Popen(
            [str(Path(sys.executable).with_name("gunicorn")), "segments_console.wsgi",
             "-b", f"127.0.0.1:{port}", "-w", str(workers), "--timeout", "60",
             "--chdir", str(app_dir)],
            cwd=app_dir, env={**env, "PYTHONPATH": str(app_dir)},
            stdout=subprocess.DEVNULL, stderr=server_log, start_new_session=True,
        )  # fmt: skip
        try:
            base = f"http://127.0.0.1:{port}"
            wait_until_serving(base)
            yield base, log_path
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)
            shutil.rmtree(log_dir, ignore_errors=True)


@contextlib.contextmanager
def live_app(
    database_url: str,
    port: int,
    *,
    role: str = "OPERATOR",
    victims: int = 0,
    app_dir: Path = ROOT,
    username: str = "fuzz",
    password: str = "x",
    static: bool = False,
    **env_overrides: str,
) -> Iterator[LiveApp]:
    """A fresh database, migrated and seeded, served by gunicorn: the whole fixture.
    ``static``: collect the static files first (the console's pages need their manifest
    in production mode; the API does not)."""
    fresh_database(database_url)
    env = production_env(database_url, **env_overrides)
    manage(env, "migrate", "--noinput", app_dir=app_dir)
    if static:
        manage(env, "collectstatic", "--noinput", "-v", "0", app_dir=app_dir)
    ids = seed(
        env, role=role, victims=victims, username=username, password=password, app_dir=app_dir
    )
    token = manage(env, "create_api_token", username, app_dir=app_dir).split()[-1]
    with gunicorn(env, port, app_dir=app_dir) as (base, log_path):
        yield LiveApp(base, database_url, username, password, token, ids, env, log_path)


def logged_tracebacks(log_path: Path, limit: int = 3) -> str:
    """The server log's tracebacks (the first ``limit``, each with the log line that
    introduced it and up to the next log line), else ''."""
    logged = log_path.read_bytes().decode(errors="replace") if log_path.exists() else ""
    found: list[str] = []
    start = logged.find("Traceback")
    while start != -1 and len(found) < limit:
        line_start = logged.rfind("\n", 0, logged.rfind("\n", 0, start)) + 1
        next_line = re.compile(r"\n(\d{4}-\d\d-\d\d |\{)").search(logged, start)
        end = next_line.start() if next_line else len(logged)
        found.append(logged[line_start:end])
        start = logged.find("Traceback", end)
    return "\n---\n".join(found)
