"""Solve BBH ``web_of_lies`` and narrate the chain of speakers as a rationale.

A question ("Question: Ann tells the truth. Bo says Ann lies. Cy says Bo tells the truth. Does Cy
tell the truth?") fixes one person's truthfulness, then each further person says whether an
earlier one tells the truth or lies; the question asks about one person. The answer is yes/no.

A speaker tells the truth exactly when what they say about the other person matches that person's
verdict. The solver reads the statements in order and requires each one to be about a person
whose verdict is already known (BBH's questions are chains: each speaker talks about the one just
before).

Rationale: one sentence per person, in the question's order. The first restates the given verdict;
each later one quotes the statement, restates the verdict of the person it is about (the previous
sentence's conclusion in a chain), says whether the claim holds and ends with the speaker's verdict.
A last sentence turns the asked person's verdict into yes or no. For example:
"Ann tells the truth, as given. Bo says Ann lies; Ann tells the truth, so the claim is false and Bo
lies. Cy says Bo tells the truth, but Bo lies: a false claim, so Cy lies. We are asked about Cy, and
Cy lies, so no."
Each sentence's template is drawn from ``rng``, so samples differ in wording only.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from typing import Optional, Sequence

from distill.solvers.base import Family, StepGrade, UnsolvableQuestion, steps_in_order
from serve.core.records import Example

_NAME = r"[A-Z][\w'-]*"
_VERDICT = r"tells the truth|lies"
_GIVEN = re.compile(rf"({_NAME}) ({_VERDICT})\.")
_SAYS = re.compile(rf"({_NAME}) says ({_NAME}) ({_VERDICT})\.")
_ASKED = re.compile(rf"Does ({_NAME}) tell the truth\?")
_PREFIX = re.compile(r"^\s*Question:\s*")


@dataclass(frozen=True)
class Person:
    """One sentence of the question and what follows from it."""

    name: str
    truthful: bool
    about: Optional[str] = None  # whom the person's statement is about (None for the given verdict)
    claim: Optional[bool] = None  # what the statement says about them: True for "tells the truth"
    about_truthful: Optional[bool] = None  # that person's verdict

    @property
    def claim_holds(self) -> bool:
        return self.claim == self.about_truthful


@dataclass
class Web:
    people: list[Person]
    asked: str

    @property
    def answer(self) -> bool:
        return next(p.truthful for p in self.people if p.name == self.asked)


def verdict(truthful: bool) -> str:
    return "tells the truth" if truthful else "lies"


def parse_web(question: str) -> Web:
    text = _PREFIX.sub("", question.strip())
    sentences = re.findall(r"[^.?]+[.?]", text)
    if "".join(sentences).replace(" ", "") != text.replace(" ", "") or len(sentences) < 2:
        raise UnsolvableQuestion("the question is not a list of full-stopped statements and a question")
    asked = _ASKED.fullmatch(sentences[-1].strip())
    if not asked:
        raise UnsolvableQuestion("the question does not end with 'Does X tell the truth?'")
    known: dict[str, bool] = {}
    people = []
    for sentence in (s.strip() for s in sentences[:-1]):
        if said := _SAYS.fullmatch(sentence):
            speaker, subject, claim = said.group(1), said.group(2), said.group(3) == "tells the truth"
            if subject not in known:
                raise UnsolvableQuestion(f"{speaker} talks about {subject}, whose verdict is not known yet")
            person = Person(speaker, claim == known[subject], subject, claim, known[subject])
        elif given := _GIVEN.fullmatch(sentence):
            person = Person(given.group(1), given.group(2) == "tells the truth")
        else:
            raise UnsolvableQuestion(f"cannot read the statement '{sentence}'")
        if person.name in known:
            raise UnsolvableQuestion(f"{person.name} is described twice")
        known[person.name] = person.truthful
        people.append(person)
    if asked.group(1) not in known:
        raise UnsolvableQuestion(f"the question asks about {asked.group(1)}, who says nothing")
    return Web(people, asked.group(1))


# --------------------------------------------------------------------------- narration

_GIVEN_LINES = ("{name} {verdict}, as given.", "We are told that {name} {verdict}.",
                "The first statement: {name} {verdict}.", "Given: {name} {verdict}.")
_SAYS_LINES = ("{speaker} says {subject} {claim}; {subject} {actual}, so the claim is {holds} and {speaker} {verdict}.",
               "{speaker} says {subject} {claim}, and {subject} {actual}: a {holds} claim, so {speaker} {verdict}.",
               "{subject} {actual} and {speaker} says {subject} {claim}, which is {holds}, so {speaker} {verdict}.",
               "{speaker} says {subject} {claim}: since {subject} {actual}, that is {holds}, so {speaker} {verdict}.")
_ANSWER_LINES = ("We are asked about {name}, and {name} {verdict}, so {word}.",
                 "The question asks about {name}: {name} {verdict}, so {word}.",
                 "So {name} {verdict}, which means {word}.",
                 "{name} {verdict}, so {word}.")


def narrate(web: Web, rng: random.Random) -> str:
    lines = []
    for person in web.people:
        if person.about is None:
            lines.append(rng.choice(_GIVEN_LINES).format(name=person.name, verdict=verdict(person.truthful)))
            continue
        lines.append(rng.choice(_SAYS_LINES).format(
            speaker=person.name, subject=person.about, claim=verdict(person.claim),
            actual=verdict(person.about_truthful), holds="true" if person.claim_holds else "false",
            verdict=verdict(person.truthful)))
    lines.append(rng.choice(_ANSWER_LINES).format(name=web.asked, verdict=verdict(web.answer),
                                                  word="yes" if web.answer else "no"))
    return " ".join(lines)


def solve(example: Example, rng: random.Random) -> tuple[str, str]:
    web = parse_web(example.question)
    return narrate(web, rng), "yes" if web.answer else "no"


# --------------------------------------------------------------------------- grading a student's rationale

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z])")
_QUOTE = re.compile(rf"({_NAME}) says ({_NAME}) ({_VERDICT})\b")
_BARE_CLAIM = re.compile(rf"(?<!says )\b({_NAME}) ({_VERDICT})\b")
_HOLDS = re.compile(r"\b(true|false)\b")
_YES_NO = re.compile(r"\b(yes|no)\b", re.IGNORECASE)


def _split(rationale: str) -> list[str]:
    return [s for s in _SENTENCE_END.split(rationale.strip()) if s]


def _states_person(sentence: str, person: Person) -> bool:
    """The sentence ends with the person's verdict; a statement's sentence also quotes it, restates the
    verdict of the one it is about and, where it says so, whether the claim holds."""
    bare = [(m.group(1), m.group(2) == "tells the truth") for m in _BARE_CLAIM.finditer(_QUOTE.sub("", sentence))]
    if not bare or bare[-1] != (person.name, person.truthful):
        return False
    if person.about is None:
        return not _QUOTE.search(sentence)
    quotes = [(m.group(1), m.group(2), m.group(3) == "tells the truth") for m in _QUOTE.finditer(sentence)]
    if quotes != [(person.name, person.about, person.claim)]:
        return False
    if (person.about, person.about_truthful) not in bare[:-1]:
        return False
    if any(name == person.about and value != person.about_truthful for name, value in bare):
        return False
    holds = _HOLDS.findall(sentence)
    return all((word == "true") == person.claim_holds for word in holds)


def grade(question: str, choices: Optional[Sequence[str]], rationale: str) -> StepGrade:
    """Steps: each person's verdict in order (see ``_states_person``), then the yes/no verdict (the last
    sentence saying yes or no; where it names the asked person's verdict, that must be right too)."""
    web = parse_web(question)
    sentences = _split(rationale)
    right = steps_in_order(web.people, sentences, lambda sentence, person: _states_person(sentence, person))
    said = [s for s in sentences if _YES_NO.search(s)]
    final_item = _YES_NO.findall(said[-1])[-1].lower() if said else None
    truth = "yes" if web.answer else "no"
    if said and final_item == truth:
        named = [(m.group(1), m.group(2) == "tells the truth") for m in _BARE_CLAIM.finditer(said[-1])
                 if m.group(1) == web.asked]
        right += all(value == web.answer for _, value in named)
    return StepGrade(len(web.people) + 1, right, final_item, final_item == truth, final_item)


FAMILY = Family("web_of_lies", solve, grade)
