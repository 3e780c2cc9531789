"""Few-shot chain-of-thought teacher prompts, kept as data in ``distill/prompts/*.yaml``.

A prompt set holds an instruction and demonstrations (question, optional choices,
gold answer, rationale). A teacher prompt is rendered twice from the same parts:
as chat messages (system instruction, one user/assistant turn per demonstration,
then the question) and as plain text (``Q: …\\nA: …`` blocks) for completion APIs
and base models. Questions and demonstration answers use the student format, so
the teacher already writes rationales in the shape the student will learn.
With ``rationalize`` on, every question carries the gold answer as a hint.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import yaml

from serve.core.errors import UserError
from serve.core.records import Example
from serve.core.student_format import format_question, target_text

PROMPTS_DIR = Path(__file__).resolve().parent / "prompts"
# Which prompt set an answer type gets when prompt.set is "auto".
PROMPT_FOR_ANSWER_TYPE = {"multiple_choice": "multiple_choice", "yes_no": "yes_no", "number": "numeric",
                          "text": "short_answer", "true_false": "short_answer"}
# Where a plain-text teacher starts to write the next demonstration on its own.
TEXT_STOP = ["\nQ:", "\n\n\n"]


@dataclass(frozen=True)
class Demonstration:
    question: str
    answer: str
    rationale: str
    choices: Optional[tuple[str, ...]] = None


@dataclass(frozen=True)
class PromptSet:
    name: str
    answer_type: str
    instruction: str
    demonstrations: tuple[Demonstration, ...]


@dataclass(frozen=True)
class TeacherPrompt:
    messages: tuple[dict[str, str], ...]
    text: str
    sha: str


def load_prompt_set(name_or_path: str) -> PromptSet:
    """A prompt set by name (``distill/prompts/NAME.yaml``) or by path to a YAML file."""
    path = Path(name_or_path)
    if not path.suffix:
        path = PROMPTS_DIR / f"{name_or_path}.yaml"
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in PROMPTS_DIR.glob("*.yaml")))
        raise UserError(f"prompt set '{name_or_path}' not found; use auto, one of {known}, or a path to a YAML file")
    data = yaml.safe_load(path.read_text()) or {}
    required = {"name", "answer_type", "instruction", "demonstrations"}
    if not isinstance(data, dict) or set(data) != required:
        raise UserError(f"{path}: a prompt set needs exactly the keys {sorted(required)}; "
                        f"got {sorted(data) if isinstance(data, dict) else type(data).__name__}")
    demos = []
    for i, demo in enumerate(data["demonstrations"] or []):
        if not isinstance(demo, dict) or not {"question", "answer", "rationale"} <= set(demo) \
                or set(demo) - {"question", "answer", "rationale", "choices"}:
            raise UserError(f"{path}: demonstrations[{i}] needs keys question, answer, rationale (and optional choices)")
        choices = tuple(str(c) for c in demo["choices"]) if demo.get("choices") else None
        demos.append(Demonstration(str(demo["question"]), str(demo["answer"]), str(demo["rationale"]), choices))
    if not demos:
        raise UserError(f"{path}: a prompt set needs at least one demonstration")
    return PromptSet(str(data["name"]), str(data["answer_type"]), str(data["instruction"]).strip(), tuple(demos))


def prompt_set_for(example: Example, choice: str, cache: dict[str, PromptSet]) -> PromptSet:
    """The prompt set ``choice`` (auto = by the example's answer type), loaded once per name."""
    name = choice
    if choice == "auto":
        kind = example.answer_type or ("multiple_choice" if example.choices else "text")
        name = PROMPT_FOR_ANSWER_TYPE[kind]
    if name not in cache:
        cache[name] = load_prompt_set(name)
    return cache[name]


def _question_block(question: str, choices: Any, answer: str, rationalize: bool) -> str:
    text = format_question(question, list(choices) if choices else None)
    if rationalize:
        text += f"\n(Hint: the correct answer is {answer}.)"
    return text


def build_prompt(example: Example, prompt_set: PromptSet, rationalize: bool = False) -> TeacherPrompt:
    messages: list[dict[str, str]] = [{"role": "system", "content": prompt_set.instruction}]
    blocks = [prompt_set.instruction]
    for demo in prompt_set.demonstrations:
        question = _question_block(demo.question, demo.choices, demo.answer, rationalize)
        answer = target_text(demo.answer, demo.rationale, "cot")
        messages += [{"role": "user", "content": question}, {"role": "assistant", "content": answer}]
        blocks.append(f"Q: {question}\nA: {answer}")
    question = _question_block(example.question, example.choices, example.answer, rationalize)
    messages.append({"role": "user", "content": question})
    blocks.append(f"Q: {question}\nA:")
    text = "\n\n".join(blocks)
    sha = hashlib.sha256(json.dumps([messages, text], ensure_ascii=False).encode()).hexdigest()[:16]
    return TeacherPrompt(tuple(messages), text, sha)


def clean_rationale(text: str, stop: list[str] = TEXT_STOP) -> str:
    """The teacher's answer up to where it starts a new demonstration on its own."""
    cut = min((text.find(s) for s in stop if s in text), default=len(text))
    return text[:cut].strip()
