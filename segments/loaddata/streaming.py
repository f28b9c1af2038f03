"""COPY streaming: each table's rows go to ``COPY … FROM STDIN WITH (FREEZE)`` one by one
(psycopg ``write_row``), never held in memory; the progress bar moves every 5,000 rows."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from tqdm import tqdm

from segments.loaddata.benefits import BENEFIT_COLUMNS
from segments.loaddata.rows import (
    ACCOUNT_COLUMNS,
    LEDGER_COLUMNS,
    ORGANIZATION_COLUMNS,
    PORTFOLIO_COLUMNS,
    SEGMENT_COLUMNS,
    Rows,
)
from segments.models import Account, Benefit, Ledger, Organization, Portfolio, Segment

PROGRESS_STEP = 5000


def copy_rows(
    cursor, table: str, columns: Sequence[str], rows: Iterator[tuple], progress: tqdm
) -> None:
    step = 0
    with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN WITH (FREEZE)") as copy:
        for row in rows:
            copy.write_row(row)
            step += 1
            if step == PROGRESS_STEP:
                progress.update(step)
                step = 0
    progress.update(step)


def load_tables(cursor, rows: Rows, progress: tqdm) -> None:
    """Every table in creation order (parents first), then ANALYZE for the checks."""
    for model, columns, generated in (
        (Organization, ORGANIZATION_COLUMNS, rows.organizations),
        (Ledger, LEDGER_COLUMNS, rows.ledgers),
        (Segment, SEGMENT_COLUMNS, rows.segments),
        (Benefit, BENEFIT_COLUMNS, rows.benefits),
        (Portfolio, PORTFOLIO_COLUMNS, rows.portfolios),
        (Account, ACCOUNT_COLUMNS, rows.accounts),
    ):
        copy_rows(cursor, model._meta.db_table, columns, generated(), progress)
    analyzed = (Ledger, Segment, Benefit, Portfolio, Account)
    cursor.execute("ANALYZE " + ", ".join(model._meta.db_table for model in analyzed))
