"""BIG-Bench Hard (Suzgun et al., 2022) as Examples: ``bbh:TASK``, evaluation only.

The 27 task files are read from the first place that has them:

1. the folder named by ``SCOTD_BBH_DIR`` (CI and ``scripts/test.sh`` point it at ``../shared/bbh/bbh``);
2. the cache, ``cache_dir()/bbh``;
3. the BBH repository's raw files at ``COMMIT`` (or a mirror of its ``bbh/`` folder named by
   ``SCOTD_BBH_URL``), downloaded into the cache.

Every file is checked against its sha256 (``bbh_sha256sums.txt``, shipped with scotd) before use.

Conversion: the options BBH writes into ``input`` ("Options:\\n(A) ..." or "- Yes") leave the
question; lettered ones become ``choices`` and the target letter "(A)" becomes "(a)"; "- Yes / - No"
and bare Yes/No targets become ``yes_no``, True/False ``true_false``, numbers ``number``, the rest
(valid/invalid, closing brackets, sorted word lists) lower-cased ``text``. Each example keeps its
index in the file: id ``TASK/INDEX``. BBH has no training split and its files carry a canary:
every example is ``test`` and a ``train`` or ``dev`` request is refused. ``Example.task`` is
``bbh:TASK``, so a per-task table tells a BBH file from the generated questions of its family.

``bbh:algorithmic`` and ``bbh:nlp`` name the BBH paper's two halves (``GROUPS``): a source that is a
group is read as the mixture of its files, one ``bbh:TASK`` each.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import re
import sys
import urllib.error
import urllib.request
from functools import lru_cache
from pathlib import Path
from typing import Any

from serve.core.answers import canonical_number, letter
from serve.core.downloads import file_sha256
from serve.core.errors import UserError
from serve.core.paths import cache_dir
from serve.core.records import Example

COMMIT = "9ee07bd481feebf959a6b59d61ea57bdcf30964d"
URL = f"https://raw.githubusercontent.com/suzgunmirac/BIG-Bench-Hard/{COMMIT}/bbh"
DOWNLOAD_TIMEOUT_S = 4.0
_SUMS = Path(__file__).with_name("bbh_sha256sums.txt")
_LETTERED = re.compile(r"^\(([A-Z])\)\s*(.*)$")


@lru_cache(maxsize=1)
def checksums() -> dict[str, str]:
    """task -> sha256 of its file."""
    pairs = (line.split() for line in _SUMS.read_text().splitlines() if line.strip())
    return {name.removesuffix(".json"): digest for digest, name in pairs}


TASKS = tuple(sorted(checksums()))

# The BBH paper's split: the 15 tasks an algorithm solves (a program teacher covers each) and the 12
# that need world knowledge or language judgement. Listed in the paper's table order.
GROUPS: dict[str, tuple[str, ...]] = {
    "algorithmic": (
        "boolean_expressions", "dyck_languages", "geometric_shapes", "logical_deduction_three_objects",
        "logical_deduction_five_objects", "logical_deduction_seven_objects", "multistep_arithmetic_two",
        "navigate", "object_counting", "temporal_sequences", "tracking_shuffled_objects_three_objects",
        "tracking_shuffled_objects_five_objects", "tracking_shuffled_objects_seven_objects", "web_of_lies",
        "word_sorting"),
    "nlp": (
        "date_understanding", "penguins_in_a_table", "reasoning_about_colored_objects", "sports_understanding",
        "movie_recommendation", "causal_judgement", "disambiguation_qa", "formal_fallacies", "hyperbaton",
        "ruin_names", "salient_translation_error_detection", "snarks"),
}


def group_sources(source: str) -> list[str] | None:
    """The ``bbh:TASK`` sources of a group source such as ``bbh:algorithmic``; None for anything else."""
    name = source.removeprefix("bbh:").strip("/") if source.startswith("bbh:") else None
    return [f"bbh:{task}" for task in GROUPS[name]] if name in GROUPS else None


def _log(message: str) -> None:
    print(f"[scotd data] {message}", file=sys.stderr, flush=True)


def _checked(path: Path, task: str) -> Path:
    if file_sha256(path) != checksums()[task]:
        raise UserError(f"{path} does not match the BBH checksum of {task}; replace it with the file at "
                        f"BBH commit {COMMIT[:10]} (or delete it so scotd downloads it again)")
    return path


def _download(task: str, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    _log(f"downloading BBH {task} (commit {COMMIT[:10]})")
    try:
        url = f"{os.environ.get('SCOTD_BBH_URL') or URL}/{task}.json"
        with urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_S) as response:
            data = response.read()
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise UserError(f"BBH task '{task}' is not here and could not be downloaded ({reason}); set "
                        "SCOTD_BBH_DIR to a folder holding the BBH task files (bbh/*.json of the "
                        "BIG-Bench-Hard repository)") from None
    if hashlib.sha256(data).hexdigest() != checksums()[task]:
        raise UserError(f"the downloaded BBH file {task}.json does not match its checksum; set SCOTD_BBH_DIR "
                        "to a checked copy of the BBH files")
    partial = target.with_suffix(".part")
    partial.write_bytes(data)
    partial.replace(target)


def task_file(task: str) -> Path:
    """The checked file of ``task``, from SCOTD_BBH_DIR, the cache, or a download."""
    if task not in checksums():
        close = [t for t in TASKS if task.split("_")[0] in t] or list(TASKS)
        raise UserError(f"no BBH task '{task}'; use bbh:TASK with one of: {', '.join(close)} (or a group: "
                        f"{', '.join(f'bbh:{g}' for g in GROUPS)})")
    folder = os.environ.get("SCOTD_BBH_DIR")
    if folder:
        path = Path(folder).expanduser() / f"{task}.json"
        if not path.is_file():
            raise UserError(f"SCOTD_BBH_DIR='{folder}' has no {task}.json; point it at the bbh/ folder of the "
                            "BIG-Bench-Hard repository or unset it")
        return _checked(path, task)
    cached = cache_dir() / "bbh" / f"{task}.json"
    if not cached.is_file():
        _download(task, cached)
    return _checked(cached, task)


def split_options(text: str) -> tuple[str, list[str]]:
    """(question without its options, lettered options) of one BBH input; "- Yes / - No" options are dropped."""
    question, marker, rest = text.partition("\nOptions:")
    found = (_LETTERED.match(line.strip()) for line in rest.splitlines()) if marker else ()
    return question.strip(), [match.group(2).strip() for match in found if match]


def convert(task: str, index: int, raw: dict[str, Any]) -> Example:
    question, choices = split_options(raw["input"])
    target = str(raw["target"]).strip()
    meta = {"source": f"bbh:{task}", "index": index, "input": raw["input"]}  # the input as BBH's prompts show it
    example_id, task = f"{task}/{index}", f"bbh:{task}"  # the task names its source: bbh:navigate, not gen:navigate
    if choices:
        found = re.fullmatch(r"\(([A-Z])\)", target)
        # movie_recommendation 163's target is the text "Monsters, Inc", which BBH split into the options
        # "Monsters" and "Inc": a text target names the option it starts with.
        position = ord(found.group(1)) - ord("A") if found else next(
            (i for i, choice in enumerate(choices) if target.lower().startswith(choice.lower())), len(choices))
        if position >= len(choices):
            raise UserError(f"BBH {task} example {index}: target {target!r} is neither an option letter nor an option")
        return Example(example_id, task, question, letter(position), choices, "test", meta, "multiple_choice")
    lowered = target.lower()
    if lowered in ("yes", "no"):
        return Example(example_id, task, question, lowered, None, "test", meta, "yes_no")
    if lowered in ("true", "false"):
        return Example(example_id, task, question, lowered, None, "test", meta, "true_false")
    number = canonical_number(target) if re.fullmatch(r"-?\d+(?:\.\d+)?", target) else None
    if number is not None:
        return Example(example_id, task, question, number, None, "test", meta, "number")
    return Example(example_id, task, question, lowered, None, "test", meta, "text")


@lru_cache(maxsize=None)
def _load(path: Path, task: str) -> tuple[Example, ...]:
    examples = json.loads(path.read_text())["examples"]
    return tuple(convert(task, i, raw) for i, raw in enumerate(examples))


def load_task(task: str) -> list[Example]:
    """Every example of one BBH file, in file order (split ``test``)."""
    return copy.deepcopy(list(_load(task_file(task), task)))  # callers may edit theirs; the cache keeps its own


def prompt_questions(folder: Path) -> list[str]:
    """The questions of the BBH paper's 3-shot CoT prompts (``cot-prompts/TASK.txt``), options removed."""
    questions = []
    for path in sorted(Path(folder).glob("*.txt")):
        for block in path.read_text().split("\nQ: ")[1:]:
            questions.append(split_options(block.split("\nA: ", 1)[0])[0])
    return questions


