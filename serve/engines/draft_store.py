"""A student's draft store: what its training rationales say comes next, for speculative decoding.

A distilled student writes rationales in the shapes it was trained on ("Swap 2: Bob and Alice trade.
Before it Bob had ..."). The store maps each context of ``MIN_CONTEXT``-``MAX_CONTEXT`` tokens seen in
those rationales to the token that followed it, where one token followed it more often than all others together,
and marks the other contexts as ambiguous. Drafting walks the longest known context: an ambiguous one
(usually a name, an item or a number that differs between questions) ends the draft, and the engine's
verification pass decides what was right. It is the retrieval idea of REST (He et al., 2023) with the
student's own training set as the datastore; the tokens kept are always the model's greedy choices.

Written by ``scotd export`` beside the ONNX model (``draft_store.json``), read by the ONNX engine.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from pathlib import Path
from typing import Iterable, Optional, Sequence

FILE = "draft_store.json"
FORMAT = "scotd.draft-store/1"
MIN_CONTEXT, MAX_CONTEXT = 3, 6
AMBIGUOUS = -1


class DraftStore:
    def __init__(self, table: dict[tuple[int, ...], int], min_context: int = MIN_CONTEXT,
                 max_context: int = MAX_CONTEXT, sequences: int = 0):
        self.table, self.min_context, self.max_context, self.sequences = table, min_context, max_context, sequences

    @classmethod
    def build(cls, sequences: Iterable[Sequence[int]], min_context: int = MIN_CONTEXT,
              max_context: int = MAX_CONTEXT) -> "DraftStore":
        followers: dict[tuple[int, ...], Counter] = defaultdict(Counter)
        count = 0
        for ids in sequences:
            count += 1
            for end in range(min_context, len(ids)):
                for size in range(min_context, min(max_context, end) + 1):
                    followers[tuple(ids[end - size:end])][ids[end]] += 1
        table = {}
        for context, counts in followers.items():
            token, seen = counts.most_common(1)[0]
            table[context] = token if 2 * seen > sum(counts.values()) else AMBIGUOUS
        return cls(table, min_context, max_context, count)

    def next_token(self, ids: Sequence[int]) -> Optional[int]:
        """The token the longest known context ending ``ids`` predicts; None when it is ambiguous or unknown."""
        for size in range(min(self.max_context, len(ids)), self.min_context - 1, -1):
            token = self.table.get(tuple(ids[len(ids) - size:]))
            if token is not None:
                return None if token == AMBIGUOUS else token
        return None

    def draft(self, ids: Sequence[int], limit: int) -> list[int]:
        """Up to ``limit`` tokens, each predicted from the context the previous ones extend."""
        window, drafted = list(ids[-self.max_context:]), []
        while len(drafted) < limit:
            token = self.next_token(window)
            if token is None:
                break
            drafted.append(token)
            window = window[1:] + [token] if len(window) >= self.max_context else window + [token]
        return drafted

    def __len__(self) -> int:
        return len(self.table)

    def save(self, path: Path) -> None:
        entries = [list(context) + [token] for context, token in self.table.items()]
        path.write_text(json.dumps({"format": FORMAT, "min_context": self.min_context, "max_context": self.max_context,
                                    "sequences": self.sequences, "entries": entries}, separators=(",", ":")))

    @classmethod
    def load(cls, path: Path) -> "DraftStore":
        data = json.loads(path.read_text())
        if data.get("format") != FORMAT:
            raise ValueError(f"{path} is not a {FORMAT} file")
        table = {tuple(entry[:-1]): entry[-1] for entry in data["entries"]}
        return cls(table, data["min_context"], data["max_context"], data.get("sequences", 0))


def lookup_draft(ids: Sequence[int], limit: int, ngram: int = 2) -> list[int]:
    """Prompt lookup: the tokens that followed the latest earlier occurrence of the last ``ngram`` tokens."""
    if len(ids) <= ngram:
        return []
    key = list(ids[-ngram:])
    for start in range(len(ids) - ngram - 1, -1, -1):
        if list(ids[start:start + ngram]) == key:
            return list(ids[start + ngram:start + ngram + limit])
    return []
