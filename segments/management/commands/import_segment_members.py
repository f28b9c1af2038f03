"""``manage.py import_segment_members SEGMENT_ID FILE.csv [--dry-run] [--actor USERNAME]``

Puts the accounts (and portfolios) listed in a CSV file into a segment, all or nothing.

The file is either

- a member export of the console or the admin (``kind`` and ``id`` columns: each row an
  account or a portfolio; its other columns, ``segment_assigned_by`` included, are
  ignored: every member imported is assigned by hand, so pinned), or
- one column of accounts, each an account id or alias, under a header named ``account``
  (or ``account_id``, ``id``, ``alias``) or with no header at all (first column).

Rules:

- a value as an export wrote it is read back: ``'@external/x`` (an alias the export
  defused against spreadsheet formulas, ``console.exports.defuse``) names ``@external/x``;
- every row is checked before anything is written: a malformed value, an unknown account,
  one outside the segment's scope (its ledger, or its organization for an organization
  segment), a deleted one, an alias that names accounts in several ledgers, or a row that
  repeats an earlier one is a bad row;
- every bad row is reported with its line number; if there is one, nothing is written and
  the command exits non-zero;
- otherwise the members are assigned through ``services.assign_members`` in batches of at
  most 10,000 ids, all in one transaction, each batch recorded in the segment's history;
- ``--dry-run`` checks and reports only.
"""

from __future__ import annotations

import csv
import itertools
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from tqdm import tqdm

from segments import services
from segments.console.exports import column_headers, restore
from segments.errors import DomainError
from segments.ids import uuid_or_none
from segments.models import Account, Portfolio, Segment
from segments.validators import ALIAS_PATTERN

BATCH_SIZE = services.BULK_MEMBERS_MAX
LOOKUP_CHUNK = 5_000
VALUE_COLUMNS = ("account", "account_id", "id", "alias")
KIND_COLUMN = "kind"
KINDS = {"account": Account, "portfolio": Portfolio}


@dataclass
class Row:
    line: int
    kind: str
    value: str


@dataclass
class Checked:
    """The outcome of checking a file: members by kind, and bad rows as (line, reason)."""

    rows: int = 0
    members: dict[str, list[uuid.UUID]] = field(
        default_factory=lambda: {"account": [], "portfolio": []}
    )
    bad: list[tuple[int, str]] = field(default_factory=list)


class _ProgressStream:
    """Lets tqdm draw on the command's stderr (no added newlines, no colour)."""

    def __init__(self, out) -> None:
        self.out = out

    def write(self, text: str) -> None:
        self.out.write(text, style_func=lambda s: s, ending="")

    def flush(self) -> None:
        self.out.flush()


