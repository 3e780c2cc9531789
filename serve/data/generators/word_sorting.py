"""New ``word_sorting`` questions in BBH's form:
"Sort the following words alphabetically: List: harbor she'll sheaf gecko".

The words come from ``words.txt`` beside this module (about 3,800 English words written for
scotd: common nouns, verbs and adjectives, lower-cased names and places, contractions such as
"she'll" and "o'clock", and a few with "&" or "." such as "r&b" and "p.m"). It holds families
that share long prefixes and words that begin others ("car", "card", "cardboard"), the cases
where the sort has to look past the first letters.

- ``words``: the list length, N or LO-HI drawn uniformly (BBH: 2 to 20).
- ``related``: the chance that a list holds a run of two to four words sharing a prefix of two
  to four letters (drawn uniformly, the words rarely share more than a first letter).
- ``wording``: ``"bbh"``, BBH's instruction; ``"varied"`` draws one of several instructions.

The answer is the words in alphabetical order (Python's order, as BBH's targets: "&", "'" and
"." come before any letter, and a word comes before the longer words it begins), joined by
single spaces (``answer_type`` "text").
"""

from __future__ import annotations

import random
from collections import defaultdict
from functools import lru_cache
from pathlib import Path
from typing import Any

from serve.data.generators.base import Drawn, Generator, parse_range

WORDS_FILE = Path(__file__).with_name("words.txt")
PREFIX_LENGTHS = (2, 3, 4)
RUN_LENGTH = (2, 4)
INSTRUCTIONS = {
    "bbh": ("Sort the following words alphabetically:",),
    "varied": ("Sort the following words alphabetically:", "Put the following words in alphabetical order:",
               "Arrange these words alphabetically:", "Alphabetize the following words:",
               "Sort these words into alphabetical order:", "List the following words in alphabetical order:"),
}


@lru_cache(maxsize=1)
def vocabulary() -> tuple[str, ...]:
    lines = (line.strip() for line in WORDS_FILE.read_text(encoding="utf-8").splitlines())
    return tuple(sorted({line for line in lines if line and not line.startswith("#")}))


@lru_cache(maxsize=1)
def prefix_families() -> tuple[tuple[str, ...], ...]:
    """Every group of at least two vocabulary words that share a prefix of a length in PREFIX_LENGTHS."""
    groups: dict[str, list[str]] = defaultdict(list)
    for word in vocabulary():
        for length in PREFIX_LENGTHS:
            if len(word) >= length:
                groups[word[:length]].append(word)
    return tuple(tuple(words) for words in groups.values() if len(words) >= 2)


def pick_words(rng: random.Random, count: int, related: float) -> list[str]:
    words = vocabulary()
    if count > len(words):
        raise ValueError(f"word_sorting has {len(words)} words; a list of {count} is too long")
    chosen: list[str] = []
    if count >= 2 and rng.random() < related:
        family = rng.choice(prefix_families())
        chosen = rng.sample(family, min(rng.randint(*RUN_LENGTH), len(family), count))
    taken = set(chosen)
    while len(chosen) < count:
        word = rng.choice(words)
        if word not in taken:
            taken.add(word)
            chosen.append(word)
    rng.shuffle(chosen)
    return chosen


def draw(rng: random.Random, params: dict[str, Any]) -> Drawn:
    wording = params["wording"]
    if wording not in INSTRUCTIONS:
        raise ValueError(f"word_sorting has no wording {wording!r}; use one of: {', '.join(INSTRUCTIONS)}")
    related = float(params["related"])
    if not 0.0 <= related <= 1.0:
        raise ValueError(f"word_sorting related is a chance from 0 to 1, not {related}")
    words = pick_words(rng, rng.randint(*parse_range(params["words"])), related)
    question = f"{rng.choice(INSTRUCTIONS[wording])} List: {' '.join(words)}"
    return Drawn(question, " ".join(sorted(words)), None, "text", {"words": len(words)})


GENERATOR = Generator(
    family="word_sorting",
    draw=draw,
    parameters={"words": "2-20", "related": 0.25, "wording": "bbh"},
    sizes={
        "default": {},
        "two_words": {"words": 2},
        "five_words": {"words": 5},
        "ten_words": {"words": 10},
        "twenty_words": {"words": 20},
        "thirty_words": {"words": 30},
    },
    default_size="default",
    wordings=tuple(INSTRUCTIONS),
    describe="sort a list of words alphabetically (words: N or LO-HI; answer: the sorted words)",
)
