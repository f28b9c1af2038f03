"""The shape every project module keeps (``segments/``, ``segments_console/``, migrations
aside): no module over 500 lines, and no function or method over 40 lines — counted from
its ``def`` line to the last line of its body, decorators not counted — unless a comment
inside its own body says why, with the words ``longer than 40 lines because`` and a
reason. Each failure names every offender, as ``path:line name (N lines)``."""

from __future__ import annotations

import ast
import io
import re
import textwrap
import tokenize
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PROJECT_PACKAGES = ("segments", "segments_console")
MAX_MODULE_LINES = 500
MAX_FUNCTION_LINES = 40
EXPLANATION = re.compile(r"longer than 40 lines because\W*\w")

FunctionNode = ast.FunctionDef | ast.AsyncFunctionDef


@dataclass(frozen=True)
class LongFunction:
    name: str
    line: int
    length: int


def project_sources(root: Path = ROOT) -> list[Path]:
    """Every ``.py`` file of the project's packages, migrations left out."""
    return [
        path
        for package in PROJECT_PACKAGES
        for path in sorted((root / package).rglob("*.py"))
        if "migrations" not in path.relative_to(root).parts
    ]


def _comment_lines(source: str) -> dict[int, str]:
    tokens = tokenize.generate_tokens(io.StringIO(source).readline)
    return {token.start[0]: token.string for token in tokens if token.type == tokenize.COMMENT}


def _functions(tree: ast.AST) -> Iterator[tuple[str, FunctionNode]]:
    """Every function and method with its qualified name (``Class.method``, ``outer.inner``)."""

    def walk(node: ast.AST, prefix: str) -> Iterator[tuple[str, FunctionNode]]:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, FunctionNode):
                yield prefix + child.name, child
                yield from walk(child, f"{prefix}{child.name}.")
            elif isinstance(child, ast.ClassDef):
                yield from walk(child, f"{prefix}{child.name}.")
            else:
                yield from walk(child, prefix)

    return walk(tree, "")


def _own_lines(function: FunctionNode) -> set[int]:
    """The lines of ``function`` that are not a nested function's (a nested function
    explains its own length)."""
    lines = set(range(function.lineno, function.end_lineno + 1))
    for node in ast.walk(function):
        if node is not function and isinstance(node, FunctionNode):
            first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
            lines -= set(range(first, node.end_lineno + 1))
    return lines


def long_functions(source: str, limit: int = MAX_FUNCTION_LINES) -> list[LongFunction]:
    """The functions of ``source`` longer than ``limit`` lines whose body has no comment
    saying why."""
    comments = _comment_lines(source)
    found = []
    for name, function in _functions(ast.parse(source)):
        length = function.end_lineno - function.lineno + 1
        if length <= limit:
            continue
        explained = any(
            EXPLANATION.search(comments[line]) for line in _own_lines(function) if line in comments
        )
        if not explained:
            found.append(LongFunction(name, function.lineno, length))
    return found


def _relative(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def test_no_module_is_over_500_lines():
    offenders = []
    for path in project_sources():
        count = len(path.read_text(encoding="utf-8").splitlines())
        if count > MAX_MODULE_LINES:
            offenders.append(f"{_relative(path)} ({count} lines)")
    if offenders:
        heading = f"modules over {MAX_MODULE_LINES} lines:"
        pytest.fail("\n".join([heading, *offenders]), pytrace=False)


def test_no_function_is_over_40_lines_without_saying_why():
    offenders = [
        f"{_relative(path)}:{function.line} {function.name} ({function.length} lines)"
        for path in project_sources()
        for function in long_functions(path.read_text(encoding="utf-8"))
    ]
    if offenders:
        heading = (
            f"functions over {MAX_FUNCTION_LINES} lines with no comment saying "
            "'longer than 40 lines because …':"
        )
        pytest.fail("\n".join([heading, *offenders]), pytrace=False)


def test_the_sources_are_the_project_modules_without_migrations():
    sources = {_relative(path) for path in project_sources()}
    assert "segments/models/entities.py" in sources and "segments_console/urls.py" in sources
    assert not any("/migrations/" in source for source in sources)


def _function(body_lines: int, *, comment: str = "", decorated: bool = False) -> str:
    lines = ["@decorator"] * decorated + ["def work():"]
    if comment:
        lines.append(f"    # {comment}")
    lines += ["    x = 1"] * (body_lines - len(lines) + decorated + 1)
    return "\n".join(lines) + "\n"


def test_a_function_is_counted_from_its_def_line_to_its_last_line():
    assert long_functions(_function(39)) == []  # 40 lines with the def
    assert long_functions(_function(40)) == [LongFunction("work", 1, 41)]
    # Decorators do not count; the line reported is the def's.
    assert long_functions(_function(39, decorated=True)) == []
    assert long_functions(_function(40, decorated=True)) == [LongFunction("work", 2, 41)]


def test_a_comment_inside_the_body_saying_why_allows_a_longer_function():
    assert long_functions(_function(60, comment="longer than 40 lines because a table")) == []
    # The marker without a reason, or another comment, does not.
    assert len(long_functions(_function(60, comment="longer than 40 lines because"))) == 1
    assert len(long_functions(_function(60, comment="long on purpose"))) == 1


def test_methods_and_nested_functions_are_named_and_explain_only_themselves():
    inner = textwrap.indent(_function(45, comment="longer than 40 lines because a table"), " " * 8)
    source = "class Report:\n    def build(self):\n" + inner + "        return work\n"
    [outer] = long_functions(source)
    assert (outer.name, outer.line) == ("Report.build", 2)
    methods = "class Report:\n" + textwrap.indent(_function(45), "    ")
    assert long_functions(methods) == [LongFunction("Report.work", 2, 46)]
