"""Solve ``dyck_languages`` (BBH and generated questions) and narrate the solution as a rationale.

Task format: an instruction ("Complete the rest of the sequence, making sure that the parentheses
are closed properly. Input:"), then a prefix of a Dyck word over ( ) [ ] { } < >, written as
space-separated symbols ("< ( [ ] { }"); the answer is the sequence that closes every bracket
still open (") >"). BBH and the generator ask for it as text; an example that lists choices
(older multiple-choice data) is answered with the option letter.

Algorithm: a stack. An opener is pushed; a closer must match the top, which it pops
(anything else, or nothing left open at the end, is not a question this family reads).
The answer closes the remaining stack from the top.

Rationale format: an opening sentence, then one step per symbol, separated by "; ", each
starting with the symbol and restating the whole stack after it, bottom to top
("{ opens, stack { [ {", "] closes [, stack {"), then the open brackets top first and
their closers ("top first, the open ones are [ {, so we add ] }."), then, for multiple
choice, the option listing and the result with its letter (``option_line``). Each rationale
draws from ``rng`` its opening, one step style, and the two halves of the closing; steps keep
that one style so a small student sees a regular pattern. Separators are ";" and "," because
the student's tokenizer merges "(:" and "(." into one token, hiding the bracket.

Style ``pop_each`` closes one bracket a sentence instead of reversing the stack at once: the top
opener, its closer, and the stack left ("now close from the top: { takes }, leaving ( [; [ takes ],
leaving ( ..."), so each closer is read off the end of the stack just restated. The student trained on
the default dropped or doubled brackets in that one reversal (BBH, "< [ [" closed as "] >").

Grading: the reference steps are (symbol, bracket it closes, stack after it) for every
symbol plus the closing sequence. A student step is a ";"- or "."-separated chunk that
starts with a bracket; its first bracket is the symbol, the next one (for a closer) the
bracket it closes, the rest the stack. Steps count when they appear in order (longest
common subsequence), so one wrong or missing step costs exactly one.
"""

from __future__ import annotations

import operator
import random
import re
from dataclasses import dataclass
from typing import Optional, Sequence

from distill.solvers.base import (Family, StepGrade, UnsolvableQuestion, norm, option_line, quoted_option,
                                  steps_in_order)
from serve.core.answers import letter
from serve.core.records import Example

CLOSER_OF = {"(": ")", "[": "]", "{": "}", "<": ">"}
OPENER_OF = {closer: opener for opener, closer in CLOSER_OF.items()}
OPENERS, CLOSERS = set(CLOSER_OF), set(OPENER_OF)
# A bracket standing alone as a symbol: not the "(" of an option letter "(c)".
_BRACKET = re.compile(r"(?<![^\s:,;])[()\[\]{}<>](?![^\s:,;.])")


@dataclass(frozen=True)
class Step:
    symbol: str
    closed: Optional[str]  # the opener a closing symbol pops; None when the symbol opens
    stack: tuple[str, ...]  # brackets open after the symbol, bottom to top


def parse_symbols(question: str) -> list[str]:
    """'{ [ ] (' -> ['{', '[', ']', '(']; the symbols follow the task's instruction, after its
    last 'Input:' (BBH) or else its last colon ('... this sequence still needs: ( [')."""
    text = question.split("Output:", 1)[0]
    text = text.rsplit("Input:", 1)[-1] if "Input:" in text else text.rsplit(":", 1)[-1]
    symbols = list(re.sub(r"\s+", "", text))
    if not symbols or any(s not in OPENERS | CLOSERS for s in symbols):
        raise UnsolvableQuestion("the question is not a sequence of brackets")
    return symbols


def trace(symbols: Sequence[str]) -> list[Step]:
    """The stack after every symbol; raises when a closer does not match the open top."""
    stack: list[str] = []
    steps = []
    for position, symbol in enumerate(symbols, start=1):
        if symbol in OPENERS:
            stack.append(symbol)
            steps.append(Step(symbol, None, tuple(stack)))
        elif stack and stack[-1] == OPENER_OF[symbol]:
            steps.append(Step(symbol, stack.pop(), tuple(stack)))
        else:
            raise UnsolvableQuestion(f"symbol {position} ({symbol}) does not close the open top")
    if not stack:
        raise UnsolvableQuestion("every bracket is already closed")
    return steps


def closing_sequence(stack: Sequence[str]) -> list[str]:
    return [CLOSER_OF[opener] for opener in reversed(stack)]


# --------------------------------------------------------------------------- writing the rationale

@dataclass(frozen=True)
class StepStyle:
    opens: str
    closes: str
    empty: str  # how the style says that nothing is open


_OPENINGS = (
    "Keep a stack of the open brackets.",
    "Track the open brackets on a stack, bottom to top.",
    "Push each opener and pop it at its closer.",
    "Read the symbols in order, keeping a stack of open ones.",
    "Use a stack: an opener goes on top, a closer removes the top.",
    "Go symbol by symbol and track what is still open.",
)
_STEP_STYLES = (
    StepStyle("{symbol} opens, stack {stack}", "{symbol} closes {closed}, stack {stack}", "empty"),
    StepStyle("{symbol} gives {stack}", "{symbol} pops {closed}, giving {stack}", "nothing"),
    StepStyle("{symbol} pushed, now {stack}", "{symbol} pops {closed}, now {stack}", "empty"),
    StepStyle("{symbol} added, so {stack}", "{symbol} matches {closed}, leaving {stack}", "nothing"),
)
_STILL_OPEN = (
    "top first, the open ones are {open}",
    "still open, top first: {open}",
    "left open, from the top: {open}",
    "reading the stack from the top: {open}",
)
_CLOSE_THEM = (", so we add {closing}.", "; closing them gives {closing}.", ", closed by {closing}.",
               ", so the rest is {closing}.")


