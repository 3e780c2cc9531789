"""Solve ``object_counting`` (BBH's file and generated questions) and narrate the count as a rationale.

A question lists possessions and asks for the number in one category:
"I have a goat, a plum, two peaches, and a grape. How many fruits do I have?" (generated
questions may also say "I own ... do I own?" or "I bought ... did I buy?", with or without a
comma before "and"). Items come as "a"/"an"/"two".."twenty" + a noun, singular or plural ("a
head of broccoli", "two lettuce heads", "three mice"). Some items are not of the asked
category and must be skipped. The categories are musical instruments, fruits, vegetables,
animals and objects (household objects); the lexicon (category -> nouns) is the generator's
``NOUNS`` in ``serve.data.generators.object_counting``, its one owner: it was read off the task data
(every item appears mostly under its own category's questions) and checked against every target of
BIG-bench's 1000 questions and BBH's 250.

Algorithm: parse each item into (quantity, noun), look the noun up in the lexicon, and keep
a running total of the items of the asked category. Anything unreadable raises
``UnsolvableQuestion``.

Rationale: one opening sentence, then one step per item in the question's order, restating
the item, its count if it belongs ("2 fruits") or that it does not ("not a fruit"), and the
running total, as an addition when it grows ("total 1 + 2 = 3") or "total stays 3" when it
does not; then one closing sentence with the final count. Opening, step template (fixed per
rationale so the steps read regularly), the word for the total and the closing come from
``rng``. The ``category_named`` style names each item's own category before the decision ("Four stoves:
objects, not musical instruments, total stays 3."; "A flute: a musical instrument, add 1, total 0 + 1 = 1.").
Graded steps: one per item (its running total) plus the final count.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from typing import Optional, Sequence

from distill.solvers.base import Family, StepGrade, UnsolvableQuestion, norm
from serve.data.generators.object_counting import NOUNS

_IRREGULAR_PLURALS = {"mouse": "mice", "fish": "fish", "potato": "potatoes", "head of broccoli": "heads of broccoli",
                      "stalk of celery": "stalks of celery"}


def plural(noun: str) -> str:
    if noun in _IRREGULAR_PLURALS:
        return _IRREGULAR_PLURALS[noun]
    if re.search(r"[^aeiou]y$", noun):
        return noun[:-1] + "ies"
    return noun + ("es" if re.search(r"(?:ch|sh|s|x)$", noun) else "s")


_CATEGORY_OF = {noun: category for category, nouns in NOUNS.items() for noun in nouns}
_SINGULAR_OF = {form: noun for noun in _CATEGORY_OF for form in (noun, plural(noun))}
_CATEGORY_PLURALS = {plural(category): category for category in NOUNS}
_NUMBER_WORDS = ("zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
                 "sixteen seventeen eighteen nineteen twenty").split()
_QUANTITIES = {"a": 1, "an": 1, **{word: value for value, word in enumerate(_NUMBER_WORDS)}}

_QUESTION = re.compile(r"I (?:have|own|bought) (.+)\. How many (.+) (?:do I have|do I own|did I buy)\?")
_NOUN_ALTERNATION = "|".join(sorted(map(re.escape, _SINGULAR_OF), key=len, reverse=True))
_ITEM = re.compile(rf"(\d+|{'|'.join(_QUANTITIES)}) ({_NOUN_ALTERNATION})\b", re.IGNORECASE)
_NUMBER = re.compile(rf"\b(\d+|{'|'.join(_NUMBER_WORDS)})\b", re.IGNORECASE)


@dataclass
class Item:
    phrase: str  # as the question writes it: "two nectarines"
    quantity: int
    noun: str  # singular lexicon form: "nectarine"


@dataclass
class Inventory:
    items: list[Item]
    category: str  # singular: "fruit"

    def contribution(self, item: Item) -> int:
        return item.quantity if _CATEGORY_OF[item.noun] == self.category else 0

    def running_totals(self) -> list[int]:
        totals, total = [], 0
        for item in self.items:
            total += self.contribution(item)
            totals.append(total)
        return totals


def parse_item(phrase: str) -> Item:
    match = _ITEM.fullmatch(phrase.strip())
    if not match:
        raise UnsolvableQuestion(f"cannot read the item '{phrase.strip()}'")
    quantity, form = match.group(1).lower(), match.group(2).lower()
    return Item(phrase.strip(), int(quantity) if quantity.isdigit() else _QUANTITIES[quantity], _SINGULAR_OF[form])


def parse_inventory(question: str) -> Inventory:
    match = _QUESTION.fullmatch(question.strip())
    if not match:
        raise UnsolvableQuestion("not of the form 'I have ... How many ... do I have?'")
    listing, category = match.groups()
    if category not in _CATEGORY_PLURALS:
        raise UnsolvableQuestion(f"unknown category '{category}'")
    items = [parse_item(part) for part in re.split(r",\s*(?:and\s+)?|\s+and\s+", listing) if part.strip()]
    return Inventory(items, _CATEGORY_PLURALS[category])


# --------------------------------------------------------------------------- writing the rationale

_OPENINGS = (
    "I count only the {cats}, item by item.",
    "Go through the items and count the {cats}.",
    "Let's count the {cats} one item at a time.",
    "Only {cats} count here. Start at 0.",
    "I keep a running count of the {cats}.",
    "Count the {cats}, skipping anything else.",
    "We need the number of {cats}. Check each item in order.",
    "Start with 0 {cats} and go through the list.",
    "Check each item: is it one of the {cats}?",
    "Count how many {cats} there are, in order.",
)
# (step when the item counts, step when it does not); {be} is "is"/"are", {not_cat} "a fruit"/"fruits"
_STEP_TEMPLATES = (
    ("{Item}: {n} {unit}, {tw} {prev} + {n} = {t}.", "{Item}: not {not_cat}, {tw} stays {t}."),
    ("{Item} {be} {n} {unit}, so {tw} {prev} + {n} = {t}.", "{Item} {be} not {not_cat}, so {tw} stays {t}."),
    ("{Item}: count {n}, {tw} {prev} + {n} = {t}.", "{Item}: skip, not {not_cat}, {tw} stays {t}."),
    ("{Item} {add} {n} {unit}: {tw} {prev} + {n} = {t}.", "{Item} {be} not {not_cat}: {tw} stays {t}."),
)
# category_named: the item's own category ({own}: "an object", "objects") comes first, then the decision
_NAMED_STEP_TEMPLATES = ("{Item}: {own}, add {n}, {tw} {prev} + {n} = {t}.",
                         "{Item}: {own}, not {cats}, {tw} stays {t}.")
_TOTAL_WORDS = ("total", "running total", "count")
_CLOSINGS = (
    "So I have {t} {unit}.",
    "That makes {t} {unit} in all.",
    "In total there are {t} {unit}.",
    "The final count is {t}.",
    "Altogether, {t} {unit}.",
    "So the number of {cats} is {t}.",
    "I end with {t} {unit}.",
    "The count of {cats} comes to {t}.",
)


def _with_article(noun: str) -> str:
    return ("an " if noun[0] in "aeiou" else "a ") + noun


def _unit(category: str, count: int) -> str:
    return category if count == 1 else plural(category)


def narrate(inventory: Inventory, rng: random.Random, category_named: bool = False) -> tuple[str, int]:
    """(rationale, number of items of the asked category) with wording drawn from ``rng``; ``category_named``
    writes each item's own category before the step decides whether it counts (``solve_category_named``)."""
    category, cats = inventory.category, plural(inventory.category)
    counted_template, skipped_template = _NAMED_STEP_TEMPLATES if category_named else rng.choice(_STEP_TEMPLATES)
    total_word = rng.choice(_TOTAL_WORDS)
    lines = [rng.choice(_OPENINGS).format(cats=cats)]
    previous = 0
    for item, total in zip(inventory.items, inventory.running_totals()):
        n = inventory.contribution(item)
        template = counted_template if n else skipped_template
        single = item.quantity == 1
        own = _CATEGORY_OF[item.noun]
        lines.append(template.format(
            Item=item.phrase[0].upper() + item.phrase[1:], n=n, unit=_unit(category, n), tw=total_word,
            prev=previous, t=total, be="is" if single else "are", add="adds" if single else "add",
            not_cat=_with_article(category) if single else cats, cats=cats,
            own=_with_article(own) if single else plural(own)))
        previous = total
    lines.append(rng.choice(_CLOSINGS).format(t=previous, unit=_unit(category, previous), cats=cats))
    return " ".join(lines), previous


