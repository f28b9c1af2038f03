"""The Brazilian Portuguese catalogue is complete and current: every message of the
console, the admin customisations, the CSV headers and the API error titles is
translated (nothing untranslated or fuzzy), the compiled catalogue matches it, and a
fresh extraction from the source finds no message that the catalogue lacks."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import polib
import pytest

ROOT = Path(__file__).resolve().parent.parent
CATALOGUE = ROOT / "locale/pt_BR/LC_MESSAGES/django.po"
COMPILED = CATALOGUE.with_suffix(".mo")


def _keys(entries) -> set[tuple[str | None, str]]:
    return {(entry.msgctxt, entry.msgid) for entry in entries if not entry.obsolete}


def test_every_message_is_translated_and_none_is_fuzzy():
    catalogue = polib.pofile(str(CATALOGUE))
    untranslated = [entry.msgid for entry in catalogue.untranslated_entries()]
    fuzzy = [entry.msgid for entry in catalogue.fuzzy_entries()]
    assert not untranslated, f"untranslated: {untranslated}"
    assert not fuzzy, f"fuzzy: {fuzzy}"


def test_the_compiled_catalogue_matches_the_source_catalogue():
    source = polib.pofile(str(CATALOGUE))
    compiled = polib.mofile(str(COMPILED))
    expected = {
        (entry.msgctxt, entry.msgid): (entry.msgstr, tuple(sorted(entry.msgstr_plural.items())))
        for entry in source.translated_entries()
    }
    actual = {
        (entry.msgctxt, entry.msgid): (entry.msgstr, tuple(sorted(entry.msgstr_plural.items())))
        for entry in compiled
        if entry.msgid
    }
    assert actual == expected, "run: python manage.py compilemessages"


def test_a_fresh_extraction_finds_nothing_the_catalogue_lacks(tmp_path):
    """``makemessages`` over the project, into a copy of the catalogue: every message it
    finds must already be in the committed catalogue."""
    if shutil.which("xgettext") is None:
        pytest.fail("xgettext (GNU gettext) is needed to check the catalogue: install gettext")
    work = tmp_path / "project"
    for part in ("segments", "segments_console", "templates", "manage.py"):
        source = ROOT / part
        if source.is_dir():
            shutil.copytree(source, work / part, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(source, work / part)
    shutil.copytree(ROOT / "locale", work / "locale")
    env = {**os.environ, "DEBUG": "1", "DJANGO_SETTINGS_MODULE": "segments_console.settings"}
    env.pop("DATABASE_URL", None)
    subprocess.run(
        [sys.executable, "manage.py", "makemessages", "-l", "pt_BR", "--no-obsolete"],
        cwd=work,
        env=env,
        check=True,
        capture_output=True,
    )
    fresh = polib.pofile(str(work / "locale/pt_BR/LC_MESSAGES/django.po"))
    committed = polib.pofile(str(CATALOGUE))
    missing = sorted(msgid for _, msgid in _keys(fresh) - _keys(committed.translated_entries()))
    assert not missing, f"messages missing from the catalogue (run makemessages): {missing}"
