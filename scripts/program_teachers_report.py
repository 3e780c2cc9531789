"""Write docs/PROGRAM_TEACHERS.md: every program teacher over its BBH files and its generated sizes.

    SCOTD_BBH_DIR=../shared/bbh/bbh python scripts/program_teachers_report.py [--generated 1000]

BBH rows: every item of each BBH file whose family has a teacher: answers right, items the solver
refused (unreadable, listed by id), the step grader's marks on the teacher's own rationales.
Generated rows: ``--generated`` train-split questions of every size (``gen:FAMILY/SIZE``), the same
columns plus how many of the questions are distinct and the distinct rationales in 30 samples.
The mean rationale length is in SmolLM2 tokens when its tokenizer is fetched, else in words.
One generated question and its rationale per family is quoted; then every other rationale style
(``teacher.rationale_style``) over the same BBH files, with its length beside the default's, and one
generated question in each style.
"""

from __future__ import annotations

import argparse
import os
import re
import random
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from distill.solvers import FAMILIES, task_family  # noqa: E402
from distill.solvers.base import UnsolvableQuestion  # noqa: E402
from serve.core.errors import UserError  # noqa: E402
from serve.core.student_format import ANSWER_PREFIX  # noqa: E402
from serve.data import bbh  # noqa: E402
from serve.data.generators import FAMILIES as GENERATED  # noqa: E402
from serve.data.generators import generator  # noqa: E402
from serve.data.sources import load_examples  # noqa: E402


def length_counter():
    try:
        from transformers import AutoTokenizer

        from serve.store.registry import resolve_model_dir

        tok = AutoTokenizer.from_pretrained(resolve_model_dir("smollm2-135m-instruct"))
        return "SmolLM2 tokens", lambda text: len(tok(text)["input_ids"])
    except Exception:  # noqa: BLE001 - without the model, words stand in for tokens
        return "words", lambda text: len(text.split())


def check(family, examples, measure, distinct_questions: int = 10, style: str = "default") -> tuple[dict, str]:
    solve = family.solver(style)
    right, unreadable, wrong, lengths, quoted = 0, [], [], [], ""
    graded = full = 0
    for example in examples:
        try:
            rationale, answer = solve(example, random.Random(f"0|{example.id}|0"))
        except UnsolvableQuestion:
            unreadable.append(example.id)
            continue
        if answer in {example.answer, *example.meta.get("targets", [])}:
            right += 1
        else:
            wrong.append(example.id)
        grade = family.grade(example.question, example.choices, rationale)
        graded += 1
        full += grade.steps_right == grade.steps and grade.final_right
        text = f"{rationale} {ANSWER_PREFIX} {answer}."
        quoted = quoted or f"Q: {example.question}\n\nA: {text}"
        if len(lengths) < 200:
            lengths.append(measure(text))
    distinct = [len({solve(e, random.Random(f"0|{e.id}|{k}"))[0] for k in range(30)})
                for e in examples[:distinct_questions] if e.id not in unreadable]
    row = {"examples": len(examples), "right": right, "wrong": wrong, "unreadable": unreadable,
           "distinct_questions": len({e.question for e in examples}), "full_marks": f"{full}/{graded}",
           "distinct_rationales": statistics.mean(distinct) if distinct else 0,
           "length": round(statistics.mean(lengths)) if lengths else 0}
    return row, quoted


def drawable(source: str, count: int) -> list:
    """``count`` train questions, or every train question of a size that holds fewer (1-digit arithmetic)."""
    try:
        return load_examples(source, split="train", limit=count)
    except UserError as exc:
        held = re.search(r"yields only (\d+) ", str(exc))
        if not held:
            raise
        return load_examples(source, split="train", limit=int(held.group(1)))


