"""A benefit as the console's lists show it: its kind, grant and window in words, its
status label and the links to its page and dialogs (the Benefits tab, a benefit's page,
the segment's overview)."""

from __future__ import annotations

from segments.console.benefit_words import KIND_LABELS, parameters_in_words, window_in_words
from segments.console.presenters import status_label
from segments.console.views.scope import benefit_url
from segments.models import Benefit


def describe_benefit(benefit: Benefit) -> Benefit:
    """The benefit with what the lists show of it: kind, grant and window in words."""
    benefit.kind_label = str(KIND_LABELS.get(benefit.kind, benefit.kind))
    benefit.grants = parameters_in_words(benefit.kind, benefit.parameters)
    benefit.window = window_in_words(benefit.valid_from, benefit.valid_until)
    benefit.status_label = status_label(benefit.status_code)
    benefit.url = benefit_url(benefit)
    benefit.edit_url = benefit_url(benefit, "edit")
    benefit.delete_url = benefit_url(benefit, "delete")
    return benefit
