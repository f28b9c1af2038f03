"""Every rule that changes data. Each public function runs in one transaction:
it validates first, writes second, and raises a ``DomainError`` (nothing written)
when a rule refuses the change. The API, the console and the admin all call these,
as ``services.create_segment(...)`` and so on: this package re-exports them.

Field names are the models' (``segment_id``, ``status_code`` …); ``changes`` in the
update functions holds only the fields to change. ``metadata`` in ``changes`` is a
JSON Merge Patch: a key set to ``None`` is removed, absent keys are kept, and
``metadata=None`` removes every key.

Every change of membership takes its locks in the one order of ``segments.locking``
(segments, then portfolios, then accounts, each in id order); ``atomic_service`` is the
transaction of every public function here, retried once when it loses a race for locks
(then 409 ``9009``, never "database unavailable").

One module per aggregate — ``organizations``, ``ledgers``, ``segments``, ``portfolios``,
``accounts``, ``membership`` (which segment a member is in, one by one or in bulk),
``benefits`` (what a segment grants, versioned), ``rules`` (dynamic segments: their
rules and the evaluation that places members) —
and the pieces they share: ``validation`` (fields a call may set, field rules, saving,
``If-Match``), ``rows`` (holding and locking one row, the one delete path) and
``history`` (a segment's history entries).
"""

from segments.services.accounts import create_account, delete_account, update_account
from segments.services.benefits import create_benefit, delete_benefit, update_benefit
from segments.services.evaluation import apply_rules
from segments.services.history import HISTORY_ID_SAMPLE, actor_name
from segments.services.ledgers import create_ledger, delete_ledger, update_ledger
from segments.services.membership import (
    BULK_MEMBERS_MAX,
    assign_accounts_matching,
    assign_members,
    clear_segments,
    remove_members,
    segment_for_member,
)
from segments.services.organizations import (
    create_organization,
    delete_organization,
    update_organization,
)
from segments.services.portfolios import create_portfolio, delete_portfolio, update_portfolio
from segments.services.refresh import enqueue_refresh, request_refresh
from segments.services.rules import delete_rule, put_rule
from segments.services.segments import (
    create_segment,
    delete_segment,
    restore_segment,
    update_segment,
)
from segments.services.validation import (
    COMMON_FIELDS,
    CONSTRAINT_ERRORS,
    CREATE_FIELDS,
    NAME_FIELDS,
    REQUIRED_FIELDS,
    UPDATE_FIELDS,
    entity_etag,
)

__all__ = [
    "BULK_MEMBERS_MAX",
    "COMMON_FIELDS",
    "CONSTRAINT_ERRORS",
    "CREATE_FIELDS",
    "HISTORY_ID_SAMPLE",
    "NAME_FIELDS",
    "REQUIRED_FIELDS",
    "UPDATE_FIELDS",
    "actor_name",
    "apply_rules",
    "assign_accounts_matching",
    "assign_members",
    "clear_segments",
    "create_account",
    "create_benefit",
    "create_ledger",
    "create_organization",
    "create_portfolio",
    "create_segment",
    "delete_account",
    "delete_benefit",
    "delete_ledger",
    "delete_organization",
    "delete_portfolio",
    "delete_rule",
    "delete_segment",
    "enqueue_refresh",
    "entity_etag",
    "put_rule",
    "remove_members",
    "request_refresh",
    "restore_segment",
    "segment_for_member",
    "update_account",
    "update_benefit",
    "update_ledger",
    "update_organization",
    "update_portfolio",
    "update_segment",
]
