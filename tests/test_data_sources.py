"""The two default data paths: generated questions (gen:) and BIG-Bench Hard files (bbh:)."""

from __future__ import annotations

import functools
import json
import http.server
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from serve.core.errors import UserError
from serve.data import bbh, generated
from serve.data.generators import FAMILIES, generator
from serve.data.sources import load_examples
from solver_checks import bbh_task

TSO = "gen:tracking_shuffled_objects/three_objects"


# --------------------------------------------------------------------------- gen:

def test_generated_questions_are_seeded_and_the_splits_disjoint_across_seeds():
    first = load_examples(TSO, split="train", limit=40, seed=0)
    assert [e.question for e in load_examples(TSO, split="train", limit=40, seed=0)] == [e.question for e in first]
    other_seed = load_examples(TSO, split="train", limit=40, seed=1)
    assert {e.id for e in other_seed} != {e.id for e in first}
    tests = {e.question for seed in (0, 1, 2) for e in load_examples(TSO, split="test", limit=60, seed=seed)}
    trains = {e.question for seed in (0, 1, 2) for e in load_examples(TSO, split="train", limit=200, seed=seed)}
    assert tests and trains and not tests & trains
    assert all(e.split == "test" for e in load_examples(TSO, split="test", limit=5))
    assert {e.split for e in load_examples(TSO, split="all", limit=200)} == {"train", "dev", "test"}


def test_generated_examples_name_family_size_and_parameters():
    (example,) = load_examples("gen:tracking_shuffled_objects/five_objects", split="train", limit=1)
    assert example.task == "gen:tracking_shuffled_objects/five_objects"
    assert example.id.startswith("tracking_shuffled_objects/five_objects/")
    assert len(example.choices) == 5 and example.meta["params"]["objects"] == 5
    (nine,) = load_examples("gen:tracking_shuffled_objects?objects=9", split="train", limit=1)
    assert len(nine.choices) == 9 and ",objects=9" in nine.id


def test_a_source_of_a_mixture_sets_its_own_count_and_keeps_its_task_name():
    mixed = load_examples("gen:navigate?count=7 + gen:web_of_lies + gen:logical_deduction/three_objects?count=2"
                          "&wording=varied", split="train", limit=3)
    tasks = [e.task for e in mixed]
    assert tasks.count("gen:navigate/default") == 7 and tasks.count("gen:web_of_lies/default") == 3
    assert tasks.count("gen:logical_deduction/three_objects,wording=varied") == 2
    # the first N of the same draws: a larger count extends, never reshuffles
    fewer = load_examples("gen:navigate?count=4", split="train", limit=99)
    assert [e.id for e in fewer] == [e.id for e in mixed[:4]]


def test_a_limit_beyond_what_a_size_holds_is_refused_with_the_fix():
    with pytest.raises(UserError, match="yields only .* distinct"):
        load_examples("gen:arithmetic/1_digit_addition", split="train", limit=500)


@pytest.mark.parametrize("source, message", [
    ("gen:no_such_family", "no generator for 'no_such_family'"),
    ("gen:tracking_shuffled_objects/eleventy", "no size 'eleventy'"),
    ("gen:tracking_shuffled_objects?colour=red", "no parameter 'colour'"),
    ("gen:tracking_shuffled_objects?objects=many", "must be a int"),
    ("gen:tracking_shuffled_objects?wording=klingon", "no wording 'klingon'"),
    ("gen:dyck_languages?length=6&depth=9", "gen:dyck_languages"),
    ("gen:navigate?count=lots", "count='lots' must be a whole number"),
])
def test_bad_generated_sources_fail_with_one_line_naming_the_fix(source, message):
    with pytest.raises(UserError, match=message):
        load_examples(source, limit=3)


def test_a_generated_question_equal_to_a_bbh_item_is_never_emitted(monkeypatch):
    drawn = load_examples(TSO, split="all", limit=30)
    banned = {bbh.question_key(e.question) for e in drawn[:10]}
    generated.bbh_question_keys.cache_clear()
    monkeypatch.setattr(generated, "bbh_question_keys", lambda: frozenset(banned))
    again = load_examples(TSO, split="all", limit=30)
    assert not {bbh.question_key(e.question) for e in again} & banned
    assert [e.question for e in again[:20]] == [e.question for e in drawn[10:30]]


