"""What an eval folder holds, read without loading an engine: ``summary.json`` and ``predictions.jsonl``
once an eval finished, ``summary.partial.json`` and ``predictions.partial.jsonl`` (a fingerprint line,
then a row per scored question) while it runs or after it was interrupted."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

from serve.core.records import read_jsonl

PARTIAL_FILE = "predictions.partial.jsonl"


def partial_rows(partial: Path) -> tuple[dict, list[dict]]:
    """The header and the rows of a partial predictions file; a line cut off mid-write is skipped."""
    header, rows = {}, []
    if partial.is_file():
        for index, line in enumerate(partial.read_text(encoding="utf-8").splitlines()):
            try:
                value = json.loads(line)
            except json.JSONDecodeError:
                continue
            if index == 0:
                header = value
            else:
                rows.append(value)
    return header, rows


def eval_summary(eval_dir: Path) -> Optional[dict]:
    """The eval's summary, or the partial one an eval still running (or interrupted) keeps up to date."""
    for name in ("summary.json", "summary.partial.json"):
        if (eval_dir / name).is_file():
            return json.loads((eval_dir / name).read_text())
    return None


def eval_rows(eval_dir: Path) -> list[dict]:
    """The scored rows of an eval folder, finished or partial."""
    if (eval_dir / "predictions.jsonl").is_file():
        return [row for _, row in read_jsonl(eval_dir / "predictions.jsonl")]
    return partial_rows(eval_dir / PARTIAL_FILE)[1]
