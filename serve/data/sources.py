"""Task instances (``Example``) from generators, BIG-Bench Hard, BIG-bench, Hugging Face datasets and local files.

``load_examples(source, split, limit, seed, fields)``, or a ``QuestionSource`` config section
(the one spelling of "which questions" that every stage's config uses), where ``source`` is

- ``gen:FAMILY[/SIZE][?key=value]``: new questions from a task generator, made here, any number
  (see ``serve.data.generated``): the default training data;
- ``bbh:TASK``: a BIG-Bench Hard file (see ``serve.data.bbh``), evaluation only (split ``test``);
  ``bbh:algorithmic`` (its 15 algorithmic files) and ``bbh:nlp`` (the other 12) are mixtures;
- ``bigbench:TASK[/SUBTASK]``: a BIG-bench JSON task for users who have BIG-bench (see
  ``serve.data.bigbench``; PyPI no longer serves ``bigbench==1.0.0``);
- a Hugging Face dataset id from ``HF_LAYOUTS`` (``commonsense_qa``, ``openbookqa``,
  ``quarel``), loaded with ``datasets`` (needs the hub);
- ``path/to/file.jsonl`` or ``.csv``: one instance per line/row. ``fields`` maps the
  Example fields (``id``, ``question``, ``choices``, ``answer``, ``split``) to column
  names, or names an ``HF_LAYOUTS`` entry for a local copy of such a dataset.

Sources without splits get a deterministic seeded train/dev/test split
(``SPLIT_FRACTIONS``) decided per instance before ``limit``, so a limit never moves
an instance from one split to another.
"""

from __future__ import annotations

import csv
import json
import random
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional

from serve.core.answers import LETTERS, canonical_number, letter
from serve.core.config import option
from serve.core.errors import UserError
from serve.core.records import Example, read_jsonl

SPLITS = ("train", "dev", "test")
SPLIT_FRACTIONS = {"train": 0.8, "dev": 0.1, "test": 0.1}
DEFAULT_FIELDS = {"id": "id", "question": "question", "choices": "choices", "answer": "answer", "split": "split"}


@dataclass
class QuestionSource:
    """Which questions: a source, a split of it, and a seeded subset."""
    source: str = option("", "gen:FAMILY[/SIZE] (generated), bbh:TASK (evaluation only), bigbench:TASK[/SUB], an HF "
                             "dataset id, a .jsonl/.csv file, or several joined by ' + '")
    split: str = option("train", "train, dev, test or all (a seeded partition where the source has none)")
    limit: Optional[int] = option(None, "a seeded subset of this many questions per source (null = all)")
    seed: int = option(0, "seed of the split and of the subset: keep it equal across the stages of a run")

    def load(self) -> list[Example]:
        return load_examples(self.source, self.split, self.limit, self.seed)


# --------------------------------------------------------------------------- splits

def assign_splits(examples: list[Example], seed: int = 0,
                  fractions: dict[str, float] = SPLIT_FRACTIONS) -> list[Example]:
    """Give every example a split by a seeded shuffle of its position; returns the same list."""
    order = list(range(len(examples)))
    random.Random(seed).shuffle(order)
    bounds, total = [], 0.0
    for name in SPLITS:
        total += fractions[name]
        bounds.append((name, round(total * len(examples))))
    for rank, position in enumerate(order):
        examples[position].split = next(name for name, bound in bounds if rank < bound)
    return examples


def _check_split(split: str) -> None:
    if split not in SPLITS and split != "all":
        raise UserError(f"unknown split '{split}'; use one of {', '.join(SPLITS)} or all")


def _select(examples: list[Example], split: str, limit: Optional[int], seed: int) -> list[Example]:
    _check_split(split)
    chosen = examples if split == "all" else [e for e in examples if e.split == split]
    if limit is not None:
        # A seeded sample (not the first rows) so a limit is representative; kept in file order.
        if limit < len(chosen):
            keep = set(random.Random(seed + 1).sample(range(len(chosen)), limit))
            chosen = [e for i, e in enumerate(chosen) if i in keep]
    return chosen


