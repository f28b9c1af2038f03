"""Saturation figures of ``bench/run.py`` (issue #16 item 5): the requests per second each
API scenario sustains at 3 connections (the main run's) and at 12, and a warning for each
figure more than 10 % below the previous run's.

The previous run is the newest earlier ``bench/results/*/results.json`` holding
saturation figures for the same scenario (a partial ``--only`` run counts for the
scenarios it ran), so a change is compared with what ran just before it on this machine.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

CONNECTIONS = (3, 12)
REGRESSION = 0.10  # a drop of more than this fraction is a warning


def is_saturated(path: str) -> bool:
    """Only the API scenarios are driven at 12 connections too."""
    return path.startswith("/v1/")


def with_more_connections(args: argparse.Namespace) -> argparse.Namespace:
    """The load run's settings at the largest of ``CONNECTIONS``, for its own duration."""
    more = argparse.Namespace(**vars(args))
    more.connections = CONNECTIONS[-1]
    more.duration = args.saturation_duration
    return more


def figures(main_run: dict[str, Any], more: dict[str, Any]) -> dict[str, float | None]:
    """``{"3": req/s, "12": req/s}`` (None where a run failed)."""
    return {
        str(CONNECTIONS[0]): main_run.get("rps") if not main_run.get("error") else None,
        str(CONNECTIONS[-1]): more.get("rps") if not more.get("error") else None,
    }


def previous_figures(results: Path, current_stamp: str) -> dict[str, tuple[str, dict]]:
    """Per scenario, the newest earlier run's stamp and saturation figures."""
    found: dict[str, tuple[str, dict]] = {}
    for path in sorted(results.glob("*/results.json"), reverse=True):
        stamp = path.parent.name
        if stamp >= current_stamp:
            continue
        try:
            scenarios = json.loads(path.read_text()).get("scenarios", [])
        except (OSError, ValueError):
            continue
        for scenario in scenarios:
            saturation = scenario.get("saturation") or {}
            if saturation and scenario["name"] not in found:
                found[scenario["name"]] = (stamp, saturation)
    return found


def regressions(
    current: dict[str, dict[str, float | None]], previous: dict[str, tuple[str, dict]]
) -> list[str]:
    """A warning line for each figure more than ``REGRESSION`` below the previous run's."""
    lines = []
    for name, now in current.items():
        if name not in previous:
            continue
        stamp, before = previous[name]
        for connections, rps in now.items():
            earlier = before.get(connections)
            if rps is None or not earlier:
                continue
            change = rps / earlier - 1
            if change < -REGRESSION:
                lines.append(
                    f"WARNING: {name} at {connections} connections: {rps:.0f} req/s against "
                    f"{earlier:.0f} in {stamp} ({change:+.0%})"
                )
    return lines