def test_the_shipped_keys_are_the_bbh_questions_and_the_prompt_questions():
    questions = [e.question for task in bbh.TASKS for e in bbh_task(task)]
    prompts = Path(bbh.task_file("navigate")).parent.parent / "cot-prompts"
    if not prompts.is_dir():
        pytest.skip(f"no cot-prompts folder beside the BBH files ({prompts})")
    questions += bbh.prompt_questions(prompts)
    assert len(bbh.prompt_questions(prompts)) == 81
    assert {bbh.question_key(q) for q in questions} == generated.bbh_question_keys()


def test_every_family_and_size_draws_distinct_questions_the_mixture_joins():
    for family in FAMILIES:
        gen = generator(family)
        assert gen.default_size in gen.sizes and "wording" in gen.parameters
        for size in gen.sizes:
            examples = load_examples(f"gen:{family}/{size}", split="train", limit=20)
            assert len({e.question for e in examples}) == 20, (family, size)
    mixed = load_examples(f"{TSO} + gen:navigate", split="test", limit=3)
    assert [e.task for e in mixed] == ["gen:tracking_shuffled_objects/three_objects"] * 3 + ["gen:navigate/default"] * 3


# --------------------------------------------------------------------------- bbh:

def test_bbh_files_load_with_canonical_answers_and_their_index():
    counts = {task: len(bbh_task(task)) for task in bbh.TASKS}
    assert len(counts) == 27 and sum(counts.values()) == 6511
    tso = load_examples("bbh:tracking_shuffled_objects_seven_objects", split="test")
    assert len(tso) == 250 and all(len(e.choices) == 7 and e.answer_type == "multiple_choice" for e in tso)
    assert "Options:" not in tso[0].question and tso[17].id == "tracking_shuffled_objects_seven_objects/17"
    assert tso[0].task == "bbh:tracking_shuffled_objects_seven_objects"
    kinds = {task: {e.answer_type for e in bbh_task(task)} for task in
             ("navigate", "boolean_expressions", "multistep_arithmetic_two", "dyck_languages", "web_of_lies")}
    assert kinds == {"navigate": {"yes_no"}, "boolean_expressions": {"true_false"},
                     "multistep_arithmetic_two": {"number"}, "dyck_languages": {"text"}, "web_of_lies": {"yes_no"}}
    assert {e.answer for e in bbh_task("boolean_expressions")} == {"true", "false"}
    assert {e.answer for e in bbh_task("formal_fallacies")} == {"valid", "invalid"}
    assert len(load_examples("bbh:navigate", split="test", limit=20, seed=3)) == 20


def test_bbh_groups_are_the_papers_halves_and_load_as_mixtures():
    from distill.bbh_reference import CODEX

    algorithmic, nlp = bbh.GROUPS["algorithmic"], bbh.GROUPS["nlp"]
    assert len(algorithmic) == 15 and len(nlp) == 12
    assert set(algorithmic) | set(nlp) == set(bbh.TASKS) and not set(algorithmic) & set(nlp)
    assert list(algorithmic) == [task for task, (answer_only, _) in CODEX.items() if answer_only is not None]
    examples = load_examples("bbh:algorithmic + bbh:causal_judgement", split="test", limit=2, seed=5)
    assert [e.task for e in examples[::2]] == [f"bbh:{task}" for task in algorithmic] + ["bbh:causal_judgement"]
    assert examples[:2] == load_examples(f"bbh:{algorithmic[0]}", split="test", limit=2, seed=5)
    with pytest.raises(UserError, match="evaluation data"):
        load_examples("bbh:nlp", split="train")


def test_bbh_is_never_a_training_split():
    with pytest.raises(UserError, match="evaluation data .* canary"):
        load_examples("bbh:navigate", split="train")


def test_bbh_folder_errors_name_the_fix(tmp_path, monkeypatch):
    monkeypatch.setenv("SCOTD_BBH_DIR", str(tmp_path))
    with pytest.raises(UserError, match="has no navigate.json"):
        load_examples("bbh:navigate", split="test")
    with pytest.raises(UserError, match="no BBH task 'navigation'"):
        load_examples("bbh:navigation", split="test")


def test_a_bbh_file_that_fails_its_checksum_is_refused(tmp_path, monkeypatch):
    bbh_task("navigate")
    source = bbh.task_file("navigate")
    bad = tmp_path / "navigate.json"
    bad.write_text(source.read_text().replace('"No"', '"Yes"', 1))
    monkeypatch.setenv("SCOTD_BBH_DIR", str(tmp_path))
    with pytest.raises(UserError, match="does not match the BBH checksum"):
        load_examples("bbh:navigate", split="test")


