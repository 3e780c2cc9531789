"""Pull a canonical answer out of model text, one parser per answer type.

Canonical forms (the ``answer`` of an Example): multiple choice ``"(b)"``,
yes/no ``"yes"``/``"no"``, true/false ``"true"``/``"false"`` (a truth value, as BBH's boolean_expressions), numbers as their shortest decimal string (``"12"``,
``"0.5"``), free text lower-cased and stripped of trailing punctuation.
Every parser returns ``None`` when it finds nothing it trusts; none raises.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Callable, Optional, Sequence

LETTERS = "abcdefghijklmnopqrstuvwxyz"

# Phrases that introduce the final answer, strongest first; the last match in the text wins.
_ANSWER_CUES = [
    r"so the answer is",
    r"the answer is",
    r"the correct answer is",
    r"the final answer is",
    r"answer\s*:",
    r"answer is",
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


_TENS_WORDS = {w: 10 * i for i, w in enumerate("twenty thirty forty fifty sixty seventy eighty ninety".split(), 2)}


def _number_words(text: str) -> Optional[int]:
    """'seven' -> 7, 'twenty-one' -> 21, 'forty' -> 40; None for anything else."""
    if text in _NUMBER_WORDS:
        return _NUMBER_WORDS[text]
    tens, _, unit = text.replace(" ", "-").partition("-")
    if tens in _TENS_WORDS and (not unit or (unit in _NUMBER_WORDS and 0 < _NUMBER_WORDS[unit] < 10)):
        return _TENS_WORDS[tens] + (_NUMBER_WORDS[unit] if unit else 0)
    return None


def canonical_number(value: str) -> Optional[str]:
    text = value.strip().lower().replace(",", "")
    if (number := _number_words(text)) is not None:
        return str(number)
    try:
        number = float(text)
    except ValueError:
        return None
    return str(int(number)) if number.is_integer() else repr(number)


def _clean(text: str) -> str:
    text = re.sub(r"[*_`]+", "", text)  # markdown emphasis: **(b)**, `12`
    return re.sub(r"\s+", " ", text.strip().strip(".").strip()).lower()


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else ""


def _letter_in(candidate: str, n_choices: int) -> Optional[int]:
    """A choice letter written as "(b)", "b)", "b.", "option B", "B" alone; never the article in "a red ball"."""
    text = re.sub(r"[*_`]+", "", candidate).strip()
    patterns = [r"\(([a-z])\)",
                r"^(?:option|choice|answer)?\s*:?\s*([a-z])\s*[).:,]?\s*$",
                r"^(?:option|choice)\s+([a-z])\b",
                r"^([a-z])\)",
                r"^([A-Z])[.:]\s"]
    for pattern in patterns:
        flags = 0 if pattern.startswith("^([A-Z])") else re.IGNORECASE
        found = re.search(pattern, text, flags)
        if found:
            index = LETTERS.index(found.group(1).lower())
            if index < n_choices:
                return index
    return None


def parse_multiple_choice(text: str, choices: Sequence[str]) -> Optional[str]:
    span = answer_span(text)
    for candidate in ([span] if span else []) + [_last_line(text)]:
        if not candidate:
            continue
        index = _letter_in(candidate, len(choices))
        if index is not None:
            return letter(index)
        cleaned = _clean(candidate)
        # Longest choice first, so "not sure" is not matched by "sure".
        for index, choice in sorted(enumerate(choices), key=lambda item: -len(item[1])):
            if choice and _clean(choice) and _clean(choice) in cleaned:
                return letter(index)
    return None


_YES = {"yes", "true", "correct", "right"}
_NO = {"no", "false", "incorrect", "wrong", "not", "cannot", "can't", "never"}


def parse_yes_no(text: str, choices: Sequence[str] | None = None) -> Optional[str]:
    span = answer_span(text) or _last_line(text)
    words = re.findall(r"[a-z']+", span.lower())
    for word in words[:6]:  # the verdict comes first: "No, because ...", "yes."
        if word in _YES:
            return "yes"
        if word in _NO:
            return "no"
    return None


_TRUE, _FALSE = {"true", "yes"}, {"false", "no"}


def parse_true_false(text: str, choices: Sequence[str] | None = None) -> Optional[str]:
    span = answer_span(text) or _last_line(text)
    for word in re.findall(r"[a-z]+", span.lower())[:6]:
        if word in _TRUE:
            return "true"
        if word in _FALSE:
            return "false"
    return None


def _number_in(candidate: str) -> Optional[str]:
    found = re.search(r"-?\d[\d,]*(?:\.\d+)?", candidate.replace("$", ""))
    if found:
        return canonical_number(found.group(0).rstrip(","))
    words = re.findall(r"[a-z]+", candidate.lower())
    for index, word in enumerate(words):
        following = words[index + 1] if index + 1 < len(words) else ""
        for phrase in (f"{word}-{following}", word):  # "twenty-one" as 21, "seven-layer" as 7
            if (number := _number_words(phrase)) is not None:
                return str(number)
    return None


def parse_number(text: str, choices: Sequence[str] | None = None) -> Optional[str]:
    span = answer_span(text)
    if span:
        return _number_in(span)
    numbers = re.findall(r"-?\d[\d,]*(?:\.\d+)?", _last_line(text))  # no cue: the last number stated
    return canonical_number(numbers[-1].rstrip(",")) if numbers else None


def parse_text(text: str, choices: Sequence[str] | None = None) -> Optional[str]:
    span = answer_span(text)
    return _clean(span) if span else None


PARSERS: dict[str, Callable[..., Optional[str]]] = {
    "multiple_choice": parse_multiple_choice,
    "yes_no": parse_yes_no,
    "true_false": parse_true_false,
    "number": parse_number,
    "text": parse_text,
}


def infer_answer_type(choices: Sequence[str] | None, gold: str | None = None) -> str:
    if choices:
        return "multiple_choice"
    if gold is not None and gold.lower() in ("yes", "no"):
        return "yes_no"
    if gold is not None and gold.lower() in ("true", "false"):
        return "true_false"
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


def last_named_option(text: str, choices: Sequence[str]) -> Optional[str]:
    """The option a text names last, by its letter "(c)" or its words, e.g. the claim of a final step."""
    best: tuple[int, Optional[str]] = (-1, None)
    for match in re.finditer(r"\(([a-z])\)", text.lower()):
        index = LETTERS.index(match.group(1))
        if index < len(choices) and match.end() > best[0]:
            best = (match.end(), letter(index))
    lowered = text.lower()
    for index, choice in enumerate(choices):
        words = choice.strip().lower()
        position = lowered.rfind(words) if words else -1
        # a longer choice containing this one ("red ball" in "dark red ball") is not this one
        if position >= 0 and position + len(words) > best[0] and not any(
                words != other.lower() and words in other.lower() and lowered.rfind(other.lower()) >= 0
                for other in choices):
            best = (position + len(words), letter(index))
    return best[1]


def grade(text: str, example) -> tuple[Optional[str], bool]:
    """The answer a generated ``text`` gives to ``example`` (an ``Example``: its choices, answer
    type and gold answer decide how the text is read) and whether it is right."""
    kind = example.answer_type or infer_answer_type(example.choices, example.answer)
    prediction = parse_answer(text, example.choices, kind)
    return prediction, answers_match(prediction, example.answer)


def majority_vote(answers: Sequence[Optional[str]]) -> tuple[Optional[str], dict[str, int]]:
    """Most common parsed answer (first seen wins a tie); unparsed samples do not vote."""
    votes = Counter(a for a in answers if a is not None)
    if not votes:
        return None, {}
    best = max(votes.values())
    winner = next(a for a in answers if a is not None and votes[a] == best)
    return winner, dict(votes)
