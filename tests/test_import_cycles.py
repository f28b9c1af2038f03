"""No import cycle between the project's modules (``segments/``, ``segments_console/``),
lazy imports inside functions included: the graph is read from the source
(``tests/testing/import_graph.py``), so an import that runs only on some request counts."""

from __future__ import annotations

import textwrap
from pathlib import Path

from tests.testing.import_graph import cycles, import_graph, project_modules

ROOT = Path(__file__).resolve().parent.parent
PROJECT_PACKAGES = ("segments", "segments_console")


def test_the_project_has_no_import_cycle():
    modules = project_modules(ROOT, PROJECT_PACKAGES)
    assert "segments.api.problems" in modules and "segments_console.urls" in modules
    found = cycles(import_graph(modules))
    assert found == [], "import cycles:\n" + "\n".join(" -> ".join(cycle) for cycle in found)


def _write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")


def test_a_cycle_through_a_lazy_import_is_found(tmp_path):
    _write(
        tmp_path,
        {
            "app/__init__.py": "",
            "app/errors.py": "from app.web import problems\n",
            "app/web/__init__.py": "",
            "app/web/problems.py": "from . import codes\n",
            "app/web/codes.py": """
                def code():
                    from app import errors  # lazy: runs only when called

                    return errors
            """,
            "app/alone.py": "import app.errors\n",
        },
    )
    found = cycles(import_graph(project_modules(tmp_path, ["app"])))
    assert found == [["app.errors", "app.web.problems", "app.web.codes", "app.errors"]]


def test_imports_without_a_cycle_pass(tmp_path):
    _write(
        tmp_path,
        {
            "app/__init__.py": "from app import models\n",
            "app/models.py": "import json\n",
            "app/views.py": "from app.models import x\nfrom .. import elsewhere\n",
            "app/api/__init__.py": "",
            "app/api/views.py": "from ..views import y\nfrom app import models\n",
        },
    )
    graph = import_graph(project_modules(tmp_path, ["app"]))
    assert graph["app.api.views"] == {"app.views", "app.models"}
    assert cycles(graph) == []
