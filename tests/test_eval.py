"""scotd eval: scoring helpers, greedy and self-consistency runs on a trained tiny student, label-only
students, --compare, and the same command on an exported ONNX folder."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from distill.evaluate import EvalConfig, parse_output, run as eval_run, student_mode
from distill.intervals import bootstrap_interval
from distill.train import TrainConfig, run as train_run
from serve.cli.verbs import main as cli_main
from serve.core.answers import answers_match, majority_vote
from serve.core.config import parse_args
from serve.core.records import Example, read_jsonl
from serve.data.sources import load_examples
from train_fixtures import train_argv, write_task


@pytest.fixture(scope="module")
def task(tmp_path_factory):
    return write_task(tmp_path_factory.mktemp("eval-task"), n_train=16, n_test=8)


@pytest.fixture(scope="module")
def cot_student(tiny_llama_dir, task, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("cot-student")
    return train_run(parse_args(TrainConfig, train_argv(
        tiny_llama_dir, *task, out, "--max_steps", "40", "--batch_size", "8", "--lr", "3e-3", "--eval_every", "0",
        "--save_every", "1000", "--data.dev_fraction", "0")))


def _eval(model: Path, task, out: Path, *extra: str) -> dict:
    return eval_run(parse_args(EvalConfig, [str(model), "--data.source", str(task[0]), "--out", str(out),
                                            "--sampling.max_new_tokens", "40", *extra]))


def test_bootstrap_interval_brackets_the_mean_and_narrows_with_n():
    rng = np.random.default_rng(0)
    small, large = rng.random(40) < 0.6, rng.random(1600) < 0.6
    for sample in (small, large):
        low, high = bootstrap_interval(sample, 1000, seed=1)
        assert low < sample.mean() < high
    assert np.subtract(*bootstrap_interval(large, 1000)[::-1]) < np.subtract(*bootstrap_interval(small, 1000)[::-1])
    assert bootstrap_interval([True] * 10) == (1.0, 1.0)
    assert bootstrap_interval([]) == (0.0, 0.0)


def test_majority_vote_ignores_unparsed_samples_and_breaks_ties_by_first_seen():
    assert majority_vote(["(a)", None, "(b)", "(b)"]) == ("(b)", {"(a)": 1, "(b)": 2})
    assert majority_vote(["(c)", "(a)", "(a)", "(c)"])[0] == "(c)"
    assert majority_vote([None, None]) == (None, {})


def test_label_only_outputs_parse_for_every_answer_type():
    mc = Example("1", "t", "q", "(b)", choices=["red", "blue"])
    assert parse_output("(b).", mc, "label_only") == "(b)"
    assert parse_output("blue", mc, "label_only") == "(b)"
    assert parse_output("8.", Example("2", "t", "q", "8"), "label_only") == "8"
    assert parse_output("yes.", Example("3", "t", "q", "yes"), "label_only") == "yes"
    assert parse_output("It has 8 legs. So the answer is 7.", Example("2", "t", "q", "8"), "cot") == "7"


def test_greedy_eval_writes_per_example_rows_summary_and_table(cot_student, task, tmp_path):
    summary = _eval(cot_student, task, tmp_path / "greedy", "--name", "tiny-cot")
    rows = [json.loads(line) for line in (tmp_path / "greedy" / "predictions.jsonl").read_text().splitlines()]
    gold = {e.id: e.answer for e in load_examples(str(task[0]), "test")}
    assert [r["id"] for r in rows] == list(gold) and summary["n"] == 8
    for row in rows:
        assert set(row) >= {"question", "output", "parsed", "gold", "correct"}
        assert row["gold"] == gold[row["id"]]
        assert row["correct"] == answers_match(row["parsed"], row["gold"])
    assert summary["accuracy"] == pytest.approx(sum(r["correct"] for r in rows) / len(rows))
    low, high = summary["ci95"]
    assert low <= summary["accuracy"] <= high
    assert summary["mode"] == "cot" and summary["decoding"] == "greedy" and summary["backend"] == "torch"
    assert summary["parsed_fraction"] == pytest.approx(sum(r["parsed"] is not None for r in rows) / len(rows))
    assert sum("So the answer is" in r["output"] for r in rows) >= 4  # it learned the student format
    table = (tmp_path / "greedy" / "summary.md").read_text()
    assert "| tiny-cot |" in table and f"{summary['accuracy']:.3f}" in table


def test_an_interrupted_eval_resumes_where_it_stopped(cot_student, task, tmp_path, monkeypatch, capsys):
    import distill.evaluate as evaluate

    whole = _eval(cot_student, task, tmp_path / "whole", "--batch_size", "3")
    first_batch = evaluate.PartialWriter.__call__

    def stop_after_first_batch(self, rows):
        first_batch(self, rows)
        raise KeyboardInterrupt

    monkeypatch.setattr(evaluate.PartialWriter, "__call__", stop_after_first_batch)
    with pytest.raises(KeyboardInterrupt):
        _eval(cot_student, task, tmp_path / "cut", "--batch_size", "3")
    monkeypatch.undo()
    partial = (tmp_path / "cut" / evaluate.PARTIAL_FILE).read_text().splitlines()
    assert len(partial) == 1 + 3 and "3 questions scored so far" in (tmp_path / "cut" / "summary.partial.md").read_text()
    from distill.eval_folder import eval_rows, eval_summary  # scotd results tabulates an eval still under way
    assert eval_summary(tmp_path / "cut")["partial"] and eval_summary(tmp_path / "cut")["n"] == 3
    assert [r["id"] for r in eval_rows(tmp_path / "cut")] == [json.loads(line)["id"] for line in partial[1:]]
    # and an eval under way pairs with a finished one on the questions both scored
    assert "(+0 / -0 of 3)" in evaluate.compare([str(tmp_path / "whole"), str(tmp_path / "cut")])

    decoded = []
    generate = evaluate.answer_all
    monkeypatch.setattr(evaluate, "answer_all",
                        lambda engine, items, *rest: decoded.extend(items) or generate(engine, items, *rest))
    resumed = _eval(cot_student, task, tmp_path / "cut", "--batch_size", "3")
    assert len(decoded) == whole["n"] - 3  # only the questions the first run had not scored
    rows = lambda name: [{k: r[k] for k in ("id", "output", "correct")}  # noqa: E731
                         for r in map(json.loads, (tmp_path / name / "predictions.jsonl").read_text().splitlines())]
    assert rows("cut") == rows("whole") and resumed["accuracy"] == whole["accuracy"]
    assert not (tmp_path / "cut" / evaluate.PARTIAL_FILE).exists()

    # a finished eval asked again for more questions decodes only the new ones
    decoded.clear()
    fewer = _eval(cot_student, task, tmp_path / "grow", "--batch_size", "3", "--data.limit", "2")
    assert fewer["n"] == 2 and len(decoded) == 2
    decoded.clear()
    more = _eval(cot_student, task, tmp_path / "grow", "--batch_size", "3")
    assert more["n"] == whole["n"] and len(decoded) == whole["n"] - 2 and rows("grow") == rows("whole")
    decoded.clear()  # other settings: nothing reused
    _eval(cot_student, task, tmp_path / "grow", "--batch_size", "3", "--sampling.max_new_tokens", "39")
    assert len(decoded) == whole["n"]


def test_a_mixture_is_decoded_one_task_at_a_time_in_turn_so_a_partial_summary_covers_every_task():
    from distill.evaluate import interleaved_by_task
    tasks = {"dyck": 4, "navigate": 2, "sorting": 3}
    examples = [Example(id=f"{t}/{i}", task=t, question=f"{t} {i}", answer="x") for t, n in tasks.items()
                for i in range(n)]
    order = [e.id for e in interleaved_by_task(examples)]
    assert order[:3] == ["dyck/0", "navigate/0", "sorting/0"] and order[3:6] == ["dyck/1", "navigate/1", "sorting/1"]
    assert sorted(order) == sorted(e.id for e in examples)  # every question once
    for t in tasks:  # each task keeps its own order
        assert [i for i in order if i.startswith(t)] == [f"{t}/{i}" for i in range(tasks[t])]


def test_partial_rows_from_other_settings_are_set_aside_not_reused(cot_student, task, tmp_path, monkeypatch):
    import distill.evaluate as evaluate

    out = tmp_path / "eval"
    out.mkdir()
    stale = {"key": "x", "id": "0", "question": "q", "correct": True}
    (out / evaluate.PARTIAL_FILE).write_text(json.dumps({"fingerprint": "other"}) + "\n" + json.dumps(stale) + "\n")
    summary = _eval(cot_student, task, out)
    assert summary["n"] == 8
    assert json.loads((out / "predictions.partial.superseded.jsonl").read_text().splitlines()[1]) == stale


def test_self_consistency_votes_over_k_samples(cot_student, task, tmp_path):
    summary = _eval(cot_student, task, tmp_path / "sc", "--sampling.n", "3", "--sampling.temperature", "1.0")
    rows = [json.loads(line) for line in (tmp_path / "sc" / "predictions.jsonl").read_text().splitlines()]
    assert summary["decoding"].startswith("self-consistency n=3")
    for row in rows:
        assert len(row["samples"]) == len(row["sample_answers"]) == 3
        assert sum(row["votes"].values()) == sum(a is not None for a in row["sample_answers"])
        assert row["parsed"] == majority_vote(row["sample_answers"])[0]
    assert len({s for r in rows for s in r["samples"]}) > len(rows)  # samples differ: really sampled


def test_label_only_student_is_scored_as_label_only(tiny_llama_dir, task, tmp_path):
    student = train_run(parse_args(TrainConfig, [
        "--model", str(tiny_llama_dir), "--data.source", str(task[0]), "--mode", "label_only",
        "--out", str(tmp_path / "lo"), "--max_steps", "30", "--batch_size", "8", "--lr", "3e-3",
        "--eval_every", "0", "--save_every", "1000", "--data.dev_fraction", "0"]))
    assert student_mode(student, "auto") == "label_only"
    summary = _eval(student, task, tmp_path / "lo-eval")
    rows = [json.loads(line) for line in (tmp_path / "lo-eval" / "predictions.jsonl").read_text().splitlines()]
    assert summary["mode"] == "label_only"
    assert all(len(r["output"]) < 120 for r in rows)  # 16 new tokens at most
    assert summary["parsed_fraction"] > 0.5


def test_compare_prints_one_table_across_runs(cot_student, task, tmp_path, capsys):
    _eval(cot_student, task, tmp_path / "a", "--name", "run-a")
    _eval(cot_student, task, tmp_path / "b", "--name", "run-b", "--data.limit", "4")
    # b's first answer marked the other way: the paired line must count it, on the 4 items both scored
    rows = [row for _, row in read_jsonl(tmp_path / "b" / "predictions.jsonl")]
    rows[0]["correct"] = not rows[0]["correct"]
    (tmp_path / "b" / "predictions.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    capsys.readouterr()
    assert cli_main(["eval", "--compare", str(tmp_path / "a"), str(tmp_path / "b")]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].startswith("| run | model |") and "| run-a |" in lines[2] and "| run-b |" in lines[3]
    assert "| 4 |" in lines[3]
    flipped = "(+1 / -0 of 4)" if rows[0]["correct"] else "(+0 / -1 of 4)"
    assert lines[-1].startswith("| all shared items |") and flipped in lines[-1]
    assert cli_main(["eval", "--compare", str(tmp_path / "missing")]) == 2
    assert "has no summary.json" in capsys.readouterr().err


def test_missing_source_is_a_one_line_error(cot_student, capsys):
    assert cli_main(["eval", str(cot_student)]) == 2
    assert "eval needs data.source" in capsys.readouterr().err


def test_same_command_scores_an_exported_onnx_folder(cot_student, task, tmp_path):
    from export.export_model import ExportConfig, run as export_run
    from serve.core.config import build

    exported = export_run(build(ExportConfig, {"model": str(cot_student), "out": str(tmp_path / "onnx"),
                                               "precision": "fp32", "accuracy": {"enabled": False}}))
    torch_summary = _eval(cot_student, task, tmp_path / "torch")
    onnx_summary = _eval(exported, task, tmp_path / "onnx-eval")
    assert onnx_summary["backend"] == "onnx" and torch_summary["backend"] == "torch"
    torch_rows = (tmp_path / "torch" / "predictions.jsonl").read_text().splitlines()
    onnx_rows = (tmp_path / "onnx-eval" / "predictions.jsonl").read_text().splitlines()
    # fp32 export, greedy decoding: the same answers, question by question.
    assert [json.loads(r)["parsed"] for r in torch_rows] == [json.loads(r)["parsed"] for r in onnx_rows]
    assert onnx_summary["accuracy"] == torch_summary["accuracy"]


def test_plots_loss_curve_and_accuracy_vs_samples_per_instance(cot_student, task, tmp_path):
    from distill.plots import eval_point, main as plots_main

    _eval(cot_student, task, tmp_path / "e", "--data.limit", "2")
    point = eval_point(tmp_path / "e")
    assert point["samples_per_instance"] == 2.0  # two correct rationales kept per training question
    assert plots_main(["accuracy", str(tmp_path / "e"), "--out", str(tmp_path / "acc.png")]) == 0
    assert plots_main(["loss", str(cot_student.parent), "--out", str(tmp_path / "loss.png")]) == 0
    for png in ("acc.png", "loss.png"):
        assert (tmp_path / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and (tmp_path / png).stat().st_size > 5000


def test_few_shot_prompt_scores_an_untrained_model_with_the_teacher_prompt(tiny_llama_dir, task, tmp_path):
    from distill.evaluate import prompt_renderer
    from distill.prompting import TEXT_STOP, load_prompt_set
    from serve.engines.interface import load_engine

    example = load_examples(str(task[0]), "test")[0]
    demos = load_prompt_set("multiple_choice").demonstrations
    engine = load_engine(tiny_llama_dir, backend="torch")
    try:
        cfg = parse_args(EvalConfig, [str(tiny_llama_dir), "--prompt", "few_shot"])
        render, stop = prompt_renderer(engine, cfg)
        chat = render(example)
        assert chat.count("<|im_start|>user") == len(demos) + 1 and demos[0].question in chat
        assert chat.rstrip().endswith("<|im_start|>assistant") and example.question in chat and stop == []
        engine.chat_template = None  # a base model without a template gets the plain Q:/A: text and its stops
        render, stop = prompt_renderer(engine, cfg)
        text = render(example)
        assert text.count("\nQ: ") == len(demos) + 1 and text.endswith("A:") and stop == list(TEXT_STOP)
        student, _ = prompt_renderer(engine, parse_args(EvalConfig, [str(tiny_llama_dir)]))
        assert demos[0].question not in student(example)
    finally:
        engine.close()
    summary = _eval(tiny_llama_dir, task, tmp_path / "base", "--prompt", "few_shot", "--mode", "cot")
    assert summary["decoding"] == "greedy few-shot" and summary["n"] == 8
