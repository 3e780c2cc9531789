"""The student format: how a question becomes a prompt and a CoT becomes a training target.

Training, evaluation, export gates and serving all import this module, so the
model sees at inference exactly the text it was trained on.

- prompt: the question with lettered choices, as a single user turn rendered
  through the tokenizer's chat template when it has one, else ``Q: …\\nA:``;
- target (``cot``): ``<rationale> So the answer is <answer>.``;
- target (``label_only``): the answer alone.

A trained student's folder (and its exports) carries ``STUDENT_INFO``: how it was trained (mode,
base model, the question source it learned from), read by eval and by the chat's examples.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Optional, Sequence

from serve.core.answers import LETTERS, answer_span, parse_answer

ANSWER_PREFIX = "So the answer is"
MODES = ("cot", "label_only")
STUDENT_INFO = "scotd_student.json"


def student_info(model_dir: Path) -> dict[str, Any]:
    """What ``STUDENT_INFO`` in a student or export folder says ({} where there is none)."""
    path = Path(model_dir) / STUDENT_INFO
    return json.loads(path.read_text()) if path.is_file() else {}


def format_question(question: str, choices: Sequence[str] | None = None) -> str:
    text = question.strip()
    if choices:
        options = "\n".join(f"({LETTERS[i]}) {choice}" for i, choice in enumerate(choices))
        text = f"{text}\nAnswer choices:\n{options}"
    return text


def student_messages(question: str, choices: Sequence[str] | None = None) -> list[dict[str, str]]:
    return [{"role": "user", "content": format_question(question, choices)}]


def plain_prompt(user_text: str) -> str:
    """The prompt for a model without a chat template."""
    return f"Q: {user_text.strip()}\nA:"


def render_prompt(question: str, choices: Sequence[str] | None = None, tokenizer: Any = None,
                  chat_template: bool | None = None) -> str:
    """The exact prompt string; ``tokenizer`` is a transformers tokenizer (or None for plain)."""
    use_template = chat_template if chat_template is not None else bool(getattr(tokenizer, "chat_template", None))
    if use_template and tokenizer is not None:
        return tokenizer.apply_chat_template(student_messages(question, choices), tokenize=False,
                                             add_generation_prompt=True)
    return plain_prompt(format_question(question, choices))


def target_text(answer: str, rationale: str | None = None, mode: str = "cot") -> str:
    """What the student learns to produce after the prompt."""
    if mode == "label_only":
        return f"{answer}."
    if mode != "cot":
        raise ValueError(f"unknown student mode '{mode}'; expected one of {MODES}")
    if not rationale or not rationale.strip():
        raise ValueError("a cot target needs a non-empty rationale")
    return f"{strip_final_answer(rationale)} {ANSWER_PREFIX} {answer}."


def join_prompt_target(prompt: str, target: str) -> str:
    """Prompt + target with exactly one separator where the prompt does not end in whitespace."""
    return prompt + target if prompt[-1:].isspace() else f"{prompt} {target}"


def strip_final_answer(rationale: str) -> str:
    """Drop a trailing 'So the answer is …' the teacher may already have written."""
    text = rationale.strip()
    cut = re.search(r"\s*(?:so )?the answer is[^\n]*$", text, re.IGNORECASE)
    return text[: cut.start()].rstrip() if cut else text


_CUE = re.compile(r"(?:so )?the answer is", re.IGNORECASE)
_CUE_LONGEST = len("so the answer is")


def _last_cue(text: str) -> Optional[re.Match]:
    """The last "(So) the answer is" in ``text``: where the reasoning ends and the answer begins."""
    match = None
    for match in _CUE.finditer(text):
        pass
    return match


def split_reasoning(text: str) -> tuple[str, Optional[str]]:
    """Split generated text into (reasoning, final-answer phrase or None) for display."""
    match = _last_cue(text)
    if match is None:
        return text.strip(), None
    return text[: match.start()].strip(), (answer_span(text) or text[match.end():]).strip().rstrip(".") or None


def split_answer_sentence(text: str) -> tuple[str, str]:
    """(reasoning, the final answer sentence from the last "So the answer is" on); no cue: ("", text)."""
    match = _last_cue(text)
    if match is None:
        return "", text.strip()
    return text[: match.start()].strip(), text[match.start():].strip()


class ReasoningStream:
    """Streams a generation as ("reasoning", piece) until the answer cue, then ("content", piece).

    A tail that could be the start of the cue is held back until the next piece decides it."""

    def __init__(self) -> None:
        self.text, self.sent, self.answering = "", 0, False

    def push(self, piece: str) -> list[tuple[str, str]]:
        self.text += piece
        if self.answering:
            return self._emit("content", len(self.text))
        match = _CUE.search(self.text, max(0, self.sent - _CUE_LONGEST))
        if match is not None and match.start() >= self.sent:
            self.answering = True
            return self._emit("reasoning", match.start()) + self._emit("content", len(self.text))
        return self._emit("reasoning", max(self.sent, len(self.text) - _CUE_LONGEST))

    def flush(self) -> list[tuple[str, str]]:
        return self._emit("content" if self.answering else "reasoning", len(self.text))

    def _emit(self, field: str, end: int) -> list[tuple[str, str]]:
        piece, self.sent = self.text[self.sent:end], max(self.sent, end)
        return [(field, piece)] if piece else []


def reasoning_steps(reasoning: str) -> list[str]:
    """Sentences of a rationale, one per displayed step."""
    parts = re.split(r"(?<=[.!?])\s+(?=[A-Z0-9(])|\n+", reasoning.strip())
    return [p.strip() for p in parts if p.strip()]


def parse_student_output(text: str, choices: Sequence[str] | None = None,
                         answer_type: str | None = None) -> Optional[str]:
    return parse_answer(text, choices=choices, answer_type=answer_type)