def _step_lines(steps: Sequence[Step], style: StepStyle) -> list[str]:
    return [(style.opens if step.closed is None else style.closes).format(
        symbol=step.symbol, closed=step.closed, stack=" ".join(step.stack) or style.empty) for step in steps]


def narrate(steps: Sequence[Step], rng: random.Random) -> str:
    style = rng.choice(_STEP_STYLES)
    lines = _step_lines(steps, style)
    left_open = steps[-1].stack
    closing = (rng.choice(_STILL_OPEN).format(open=" ".join(reversed(left_open)))
               + rng.choice(_CLOSE_THEM).format(closing=" ".join(closing_sequence(left_open))))
    return f"{rng.choice(_OPENINGS)} {'; '.join(lines)}; {closing}"


_CLOSE_EACH = (("now close from the top: ", "{top} takes {closer}, leaving {stack}", "; so the rest is {closing}."),
               ("closing from the top: ", "{top} needs {closer}, which leaves {stack}", "; together that is {closing}."))


def narrate_pop_each(steps: Sequence[Step], rng: random.Random) -> str:
    """The default's steps, then one closing sentence per open bracket, top first."""
    style = rng.choice(_STEP_STYLES)
    lines = _step_lines(steps, style)
    lead, each, tail = rng.choice(_CLOSE_EACH)
    stack, pops = list(steps[-1].stack), []
    while stack:
        top = stack.pop()
        pops.append(each.format(top=top, closer=CLOSER_OF[top], stack=" ".join(stack) or style.empty))
    closing = lead + "; ".join(pops) + tail.format(closing=" ".join(closing_sequence(steps[-1].stack)))
    return f"{rng.choice(_OPENINGS)} {'; '.join(lines)}; {closing}"


def _same_sequence(choice: str, closing: Sequence[str]) -> bool:
    return "".join(choice.split()) == "".join(closing)


def solve(example: Example, rng: random.Random, narrator=narrate) -> tuple[str, str]:
    steps = trace(parse_symbols(example.question))
    rationale = narrator(steps, rng)
    closing = closing_sequence(steps[-1].stack)
    if not example.choices:
        return rationale, " ".join(closing)
    matches = [i for i, choice in enumerate(example.choices) if _same_sequence(choice, closing)]
    if len(matches) != 1:
        raise UnsolvableQuestion(f"{len(matches)} answer choices read {' '.join(closing)}")
    return f"{rationale} {option_line(example.choices, matches[0], rng)}", letter(matches[0])


# --------------------------------------------------------------------------- grading a student's rationale

_ANSWER_CUE = re.compile(r"the answer is", re.IGNORECASE)
_CHUNK_END = re.compile(r"[.;\n]")


def read_step(chunk: str) -> Optional[Step]:
    """A chunk that starts with a bracket, read as (symbol, bracket it closes, stack after)."""
    chunk = chunk.strip()
    brackets = _BRACKET.findall(chunk)
    if not _BRACKET.match(chunk):
        return None
    symbol = brackets[0]
    if symbol in OPENERS:
        return Step(symbol, None, tuple(brackets[1:]))
    return Step(symbol, brackets[1] if len(brackets) > 1 else "", tuple(brackets[2:]))


def _last_closing_run(chunk: str) -> list[str]:
    runs: list[list[str]] = [[]]
    for bracket in _BRACKET.findall(chunk):
        if bracket in CLOSERS:
            runs[-1].append(bracket)
        elif runs[-1]:
            runs.append([])
    return next((run for run in reversed(runs) if run), [])


def _names_an_option(chunk: str) -> bool:
    """An option claim, not a step or the rationale's own closing: a chunk of the option listing
    ("] } is (b)"), the result restated with its letter ("Ours is ] }, and ] } is (b)"), or an
    older "option (b)" quote. Its brackets are the options', so they must not read as steps."""
    return "option" in chunk.lower() or quoted_option(chunk) is not None


def grade(question: str, choices: Optional[Sequence[str]], rationale: str) -> StepGrade:
    reference = trace(parse_symbols(question))
    answer = closing_sequence(reference[-1].stack)
    cue = _ANSWER_CUE.search(rationale)
    chunks = _CHUNK_END.split(rationale[:cue.start()] if cue else rationale)
    read = [None if _names_an_option(chunk) else read_step(chunk) for chunk in chunks]
    claimed = [step for step in read if step is not None]
    steps_right = steps_in_order(reference, claimed, operator.eq)

    after_steps = max((i for i, step in enumerate(read) if step is not None), default=-1) + 1
    runs = [_last_closing_run(chunk) for chunk in chunks[after_steps:] if not _names_an_option(chunk)]
    final = next((run for run in reversed(runs) if run), None)
    steps_right += final == answer
    final_item = norm(" ".join(final)) if final else None

    claimed_answer = final_item
    if choices:
        claimed_answer = quoted_option(rationale)
        if claimed_answer is None and final:
            matches = [i for i, choice in enumerate(choices) if _same_sequence(choice, final)]
            claimed_answer = letter(matches[0]) if len(matches) == 1 else None
    return StepGrade(len(reference) + 1, steps_right, final_item, final == answer, claimed_answer)


def solve_pop_each(example: Example, rng: random.Random) -> tuple[str, str]:
    return solve(example, rng, narrate_pop_each)


FAMILY = Family("dyck_languages", solve, grade, styles={"pop_each": solve_pop_each})
