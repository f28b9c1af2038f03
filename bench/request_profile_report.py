"""The report of ``bench/request_profile.py``: the breakdown table (scenario × category, mean
milliseconds per request, their sum beside the measured wall time), the cProfile top 15 of
each scenario, and the files they are saved to (``profile.md``, ``profile.json``,
``profile.top15.txt`` in the results folder)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any


def markdown(rows: list[list[str]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["| " + " | ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)) + " |"
             for row in rows]  # fmt: skip
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def breakdown_table(results: list[dict[str, Any]]) -> str:
    """Scenario × category (mean ms per request), their sum, the measured wall time, the
    plain (uninstrumented) p50 and the statements per request."""
    measured = [r["breakdown"]["categories_ms"] for r in results if "breakdown" in r]
    categories = list(measured[0]) if measured else []
    rows = [["scenario", *categories, "sum", "wall", "wall p50", "plain p50", "plain mean", "SQL"]]
    for result in results:
        if "skipped" in result:
            rows.append(
                [result["name"], f"SKIPPED: {result['skipped']}", *[""] * (len(rows[0]) - 2)]
            )
            continue
        part = result["breakdown"]
        rows.append([
            result["name"], *(f"{part['categories_ms'][c]:.2f}" for c in categories),
            f"{part['sum_ms']:.2f}", f"{part['wall_mean_ms']:.2f}", f"{part['wall_p50_ms']:.2f}",
            f"{result['plain']['p50_ms']:.2f}", f"{result['plain']['mean_ms']:.2f}",
            f"{part['statements_per_request']:g}",
        ])  # fmt: skip
    return markdown(rows)


def top_tables(results: list[dict[str, Any]]) -> str:
    sections = []
    for result in results:
        if "skipped" in result:
            continue
        rows = [["function", "calls/req", "own ms/req", "cum ms/req"]]
        rows += [[t["function"], f"{t['calls_per_request']:g}", f"{t['own_ms']:.3f}",
                  f"{t['cumulative_ms']:.3f}"] for t in result["top15"]]  # fmt: skip
        sections.append(f"### {result['name']} — cProfile top 15 by own time\n\n{markdown(rows)}")
    return "\n\n".join(sections)


def save(out_dir: Path, results: list[dict[str, Any]], args: argparse.Namespace) -> None:
    table = breakdown_table(results)
    checks = [
        f"- {r['name']}: categories add up to {r['breakdown']['sum_ms']:.3f} ms, wall time "
        f"{r['breakdown']['wall_mean_ms']:.3f} ms (instrumented) vs {r['plain']['mean_ms']:.3f}"
        " ms plain"
        for r in results
        if "breakdown" in r
    ]
    header = (
        f"Profile of one request per API scenario, {args.requests} requests each, mean ms "
        "per request (bench/request_profile.py says what each column holds)"
    )
    report = f"{header}\n\n{table}\n\n" + "\n".join(checks) + "\n"
    print("\n" + report)
    (out_dir / "profile.md").write_text(report + "\n" + top_tables(results) + "\n")
    listings = [f"==== {r['name']}\n{r['top15_listing']}" for r in results if "top15_listing" in r]
    (out_dir / "profile.top15.txt").write_text("\n".join(listings))
    for r in results:
        r.pop("top15_listing", None)
    document = {"requests": args.requests, "scenarios": results}
    (out_dir / "profile.json").write_text(json.dumps(document, indent=2))
    print(f"Saved {out_dir / 'profile.md'}, profile.json and profile.top15.txt", flush=True)
