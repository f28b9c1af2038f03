"""Bank-scale load data for benchmarks (issue #7), written with PostgreSQL COPY; the
``generate_load_data`` command runs it.

Rules the generated data follows (the same the services enforce):

- every id is a UUIDv7 whose timestamp is the row's ``created_at``; within a table ids and
  creation times increase together;
- segment names are unique, case-insensitively, among the live segments of their scope
  (ledger or organization); soft-deleted segments may reuse a live name (the partial unique
  indexes allow it) and never have members;
- account aliases are unique per ledger; an account's portfolio and parent account are live
  rows of its own ledger (parents are created earlier, so there are no cycles); its segment
  is a live segment of its ledger or of its organization;
- status codes are ACTIVE / INACTIVE / PENDING / SUSPENDED; organizations and ledgers are
  never deleted (they hold live children);
- segment sizes are skewed (Zipf-like), and the first segment of the first ledger, "Retail
  mass market", holds exactly ``--big-segment-size`` live accounts (default 500,000; clamped to
  half of the accounts on small runs) for the member-count scenario;
- a third of the rows carry metadata, about 1 % are soft-deleted;
- live segments have benefits (``--benefits-per-segment``, default 3 on average): typed
  parameters valid for their kind, names unique per segment, some in an exclusivity group
  (a pair, one outranking the other), some expired, some not yet valid, some INACTIVE, and
  never two ACTIVE ones the services would call ambiguous (9012); each has its version-1
  ``BenefitVersion`` (``benefits`` says how);
- every segment has its "created" history entry (a deleted one also its "deleted" entry),
  and every benefit its "benefit created" entry;
- the user ``bench`` (password ``bench``) is admin of every generated organization and gets a
  fresh API token, printed at the end.

Rows are streamed into COPY (nothing is held per account), so memory stays flat; secondary
indexes are dropped for the load and rebuilt afterwards (``--keep-indexes`` to load into
indexed tables instead). Foreign keys are checked once, set-based, after the load instead of
one trigger per row; any orphan aborts the whole load (one transaction). After the commit
the tables are VACUUM (ANALYZE)d so index-only scans work.

The modules, by concern: ``shape`` (ids and time, the per-ledger plan), ``rows`` (each
table's rows), ``benefits`` (the benefits' rows and versions), ``streaming`` (COPY),
``history`` (the segments' history entries, in SQL), ``indexes`` (drop and rebuild),
``checks`` (row triggers off, references checked once), ``tables`` (emptying, vacuuming,
the bench user).
"""
