"""New ``object_counting`` questions in BBH's form:
"I have a flute, two lamps, a drum, and a violin. How many musical instruments do I have?"

A list of possessions, each "a"/"an" or a count word ("two".."five" in BBH) and a noun, then a
question about one category: musical instruments, fruits, vegetables, animals or objects. The
nouns are BBH's own (the program teacher's lexicon knows exactly these); the lists are new.

- ``items``: the list length, N or LO-HI drawn uniformly (BBH: 2 to 10, rarely 11 or 12).
- ``distractors``: entries of other categories mixed in. ``"bbh"`` follows BBH: none in four
  questions of five, otherwise one to three, all of one other category; or N or LO-HI. At least
  two entries are of the asked category, and a list longer than that category's nouns gets the
  rest as distractors (no noun is listed twice).
- ``max_quantity``: the largest count word (BBH: five); a bare article is the most common.
- ``wording``: ``"bbh"`` ("I have ..., and ... How many X do I have?"); ``"varied"`` also says
  "I own" or "I bought", and drops the comma before "and" at random.

The answer is the number of the asked category's things (``answer_type`` "number").
"""

from __future__ import annotations

import random
from typing import Any

from serve.data.generators.base import NUMBER_WORDS, Drawn, Generator, parse_range

NOUNS = {  # category (singular) -> BBH's nouns of that category; the program teacher's lexicon too
    "musical instrument": ("accordion", "clarinet", "drum", "flute", "piano", "trombone", "trumpet", "violin"),
    "fruit": ("apple", "banana", "blackberry", "grape", "nectarine", "orange", "peach", "plum", "raspberry",
              "strawberry"),
    "vegetable": ("cabbage", "carrot", "cauliflower", "garlic", "head of broccoli", "lettuce head", "onion",
                  "potato", "stalk of celery", "yam"),
    "animal": ("bear", "cat", "chicken", "cow", "dog", "donkey", "duck", "fish", "frog", "goat", "mouse", "pig",
               "rabbit", "snail", "snake"),
    "object": ("bed", "car", "chair", "couch", "fridge", "lamp", "microwave", "oven", "stove", "table", "toaster"),
}
PLURALS = {"mouse": "mice", "fish": "fish", "potato": "potatoes", "head of broccoli": "heads of broccoli",
           "stalk of celery": "stalks of celery", "blackberry": "blackberries", "raspberry": "raspberries",
           "strawberry": "strawberries", "peach": "peaches", "couch": "couches"}
# how often BBH writes a bare article, two, three, four, five (of 1,581 entries); larger counts get weight 1
QUANTITY_WEIGHTS = (79, 11, 6, 3, 1)
BBH_DISTRACTOR_SHARE = 0.18  # questions with distractors (46 of 250)
BBH_DISTRACTORS = (1, 3)
FRAMES = {  # wording -> (opening verb, question verb) pairs
    "bbh": (("have", "do I have"),),
    "varied": (("have", "do I have"), ("own", "do I own"), ("bought", "did I buy")),
}


def plural(noun: str) -> str:
    return PLURALS.get(noun, noun + "s")


def entry(noun: str, quantity: int) -> str:
    """('apple', 1) -> 'an apple'; ('mouse', 3) -> 'three mice'."""
    if quantity == 1:
        return ("an " if noun[0] in "aeiou" else "a ") + noun
    return f"{NUMBER_WORDS[quantity]} {plural(noun)}"


def distractor_count(rng: random.Random, spec: Any, items: int, room: int) -> int:
    """How many of ``items`` entries come from other categories, when the asked one has ``room`` nouns."""
    if spec == "bbh":
        wanted = rng.randint(*BBH_DISTRACTORS) if rng.random() < BBH_DISTRACTOR_SHARE else 0
    else:
        wanted = rng.randint(*parse_range(spec, lowest=0))
    return min(max(wanted, items - room), items - min(items, 2))  # BBH lists two or more of the category


def distractor_nouns(rng: random.Random, category: str, count: int) -> list[str]:
    """``count`` nouns of other categories: of one category, as in BBH, unless it has too few."""
    others = [c for c in NOUNS if c != category]
    rng.shuffle(others)
    nouns: list[str] = []
    for other in others:
        nouns += rng.sample(NOUNS[other], min(count - len(nouns), len(NOUNS[other])))
        if len(nouns) == count:
            return nouns
    raise ValueError(f"object_counting cannot list {count} things that are not {plural(category)}")


def listing(entries: list[str], serial_comma: bool) -> str:
    if len(entries) == 1:
        return entries[0]
    return ", ".join(entries[:-1]) + ("," if serial_comma else "") + " and " + entries[-1]


def draw(rng: random.Random, params: dict[str, Any]) -> Drawn:
    wording = params["wording"]
    if wording not in FRAMES:
        raise ValueError(f"object_counting has no wording {wording!r}; use one of: {', '.join(FRAMES)}")
    max_quantity = int(params["max_quantity"])
    if not 1 <= max_quantity < len(NUMBER_WORDS):
        raise ValueError(f"object_counting max_quantity must be 1 to {len(NUMBER_WORDS) - 1}, not {max_quantity}")
    items = rng.randint(*parse_range(params["items"]))
    category = rng.choice(list(NOUNS))
    distractors = distractor_count(rng, params["distractors"], items, len(NOUNS[category]))
    counted = rng.sample(NOUNS[category], items - distractors)
    nouns = counted + distractor_nouns(rng, category, distractors)
    rng.shuffle(nouns)
    weights = (QUANTITY_WEIGHTS + (1,) * max_quantity)[:max_quantity]
    quantities = rng.choices(range(1, max_quantity + 1), weights, k=items)
    have, ask = rng.choice(FRAMES[wording])
    serial_comma = wording == "bbh" or rng.random() < 0.5
    listed = listing([entry(noun, quantity) for noun, quantity in zip(nouns, quantities)], serial_comma)
    question = f"I {have} {listed}. How many {plural(category)} {ask}?"
    answer = sum(quantity for noun, quantity in zip(nouns, quantities) if noun in counted)
    return Drawn(question, str(answer), None, "number",
                 {"category": category, "items": items, "distractors": distractors})


GENERATOR = Generator(
    family="object_counting",
    draw=draw,
    parameters={"items": "2-10", "distractors": "bbh", "max_quantity": 5, "wording": "bbh"},
    sizes={
        "default": {},
        "short": {"items": "2-5"},
        "long": {"items": "11-20"},
    },
    default_size="default",
    wordings=tuple(FRAMES),
    describe="I have a list of things; how many of one category (items, distractors: N or LO-HI; answer: a number)",
)
