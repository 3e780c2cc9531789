"""Web-of-lies questions in BBH's form: a chain of people, each saying whether the one before lies.

"Question: Ann tells the truth. Bo says Ann lies. ... Does Eve tell the truth?" -> "yes"/"no".
The first person's verdict and every statement ("tells the truth" or "lies") are drawn at random,
so both answers are equally likely, as in BBH (128 no, 122 yes). The answer is computed along the
chain while the question is built: a speaker tells the truth exactly when their statement about the
previous person matches that person's verdict.

BBH asks about five people drawn from one pool of 50 first names (``NAMES``); the larger sizes
(seven, nine, eleven people) lengthen the chain for transfer tests (``?people=N`` for any N from 2
to the pool's size).
"""

from __future__ import annotations

import random
from typing import Any

from serve.data.generators.base import Drawn, Generator, size_name

NAMES = ("Alejandro", "Alexis", "Amberly", "Andree", "Antwan", "Audrie", "Bernita", "Christie", "Conception",
         "Crista", "Dallas", "Delbert", "Delfina", "Elanor", "Fidel", "Fletcher", "Gwenn", "Helene", "Inga",
         "Jamey", "Jaymie", "Jerry", "Jim", "Ka", "Kandi", "Kristian", "Leda", "Lorine", "Maybelle", "Michael",
         "Michaela", "Millicent", "Millie", "Osvaldo", "Phoebe", "Rashida", "Raymond", "Ryan", "Sal", "Shalonda",
         "Shaunda", "Shenna", "Sherrie", "Sima", "Tamika", "Teressa", "Vernell", "Vina", "Willian", "Yoland")


def _verdict(truthful: bool) -> str:
    return "tells the truth" if truthful else "lies"


def draw(rng: random.Random, params: dict[str, Any]) -> Drawn:
    count = int(params["people"])
    if not 2 <= count <= len(NAMES):
        raise ValueError(f"web_of_lies needs 2 to {len(NAMES)} people, not {count}")
    people = rng.sample(NAMES, count)
    truthful = rng.random() < 0.5
    sentences = [f"{people[0]} {_verdict(truthful)}."]
    pattern = [truthful]
    for previous, speaker in zip(people, people[1:]):
        claim = rng.random() < 0.5
        sentences.append(f"{speaker} says {previous} {_verdict(claim)}.")
        truthful = claim == truthful  # the speaker is honest exactly when the claim matches
        pattern.append(claim)
    sentences.append(f"Does {people[-1]} tell the truth?")
    question = "Question: " + " ".join(sentences)
    return Drawn(question, "yes" if truthful else "no", None, "yes_no",
                 {"people": count, "statements": ["truth" if p else "lies" for p in pattern]})


GENERATOR = Generator(
    family="web_of_lies",
    draw=draw,
    parameters={"people": 5, "wording": "bbh"},
    sizes={"default": {"people": 5}, **{size_name(n, "people"): {"people": n} for n in (7, 9, 11)}},
    default_size="default",
    wordings=("bbh",),
    describe="a chain of people each saying whether the previous one lies; does the last tell the truth? (yes/no)",
)
