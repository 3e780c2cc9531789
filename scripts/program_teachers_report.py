"""Write docs/PROGRAM_TEACHERS.md: every program-teacher family over every example of every subtask.

    python scripts/program_teachers_report.py [--questions 30]

Per subtask: examples, answers right, examples the solver refused (unreadable), distinct
rationales in 30 samples of one question (min and mean over the first ``--questions``
questions), the step grader's marks on the teacher's own rationales, and the mean rationale
length in SmolLM2 tokens when its tokenizer is fetched. One rationale per family is quoted.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from distill.solvers import FAMILIES  # noqa: E402
from distill.solvers.base import UnsolvableQuestion  # noqa: E402
from serve.core.student_format import ANSWER_PREFIX  # noqa: E402
from serve.data.bigbench import known_tasks, load_task  # noqa: E402


def subtasks(family: str) -> list[str]:
    nested = sorted(t for t in known_tasks() if t.startswith(family + "/"))
    return nested or [family]


def tokenizer():
    try:
        from transformers import AutoTokenizer

        from serve.store.registry import resolve_model_dir

        return AutoTokenizer.from_pretrained(resolve_model_dir("smollm2-135m-instruct"))
    except Exception:  # noqa: BLE001 - the length column is optional
        return None


def subtask_row(family, task: str, questions: int, tok) -> tuple[dict, str]:
    examples = load_task(task)
    right = unreadable = 0
    lengths, quoted = [], ""
    for example in examples:
        try:
            rationale, answer = family.solve(example, random.Random(f"0|{example.id}|0"))
        except UnsolvableQuestion:
            unreadable += 1
            continue
        right += answer in {example.answer, *example.meta.get("targets", [])}
        text = f"{rationale} {ANSWER_PREFIX} {answer}."
        quoted = quoted or text
        if tok is not None and len(lengths) < 200:
            lengths.append(len(tok(text)["input_ids"]))
    distinct, graded, full = [], 0, 0
    for example in examples[:questions]:
        texts = [family.solve(example, random.Random(f"0|{example.id}|{k}"))[0] for k in range(30)]
        distinct.append(len(set(texts)))
        for text in texts[:3]:
            grade = family.grade(example.question, example.choices, text)
            graded += 1
            full += grade.steps_right == grade.steps and grade.final_right
    return {"task": task, "examples": len(examples), "right": right, "unreadable": unreadable,
            "distinct_min": min(distinct), "distinct_mean": statistics.mean(distinct),
            "full_marks": f"{full}/{graded}",
            "tokens": round(statistics.mean(lengths)) if lengths else None}, quoted


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=int, default=30, help="questions per subtask for the distinct-text count")
    parser.add_argument("--out", default=str(ROOT / "docs" / "PROGRAM_TEACHERS.md"))
    args = parser.parse_args()
    tok = tokenizer()
    lines = ["# Program teachers", "",
             "Written by `python scripts/program_teachers_report.py`. Each family is one module under "
             "`distill/solvers/` (`FAMILY = Family(name, solve, grade)`) and one line in "
             "`distill/solvers/__init__.py`. *Right* counts the teacher's answer against BIG-bench's over every "
             "example; *distinct* is the number of different rationales among 30 samples of one question "
             f"(min and mean over the first {args.questions} questions of the subtask); *grader* is how many of "
             "the teacher's own rationales (3 per question) the family's step grader gives full marks; *tokens* "
             "is the mean length of rationale + answer sentence in SmolLM2 tokens over the first 200 examples (task files list short questions first in some tasks).", "",
             "| family | subtask | examples | right | unreadable | distinct in 30 (min / mean) | grader full marks "
             "| tokens |", "|---|---|---|---|---|---|---|---|"]
    quotes = []
    for name, family in FAMILIES.items():
        for task in subtasks(name):
            row, quoted = subtask_row(family, task, args.questions, tok)
            print(row, file=sys.stderr, flush=True)
            lines.append(f"| {name} | {task} | {row['examples']} | {row['right']} | {row['unreadable']} | "
                         f"{row['distinct_min']} / {row['distinct_mean']:.1f} | {row['full_marks']} | "
                         f"{row['tokens'] if row['tokens'] is not None else '-'} |")
        quotes.append(f"**{name}** ({task}): {quoted}")
    lines += ["", "## One rationale per family (sample 0, seed 0, as the teacher writes it)", ""]
    lines += [q + "\n" for q in quotes]
    Path(args.out).write_text("\n".join(lines))
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