def solve(example, rng: random.Random) -> tuple[str, str]:
    rationale, count = narrate(parse_inventory(example.question), rng)
    return rationale, str(count)


def solve_category_named(example, rng: random.Random) -> tuple[str, str]:
    """Each item's own category written out before the step counts or skips it. The pilot student of the
    default format never skipped: it wrote "Four stoves: 4 musical instruments" for every item, and 46 of its
    47 wrong BBH answers were the questions holding an item of another category."""
    rationale, count = narrate(parse_inventory(example.question), rng, category_named=True)
    return rationale, str(count)


# --------------------------------------------------------------------------- grading a student's rationale

_SKIP_MARK = re.compile(r"\b(?:not|skip)\b", re.IGNORECASE)
_ADDITION = re.compile(r"(\d+) \+ (\d+) =")


def _number(word: str) -> int:
    return int(word) if word.isdigit() else _NUMBER_WORDS.index(word.lower())


@dataclass
class StepClaim:
    item: Item  # the item the sentence opens with
    count: Optional[int]  # how many of the category it says the item adds (0 for "not ...")
    total: Optional[int]  # the running total it states last
    addition: Optional[tuple[int, int]]  # "prev + n" when it shows the sum


def _read_step(sentence: str) -> Optional[StepClaim]:
    """The claim of a step sentence ("Two nectarines: 2 fruits, total 1 + 2 = 3."), or None for any other."""
    match = _ITEM.match(sentence)
    if not match:
        return None
    item = parse_item(match.group(0))
    rest = sentence[match.end():]
    numbers = [_number(word) for word in _NUMBER.findall(rest)]
    addition = _ADDITION.search(rest)
    count = 0 if _SKIP_MARK.search(rest) else (numbers[0] if numbers else None)
    return StepClaim(item, count, numbers[-1] if numbers else None,
                     (int(addition.group(1)), int(addition.group(2))) if addition else None)


