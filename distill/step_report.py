"""The tables the step-error scripts print (scripts/arithmetic_step_errors.py, scripts/word_sorting_step_errors.py):
a row per kind of step, a column per ``scotd eval`` run, each cell "right/total (rate%)", the overall
rate with a bootstrap interval over answers."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Optional, Sequence

from distill.intervals import ratio_bootstrap_interval


def step_report_args(doc: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    parser.add_argument("evals", nargs="+", type=Path, help="scotd eval output folders")
    parser.add_argument("--out", type=Path, help="also write the table here")
    return parser.parse_args()


def column_name(eval_dir: Path, answers: int) -> str:
    return f"{eval_dir.parent.name}/{eval_dir.name} ({answers} answers)"


def step_rate_cell(right: int, total: int, parts: Optional[Sequence[tuple[int, int]]] = None) -> str:
    """'227/739 (30.7%)', with ``ratio_bootstrap_interval(parts)`` as '(30.7% [27.1, 34.3])' when given."""
    if not total:
        return "-"
    interval = " [{:.1f}, {:.1f}]".format(*ratio_bootstrap_interval(parts)) if parts else ""
    return f"{right}/{total} ({100 * right / total:.1f}%{interval})"


def rate_rows(columns: Sequence[tuple]) -> dict[str, list[str]]:
    """A row per kind of step over columns of (right, total[, (right, steps) of each answer]) Counters, kinds
    sorted, then "all", with a bootstrap interval over answers where a column carries them."""
    kinds = sorted({kind for column in columns for kind in column[1]})
    rows = {kind: [step_rate_cell(right[kind], total[kind]) for right, total, *_ in columns] for kind in kinds}
    rows["all"] = [step_rate_cell(sum(right.values()), sum(total.values()), *parts) for right, total, *parts in columns]
    return rows


def print_step_table(first_column: str, rows: dict[str, list[str]], columns: list[str], out: Optional[Path]) -> str:
    """The markdown table, printed and, with ``out``, written there."""
    lines = [f"| {first_column} | " + " | ".join(columns) + " |", "|---|" + "---|" * len(columns)]
    lines += [f"| {kind} | " + " | ".join(cells) + " |" for kind, cells in rows.items()]
    table = "\n".join(lines)
    print(table)
    if out:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(table + "\n")
    return table
