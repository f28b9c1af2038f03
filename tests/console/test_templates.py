"""Console templates stay ready for a strict Content Security Policy: no inline script,
no inline style, no on* handlers; every asset is served from static/ (no CDN)."""

import re
from pathlib import Path

import pytest
from django.conf import settings

CONSOLE_TEMPLATES = [
    path
    for path in (Path(settings.BASE_DIR) / "templates").rglob("*.html")
    if not {"api", "admin"} & set(path.relative_to(Path(settings.BASE_DIR) / "templates").parts)
]


@pytest.mark.parametrize("path", CONSOLE_TEMPLATES, ids=lambda p: p.name)
def test_no_inline_script_style_or_handlers(path):
    text = path.read_text()
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", text), "inline <script>"
    assert "<style" not in text
    assert not re.search(r"\sstyle=", text), "style attribute"
    assert not re.search(r"\son[a-z]+=", text), "inline event handler"
    assert "hx-on" not in text
    assert "//cdn" not in text and "https://" not in text


def test_htmx_is_vendored():
    vendored = Path(settings.BASE_DIR) / "static" / "vendor"
    assert (vendored / "htmx.min.js").stat().st_size > 10_000
    assert "2.0." in (vendored / "README.md").read_text()