def grade(question: str, choices: Optional[Sequence[str]], rationale: str) -> StepGrade:
    """Check a rationale in this family's style item by item against the true running totals.

    Item step k is right when a step sentence for the k-th item (searched in order after the
    previous one found, so a missing step costs only itself) names its quantity, claims the
    right count for it (0 when it is not of the category), and states the right running total
    (and, if it shows "a + b =", the previous total and the count). The final step is right
    when a sentence after the last step sentence states the right final count."""
    inventory = parse_inventory(question)
    sentences = [s.strip() for s in re.split(r"(?<=[.!?;])\s+|\n+", rationale) if s.strip()]
    claims = [_read_step(sentence) for sentence in sentences]
    right, cursor, previous = 0, 0, 0
    for item, total in zip(inventory.items, inventory.running_totals()):
        n = inventory.contribution(item)
        found = next((k for k in range(cursor, len(claims)) if claims[k] and claims[k].item.noun == item.noun), None)
        if found is not None:
            claim, cursor = claims[found], found + 1
            right += (claim.item.quantity == item.quantity and claim.count == n and claim.total == total
                      and claim.addition in (None, (previous, n)))
        previous = total
    last_step = max((k for k, claim in enumerate(claims) if claim), default=-1)
    closing_numbers = [_number(word) for sentence in sentences[last_step + 1:] for word in _NUMBER.findall(sentence)]
    final = str(closing_numbers[-1]) if closing_numbers else None
    final_right = final == str(previous)
    return StepGrade(steps=len(inventory.items) + 1, steps_right=right + final_right,
                     final_item=norm(final) if final is not None else None, final_right=final_right,
                     claimed_answer=final)


FAMILY = Family("object_counting", solve, grade, styles={"category_named": solve_category_named})