# --------------------------------------------------------------------------- answers

def canonical_answer(value: Any, choices: Optional[list[str]], where: str) -> str:
    """Gold answer in canonical form: "(b)" for choices (from a letter, index or choice text), else text."""
    if choices:
        if isinstance(value, int) and not isinstance(value, bool):
            if 0 <= value < len(choices):
                return letter(value)
            raise UserError(f"{where}: answer index {value} is out of range for {len(choices)} choices")
        text = str(value).strip()
        found = re.fullmatch(r"\(?([A-Za-z])\)?\.?", text)
        if found and LETTERS.index(found.group(1).lower()) < len(choices):
            return letter(LETTERS.index(found.group(1).lower()))
        if text.isdigit() and int(text) < len(choices):
            return letter(int(text))
        lowered = [c.strip().lower() for c in choices]
        if text.lower() in lowered:
            return letter(lowered.index(text.lower()))
        raise UserError(f"{where}: answer {value!r} is neither a letter, an index nor one of the choices {choices}")
    text = str(value).strip()
    if text.lower() in ("yes", "no", "true", "false"):
        return {"true": "yes", "false": "no"}.get(text.lower(), text.lower())
    return canonical_number(text) or text.rstrip(".").strip().lower()


def answer_type_of(answer: str, choices: Optional[list[str]]) -> str:
    if choices:
        return "multiple_choice"
    if answer in ("yes", "no"):
        return "yes_no"
    return "number" if canonical_number(answer) is not None else "text"


# --------------------------------------------------------------------------- Hugging Face layouts

def _letter_choices(row: dict[str, Any]) -> tuple[list[str], str]:
    labels, texts = row["choices"]["label"], row["choices"]["text"]
    key = str(row.get("answerKey", "")).strip()
    if not key:
        raise KeyError("answerKey (empty: this split has no public labels; use another split)")
    return list(texts), letter(list(labels).index(key))


def _commonsense_qa(row: dict[str, Any]) -> tuple[str, str, list[str], str]:
    choices, answer = _letter_choices(row)
    return str(row["id"]), row["question"], choices, answer


def _openbookqa(row: dict[str, Any]) -> tuple[str, str, list[str], str]:
    choices, answer = _letter_choices(row)
    return str(row["id"]), row["question_stem"], choices, answer


def _quarel(row: dict[str, Any]) -> tuple[str, str, list[str], str]:
    # The two options are written into the question: "... (A) dry snow (B) wet snow".
    found = re.match(r"^(.*?)\s*\(A\)\s*(.*?)\s*\(B\)\s*(.*?)\s*$", row["question"], re.DOTALL)
    if not found:
        raise KeyError("question (expected the options inline as '(A) ... (B) ...')")
    stem, first, second = found.groups()
    return str(row["id"]), stem, [first, second], letter(int(row["answer_index"]))


# id -> (hub id, config, our split -> hub split, row converter)
HF_LAYOUTS: dict[str, tuple[str, Optional[str], dict[str, str], Callable[[dict], tuple]]] = {
    # CommonsenseQA's test labels are hidden: its validation set serves as the test set (as in SCoTD).
    "commonsense_qa": ("tau/commonsense_qa", None, {"train": "train", "dev": "validation", "test": "validation"},
                       _commonsense_qa),
    "openbookqa": ("allenai/openbookqa", "main", {"train": "train", "dev": "validation", "test": "test"},
                   _openbookqa),
    "quarel": ("allenai/quarel", None, {"train": "train", "dev": "validation", "test": "test"}, _quarel),
}


def convert_hf_row(layout: str, row: dict[str, Any], where: str, split: str) -> Example:
    converter = HF_LAYOUTS[layout][3]
    try:
        example_id, question, choices, answer = converter(row)
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        detail = exc.args[0] if exc.args else type(exc).__name__
        raise UserError(f"{where}: bad or missing field {detail!s} for the {layout} layout") from None
    return Example(example_id, layout, question.strip(), answer, [c.strip() for c in choices], split=split,
                   meta={"source": layout}, answer_type="multiple_choice")