class _Files(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def bbh_mirror(tmp_path):
    """A real HTTP server on 127.0.0.1 serving a folder as the BBH repository's bbh/ folder."""
    folder = tmp_path / "mirror"
    folder.mkdir()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Files, directory=str(folder)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield folder, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_bbh_downloads_into_the_cache_once_and_checks_the_file(tmp_path, monkeypatch, bbh_mirror):
    bbh_task("web_of_lies")
    folder, url = bbh_mirror
    shutil.copy(bbh.task_file("web_of_lies"), folder / "web_of_lies.json")
    (folder / "navigate.json").write_text('{"examples": []}')  # served, but not BBH's file
    monkeypatch.delenv("SCOTD_BBH_DIR")
    monkeypatch.setenv("SCOTD_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("SCOTD_BBH_URL", url)
    assert len(load_examples("bbh:web_of_lies", split="test")) == 250
    assert (tmp_path / "cache" / "bbh" / "web_of_lies.json").is_file()
    (folder / "web_of_lies.json").unlink()  # a second load reads the cache
    assert len(load_examples("bbh:web_of_lies", split="test")) == 250
    with pytest.raises(UserError, match="downloaded BBH file navigate.json does not match its checksum"):
        load_examples("bbh:navigate", split="test")
    assert not (tmp_path / "cache" / "bbh" / "navigate.json").exists()


def test_offline_with_no_folder_fails_fast_naming_scotd_bbh_dir(tmp_path):
    import socket
    with socket.socket() as sock:  # a port nothing listens on: the download is refused, as offline
        sock.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{sock.getsockname()[1]}"
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "SCOTD_CACHE": str(tmp_path / "cache"),
           "SCOTD_BBH_URL": closed, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    started = time.monotonic()
    result = subprocess.run([sys.executable, "-c", "import sys; from serve.cli.verbs import main; sys.exit(main())",
                             "eval", str(tmp_path), "--data.source", "bbh:navigate"],
                            capture_output=True, text=True, env=env, timeout=60)
    assert result.returncode != 0
    assert time.monotonic() - started < 10
    assert "SCOTD_BBH_DIR" in result.stderr.strip().splitlines()[-1], result.stderr


def test_scotd_data_lists_every_generator_and_shows_questions(capsys):
    from serve.cli.verbs import main

    assert main(["data", "list"]) == 0
    listing = capsys.readouterr().out
    assert all(f"gen:{family}:" in listing for family in FAMILIES)
    assert all(f"bbh:{task}" in listing for task in bbh.TASKS)
    assert main(["data", "show", "gen:web_of_lies/seven_people", "--limit", "2"]) == 0
    shown = capsys.readouterr().out
    assert shown.count("[web_of_lies/seven_people/") == 2 and "answer: " in shown
    assert main(["data", "show"]) == 2
    assert "needs a source" in capsys.readouterr().err


def test_scotd_data_overlap_counts_bbh_items_in_a_source(tmp_path, capsys):
    from serve.cli.verbs import main

    items = bbh_task("navigate")[:2]
    rows = [{"id": "copied", "question": items[0].question, "answer": items[0].answer},
            {"id": "refolded", "question": "  " + items[1].question.upper().replace(" ", "\n  "), "answer": "yes"},
            {"id": "new", "question": "Is this question in BBH? Take 1 step.", "answer": "no"}]
    questions = tmp_path / "train.jsonl"
    questions.write_text("".join(json.dumps(row) + "\n" for row in rows))
    assert main(["data", "overlap", str(questions), "--split", "all"]) == 0
    report = capsys.readouterr().out
    assert "3 questions" in report and "2 exact matches" in report and "bbh:navigate: 2" in report
    assert main(["data", "overlap", "gen:navigate", "--split", "train", "--limit", "200"]) == 0
    assert "200 questions of gen:navigate (split train)" in capsys.readouterr().out.splitlines()[0]
    assert main(["data", "overlap"]) == 2 and "needs a source" in capsys.readouterr().err


def test_bbh_cot_prompt_is_the_papers_three_shot_prompt_then_the_input():
    from serve.data.bbh import cot_prompt_for

    example = bbh_task("navigate")[5]
    prompt = cot_prompt_for(example)
    assert prompt.count("\nQ: ") == 4 and prompt.count("A: Let's think step by step.") == 4  # 3 shots + ours
    assert "canary" not in prompt.lower()  # the file's canary header is cut
    assert prompt.endswith(f"Q: {example.meta['input']}\nA: Let's think step by step.\n")
    assert "Options:\n- Yes\n- No" in example.meta["input"]  # BBH's own rendering of the options
    with pytest.raises(UserError, match="bbh_cot scores BBH files only"):
        cot_prompt_for(load_examples("gen:navigate", "test", 1)[0])
