"""Pull a canonical answer out of model text, one parser per answer type.

Canonical forms (the ``answer`` of an Example): multiple choice ``"(b)"``,
yes/no ``"yes"``/``"no"``, numbers as their shortest decimal string (``"12"``,
``"0.5"``), free text lower-cased and stripped of trailing punctuation.
Every parser returns ``None`` when it finds nothing it trusts; none raises.
"""

from __future__ import annotations

import re
from typing import Callable, Optional, Sequence

LETTERS = "abcdefghijklmnopqrstuvwxyz"

# Phrases that introduce the final answer, strongest first; the last match in the text wins.
_ANSWER_CUES = [
    r"so the answer is",
    r"the answer is",
    r"the correct answer is",
    r"the final answer is",
    r"answer\s*:",
    r"therefore,?",
    r"thus,?",
]
_NUMBER_WORDS = {w: i for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
    "sixteen seventeen eighteen nineteen twenty".split())}


def answer_span(text: str) -> Optional[str]:
    """The text after the last answer cue (``So the answer is …``), or None."""
    for cue in _ANSWER_CUES:  # prefer the strongest cue present anywhere
        matches = list(re.finditer(cue + r"\s*(.+?)(?:\n|$)", text, re.IGNORECASE))
        if matches:
            return matches[-1].group(1).strip()
    return None


def letter(index: int) -> str:
    return f"({LETTERS[index]})"


def canonical_number(value: str) -> Optional[str]:
    text = value.strip().lower().replace(",", "")
    if text in _NUMBER_WORDS:
        return str(_NUMBER_WORDS[text])
    try:
        number = float(text)
    except ValueError:
        return None
    return str(int(number)) if number.is_integer() else repr(number)


def _clean(text: str) -> str:
    return re.sub(r"\s+", " ", text.strip().strip(".").strip()).lower()


def parse_multiple_choice(text: str, choices: Sequence[str]) -> Optional[str]:
    span = answer_span(text)
    for candidate in ([span] if span else []) + [text.strip().splitlines()[-1] if text.strip() else ""]:
        if not candidate:
            continue
        found = re.search(r"\(([a-z])\)", candidate, re.IGNORECASE) or \
            re.match(r"^\s*([a-z])(?:[).:]|\s|$)", candidate, re.IGNORECASE)
        if found:
            index = LETTERS.index(found.group(1).lower())
            if index < len(choices):
                return letter(index)
        cleaned = _clean(candidate)
        # Longest choice first, so "not sure" is not matched by "sure".
        for index, choice in sorted(enumerate(choices), key=lambda item: -len(item[1])):
            if choice and _clean(choice) and _clean(choice) in cleaned:
                return letter(index)
    return None


def parse_yes_no(text: str, choices: Sequence[str] | None = None) -> Optional[str]:
    span = answer_span(text) or (text.strip().splitlines()[-1] if text.strip() else "")
    words = re.findall(r"[a-z]+", span.lower())
    for word in words:
        if word in ("yes", "true", "correct"):
            return "yes"
        if word in ("no", "false", "incorrect", "not"):
            return "no"
    return None


def parse_number(text: str, choices: Sequence[str] | None = None) -> Optional[str]:
    span = answer_span(text)
    for candidate in ([span] if span else []):
        found = re.search(r"-?\d[\d,]*(?:\.\d+)?", candidate)
        if found:
            return canonical_number(found.group(0))
        for word in re.findall(r"[a-z]+", candidate.lower()):
            if word in _NUMBER_WORDS:
                return str(_NUMBER_WORDS[word])
    return None


def parse_text(text: str, choices: Sequence[str] | None = None) -> Optional[str]:
    span = answer_span(text)
    return _clean(span) if span else None


PARSERS: dict[str, Callable[..., Optional[str]]] = {
    "multiple_choice": parse_multiple_choice,
    "yes_no": parse_yes_no,
    "number": parse_number,
    "text": parse_text,
}


def infer_answer_type(choices: Sequence[str] | None, gold: str | None = None) -> str:
    if choices:
        return "multiple_choice"
    if gold is not None and gold.lower() in ("yes", "no"):
        return "yes_no"
    if gold is not None and canonical_number(gold) is not None:
        return "number"
    return "text"


def parse_answer(text: str, choices: Sequence[str] | None = None, answer_type: str | None = None) -> Optional[str]:
    """Canonical answer from ``text`` or None; ``answer_type`` defaults from ``choices``."""
    kind = answer_type or infer_answer_type(choices)
    try:
        if kind == "multiple_choice":
            return parse_multiple_choice(text, choices or [])
        return PARSERS[kind](text, choices)
    except (ValueError, IndexError):
        return None


def answers_match(prediction: Optional[str], gold: str) -> bool:
    if prediction is None:
        return False
    if prediction == gold:
        return True
    number_p, number_g = canonical_number(prediction), canonical_number(gold)
    if number_p is not None and number_p == number_g:
        return True
    return _clean(prediction) == _clean(gold)
