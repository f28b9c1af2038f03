"""Dynamic segments in the load (``--rules N``): N new segments in the bench ledger, each
with a rule over the loaded accounts' metadata (``tier`` and a ``score`` range, so that
they overlap and priorities matter), priorities 1…N. A bulk load enqueues ONE refresh of
the bench organization for them, not one per rule: the worker assigns their members."""

from __future__ import annotations

from typing import Any

from segments.loaddata.rows import SEGMENT_BASES
from segments.models import RefreshCause, RuleRefresh, RuleSubject, Segment, SegmentRule
from segments.rules import parse_rule
from segments.services import enqueue_refresh

SCORE_SPAN = 400  # the loaded metadata's scores are 0…399


def rule_expression(index: int) -> str:
    tier = SEGMENT_BASES[index % len(SEGMENT_BASES)].lower()
    low = (index * 37) % SCORE_SPAN
    return f'metadata.tier == "{tier}" && metadata.score >= {low} && metadata.score < {low + 60}'


def attach_rules(organization_id: str, ledger_id: str, count: int, actor: Any) -> RuleRefresh:
    """``count`` dynamic segments in ``ledger_id`` and the one refresh that fills them."""
    segments = Segment.objects.bulk_create(
        [
            Segment(
                organization_id=organization_id,
                ledger_id=ledger_id,
                name=f"Dynamic {index + 1}",
                description="Members chosen by a rule (generate_load_data --rules).",
            )
            for index in range(count)
        ]
    )
    rules = []
    for index, segment in enumerate(segments):
        parsed = parse_rule(rule_expression(index), RuleSubject.ACCOUNT)
        rules.append(
            SegmentRule(
                segment=segment,
                organization_id=organization_id,
                ledger_id=ledger_id,
                expression=parsed.text,
                subject=RuleSubject.ACCOUNT,
                priority=index + 1,
                fields_used=list(parsed.fields_used),
                time_dependent=parsed.time_dependent,
                actor=actor,
                actor_name=actor.get_username(),
            )
        )
    SegmentRule.objects.bulk_create(rules)
    return enqueue_refresh(
        actor, organization_id, ledger_id, [RuleSubject.ACCOUNT], cause=RefreshCause.BULK
    )
