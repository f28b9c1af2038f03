"""The rule language: a subset of CEL, parsed by ``cel-python`` and checked here.

A rule is allowed exactly what ``shared/spec/dynamic.md`` lists: literals (string, int,
decimal, bool, null, lists of literals), ``== != < <= > >=``, ``in [list]``, ``&& || !``,
parentheses, ``startsWith``/``endsWith``/``contains`` on text, ``has(metadata.k)``,
``timestamp("…")``, ``duration("…")``, ``now``, and a time plus or minus a duration;
names come from the catalogue (``segments.rules.catalogue``) and comparisons follow its
typing (``segments.rules.checks``). Everything else — macros, ``matches``, ``size()`` and
every other call, indexing (``metadata["k"]``: metadata keys are CEL identifiers, read as
``metadata.<key>``), ``?:``, other arithmetic, unsigned and bytes literals — is refused.

Limits: at most 2,000 characters, 64 nodes of the rule's AST (a list counts as one node),
depth 10 (``&&``/``||`` chains are one level however long), 500 items in a list.

Every refusal is a ``segments.errors.InvalidRule`` (400 ``0047``) naming the line, the
column and the offending token, raised before any query exists.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import NoReturn

import celpy
import lark
from celpy import celtypes
from celpy.evaluation import celstr

from segments import errors
from segments.rules import catalogue, checks
from segments.rules.catalogue import Subject
from segments.rules.nodes import (
    And,
    Duration,
    Field,
    ListLit,
    Literal,
    Node,
    Not,
    Now,
    Or,
    Span,
    TimeShift,
    Timestamp,
    is_condition,
    walk,
)
from segments.validators import has_invalid_characters

MAX_LENGTH = 2000
MAX_NODES = 64
MAX_DEPTH = 10
MAX_LIST_ITEMS = 500
# A parse tree this tall always breaks the depth or node limit; refusing it before the
# (recursive) walk keeps a pile of parentheses from exhausting Python's stack.
MAX_PARSE_HEIGHT = 300
# Durations stay within a thousand years, so that ``now`` plus one is a valid instant.
MAX_DURATION = dt.timedelta(days=366_000)
INT64 = (-(2**63), 2**63 - 1)

# One environment for the process (each one sets Python's recursion limit again).
CEL = celpy.Environment()
# A decimal literal of at most 15 significant digits is the same number as a double (what
# CEL compares) and as written (what SQL compares), so both order metadata numbers alike.
MAX_DECIMAL_DIGITS = 15

RELATIONS = {
    "relation_eq": "==",
    "relation_ne": "!=",
    "relation_lt": "<",
    "relation_le": "<=",
    "relation_gt": ">",
    "relation_ge": ">=",
    "relation_in": "in",
}
REFUSED = {
    "member_index": "Indexing with [...] is not allowed: write metadata.<key>",
    "member_object": "Message construction is not allowed",
    "map_lit": "Maps are not allowed",
    "dot_ident": "Names starting with a dot are not allowed",
    "dot_ident_arg": "Function calls are not allowed",
    "multiplication": "Arithmetic (* / %) is not allowed",
}
MACROS = ("all", "exists", "exists_one", "map", "filter")


@dataclass(frozen=True)
class Rule:
    """A checked rule: its text, subject and AST, the catalogue names it reads
    (``fields_used``, sorted) and whether it reads ``now`` (``time_dependent``)."""

    text: str
    subject: Subject
    ast: Node
    fields_used: tuple[str, ...]
    time_dependent: bool


def parse_rule(text: str, subject: str) -> Rule:
    """The rule ``text`` about accounts or portfolios (``subject``), checked; raises
    ``InvalidRule`` (0047) for anything the language does not allow."""
    subject = _subject(subject)
    if not isinstance(text, str):
        raise errors.InvalidRule(
            "The rule must be text.", fields={"expression": "The rule must be text."}
        )
    if len(text) > MAX_LENGTH:
        raise refusal(
            text, (MAX_LENGTH, len(text)), f"The rule is longer than {MAX_LENGTH} characters"
        )
    tree = _parse(text)
    spans = _spans(text, tree)
    _check_height(text, tree, spans)
    ast = _Builder(text, subject, spans).condition(tree)
    _check_size(text, ast)
    fields = sorted({node.path for node in walk(ast) if isinstance(node, Field)})
    timed = any(isinstance(node, Now) for node in walk(ast))
    return Rule(text, subject, ast, tuple(fields), timed)


def refusal(text: str, span: Span, reason: str) -> errors.InvalidRule:
    """``InvalidRule`` for ``reason`` at ``span`` of ``text``: the message names the line,
    the column and the token there."""
    start, end = span
    line = text.count("\n", 0, start) + 1
    column = start - (text.rfind("\n", 0, start) + 1) + 1
    token = text[start:end] if end > start else text[start : start + 1]
    shown = " ".join(token.split())
    shown = shown if len(shown) <= 40 else shown[:39] + "…"
    where = f"at line {line}, column {column}"
    message = f"{reason} {where}: `{shown}`." if shown else f"{reason} {where}."
    return errors.InvalidRule(
        message, fields={"expression": message}, line=line, column=column, token=token
    )


def _subject(subject: str) -> Subject:
    try:
        return Subject(subject)
    except ValueError:
        message = "The subject must be account or portfolio."
        raise errors.InvalidRule(message, fields={"subject": message}) from None


def _parse(text: str) -> lark.Tree:
    try:
        return CEL.compile(text)
    except celpy.CELParseError as error:
        raise _syntax_refusal(text, error) from None


def _syntax_refusal(text: str, error: celpy.CELParseError) -> errors.InvalidRule:
    cause = error.__context__
    if isinstance(cause, lark.exceptions.UnexpectedCharacters):
        return refusal(text, (cause.pos_in_stream, cause.pos_in_stream + 1), "Syntax error")
    token = getattr(cause, "token", None)
    if token is None or token.type == "$END" or token.start_pos is None:
        return refusal(text, (len(text), len(text)), "The rule ends too early")
    return refusal(text, (token.start_pos, token.end_pos), "Syntax error")


def _spans(text: str, tree: lark.Tree) -> dict[int, Span]:
    """The (start, end) offsets of every subtree, by ``id``. celpy turns the identifiers
    ``true`` and ``false`` into BOOL_LIT tokens without a position (and the trees that end
    with one have no end); such a token is found again in the text after the previous
    token."""
    order: list[lark.Tree] = []
    stack: list[lark.Tree | lark.Token] = [tree]
    cursor = 0
    while stack:
        node = stack.pop()
        if isinstance(node, lark.Token):
            if node.start_pos is None:
                node.start_pos = text.find(node.value, cursor)
                node.end_pos = node.start_pos + len(node.value)
            cursor = node.end_pos
            continue
        order.append(node)
        stack.extend(reversed(node.children))
    spans: dict[int, Span] = {}
    for node in reversed(order):
        starts = [getattr(node.meta, "start_pos", None)]
        ends = [getattr(node.meta, "end_pos", None)]
        for child in node.children:
            start, end = spans[id(child)] if isinstance(child, lark.Tree) else _token_span(child)
            starts.append(start)
            ends.append(end)
        spans[id(node)] = (
            min(p for p in starts if p is not None),
            max(p for p in ends if p is not None),
        )
    return spans


def _token_span(token: lark.Token) -> Span:
    return (token.start_pos, token.end_pos)


def _check_height(text: str, tree: lark.Tree, spans: dict[int, Span]) -> None:
    stack = [(tree, 1)]
    while stack:
        node, height = stack.pop()
        if height > MAX_PARSE_HEIGHT:
            reason = f"The rule is nested deeper than {MAX_DEPTH} levels"
            raise refusal(text, spans[id(node)], reason)
        stack.extend((child, height + 1) for child in node.children if isinstance(child, lark.Tree))


def _check_size(text: str, ast: Node) -> None:
    for count, node in enumerate(walk(ast), start=1):
        if count > MAX_NODES:
            raise refusal(text, node.span, f"The rule has more than {MAX_NODES} nodes")
    stack = [(ast, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise refusal(text, node.span, f"The rule is nested deeper than {MAX_DEPTH} levels")
        stack.extend((child, depth + 1) for child in node.children())


class _Builder:
    """Walks celpy's parse tree (one method per grammar rule of ``celpy/cel.lark``) into
    the rule AST, refusing what the language does not allow as it meets it."""

    def __init__(self, text: str, subject: Subject, spans: dict[int, Span]) -> None:
        self.text = text
        self.subject = subject
        self.spans = spans

    def span(self, tree: lark.Tree) -> Span:
        return self.spans[id(tree)]

    def refuse(self, span: Span, reason: str) -> NoReturn:
        raise refusal(self.text, span, reason)

    def build(self, tree: lark.Tree) -> Node:
        handler = getattr(self, f"_{tree.data}", None)
        if handler is None or (tree.data == "multiplication" and len(tree.children) > 1):
            self.refuse(self.span(tree), REFUSED.get(tree.data, "Not allowed in a rule"))
        return handler(tree)

    def condition(self, tree: lark.Tree) -> Node:
        node = self.build(tree)
        if not is_condition(node):
            self.refuse(node.span, "Not a condition: compare it with a value")
        return node

    def _only_child(self, tree: lark.Tree) -> Node:
        return self.build(tree.children[0])

    _member = _primary = _paren_expr = _multiplication = _only_child

    def _expr(self, tree: lark.Tree) -> Node:
        if len(tree.children) > 1:
            self.refuse(self.span(tree), "The conditional operator ?: is not allowed")
        return self.build(tree.children[0])

    def _conditionalor(self, tree: lark.Tree) -> Node:
        return self._chain(tree, Or)

    def _conditionaland(self, tree: lark.Tree) -> Node:
        return self._chain(tree, And)

    def _chain(self, tree: lark.Tree, kind: type[And] | type[Or]) -> Node:
        """``a && b && c`` as one flat node (walked along the left spine, not recursively)."""
        operands: list[lark.Tree] = []
        spine = tree
        while spine.data == tree.data and len(spine.children) == 2:
            operands.append(spine.children[1])
            spine = spine.children[0]
        if spine is tree:
            return self.build(tree.children[0])
        operands.append(spine)
        items: list[Node] = []
        for operand in reversed(operands):
            item = self.condition(operand)
            items.extend(item.items if isinstance(item, kind) else (item,))
        return kind(tuple(items), span=self.span(tree))

    def _relation(self, tree: lark.Tree) -> Node:
        if len(tree.children) == 1:
            return self.build(tree.children[0])
        operator, right_tree = tree.children
        op = RELATIONS[operator.data]
        left, right = self.build(operator.children[0]), self.build(right_tree)
        if op == "in":
            return checks.membership(left, right, self.span(tree), self.refuse)
        return checks.comparison(op, left, right, self.span(tree), self.refuse)

    def _addition(self, tree: lark.Tree) -> Node:
        if len(tree.children) == 1:
            return self.build(tree.children[0])
        operator, right_tree = tree.children
        base, duration = self.build(operator.children[0]), self.build(right_tree)
        sign = 1 if operator.data == "addition_add" else -1
        shift = checks.time_shift(base, sign, duration, self.span(tree), self.refuse)
        _constant_instant(shift, lambda: self.refuse(shift.span, "The time is out of range"))
        return shift

    def _unary(self, tree: lark.Tree) -> Node:
        if len(tree.children) == 1:
            return self.build(tree.children[0])
        operator, operand_tree = tree.children
        if operator.data == "unary_not":
            return Not(self.condition(operand_tree), span=self.span(tree))
        operand = self.build(operand_tree)
        if not (isinstance(operand, Literal) and operand.kind == "number"):
            self.refuse(self.span(tree), "Minus applies only to a number")
        return self._number(-operand.value, -operand.decimal, self.span(tree))

    def _ident(self, tree: lark.Tree) -> Node:
        name = str(tree.children[0])
        if name == "now":
            return Now(span=self.span(tree))
        return self._field([name], self.span(tree))

    def _member_dot(self, tree: lark.Tree) -> Node:
        names: list[str] = []
        node = tree
        while node.data != "ident":
            if node.data == "member_dot":
                names.append(str(node.children[1]))
            elif node.data not in ("member", "primary") or not isinstance(
                node.children[0], lark.Tree
            ):
                self.refuse(self.span(node), "Only catalogue names are followed by .<name>")
            node = node.children[0]
        names.append(str(node.children[0]))
        return self._field(names[::-1], self.span(tree))

    def _field(self, names: list[str], span: Span) -> Field:
        column = catalogue.lookup(self.subject, names)
        if column is None:
            known = ", ".join(catalogue.names(self.subject))
            self.refuse(span, f"Not a field of {self.subject}s (the fields: {known})")
        return Field(column, span=span)

    def _member_dot_arg(self, tree: lark.Tree) -> Node:
        target_tree, method, *rest = tree.children
        method_span = _token_span(method)
        if method in MACROS:
            self.refuse(method_span, "Macros are not allowed")
        if method not in checks.TEXT_METHODS:
            self.refuse(
                method_span, "Only the methods startsWith, endsWith and contains are allowed"
            )
        target = self.build(target_tree)
        return checks.call(str(method), target, self._arguments(rest), self.span(tree), self.refuse)

    def _ident_arg(self, tree: lark.Tree) -> Node:
        name, *rest = tree.children
        args = self._arguments(rest)
        if name == "has":
            return checks.has(args, self.span(tree), self.refuse)
        if name not in ("timestamp", "duration"):
            self.refuse(_token_span(name), "Function calls are not allowed")
        if len(args) != 1 or not isinstance(args[0], Literal) or args[0].kind != "string":
            self.refuse(self.span(tree), f"{name}() takes one string literal")
        if name == "timestamp":
            return self._timestamp(args[0], self.span(tree))
        return self._duration(args[0], self.span(tree))

    def _arguments(self, rest: list[lark.Tree]) -> list[Node]:
        return [self.build(expr) for expr in rest[0].children] if rest else []

    def _timestamp(self, text: Literal, span: Span) -> Timestamp:
        try:
            parsed = celtypes.TimestampType(str(text.value))
        except (ValueError, TypeError, OverflowError):
            self.refuse(text.span, 'Not a timestamp (write timestamp("2025-01-31T00:00:00Z"))')
        return Timestamp(dt.datetime.combine(parsed.date(), parsed.timetz()), span=span)

    def _duration(self, text: Literal, span: Span) -> Duration:
        try:
            parsed = celtypes.DurationType(str(text.value))
        except (ValueError, TypeError, OverflowError):
            self.refuse(text.span, 'Not a duration (write duration("720h") or "90m", "30s")')
        value = dt.timedelta(
            days=parsed.days, seconds=parsed.seconds, microseconds=parsed.microseconds
        )
        if abs(value) > MAX_DURATION:
            self.refuse(text.span, "A duration may not exceed 1,000 years")
        return Duration(value, span=span)

    def _list_lit(self, tree: lark.Tree) -> Node:
        exprs = tree.children[0].children if tree.children else []
        if len(exprs) > MAX_LIST_ITEMS:
            self.refuse(
                self.span(exprs[MAX_LIST_ITEMS]), f"A list may hold at most {MAX_LIST_ITEMS} items"
            )
        items = [self.build(expr) for expr in exprs]
        for item in items:
            if not isinstance(item, Literal) or item.kind == "null":
                self.refuse(item.span, "A list holds string, number or bool literals")
            if item.kind != items[0].kind:
                self.refuse(item.span, "A list holds literals of one type")
        kind = items[0].kind if items else None
        return ListLit(tuple(items), kind, span=self.span(tree))

    def _literal(self, tree: lark.Tree) -> Node:
        token = tree.children[0]
        span = _token_span(token)
        if token.type == "INT_LIT":
            try:
                value = int(celtypes.IntType(token.value))
            except (ValueError, OverflowError):
                self.refuse(span, "The integer is out of range")
            return self._number(value, Decimal(value), span)
        if token.type == "FLOAT_LIT":
            number = Decimal(token.value)
            if not number.is_finite() or (number and not -300 <= number.adjusted() <= 300):
                self.refuse(span, "The number is out of range")
            if len(number.normalize().as_tuple().digits) > MAX_DECIMAL_DIGITS:
                self.refuse(
                    span, f"A decimal may have at most {MAX_DECIMAL_DIGITS} significant digits"
                )
            return self._number(float(token.value), number, span)
        if token.type in ("STRING_LIT", "MLSTRING_LIT"):
            text = str(celstr(token))
            if has_invalid_characters(text):
                self.refuse(span, "The string holds a character that cannot be stored")
            return Literal(text, "string", span=span)
        if token.type == "BOOL_LIT":
            return Literal(token.value == "true", "bool", span=span)
        if token.type == "NULL_LIT":
            return Literal(None, "null", span=span)
        kind = "Unsigned" if token.type == "UINT_LIT" else "Bytes"
        self.refuse(span, f"{kind} literals are not allowed (strings, numbers, bools, null)")

    def _number(self, value: int | float, decimal: Decimal, span: Span) -> Literal:
        if isinstance(value, int) and not INT64[0] <= value <= INT64[1]:
            self.refuse(span, "The integer is out of range")
        return Literal(value, "number", decimal, span=span)


def _constant_instant(shift: TimeShift, out_of_range) -> None:
    """A time shift of a fixed timestamp must land on a valid instant."""
    node: Node = shift
    total = dt.timedelta()
    while isinstance(node, TimeShift):
        total += node.sign * node.duration.value
        node = node.base
    if isinstance(node, Timestamp):
        try:
            node.value + total
        except OverflowError:
            out_of_range()