def load_hf(layout: str, split: str) -> list[Example]:
    hub_id, config, split_map, _ = HF_LAYOUTS[layout]
    try:
        import datasets
    except ImportError:
        raise UserError(f"loading '{layout}' needs the 'datasets' package: pip install -e '.[distill]'") from None
    wanted = SPLITS if split == "all" else (split,)
    examples = []
    for name in wanted:
        try:
            rows = datasets.load_dataset(hub_id, config, split=split_map[name])
        except Exception as exc:  # offline, DNS, auth: one actionable line
            raise UserError(f"could not load '{hub_id}' from the Hugging Face hub ({type(exc).__name__}); with no "
                            f"hub access, export it to JSONL elsewhere and load it with "
                            f"load_examples('file.jsonl', fields='{layout}')") from None
        examples += [convert_hf_row(layout, row, f"{hub_id}[{split_map[name]}]:{i}", name)
                     for i, row in enumerate(rows)]
    return examples


# --------------------------------------------------------------------------- local files

def _read_rows(path: Path) -> list[tuple[int, dict[str, Any]]]:
    if not path.is_file():
        raise UserError(f"data file '{path}' not found; pass an existing .jsonl or .csv path as data.source")
    if path.suffix == ".csv":
        with path.open(newline="", encoding="utf-8") as handle:
            return [(i, row) for i, row in enumerate(csv.DictReader(handle), start=2)]
    rows = []
    for line_no, obj in read_jsonl(path):
        if not isinstance(obj, dict):
            raise UserError(f"{path}:{line_no}: expected a JSON object, got {type(obj).__name__}")
        rows.append((line_no, obj))
    return rows


def _choices_of(value: Any, where: str) -> Optional[list[str]]:
    if isinstance(value, list):
        value = [c for c in value if c not in (None, "")]
    if value in (None, "", []):
        return None
    if isinstance(value, str):
        text = value.strip()
        value = json.loads(text) if text.startswith("[") else text.split("|")
    if not isinstance(value, list) or not all(isinstance(c, (str, int, float)) for c in value):
        raise UserError(f"{where}: field 'choices' must be a list of strings, a JSON list or 'a|b|c'")
    return [str(c).strip() for c in value]


def load_file(path: Path, fields: dict[str, Any] | str | None = None) -> list[Example]:
    """Examples from a local JSONL/CSV; ``split`` stays None where the file has no split column."""
    rows = _read_rows(path)
    if isinstance(fields, str):
        if fields not in HF_LAYOUTS:
            raise UserError(f"unknown field layout '{fields}'; use a mapping or one of {', '.join(HF_LAYOUTS)}")
        return [convert_hf_row(fields, row, f"{path}:{line}", str(row.get("split") or "") or None)
                for line, row in rows]
    mapping = {**DEFAULT_FIELDS, **(fields or {})}
    unknown = set(mapping) - set(DEFAULT_FIELDS)
    if unknown:
        raise UserError(f"unknown field mapping key(s) {sorted(unknown)}; valid: {', '.join(DEFAULT_FIELDS)}")
    examples = []
    for line, row in rows:
        where = f"{path}:{line}"
        for required in ("question", "answer"):
            if row.get(mapping[required]) in (None, ""):
                raise UserError(f"{where}: missing field '{mapping[required]}' (the {required}); map another "
                                f"column with fields={{'{required}': 'COLUMN'}}")
        column = mapping["choices"]
        choices = (_choices_of([row.get(c) for c in column], where) if isinstance(column, list)
                   else _choices_of(row.get(column), where))
        answer = canonical_answer(row[mapping["answer"]], choices, f"{where}: field '{mapping['answer']}'")
        example_id = str(row.get(mapping["id"]) or f"{path.stem}/{line}")
        split = row.get(mapping["split"]) or None
        if split is not None and split not in SPLITS:
            raise UserError(f"{where}: field '{mapping['split']}' is '{split}'; expected one of {', '.join(SPLITS)}")
        examples.append(Example(example_id, path.stem, str(row[mapping["question"]]).strip(), answer, choices,
                                split=split, meta={"source": str(path)},
                                answer_type=answer_type_of(answer, choices)))
    return examples


