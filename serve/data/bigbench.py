"""BIG-bench JSON tasks as Examples, read from the ``bigbench==1.0.0`` source distribution.

The sdist (358 MB) is fetched once with ``pip download --no-deps --no-binary :all:``;
only the task.json files scotd needs are kept, under ``cache_dir()/bigbench/tasks``,
plus ``index.txt`` (every task name the sdist holds) so an unknown name fails fast.
``SCOTD_BIGBENCH_SDIST`` points at an already-downloaded ``bigbench-1.0.0.tar.gz``;
``SCOTD_BIGBENCH_DIR`` at a checkout of the BIG-bench repository, read in place. PyPI no longer
serves ``bigbench==1.0.0``, so nothing default reads this module: it is for users who have BIG-bench.

Two example forms exist: multiple choice (``target_scores``: choice -> score) and
exact match (``target``: a string or a list of accepted strings). A yes/no
multiple-choice task (strategyqa) becomes a ``yes_no`` task without choices.
Multiple-choice options are shuffled with a per-example seed: several tasks list
the correct choice first (date_understanding: 364 of 369), which a student would learn.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import sys
import tarfile
import tempfile
from pathlib import Path
from typing import Any, Iterable

from serve.core.answers import LETTERS, canonical_number, letter
from serve.core.downloads import PipDownloadFailed, pip_download
from serve.core.errors import UserError
from serve.core.paths import cache_dir
from serve.core.records import Example

SDIST = "bigbench==1.0.0"
TASKS_PREFIX = "bigbench/benchmark_tasks/"
# Extracted on the first fetch besides the task asked for, so the usual tasks never need a second download.
DEFAULT_TASKS = ("social_iqa", "strategyqa", "date_understanding", "tracking_shuffled_objects",
                 "logical_deduction", "causal_judgment", "sports_understanding", "navigate", "arithmetic",
                 "object_counting", "word_sorting", "dyck_languages", "temporal_sequences", "penguins_in_a_table")


def bigbench_dir() -> Path:
    return cache_dir() / "bigbench"


def task_file(task: str) -> Path:
    return bigbench_dir() / "tasks" / task / "task.json"


def _log(message: str) -> None:
    print(f"[scotd data] {message}", file=sys.stderr, flush=True)


def _download_sdist(dest: Path) -> Path:
    local = os.environ.get("SCOTD_BIGBENCH_SDIST")
    if local:
        if not Path(local).is_file():
            raise UserError(f"SCOTD_BIGBENCH_SDIST='{local}' is not a file; point it at bigbench-1.0.0.tar.gz or unset it")
        return Path(local)
    _log(f"pip download --no-deps --no-binary :all: {SDIST} (358 MB, once; only task files are kept)")
    failure = None
    try:
        pip_download(SDIST, dest, sdist=True)
    except PipDownloadFailed as exc:
        failure = str(exc)
    archives = list(dest.glob("bigbench-*.tar.gz"))
    if failure is not None or not archives:
        failure = failure or "no output"
        raise UserError(f"could not download {SDIST} from PyPI ({failure}); check the network, or download "
                        "it elsewhere and set SCOTD_BIGBENCH_SDIST=/path/to/bigbench-1.0.0.tar.gz")
    return archives[0]


def fetch_tasks(tasks: Iterable[str]) -> None:
    """Extract the task.json files of ``tasks`` (top-level names) and the task index from the sdist."""
    wanted = {t.split("/")[0] for t in tasks} | set(DEFAULT_TASKS)
    root = bigbench_dir()
    with tempfile.TemporaryDirectory(dir=cache_dir()) as tmp:
        archive = _download_sdist(Path(tmp))
        _log(f"extracting task files of {', '.join(sorted(wanted))} from {archive.name}")
        names: set[str] = set()
        with tarfile.open(archive, "r:gz") as tar:
            for member in tar:
                _, _, inner = member.name.partition("/")
                if not (member.isfile() and inner.startswith(TASKS_PREFIX) and inner.endswith("/task.json")):
                    continue
                task = inner[len(TASKS_PREFIX):-len("/task.json")]
                names.add(task)
                if task.split("/")[0] not in wanted:
                    continue
                target = root / "tasks" / task / "task.json"
                target.parent.mkdir(parents=True, exist_ok=True)
                with tar.extractfile(member) as src, open(target.with_suffix(".part"), "wb") as out:
                    shutil.copyfileobj(src, out)
                target.with_suffix(".part").rename(target)
    (root / "index.txt").write_text("\n".join(sorted(names)) + "\n")


def known_tasks() -> list[str]:
    index = bigbench_dir() / "index.txt"
    return index.read_text().split() if index.is_file() else []


def checkout_task_file(task: str) -> Path:
    """task.json in the BIG-bench checkout named by SCOTD_BIGBENCH_DIR (its root or its benchmark_tasks/)."""
    root = Path(os.environ["SCOTD_BIGBENCH_DIR"]).expanduser()
    for tasks in (root / TASKS_PREFIX, root):
        if (tasks / task / "task.json").is_file():
            return tasks / task / "task.json"
    raise UserError(f"SCOTD_BIGBENCH_DIR='{root}' has no task '{task}' (looked for {TASKS_PREFIX}{task}/task.json); "
                    "point it at a checkout of the BIG-bench repository or unset it")


def read_task(task: str) -> dict[str, Any]:
    if os.environ.get("SCOTD_BIGBENCH_DIR"):
        return json.loads(checkout_task_file(task).read_text())
    path = task_file(task)
    if not path.is_file():
        known = known_tasks()
        if known and task not in known:
            close = [k for k in known if task.split("/")[0] in k][:8] or known[:12]
            raise UserError(f"no BIG-bench JSON task '{task}' in {SDIST}; use bigbench:TASK[/SUBTASK], "
                            f"e.g. {', '.join(close)}")
        fetch_tasks([task])
    if not path.is_file():
        raise UserError(f"no BIG-bench JSON task '{task}' in {SDIST} (see {bigbench_dir() / 'index.txt'})")
    data = json.loads(path.read_text())
    if not data.get("examples"):
        subtasks = [k for k in known_tasks() if k.startswith(task + "/")]
        raise UserError(f"BIG-bench task '{task}' has subtasks and no examples of its own; "
                        f"use one of: {', '.join('bigbench:' + s for s in subtasks)}")
    return data


def _canonical_text(value: str) -> str:
    number = canonical_number(value)
    if number is not None:
        return number
    return value.strip().rstrip(".").strip().lower()


def _example_seed(task: str, index: int) -> int:
    return int(hashlib.sha256(f"{task}/{index}".encode()).hexdigest()[:12], 16)


def convert_example(task: str, index: int, raw: dict[str, Any], where: str, instruction: str = "") -> Example:
    if "input" not in raw:
        raise UserError(f"{where}: example {index} has no 'input' field")
    question = f"{instruction}{raw['input']}".strip()
    example_id = f"{task}/{index}"
    meta: dict[str, Any] = {"source": f"bigbench:{task}", "index": index}
    if isinstance(raw.get("target"), str) and raw.get("target_scores"):
        meta["explanation"] = raw["target"]
    scores = raw.get("target_scores")
    if scores and len(scores) > len(LETTERS):
        # More options than letters (dyck_languages lists 84 closing sequences): the best-scored
        # ones become the exact-match targets instead of a prompt swamped by options.
        best = max(scores.values())
        raw = {**raw, "target": [c.strip() for c, s in scores.items() if s == best]}
        scores = None
    if scores:
        best = max(scores.values())
        if {c.strip().lower() for c in scores} == {"yes", "no"}:
            answer = next(c for c, s in scores.items() if s == best).strip().lower()
            return Example(example_id, task, question, answer, None, meta=meta, answer_type="yes_no")
        choices = [c.strip() for c in scores]
        order = list(range(len(choices)))
        random.Random(_example_seed(task, index)).shuffle(order)
        shuffled = [choices[i] for i in order]
        correct = next(i for i, c in enumerate(shuffled) if scores_of(scores, c) == best)
        return Example(example_id, task, question, letter(correct), shuffled, meta=meta,
                       answer_type="multiple_choice")
    target = raw.get("target")
    targets = [target] if isinstance(target, str) else list(target or [])
    if not targets:
        raise UserError(f"{where}: example {index} has neither 'target_scores' nor 'target'")
    answers = [_canonical_text(str(t)) for t in targets]
    meta["targets"] = answers
    kind = "number" if canonical_number(answers[0]) is not None else \
        "yes_no" if answers[0] in ("yes", "no") else "text"
    return Example(example_id, task, question, answers[0], None, meta=meta, answer_type=kind)


def scores_of(scores: dict[str, float], stripped_choice: str) -> float:
    return next(s for c, s in scores.items() if c.strip() == stripped_choice)


def load_task(task: str) -> list[Example]:
    """Every example of a BIG-bench JSON task (``task`` or ``task/subtask``), in file order, split unset."""
    data = read_task(task)
    where = str(task_file(task))
    return [convert_example(task, i, raw, where, task_instruction(data)) for i, raw in enumerate(data["examples"])]


def task_instruction(data: dict[str, Any]) -> str:
    """The text BIG-bench puts before every input of a task: without it "( [ {" (dyck_languages), a bare
    word list (word_sorting) or a question about an unseen table (penguins_in_a_table) has no task."""
    prefix = str(data.get("task_prefix") or "").strip()
    if not prefix:
        return ""
    return f"{prefix}\n{str(data.get('example_input_prefix') or '').strip()} ".replace("\n ", "\n")
