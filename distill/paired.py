"""Two arms compared on the questions both answered: the paired difference in accuracy.

Two students scored on overlapping samples of a file (one eval stopped at 48 items a file, another at 50)
differ by chance as well as by skill; on the items both scored, the per-item difference (+1 gained, -1 lost,
0 the same) cancels the items' own difficulty, so its bootstrap interval is far narrower than the gap
between two unpaired intervals.
"""

from __future__ import annotations

from typing import Iterable

from distill.intervals import bootstrap_interval

RESAMPLES = 5000


def _keyed(rows: Iterable[dict]) -> dict[str, dict]:
    return {row.get("key") or f"{row.get('task')}\t{row['id']}": row for row in rows}


def _difference(pairs: list[tuple[dict, dict]]) -> dict:
    changes = [int(bool(other["correct"])) - int(bool(base["correct"])) for base, other in pairs]
    low, high = bootstrap_interval(changes, resamples=RESAMPLES)
    return {"n": len(changes), "gained": changes.count(1), "lost": changes.count(-1),
            "difference": sum(changes) / max(1, len(changes)), "ci95": [low, high]}


def paired_difference(base_rows: Iterable[dict], other_rows: Iterable[dict]) -> dict:
    """``other`` minus ``base`` on the items both scored, overall and per task; ``n`` 0 when none is shared."""
    base, other = _keyed(base_rows), _keyed(other_rows)
    shared = [(base[key], other[key]) for key in base if key in other]
    by_task: dict[str, list[tuple[dict, dict]]] = {}
    for pair in shared:
        by_task.setdefault(pair[0].get("task") or "", []).append(pair)
    return {**_difference(shared), "by_task": {task: _difference(pairs) for task, pairs in sorted(by_task.items())}}


def _cell(result: dict) -> str:
    low, high = result["ci95"]
    return (f"{100 * result['difference']:+.1f} [{100 * low:+.1f}, {100 * high:+.1f}] "
            f"(+{result['gained']} / -{result['lost']} of {result['n']})")


def paired_table(base_arm: str, comparisons: list[tuple[str, dict]]) -> str:
    """Markdown: each arm minus ``base_arm`` on the shared items, overall and per task."""
    comparisons = [(arm, result) for arm, result in comparisons if result["n"]]
    if not comparisons:
        return ""
    tasks = sorted({task for _, result in comparisons for task in result["by_task"]})
    lines = ["", f"Paired against {base_arm}, on the items both scored: the difference in points (bootstrap 95% CI, "
                 f"{RESAMPLES:,} resamples), items gained / lost:", "",
             "| task | " + " | ".join(arm for arm, _ in comparisons) + " |",
             "|---|" + "---|" * len(comparisons)]
    if len(tasks) > 1:
        for task in tasks:
            lines.append(f"| {task} | " + " | ".join(_cell(result["by_task"][task]) if task in result["by_task"]
                                                     else "-" for _, result in comparisons) + " |")
    lines.append("| all shared items | " + " | ".join(_cell(result) for _, result in comparisons) + " |")
    return "\n".join(lines) + "\n"
