from __future__ import annotations

import io
import itertools
import json
import tarfile
from pathlib import Path

import pytest

from serve.core.errors import UserError
from serve.data.sources import load_examples

CLOSINGS = [" ".join(p) for n in (1, 2, 3) for p in itertools.product(")]}>", repeat=n)][:30]  # over 26 options
TASKS = {
    "mc_task": {"name": "mc_task", "examples": [
        {"input": f"Which one is item {i}?", "target_scores": {f"item {i}": 1, "other": 0, "third": 0, "fourth": 0}}
        for i in range(40)]},
    "yn_task": {"name": "yn_task", "examples": [
        {"input": "Is ice cold?", "target_scores": {"Yes": 1, "No": 0}, "target": "Yes. Ice is frozen water."},
        {"input": "Is fire cold?", "target_scores": {"Yes": 0, "No": 1}, "target": "No. Fire is hot."}]},
    "em_task": {"name": "em_task", "examples": [
        {"input": "What is 2 + 3?", "target": "5"},
        {"input": "Name a primary color.", "target": ["Red", "blue."]}]},
    "prefixed": {"name": "prefixed", "task_prefix": "Close the brackets.\n", "example_input_prefix": "\nInput: ",
                 "examples": [{"input": "( [", "target_scores": {c: int(c == "] )") for c in CLOSINGS}}]},
    "parent": {"name": "parent"},
    "parent/sub": {"name": "sub", "examples": [{"input": "q", "target": "x"}]},
}


def make_sdist(path: Path) -> Path:
    """A tar.gz with the layout of bigbench-1.0.0.tar.gz, holding the TASKS above and one non-task file."""
    with tarfile.open(path, "w:gz") as tar:
        files = {f"bigbench-1.0.0/bigbench/benchmark_tasks/{t}/task.json": json.dumps(d) for t, d in TASKS.items()}
        files["bigbench-1.0.0/bigbench/api/model.py"] = "print('not a task')"
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