# --------------------------------------------------------------------------- entry point

MIXTURE_SEPARATOR = "+"  # "bigbench:A + bigbench:B"


def is_local_file(source: str) -> bool:
    """True when ``source`` names a file here; a long mixture string is not a path (no ENAMETOOLONG)."""
    try:
        return Path(source).is_file()
    except OSError:
        return False


def mixture_parts(source: str) -> list[str]:
    """The sources of a ``A + B`` mixture (one part for a plain source or a file whose name has '+'), a BBH
    group such as ``bbh:algorithmic`` standing for its files."""
    from serve.data.bbh import group_sources

    if MIXTURE_SEPARATOR not in source or is_local_file(source):
        parts = [source]
    else:
        parts = [part.strip() for part in source.split(MIXTURE_SEPARATOR)]
    return [task for part in parts for task in (group_sources(part) or [part])]


def load_examples(source: str, split: str = "train", limit: int | None = None, seed: int = 0,
                  fields: dict[str, Any] | str | None = None) -> list[Example]:
    """Examples of ``split`` (train|dev|test|all) from ``source``; ``limit`` takes a seeded subset.

    Several sources joined by ``+`` make a mixture (a multi-task student): each source is
    loaded on its own, ``limit`` applies to each, and the examples are concatenated."""
    if limit is not None and limit < 0:
        raise UserError(f"limit must be >= 0, got {limit}")
    parts = mixture_parts(source)
    if len(parts) > 1:
        if not all(parts):
            raise UserError(f"empty source in the mixture '{source}'; join sources as 'A + B'")
        mixed = [e for part in parts for e in load_examples(part, split, limit, seed, fields)]
        seen: set[str] = set()
        for example in mixed:
            if example.id in seen:
                raise UserError(f"question id '{example.id}' occurs in two sources of the mixture '{source}'; "
                                "give each source's questions their own ids")
            seen.add(example.id)
        return mixed
    if source.startswith("gen:"):
        from serve.data.generated import load_generated

        _check_split(split)
        return load_generated(source.split(":", 1)[1], split, limit, seed)
    if source.startswith("bbh:"):
        from serve.data.bbh import load_task as load_bbh

        if split not in ("test", "all"):
            raise UserError(f"BBH is evaluation data (its files carry a canary): use split test, not '{split}'; "
                            "train on generated questions (gen:FAMILY)")
        task = source.split(":", 1)[1].strip("/")
        if not task:
            raise UserError("a BBH source needs a task: bbh:TASK, e.g. bbh:tracking_shuffled_objects_three_objects")
        return _select(load_bbh(task), "all", limit, seed)
    if source.startswith("bigbench:"):
        from serve.data.bigbench import load_task

        task = source.split(":", 1)[1].strip("/")
        if not task:
            raise UserError("a BIG-bench source needs a task: bigbench:TASK[/SUBTASK], e.g. bigbench:social_iqa")
        examples = assign_splits(load_task(task), seed)
    elif Path(source).suffix in (".jsonl", ".json", ".csv"):
        examples = load_file(Path(source), fields)
        missing = [e.id for e in examples if e.split is None]
        if missing and len(missing) < len(examples):
            raise UserError(f"{source}: instance '{missing[0]}' has no split while others do; give every "
                            "row a split (train|dev|test) or none (then a seeded split is made)")
        if missing:
            examples = assign_splits(examples, seed)
    elif source in HF_LAYOUTS:
        examples = load_hf(source, split)
    else:
        raise UserError(f"unknown data source '{source}'; use gen:FAMILY[/SIZE], bbh:TASK, bigbench:TASK[/SUBTASK], "
                        f"a .jsonl/.csv file, or one of {', '.join(HF_LAYOUTS)}")
    return _select(examples, split, limit, seed)
