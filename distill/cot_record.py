"""The CoT record: one teacher sample, one JSON line (written by ``scotd sample``, read by select, train, reports).

``(example_id, sample_index)`` is its key: a rerun of ``scotd sample`` skips keys already
in the file, so a killed run resumes with nothing lost and nothing duplicated.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Optional

COT_SCHEMA = "scotd.cot/1"


@dataclass
class CoTRecord:
    """One teacher sample; ``(example_id, sample_index)`` is its key."""
    example_id: str
    sample_index: int
    teacher: str
    prompt_sha: str
    rationale: str
    prediction: Optional[str]
    gold: str
    correct: bool
    logprob: Optional[float] = None
    tokens: int = 0
    finish_reason: Optional[str] = None
    created: float = field(default_factory=time.time)
    schema: str = COT_SCHEMA

    @property
    def key(self) -> tuple[str, int]:
        return (self.example_id, self.sample_index)


def cot_key(record: dict[str, Any]) -> tuple[str, int]:
    return (record["example_id"], int(record["sample_index"]))
