"""Versioned data contracts (Example; distill adds the CoT record) and a crash-safe JSONL store.

Every record carries ``schema`` (its contract version). ``JsonlStore`` appends one
JSON object per line and flushes after each batch; on open it detects a torn
last line (a run killed mid-write), truncates it away, and reports the keys
already present so a rerun skips them: nothing lost, nothing duplicated.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Hashable, Iterable, Iterator, Optional, TypeVar

from serve.core.errors import UserError

EXAMPLE_SCHEMA = "scotd.example/1"


@dataclass
class Example:
    """One task instance. ``answer`` is canonical: "(b)", "yes"/"no", "true"/"false", a number or a string."""
    id: str
    task: str
    question: str
    answer: str
    choices: Optional[list[str]] = None
    split: str = "train"
    meta: dict[str, Any] = field(default_factory=dict)
    answer_type: Optional[str] = None  # multiple_choice | yes_no | true_false | number | text; None = inferred
    schema: str = EXAMPLE_SCHEMA


R = TypeVar("R")


def from_dict(cls: type[R], data: dict[str, Any], where: str) -> R:
    """Validate a mapping against a record dataclass; errors name ``where`` (file:line) and the field."""
    if not isinstance(data, dict):
        raise UserError(f"{where}: expected a JSON object, got {type(data).__name__}")
    names = {f.name: f for f in dataclasses.fields(cls)}
    unknown = set(data) - set(names)
    if unknown:
        raise UserError(f"{where}: unknown field(s) {sorted(unknown)} for {cls.__name__}; valid: {', '.join(names)}")
    missing = [n for n, f in names.items() if n not in data and f.default is dataclasses.MISSING
               and f.default_factory is dataclasses.MISSING]
    if missing:
        raise UserError(f"{where}: missing field(s) {missing} for {cls.__name__}")
    expected = names["schema"].default
    if data.get("schema", expected) != expected:
        raise UserError(f"{where}: schema '{data['schema']}' is not '{expected}' (written by another scotd version?)")
    return cls(**data)


def to_dict(record: Any) -> dict[str, Any]:
    return dataclasses.asdict(record)


class JsonlStore:
    """Append-only JSONL file keyed by ``key(record_dict)``; resumable after any crash."""

    def __init__(self, path: str | Path, key: Callable[[dict[str, Any]], Hashable]):
        self.path = Path(path)
        self.key = key
        self.keys: set[Hashable] = set()
        self.repaired = False
        self._handle = None
        self._scan()

    def _scan(self) -> None:
        if not self.path.exists():
            return
        with self.path.open("rb") as handle:
            data = handle.read()
        good_end = 0
        for line_no, raw in enumerate(data.splitlines(keepends=True), start=1):
            complete = raw.endswith(b"\n")
            try:
                record = json.loads(raw)
            except json.JSONDecodeError:
                record = None
            if record is None or not complete:
                if good_end + len(raw) == len(data):  # only the last line may be torn
                    self._truncate(good_end, line_no)
                    return
                raise UserError(f"{self.path}:{line_no}: not valid JSON in the middle of the file; "
                                "fix or delete that line, then rerun")
            self.keys.add(self.key(record))
            good_end += len(raw)

    def _truncate(self, size: int, line_no: int) -> None:
        print(f"[scotd] {self.path}:{line_no}: torn last line from an interrupted run; removed it",
              file=sys.stderr)
        with self.path.open("r+b") as handle:
            handle.truncate(size)
        self.repaired = True

    def __contains__(self, key: Hashable) -> bool:
        return key in self.keys

    def __len__(self) -> int:
        return len(self.keys)

    def append(self, records: Iterable[dict[str, Any]]) -> int:
        """Write records whose key is new; flush and fsync; return how many were written."""
        if self._handle is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._handle = self.path.open("a", encoding="utf-8")
        written = 0
        for record in records:
            key = self.key(record)
            if key in self.keys:
                continue
            self._handle.write(json.dumps(record, ensure_ascii=False) + "\n")
            self.keys.add(key)
            written += 1
        self._handle.flush()
        os.fsync(self._handle.fileno())
        return written

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None

    def __enter__(self) -> "JsonlStore":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def read_jsonl(path: str | Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield (line number, object) and fail with file:line on a bad line."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"file '{path}' not found")
    with path.open(encoding="utf-8") as handle:
        for line_no, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                yield line_no, json.loads(line)
            except json.JSONDecodeError as exc:
                raise UserError(f"{path}:{line_no}: not valid JSON ({exc.msg}); fix or delete that line") from None


def read_records(path: str | Path, cls: type[R]) -> list[R]:
    return [from_dict(cls, obj, f"{path}:{line_no}") for line_no, obj in read_jsonl(path)]
