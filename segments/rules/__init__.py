"""Rules of dynamic segments: a CEL subset (``language``) checked against the field
catalogue (``catalogue``, ``checks``), compiled to a Django ``Q`` (``compiler``), and
evaluated one record at a time by cel-python as the reference (``evaluate``)."""

from segments.rules.compiler import outside_rule_q, rule_q
from segments.rules.evaluate import evaluate, explain, row_values
from segments.rules.language import Rule, parse_rule

__all__ = ["Rule", "evaluate", "explain", "outside_rule_q", "parse_rule", "row_values", "rule_q"]
