from __future__ import annotations

import json

import pytest

from distill.sample import SampleConfig, run
from serve.core.config import build


def test_program_teacher_writes_correct_and_varied_rationales(tmp_path):
    out = tmp_path / "cots.jsonl"
    cfg = build(SampleConfig, {"data": {"source": "gen:tracking_shuffled_objects/three_objects", "limit": 6},
                               "teacher": {"backend": "program", "model": "auto"},
                               "sampling": {"n": 10}, "out": str(out)})
    summary = run(cfg)
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(records) == 60 and summary["teacher_accuracy"] == 1.0 and summary["parse_rate"] == 1.0
    by_example: dict[str, set[str]] = {}
    for record in records:
        assert record["correct"] and record["prediction"] == record["gold"]
        by_example.setdefault(record["example_id"], set()).add(record["rationale"])
    assert all(len(texts) >= 7 for texts in by_example.values())

    # Same keys, same seed: a rerun into a fresh file writes identical text.
    again = tmp_path / "again.jsonl"
    cfg.out = str(again)
    run(cfg)
    rerun = [json.loads(line) for line in again.read_text().splitlines()]
    assert [(r["example_id"], r["sample_index"], r["rationale"]) for r in rerun] == \
        [(r["example_id"], r["sample_index"], r["rationale"]) for r in records]


def test_a_rerun_in_another_rationale_style_is_refused_not_mixed_into_the_file(tmp_path):
    from serve.core.errors import UserError

    out = tmp_path / "cots.jsonl"
    settings = {"data": {"source": "gen:navigate", "limit": 4}, "teacher": {"backend": "program"},
                "sampling": {"n": 1}, "out": str(out)}
    run(build(SampleConfig, settings))
    first = out.read_text()
    settings["data"]["limit"] = 6
    settings["teacher"]["rationale_style"] = "turns_cycled"
    with pytest.raises(UserError, match="teacher.rationale_style"):
        run(build(SampleConfig, settings))
    assert out.read_text() == first


def test_a_question_the_solver_cannot_read_is_reported_by_id_and_never_trained_on(tmp_path, capsys):
    from distill.sample import main as sample_main

    questions = tmp_path / "q.jsonl"
    good = ("Alice, Bob, and Claire are playing a game. At the start of the game, they are each holding a ball: "
            "Alice has a red ball, Bob has a blue ball, and Claire has a green ball. \n\nFirst, Alice and Bob swap "
            "balls. Then, Bob and Claire swap balls. Finally, Alice and Claire swap balls. At the end of the game, "
            "Bob has the")
    rows = [{"id": "tso/0", "question": good, "choices": ["red ball.", "blue ball.", "green ball."],
             "answer": "(c)", "split": "train"},
            {"id": "tso/1", "question": "Alice and Bob juggle. Who drops the ball?", "choices": ["Alice", "Bob"],
             "answer": "(a)", "split": "train"}]
    questions.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "cots.jsonl"
    assert sample_main(["--data.source", str(questions), "--teacher.backend", "program", "--teacher.model",
                        "tracking_shuffled_objects", "--sampling.n", "2", "--out", str(out)]) == 0
    assert "unsolvable (skipped): 1, e.g. tso/1" in capsys.readouterr().out
    records = [json.loads(line) for line in out.read_text().splitlines()]
    bad = [r for r in records if r["example_id"] == "tso/1"]
    assert len(bad) == 2 and not any(r["correct"] or r["rationale"] for r in bad)
    assert all(r["correct"] for r in records if r["example_id"] == "tso/0")


def test_a_mixture_takes_one_style_per_family_from_a_comma_separated_list():
    import random

    from distill.solvers import FAMILIES
    from distill.teachers.base import Job, TeacherConfig
    from distill.teachers.program import ProgramTeacher
    from serve.core.errors import UserError
    from serve.data.sources import load_examples

    examples = load_examples("gen:dyck_languages + gen:logical_deduction/five_objects + gen:navigate", "train", 2)
    teacher = ProgramTeacher(TeacherConfig(backend="program", rationale_style="pop_each, numbered_spots"),
                             type("Sampling", (), {"seed": 0})())
    assert teacher.name == "program:auto:pop_each,numbered_spots"
    for job, samples in teacher.sample([Job(e.id, "", 1, example=e) for e in examples]):
        family = job.example.task.removeprefix("gen:").split("/")[0]
        style = {"dyck_languages": "pop_each", "logical_deduction": "numbered_spots"}.get(family, "default")
        rng = random.Random(0)
        expected = FAMILIES[family].solver(style)(job.example, rng)[0]
        # the teacher seeds its own draws; the style shows in the text all the same
        marker = {"pop_each": "from the top: ", "numbered_spots": " spot", "default": ""}[style]
        assert marker in samples[0].text and (marker in expected)
    with pytest.raises(UserError, match="'fancy' is not a style of any program solver"):
        ProgramTeacher(TeacherConfig(backend="program", rationale_style="pop_each,fancy"), None)
    with pytest.raises(UserError, match="'numbered_spots' is not a style of the dyck_languages solver"):
        ProgramTeacher(TeacherConfig(backend="program", model="dyck_languages", rationale_style="numbered_spots"), None)