class Command(BaseCommand):
    help = (
        "Assign the accounts (ids or aliases) or exported members listed in a CSV file to a "
        "segment. Every row is checked first; nothing is written unless all are valid."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("segment_id", help="id of a live, ACTIVE segment")
        parser.add_argument("file", help="CSV file (UTF-8); '-' reads standard input")
        parser.add_argument(
            "--dry-run", action="store_true", help="check and report; write nothing"
        )
        parser.add_argument(
            "--actor", metavar="USERNAME", help="user recorded in the segment's history"
        )

    def handle(self, *args: Any, segment_id: str, file: str, dry_run: bool, **options) -> None:
        segment = self._segment(segment_id)
        actor = self._actor(options.get("actor"))
        rows, bad = self._read(file)
        checked = self._check(segment, rows)
        checked.bad = sorted(bad + checked.bad)
        accounts, portfolios = checked.members["account"], checked.members["portfolio"]
        for line, reason in checked.bad:
            self.stdout.write(f"line {line}: {reason}")
        if checked.bad:
            raise CommandError(
                f"{len(checked.bad)} bad row(s) in {checked.rows + len(bad)}; nothing was written."
            )
        summary = f"{len(accounts)} account(s) and {len(portfolios)} portfolio(s)"
        if dry_run:
            self.stdout.write(
                f"Dry run: all {checked.rows} row(s) are valid; would assign {summary} to "
                f"segment “{segment.name}”. Nothing was written."
            )
            return
        self._assign(actor, segment, accounts, portfolios)
        self.stdout.write(self.style.SUCCESS(f"Assigned {summary} to segment “{segment.name}”."))

    # ----------------------------------------------------------------- arguments

    def _segment(self, segment_id: str) -> Segment:
        pk = uuid_or_none(segment_id)
        if pk is None:
            raise CommandError(f"'{segment_id}' is not a segment id.")
        segment = Segment.objects.select_related("ledger", "organization").filter(pk=pk).first()
        if segment is None:
            raise CommandError(f"No live segment has the id {segment_id}.")
        if not segment.accepts_members:
            raise CommandError(
                f"Segment “{segment.name}” is {segment.status_code}; only ACTIVE segments "
                "accept members."
            )
        return segment

    def _actor(self, username: str | None) -> Any:
        if not username:
            return None
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No user named '{username}'.")
        return user

    # ----------------------------------------------------------------- reading

    def _read(self, file: str) -> tuple[list[Row], list[tuple[int, str]]]:
        """The rows of the file, and the rows that are malformed whatever the segment."""
        try:
            if file == "-":
                return self._parse(sys.stdin)
            with Path(file).open(encoding="utf-8-sig", newline="") as handle:
                return self._parse(handle)
        except FileNotFoundError:
            raise CommandError(f"No such file: {file}") from None
        except UnicodeDecodeError as error:
            raise CommandError(f"{file} is not UTF-8 text ({error.reason}).") from None
        except csv.Error as error:
            raise CommandError(f"{file} is not a readable CSV file: {error}") from None

    def _parse(self, handle) -> tuple[list[Row], list[tuple[int, str]]]:
        reader = csv.reader(handle)
        records = _numbered(reader)
        first = next(records, None)
        if first is None:
            raise CommandError("The file is empty.")
        value_col, kind_col, first_data = _columns(first[1])
        rows, bad = [], []
        pending = [first] if first_data else []
        for line, cells in itertools.chain(pending, records):
            if not any(cell.strip() for cell in cells):
                continue
            value = restore(cells[value_col].strip()) if value_col < len(cells) else ""
            kind = "account"
            if kind_col is not None:
                kind = cells[kind_col].strip().lower() if kind_col < len(cells) else ""
            if kind not in KINDS:
                bad.append((line, f"kind '{kind}' is neither 'account' nor 'portfolio'"))
            elif not value:
                bad.append((line, f"no {kind} id{' or alias' if kind == 'account' else ''}"))
            else:
                rows.append(Row(line, kind, value))
        return rows, bad

    # ----------------------------------------------------------------- checking

    def _check(self, segment: Segment, rows: list[Row]) -> Checked:
        checked = Checked(rows=len(rows))
        resolved: dict[int, tuple[str, uuid.UUID]] = {}
        by_id: dict[str, list[Row]] = {"account": [], "portfolio": []}
        by_alias: list[Row] = []
        for row in rows:
            if uuid_or_none(row.value) is None:
                if row.kind == "portfolio":
                    checked.bad.append((row.line, f"'{row.value}' is not a portfolio id"))
                elif not ALIAS_PATTERN.match(row.value) or len(row.value) > 100:
                    checked.bad.append((row.line, f"'{row.value}' is neither an id nor an alias"))
                else:
                    by_alias.append(row)
                continue
            by_id[row.kind].append(row)

        with self._progress(len(rows), "checking") as progress:
            for kind, kind_rows in by_id.items():
                for chunk in _chunks(kind_rows, LOOKUP_CHUNK):
                    self._check_ids(segment, KINDS[kind], chunk, resolved, checked.bad)
                    progress.update(len(chunk))
            for chunk in _chunks(by_alias, LOOKUP_CHUNK):
                self._check_aliases(segment, chunk, resolved, checked.bad)
                progress.update(len(chunk))

        first_line: dict[tuple[str, uuid.UUID], int] = {}
        for row in rows:
            member = resolved.get(row.line)
            if member is None:
                continue
            if member in first_line:
                checked.bad.append(
                    (row.line, f"{row.kind} {row.value} repeats line {first_line[member]}")
                )
                continue
            first_line[member] = row.line
            checked.members[member[0]].append(member[1])
        return checked

    def _check_ids(self, segment: Segment, model, rows: list[Row], resolved, bad) -> None:
        kind = model.entity_type.lower()
        found = {
            pk: (ledger_id, organization_id, deleted_at)
            for pk, ledger_id, organization_id, deleted_at in model.all_objects.filter(
                pk__in=[uuid_or_none(row.value) for row in rows]
            ).values_list("pk", "ledger_id", "organization_id", "deleted_at")
        }
        for row in rows:
            pk = uuid_or_none(row.value)
            if pk not in found:
                bad.append((row.line, f"no {kind} has the id {row.value}"))
                continue
            ledger_id, organization_id, deleted_at = found[pk]
            if not _in_scope(segment, ledger_id, organization_id):
                bad.append((row.line, f"{kind} {row.value} is outside {_scope_text(segment)}"))
            elif deleted_at is not None:
                bad.append((row.line, f"{kind} {row.value} is deleted"))
            else:
                resolved[row.line] = (kind, pk)

    def _check_aliases(self, segment: Segment, rows: list[Row], resolved, bad) -> None:
        scope = segment.member_scope()  # for the report; assign_members decides
        aliases = {row.value for row in rows}
        live: dict[str, list[uuid.UUID]] = {}
        for pk, alias in Account.objects.filter(scope, alias__in=aliases).values_list(
            "pk", "alias"
        ):
            live.setdefault(alias, []).append(pk)
        missing = aliases - set(live)
        deleted = set(
            Account.all_objects.deleted()
            .filter(scope, alias__in=missing)
            .values_list("alias", flat=True)
        )
        for row in rows:
            matches = live.get(row.value, [])
            if len(matches) == 1:
                resolved[row.line] = ("account", matches[0])
            elif len(matches) > 1:
                bad.append(
                    (
                        row.line,
                        f"alias '{row.value}' names {len(matches)} accounts in different "
                        "ledgers; use the account id",
                    )
                )
            elif row.value in deleted:
                bad.append((row.line, f"the account with alias '{row.value}' is deleted"))
            else:
                bad.append(
                    (row.line, f"no account with alias '{row.value}' in {_scope_text(segment)}")
                )

    # ----------------------------------------------------------------- writing

    def _assign(self, actor, segment: Segment, accounts: list, portfolios: list) -> None:
        """All batches in one transaction: a refusal of any batch writes nothing."""
        members = [("account", pk) for pk in accounts] + [("portfolio", pk) for pk in portfolios]
        try:
            with transaction.atomic(), self._progress(len(members), "assigning") as progress:
                for batch in _chunks(members, BATCH_SIZE):
                    services.assign_members(
                        actor,
                        segment,
                        account_ids=[pk for kind, pk in batch if kind == "account"],
                        portfolio_ids=[pk for kind, pk in batch if kind == "portfolio"],
                        cause="import",
                    )
                    progress.update(len(batch))
        except DomainError as error:
            raise CommandError(f"Refused, nothing was written: {error.message}") from None

    def _progress(self, total: int, label: str) -> tqdm:
        return tqdm(
            total=total,
            desc=label,
            unit="row",
            file=_ProgressStream(self.stderr),
            mininterval=0.5,
            leave=False,
        )


# --------------------------------------------------------------------------- helpers


def _numbered(reader) -> Iterator[tuple[int, list[str]]]:
    """Each record with the line it starts on (a quoted value may span lines)."""
    line = 1
    for cells in reader:
        yield line, cells
        line = reader.line_num + 1


def _find(names: list[str], column: str) -> int | None:
    """Where ``column`` stands among ``names``, under its header in any language."""
    headers = column_headers(column)
    return next((index for index, name in enumerate(names) if name in headers), None)


def _columns(first_row: list[str]) -> tuple[int, int | None, bool]:
    """(value column, kind column, whether the first row is data) from the first row;
    headers are recognised in every language an export writes them in."""
    names = [cell.strip().lower() for cell in first_row]
    for name in VALUE_COLUMNS:
        value = _find(names, name)
        if value is not None:
            return value, _find(names, KIND_COLUMN), False
    return 0, None, True


def _chunks(items: list, size: int) -> Iterator[list]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _in_scope(segment: Segment, ledger_id, organization_id) -> bool:
    if not segment.is_organization_level:
        return ledger_id == segment.ledger_id
    return organization_id == segment.organization_id


def _scope_text(segment: Segment) -> str:
    if not segment.is_organization_level:
        return f"the segment's ledger “{segment.ledger.name}”"
    return f"the segment's organization “{segment.organization.legal_name}”"