@pytest.fixture
def bigbench_cache(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("SCOTD_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("SCOTD_BIGBENCH_SDIST", str(make_sdist(tmp_path / "bigbench-1.0.0.tar.gz")))
    return tmp_path / "cache"


def test_bigbench_multiple_choice_is_extracted_once_and_lettered(bigbench_cache):
    examples = load_examples("bigbench:mc_task", split="all")
    assert len(examples) == 40
    assert (bigbench_cache / "bigbench" / "tasks" / "mc_task" / "task.json").is_file()
    assert not (bigbench_cache / "bigbench" / "tasks" / "api").exists()
    assert "parent/sub" in (bigbench_cache / "bigbench" / "index.txt").read_text().split()
    positions = set()
    for example in examples:
        index = "abcd".index(example.answer[1])
        assert example.choices[index] == f"item {example.question.split()[-1].rstrip('?')}"
        assert example.answer_type == "multiple_choice" and sorted(example.choices)[-1] == "third"
        positions.add(index)
    assert len(positions) > 1, "choices must be shuffled: the source lists the correct one first"
    assert [e.choices for e in load_examples("bigbench:mc_task", split="all")] == [e.choices for e in examples]


def test_bigbench_yes_no_and_exact_match_forms(bigbench_cache):
    yes_no = load_examples("bigbench:yn_task", split="all")
    assert [(e.answer, e.answer_type, e.choices) for e in yes_no] == [("yes", "yes_no", None), ("no", "yes_no", None)]
    assert yes_no[0].meta["explanation"].startswith("Yes.")
    exact = load_examples("bigbench:em_task", split="all")
    assert [(e.answer, e.answer_type) for e in exact] == [("5", "number"), ("red", "text")]
    assert exact[1].meta["targets"] == ["red", "blue"]
    assert [e.id for e in load_examples("bigbench:parent/sub", split="all")] == ["parent/sub/0"]


def test_bigbench_errors_name_the_fix(bigbench_cache):
    load_examples("bigbench:em_task", split="all")
    with pytest.raises(UserError, match="bigbench:parent/sub"):
        load_examples("bigbench:parent", split="all")
    with pytest.raises(UserError, match="no BIG-bench JSON task 'nope'"):
        load_examples("bigbench:nope")


def test_seeded_splits_are_disjoint_deterministic_and_stable_under_limit(bigbench_cache):
    splits = {s: load_examples("bigbench:mc_task", split=s) for s in ("train", "dev", "test")}
    ids = [e.id for s in splits.values() for e in s]
    assert len(ids) == len(set(ids)) == 40 and [len(splits[s]) for s in ("train", "dev", "test")] == [32, 4, 4]
    assert [e.id for e in load_examples("bigbench:mc_task", split="test")] == [e.id for e in splits["test"]]
    assert {e.id for e in load_examples("bigbench:mc_task", split="test", seed=1)} != {e.id for e in splits["test"]}
    limited = load_examples("bigbench:mc_task", split="train", limit=5)
    assert len(limited) == 5 and {e.id for e in limited} <= {e.id for e in splits["train"]}


def test_local_jsonl_and_csv_with_field_mapping(tmp_path):
    jsonl = tmp_path / "mine.jsonl"
    jsonl.write_text("\n".join(json.dumps(r) for r in [
        {"qid": "a", "q": "Pick red", "opts": ["blue", "red"], "label": "B", "part": "train"},
        {"qid": "b", "q": "Pick blue", "opts": ["blue", "red"], "label": 0, "part": "test"},
        {"qid": "c", "q": "Pick red again", "opts": ["blue", "red"], "label": "red", "part": "train"}]) + "\n")
    fields = {"id": "qid", "question": "q", "choices": "opts", "answer": "label", "split": "part"}
    train = load_examples(str(jsonl), split="train", fields=fields)
    assert [(e.id, e.answer) for e in train] == [("a", "(b)"), ("c", "(b)")]
    assert [e.answer for e in load_examples(str(jsonl), split="test", fields=fields)] == ["(a)"]
    csv_file = tmp_path / "mine.csv"
    csv_file.write_text("question,answer,c1,c2\nIs it so?,Yes,,\nHow many?,\"1,200\",,\nPick,b,x,y\n")
    rows = load_examples(str(csv_file), split="all", fields={"choices": ["c1", "c2"]})
    assert [(e.answer, e.answer_type) for e in rows] == [("yes", "yes_no"), ("1200", "number"),
                                                        ("(b)", "multiple_choice")]


@pytest.mark.parametrize("content, message", [
    ('{"question": "q", "answer": "x"}\nnot json\n', r"bad\.jsonl:2: not valid JSON"),
    ('{"question": "q"}\n', r"bad\.jsonl:1: missing field 'answer'"),
    ('{"question": "q", "answer": "z", "choices": ["a", "b"]}\n', r"bad\.jsonl:1: field 'answer'"),
    ('{"question": "q", "answer": "a", "split": "validation"}\n', r"bad\.jsonl:1: field 'split'"),
])
def test_bad_local_files_name_file_line_and_field(tmp_path, content, message):
    path = tmp_path / "bad.jsonl"
    path.write_text(content)
    with pytest.raises(UserError, match=message):
        load_examples(str(path), split="all")


HF_ROWS = {
    "commonsense_qa": {"id": "075e483d21c29a511267ef62bedc0461", "question": "Where would you put a plate after washing it?",
                       "question_concept": "plate",
                       "choices": {"label": ["A", "B", "C", "D", "E"],
                                   "text": ["table", "cupboard", "sink", "floor", "oven"]}, "answerKey": "B"},
    "openbookqa": {"id": "7-980", "question_stem": "The sun is responsible for",
                   "choices": {"text": ["puppies learning new tricks", "plants sprouting, blooming and wilting",
                                        "children growing up", "flowers wilting in a vase"],
                               "label": ["A", "B", "C", "D"]}, "answerKey": "B"},
    "quarel": {"id": "QuaRel_V1_Fr_0223", "answer_index": 1, "logical_forms": ["(infer ...)"],
               "logical_form_pretty": "qrel(speed, higher, world1)",
               "world_literals": {"world1": ["dry snow"], "world2": ["wet snow"]},
               "question": "Mike's snowboard goes slower on wet snow than dry snow. Which has more friction? "
                           "(A) dry snow (B) wet snow"},
}


@pytest.mark.parametrize("layout", sorted(HF_ROWS))
def test_hugging_face_layouts_from_a_local_copy(tmp_path, layout):
    path = tmp_path / f"{layout}.jsonl"
    path.write_text(json.dumps(HF_ROWS[layout]) + "\n" + json.dumps(HF_ROWS[layout]).replace('"id": "', '"id": "x') + "\n")
    examples = load_examples(str(path), split="all", fields=layout)
    example = examples[0]
    assert example.answer == "(b)" and example.answer_type == "multiple_choice"
    assert example.choices[1] in ("cupboard", "plants sprouting, blooming and wilting", "wet snow")
    if layout == "quarel":
        assert example.question.endswith("Which has more friction?") and example.choices == ["dry snow", "wet snow"]
    broken = dict(HF_ROWS[layout])
    broken.pop("answerKey" if layout != "quarel" else "answer_index")
    path.write_text(json.dumps(broken) + "\n")
    with pytest.raises(UserError, match=rf"{layout}\.jsonl:1: bad or missing field"):
        load_examples(str(path), split="all", fields=layout)


def test_unknown_source_and_offline_hub_are_one_line_errors():
    with pytest.raises(UserError, match="unknown data source 'nope'"):
        load_examples("nope")


def test_bigbench_instruction_and_more_options_than_letters(bigbench_cache):
    """A task's prefix is part of the question, and more options than letters (dyck_languages) turn exact-match."""
    (example,) = load_examples("bigbench:prefixed", split="all")
    assert example.question == "Close the brackets.\nInput: ( ["
    assert example.choices is None and example.answer == "] )" and example.answer_type == "text"
    assert load_examples("bigbench:mc_task", split="all")[0].question == "Which one is item 0?"  # no prefix: as is


def test_a_mixture_of_sources_takes_limit_from_each(bigbench_cache):
    mixed = load_examples("bigbench:mc_task + bigbench:em_task", split="all", limit=2)
    assert [e.task for e in mixed] == ["mc_task", "mc_task", "em_task", "em_task"]
    assert [e.id for e in mixed[:2]] == [e.id for e in load_examples("bigbench:mc_task", split="all", limit=2)]
    with pytest.raises(UserError, match="empty source in the mixture"):
        load_examples("bigbench:mc_task + ", split="all")


def test_bigbench_reads_a_checkout_named_by_scotd_bigbench_dir(tmp_path, monkeypatch):
    for task, data in TASKS.items():
        path = tmp_path / "BIG-bench" / "bigbench" / "benchmark_tasks" / task / "task.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(data))
    monkeypatch.setenv("SCOTD_BIGBENCH_DIR", str(tmp_path / "BIG-bench"))
    monkeypatch.setenv("SCOTD_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("SCOTD_BIGBENCH_SDIST", raising=False)
    assert len(load_examples("bigbench:mc_task", split="all")) == 40
    assert [e.answer for e in load_examples("bigbench:em_task", split="all")] == ["5", "red"]
    assert not (tmp_path / "cache" / "bigbench").exists()  # read in place, nothing downloaded or extracted
    with pytest.raises(UserError, match="SCOTD_BIGBENCH_DIR=.* has no task 'nope'"):
        load_examples("bigbench:nope", split="all")
