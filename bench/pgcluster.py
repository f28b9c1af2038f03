"""Private, throw-away PostgreSQL clusters: a primary in a temporary directory on its own
port (and Unix socket directory), and streaming standbys of it made with
``pg_basebackup -R``. The restart drill, the replica lag bench and the replica tests run
their databases here so that no other database on the machine is disturbed.

The server runs as the ``postgres`` OS user when we are root (PostgreSQL refuses root).
``FAST`` settings trade durability for speed (``fsync`` off, small buffers): for tests
only, never for figures that claim to be a production's.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterable, Mapping
from pathlib import Path

FAST: Mapping[str, str] = {
    "fsync": "off",
    "full_page_writes": "off",
    "shared_buffers": "16MB",
    "max_connections": "40",
    "wal_keep_size": "256MB",
}


def pg_bin(name: str) -> str:
    """A server binary of the newest PostgreSQL installed under /usr/lib/postgresql."""
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name))
    if not versions:
        raise RuntimeError("PostgreSQL server binaries not found under /usr/lib/postgresql")
    return str(versions[-1] / name)


def as_postgres(*args: str) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *args] if os.geteuid() == 0 else list(args)


def free_ports(count: int, candidates: Iterable[int]) -> list[int]:
    """The first ``count`` ports of ``candidates`` nothing listens on at 127.0.0.1."""
    found: list[int] = []
    for port in candidates:
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
        found.append(port)
        if len(found) == count:
            return found
    raise RuntimeError(f"not {count} free ports among {candidates!r}")


class PrivateCluster:
    """One PostgreSQL server in a temporary directory, listening on 127.0.0.1:``port``."""

    def __init__(self, port: int, settings: Mapping[str, str] | None = None) -> None:
        self.port = port
        self.settings = dict(settings or {})
        self.dir = Path(tempfile.mkdtemp(prefix="segments-pg-"))
        self.data = self.dir / "data"
        self.log = self.dir / "postgres.log"
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres", "postgres")

    def url(self, database: str = "postgres") -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(as_postgres(*args), capture_output=True, text=True)
        if check and result.returncode != 0:
            log = self.log.read_text(errors="replace")[-3000:] if self.log.exists() else ""
            raise RuntimeError(f"{' '.join(args)} failed:\n{result.stderr}{result.stdout}\n{log}")
        return result

    def init(self) -> None:
        self._run(pg_bin("initdb"), "-D", str(self.data), "-U", "postgres", "-A", "trust", "-N")

    def start(self) -> None:
        options = [f"-p {self.port}", f"-k {self.dir}", "-c listen_addresses=127.0.0.1"]
        options += [f"-c {name}={value}" for name, value in self.settings.items()]
        self._run(
            pg_bin("pg_ctl"),
            *("-D", str(self.data), "-l", str(self.log), "-w", "-t", "60"),
            *("-o", " ".join(options), "start"),
        )

    def stop(self) -> None:
        self._run(pg_bin("pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop", check=False)

    def destroy(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def psql(self, sql: str, database: str = "postgres") -> str:
        command = ["psql", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres"]
        return subprocess.run(
            [*command, "-d", database, "-tAqc", sql], check=True, capture_output=True, text=True
        ).stdout

    def standby(self, port: int, settings: Mapping[str, str] | None = None) -> PrivateCluster:
        """A streaming standby of this (running) server, not started yet:
        ``pg_basebackup -R`` writes ``standby.signal`` and ``primary_conninfo``."""
        standby = PrivateCluster(port, self.settings if settings is None else settings)
        self._run(
            pg_bin("pg_basebackup"),
            *("-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres"),
            *("-D", str(standby.data), "-R", "-X", "stream", "-c", "fast", "-N"),
        )
        return standby


def wait_until(condition, timeout: float, interval: float = 0.05, what: str = "condition"):
    """Poll ``condition()`` until it returns something true; its value, or TimeoutError."""
    deadline = time.monotonic() + timeout
    while True:
        with contextlib.suppress(Exception):
            value = condition()
            if value:
                return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)