def style_section(unit: str, measure, default_lengths: dict) -> list[str]:
    """Every non-default style on its family's BBH files (when present) and on one generated question."""
    lines = ["## Other rationale styles", "",
             "Chosen with `teacher.rationale_style` (comma-separated, one style a family; a family without one of the "
             "named styles writes its default). The pilots that compared them are in docs/RESULTS.md. *Right* and "
             "*grader full marks* are counted as above, with the family's one step grader for every style; the length "
             f"is the mean of rationale + answer sentence in {unit} over the file's first 200 items, the default's "
             "beside it.", "", f"| family | style | source | right | grader full marks | {unit} | default's |",
             "|---|---|---|---|---|---|---|"]
    quotes = []
    for name, family in FAMILIES.items():
        with_bbh = family.styles and os.environ.get("SCOTD_BBH_DIR")
        tasks = {t: bbh.load_task(t) for t in bbh.TASKS if task_family(t) == name} if with_bbh else {}
        for style in family.styles:
            for task, examples in tasks.items():
                row, _ = check(family, examples, measure, distinct_questions=0, style=style)
                print(f"{task} {style}", row["right"], row["full_marks"], file=sys.stderr, flush=True)
                lines.append(f"| {name} | `{style}` | bbh:{task} | {row['right']}/{row['examples']} | "
                             f"{row['full_marks']} | {row['length']} | {default_lengths.get(task, '')} |")
            if name in GENERATED:
                size = next(iter(generator(name).sizes))
                _, quoted = check(family, drawable(f"gen:{name}/{size}", 1), measure, distinct_questions=0, style=style)
                quotes += [f"**{name}**, `{style}` (`gen:{name}/{size}`):", "", "```", quoted, "```", ""]
    return [*lines, "", *quotes]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--generated", type=int, default=1000, help="generated questions per size")
    parser.add_argument("--out", default=str(ROOT / "docs" / "PROGRAM_TEACHERS.md"))
    args = parser.parse_args()
    unit, measure = length_counter()
    header = ("| family | source | items | right | unreadable | distinct items | grader full marks | "
              f"distinct rationales in 30 | {unit} |")
    rule = "|---|---|---|---|---|---|---|---|---|"
    lines = ["# Program teachers", "",
             "Written by `SCOTD_BBH_DIR=../shared/bbh/bbh python scripts/program_teachers_report.py`. Each family "
             "is a solver module under `distill/solvers/` (`FAMILY = Family(name, solve, grade)`) and, for training "
             "questions, a generator under `serve/data/generators/`. *Right* counts the teacher's answer against "
             "the gold answer over every item; *grader full marks* is how many of the teacher's own rationales the "
             "family's step grader marks fully right; *distinct rationales* is the mean number of different texts "
             f"among 30 samples of one question (10 questions); the length is the mean of rationale + answer sentence "
             f"in {unit} over 200 items.", "", "## On BIG-Bench Hard (every item; evaluation only, never trained on)", "",
             header, rule]
    quotes, refused, default_lengths = {}, [], {}
    if os.environ.get("SCOTD_BBH_DIR"):
        for task in bbh.TASKS:
            family = task_family(task)
            if family not in FAMILIES:
                continue
            row, _ = check(FAMILIES[family], bbh.load_task(task), measure)
            print(task, {k: v for k, v in row.items() if k not in ("wrong", "unreadable")}, file=sys.stderr, flush=True)
            refused += [f"- `{task}`: {', '.join(row['unreadable'])}"] if row["unreadable"] else []
            default_lengths[task] = row["length"]
            lines.append(f"| {family} | bbh:{task} | {row['examples']} | {row['right']} | {len(row['unreadable'])} | "
                         f"{row['distinct_questions']} | {row['full_marks']} | {row['distinct_rationales']:.1f} | "
                         f"{row['length']} |")
    else:
        lines.append("| (SCOTD_BBH_DIR unset: no BBH rows) | | | | | | | | |")
    lines += ["", *(["Items a solver refuses (recorded as unsolvable, never given a wrong rationale):", "", *refused, ""]
                    if refused else []),
              f"## On generated questions ({args.generated} train-split questions per size, seed 0)", "", header, rule]
    for family in GENERATED:
        if family not in FAMILIES:
            continue
        for size in generator(family).sizes:
            source = f"gen:{family}/{size}"
            examples = drawable(source, args.generated)
            row, quoted = check(FAMILIES[family], examples, measure)
            print(source, {k: v for k, v in row.items() if k not in ("wrong", "unreadable")}, file=sys.stderr, flush=True)
            quotes.setdefault(family, (source, quoted))
            lines.append(f"| {family} | {source} | {row['examples']} | {row['right']} | {len(row['unreadable'])} | "
                         f"{row['distinct_questions']} | {row['full_marks']} | {row['distinct_rationales']:.1f} | "
                         f"{row['length']} |")
    lines += ["", "## One generated question per family and the teacher's rationale (sample 0, seed 0)", ""]
    for family, (source, quoted) in quotes.items():
        lines += [f"**{family}** (`{source}`):", "", "```", quoted, "```", ""]
    lines += style_section(unit, measure, default_lengths)
    Path(args.out).write_text("\n".join(lines))
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
