"""Solve BIG-bench ``arithmetic`` and narrate the working as a rationale.

Questions read "What is 5431 times 3918?" with ``plus``, ``minus``, ``times`` or ``divided by``
(or the symbols ``+``, ``-``, ``×``, ``/``: the generator's "symbols" wording) between two
non-negative integers (BIG-bench's subtasks ``{1..5}_digit_{addition,subtraction,
multiplication,division}``, now generated: ``gen:arithmetic/3_digit_addition``); every division
is exact. Generated questions have no choices and the answer is the number itself; with choices
(numbers among distractor words, as BIG-bench had) the answer is the option naming it.

The solver computes the result with school algorithms and writes one sentence per step:

- addition / subtraction, column by column from the ones, the shorter number padded with 0s:
  "Tens: 3 + 1 + 1 = 5, write 5; so far 59." A carry ("carry 1") or borrow ("borrow 1") is
  named in its column and added ("+ 1") or taken ("- 1") in the next one. A negative difference
  is worked as larger minus smaller and negated in the closing sentence.
- multiplication: one partial product per digit of the shorter number, shifted
  ("Tens digit 2: 697 × 2 = 1394, shifted 13940."), each after the first followed by
  the running sum ("Sum: 3485 + 13940 = 17425.").
- division, long division: the first step takes the shortest leading part of the dividend the
  divisor fits in, each later one brings down a digit; a step says how many times the divisor
  goes in ("86 goes into 516 6 times: 6 × 86 = 516, 516 - 516 = 0") and the quotient so far.
  (No "516 / 86 = 6" there: with a remainder that equation would be false.)
- two one-digit operands, or a division done in one step, take one sentence: "7 + 5 = 12."

Every step sentence starts with a fixed marker ("Tens:", "Sum:", "Bring down 6:"), states its
results after "=" and ends with the running result: ``grade`` reads exactly that. The opening,
marker spellings, connecting words and closing are drawn from ``rng`` once per rationale, so a
rationale keeps one voice and the step structure stays regular.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from typing import Optional, Sequence

from serve.core.answers import canonical_number, letter
from serve.core.records import Example

from distill.solvers.base import (Family, StepGrade, UnsolvableQuestion, match_choice, norm, option_line, quoted_option,
                                  steps_in_order)

_QUESTION = re.compile(r"^What is (\d+) (plus|minus|times|divided by|[-+×/]) (\d+)\?$")
_SYMBOLS = {"plus": "+", "minus": "-", "times": "×", "divided by": "/"}
_WORDS = {symbol: word for word, symbol in _SYMBOLS.items()}
PLACES = ("Ones", "Tens", "Hundreds", "Thousands", "Ten-thousands", "Hundred-thousands", "Millions")


@dataclass(frozen=True)
class Problem:
    a: int
    op: str  # "plus", "minus", "times" or "divided by"
    b: int

    @property
    def result(self) -> int:
        return {"plus": self.a + self.b, "minus": self.a - self.b, "times": self.a * self.b,
                "divided by": self.a // max(self.b, 1)}[self.op]

    def factors(self) -> tuple[int, int]:
        """(number multiplied, number whose digits give the partial products): the shorter one is split."""
        return (self.a, self.b) if len(str(self.b)) <= len(str(self.a)) else (self.b, self.a)

    def expression(self) -> str:
        return f"{self.a} {_SYMBOLS[self.op]} {self.b}"


def parse_problem(question: str) -> Problem:
    match = _QUESTION.match(question.strip())
    if not match:
        raise UnsolvableQuestion(f"not an arithmetic question: {question[:60]!r}")
    problem = Problem(int(match[1]), _WORDS.get(match[2], match[2]), int(match[3]))
    if max(problem.a, problem.b) >= 10 ** (len(PLACES) - 1):
        raise UnsolvableQuestion("more digits than the place names cover")
    if problem.op == "divided by" and (problem.b == 0 or problem.a % problem.b):
        raise UnsolvableQuestion(f"{problem.a} divided by {problem.b} is not a whole number")
    return problem


@dataclass(frozen=True)
class Step:
    marker: str  # regex for how the step's sentence starts, whichever wording was drawn
    claims: tuple[str, ...]  # the numbers the sentence states after "=", in order
    state: str  # the running result the sentence ends with
    text: str


def _digits(number: int, width: int) -> list[int]:
    """Digits from the ones up, padded with zeros to ``width``."""
    return [int(c) for c in str(number).zfill(width)[::-1]]


_TAILS = ("; so far {}", ", giving {}", "; now we have {}", "; result so far {}")


def _column_step(k: int, style: tuple[str, str], work: str, claims: tuple[str, ...], written: str) -> Step:
    place_format, tail = style
    marker = rf"(?<![\w-]){PLACES[k]}(?: column)?:"
    return Step(marker, claims, written, f"{place_format.format(PLACES[k])}: {work}{tail.format(written)}.")


def _column_style(rng: random.Random) -> tuple[str, str]:
    return rng.choice(("{}", "{} column")), rng.choice(_TAILS)


def add_columns(a: int, b: int, rng: random.Random) -> list[Step]:
    width, style = max(len(str(a)), len(str(b))), _column_style(rng)
    write = rng.choice(("write", "put down", "keep"))
    steps, written, carry = [], "", 0
    for k, (x, y) in enumerate(zip(_digits(a, width), _digits(b, width))):
        total, expression = x + y + carry, f"{x} + {y}" + (" + 1" if carry else "")
        carry, digit = divmod(total, 10)
        written = f"{digit}{written}"
        work = f"{expression} = {total}, {write} {digit}" + (", carry 1" if carry else "")
        steps.append(_column_step(k, style, work, (str(total),), written))
    if carry:
        written = f"1{written}"
        steps.append(_column_step(width, style, "the carry 1 goes in front", (), written))
    return steps


def subtract_columns(top: int, bottom: int, rng: random.Random) -> list[Step]:
    """Columns of ``top - bottom`` for ``top >= bottom``; the digits written keep their leading zeros."""
    width, style = len(str(top)), _column_style(rng)
    too_small = rng.choice(("is below 0", "is negative", "is too small"))
    steps, written, borrow = [], "", 0
    for k, (x, y) in enumerate(zip(_digits(top, width), _digits(bottom, width))):
        taken = " - 1" if borrow else ""
        digit, borrow = x - y - borrow, 0
        work = f"{x} - {y}{taken} = {digit}"
        if digit < 0:
            digit, borrow = digit + 10, 1
            work = f"{x} - {y}{taken} {too_small}, so borrow: {x + 10} - {y}{taken} = {digit}, borrow 1"
        written = f"{digit}{written}"
        steps.append(_column_step(k, style, work, (str(digit),), written))
    return steps


def multiply_by_digits(top: int, multiplier: int, rng: random.Random) -> list[Step]:
    shift = rng.choice((", shifted {p}", "; shifted: {p}", ", shifted left: {p}"))
    label = rng.choice(("Sum", "Total", "Running total"))
    steps, total = [], 0
    for k, digit in enumerate(_digits(multiplier, len(str(multiplier)))):
        product, shifted = top * digit, top * digit * 10 ** k
        text = f"{PLACES[k]} digit {digit}: {top} × {digit} = {product}"
        text += shift.format(p=shifted) if k and product else ""
        steps.append(Step(rf"(?<![\w-]){PLACES[k]} digit", (str(product),), str(shifted), text + "."))
        if k:
            new_total = total + shifted
            steps.append(Step(r"(?:Sum|Total|Running total):", (str(new_total),), str(new_total),
                              f"{label}: {total} + {shifted} = {new_total}."))
        total += shifted
    return steps


_DIVISION_WORK = ("{d} goes into {c} {q} times: {q} × {d} = {p}, {c} - {p} = {r}",
                  "{c} holds {d} {q} times, as {q} × {d} = {p}, and {c} - {p} = {r} is left",
                  "{d} fits {q} times into {c}; {q} × {d} = {p}; remainder {c} - {p} = {r}")
_QUOTIENT_TAILS = ("; quotient so far {}", ", so the quotient is now {}", "; quotient {}")


def long_division(dividend: int, divisor: int, rng: random.Random) -> list[Step]:
    digits = str(dividend)
    taken = next(i for i in range(1, len(digits) + 1) if int(digits[:i]) >= divisor or i == len(digits))
    first, work, tail = rng.choice(("Take", "Start with")), rng.choice(_DIVISION_WORK), rng.choice(_QUOTIENT_TAILS)
    steps, quotient, remainder = [], "", 0
    for i in range(taken, len(digits) + 1):
        if i == taken:
            current, lead, marker = int(digits[:i]), f"{first} {digits[:i]}", r"(?:Take|Start with) \d+:"
        else:
            current, lead, marker = remainder * 10 + int(digits[i - 1]), f"Bring down {digits[i - 1]}", r"Bring down \d+:"
        q = current // divisor
        remainder, quotient = current - q * divisor, str(int(quotient + str(q)))
        text = f"{lead}: " + work.format(c=current, d=divisor, q=q, p=q * divisor, r=remainder) + tail.format(quotient)
        steps.append(Step(marker, (str(q * divisor), str(remainder)), quotient, text + "."))
    return steps


def single_step(problem: Problem, rng: random.Random) -> Step:
    """The whole computation as one sentence, for one-digit operands and one-step divisions."""
    a, b, result = problem.a, problem.b, problem.result
    if problem.op == "divided by":
        shown = rng.choice(("Since {q} × {b} = {a}, {e} = {q}.", "As {q} × {b} = {a}, we get {e} = {q}.",
                            "{q} × {b} = {a}, so {e} = {q}.", "Because {q} × {b} = {a}, {e} = {q}.",
                            "{q} × {b} = {a}, which means {e} = {q}.", "Check: {q} × {b} = {a}, so {e} = {q}."))
        return Step(_exact(problem.expression()), (str(result),), str(result),
                    shown.format(q=result, b=b, a=a, e=problem.expression()))
    lead = rng.choice(("", "Compute ", "Work it out: ", "We have ", "Here ", "Directly, ", "Simply "))
    if problem.op == "minus" and a < b:
        head = f"{b} - {a}"
        sentence = rng.choice(("{h} = {n}, so {e} = {r}.", "{h} = {n}; negated, {e} = {r}.",
                               "Since {h} = {n}, {e} = {r}.")).format(h=head, n=b - a, e=problem.expression(), r=result)
        return Step(_exact(head), (str(b - a), str(result)), str(result), lead + sentence)
    return Step(_exact(problem.expression()), (str(result),), str(result),
                f"{lead}{problem.expression()} = {result}.")


def _exact(expression: str) -> str:
    return rf"(?<![\d-]){re.escape(expression)}(?!\d)"


def plan(problem: Problem, rng: random.Random) -> tuple[str, list[Step]]:
    """(kind of opening and closing, steps) of the rationale."""
    a, b = problem.a, problem.b
    if problem.op == "divided by":
        steps = long_division(a, b, rng)
        return ("divided by", steps) if len(steps) > 1 else ("single", [single_step(problem, rng)])
    if a < 10 and b < 10:
        return "single", [single_step(problem, rng)]
    if problem.op == "plus":
        return "plus", add_columns(a, b, rng)
    if problem.op == "minus":
        return ("minus" if a >= b else "negative"), subtract_columns(max(a, b), min(a, b), rng)
    return "times", multiply_by_digits(*problem.factors(), rng)


_OPENINGS = {
    "plus": ("Add {a} and {b} column by column from the ones.", "Line up {a} and {b} and add from the right.",
             "Column addition of {a} and {b}:", "We add {a} and {b} one column at a time.", ""),
    "minus": ("Subtract {b} from {a} column by column from the ones.", "Column subtraction of {b} from {a}:",
              "Line up {a} and {b} and subtract from the right, borrowing when needed.", "",
              "We take {b} away from {a} one column at a time."),
    "negative": ("{a} is less than {b}, so subtract {a} from {b} and negate.",
                 "The result is negative since {a} < {b}: find {b} minus {a}, then add a minus sign.",
                 "{a} is smaller than {b}, so work out {b} minus {a} and negate it.",
                 "Since {b} is bigger, subtract {a} from {b} by columns; the answer is minus that."),
    "times": ("Multiply {top} by each digit of {m} from the ones, then add the shifted products.",
              "Long multiplication: {top} times each digit of {m}, with a running sum.",
              "Split {m} into digits and multiply {top} by each.", "",
              "Multiply {top} by {m} one digit of {m} at a time.", "We go through the digits of {m}, times {top}."),
    "divided by": ("Long division of {a} by {b}.", "Divide {a} by {b} digit by digit.",
                   "We do long division: {a} divided by {b}.", ""),
    "single": ("", "One step is enough.", "This takes a single step.", "A basic fact.", "Just one calculation.",
               "No columns needed.", "Small numbers, so we can do it at once.", "A quick one."),
}
_CLOSINGS = {
    "plus": ("So {a} + {b} = {r}.", "The sum is {r}.", "So {a} plus {b} is {r}.", "Therefore the total is {r}."),
    "minus": ("So {a} - {b} = {r}.", "The difference is {r}.", "So {a} minus {b} is {r}.",
              "Therefore the result is {r}."),
    "negative": ("So {b} - {a} = {n}, and {a} - {b} = {r}.", "That is {n}; with the minus sign, {a} minus {b} is {r}.",
                 "So {b} - {a} = {n}, hence {a} - {b} = {r}.", "Negating {n} gives {a} - {b} = {r}."),
    "times": ("So {a} × {b} = {r}.", "The product is {r}.", "So {a} times {b} is {r}.",
              "Therefore the product is {r}.", "All together, {a} times {b} makes {r}.", "That gives a product of {r}."),
    "divided by": ("So {a} / {b} = {r}.", "The quotient is {r}.", "So {a} divided by {b} is {r}.",
                   "Nothing is left over, so the quotient is {r}."),
    "single": ("", "The result is {r}.", "So we get {r}.", "That makes {r}.", "Hence {r}.", "That gives {r}."),
}


def narrate(problem: Problem, rng: random.Random) -> str:
    kind, steps = plan(problem, rng)
    top, multiplier = problem.factors()
    fields = dict(a=problem.a, b=problem.b, r=problem.result, n=abs(problem.result), top=top, m=multiplier)
    opening = rng.choice(_OPENINGS[kind]).format(**fields)
    closing = rng.choice(_CLOSINGS[kind]).format(**fields)
    return " ".join(part for part in (opening, *(step.text for step in steps), closing) if part)


def solve(example: Example, rng: random.Random) -> tuple[str, str]:
    problem = parse_problem(example.question)
    rationale = narrate(problem, rng)
    if not example.choices:
        return rationale, str(problem.result)
    index = match_choice(str(problem.result), example.choices)
    return f"{rationale} {option_line(example.choices, index, rng)}", letter(index)


# --------------------------------------------------------------------------- grading a student's rationale

_CLAIM = re.compile(r"= (-?\d+)")
_NUMBER = re.compile(r"(?<!\d)-?\d+")
_SENTENCE_END = re.compile(r"[.!?](?:\s|$)")


def _stated_steps(rationale: str, markers: set[str]) -> list[tuple[int, str]]:
    """(position, text up to its sentence's end) of every place a step marker occurs, in text order."""
    starts = sorted({found.start() for marker in markers for found in re.finditer(marker, rationale)})
    stated = []
    for start in starts:
        end = _SENTENCE_END.search(rationale, start)
        stated.append((start, rationale[start:end.end() if end else len(rationale)]))
    return stated


def grade(question: str, choices: Optional[Sequence[str]], rationale: str) -> StepGrade:
    """Check a rationale in this family's style step by step against the solver's own steps.

    A stated step (a sentence from a step marker on) is right for reference step k when it starts
    with step k's marker, states exactly its "=" results in order and ends with its running
    result. Stated steps are matched to reference steps in order (``steps_in_order``), so a
    missing or wrong step costs that step only, even where markers repeat ("Bring down 9:"
    twice). The final claim is the last number outside the option quote."""
    problem = parse_problem(question)
    _, steps = plan(problem, random.Random(0))
    compiled = {step.marker: re.compile(step.marker) for step in steps}

    def states(stated: tuple[int, str], step: Step) -> bool:
        position, sentence = stated
        numbers = _NUMBER.findall(sentence)
        return (compiled[step.marker].match(rationale, position) is not None and bool(numbers)
                and tuple(_CLAIM.findall(sentence)) == step.claims and numbers[-1] == step.state)

    right = steps_in_order(steps, _stated_steps(rationale, set(compiled)), states)
    sentences = re.split(r"(?<=[.!?])\s+", rationale)
    numbers = _NUMBER.findall(" ".join(s for s in sentences if quoted_option(s) is None))
    final_item = norm(canonical_number(numbers[-1]) or numbers[-1]) if numbers else None
    claimed = final_item
    if choices:
        claimed = quoted_option(rationale)
        if claimed is None and final_item is not None:
            claimed = next((letter(i) for i, c in enumerate(choices) if norm(c) == final_item), None)
    return StepGrade(len(steps), right, final_item, final_item == str(problem.result), claimed)


FAMILY = Family("arithmetic", solve, grade)