def cot_prompt_folder() -> Path:
    """Where the BBH paper's 3-shot CoT prompts are: ``SCOTD_BBH_PROMPTS``, else ``cot-prompts`` beside
    ``SCOTD_BBH_DIR`` (the BBH repository's layout)."""
    named = os.environ.get("SCOTD_BBH_PROMPTS")
    if named:
        return Path(named)
    data = os.environ.get("SCOTD_BBH_DIR")
    return Path(data).parent / "cot-prompts" if data else Path("cot-prompts")


@lru_cache(maxsize=None)
def cot_prompt(task: str) -> str:
    """The 3-shot chain-of-thought prompt the BBH paper scored Codex with, for one file (canary header cut)."""
    path = cot_prompt_folder() / f"{task}.txt"
    if not path.is_file():
        raise UserError(f"no BBH CoT prompt for {task} at {path}; set SCOTD_BBH_PROMPTS to the BBH repository's "
                        "cot-prompts folder (or SCOTD_BBH_DIR to its bbh folder, with cot-prompts beside it)")
    text = path.read_text()
    return text.split("\n-----\n", 1)[1].strip() if "\n-----\n" in text else text.strip()


def cot_prompt_for(example: Example) -> str:
    """An example of a BBH file in the paper's 3-shot CoT format: the demonstrations, then its input."""
    task = example.task.split(":", 1)[1] if example.task.startswith("bbh:") else ""
    if not task or "input" not in (example.meta or {}):
        raise UserError(f"prompt bbh_cot scores BBH files only; '{example.task}' is not one (use prompt student "
                        "or few_shot)")
    return f"{cot_prompt(task)}\n\nQ: {example.meta['input']}\nA: Let's think step by step.\n"


def question_key(question: str) -> str:
    """How two questions are compared for equality: whitespace folded, case ignored."""
    return hashlib.sha256(" ".join(question.split()).lower().encode()).hexdigest()[:16]
