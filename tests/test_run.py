"""scotd run: a recipe chains sample -> select -> train -> eval (-> export -> eval of the export) and skips
every stage whose config and input hashes are unchanged. The teacher is a real OpenAI-compatible HTTP
server on 127.0.0.1; the student is the tiny random llama."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import yaml

from distill.run import RunConfig, link_stages
from serve.cli.verbs import main as cli_main
from serve.core.config import parse_args
from teacher_server import TeacherServer
from train_fixtures import write_task


def _recipe(folder: Path, examples: Path, student: Path, base_url: str, stages: list[str]) -> Path:
    recipe = {
        "run": {"dir": str(folder / "run"), "stages": stages},
        "sample": {"data": {"source": str(examples), "split": "train"},
                   "teacher": {"backend": "openai", "model": "test-teacher", "base_url": base_url},
                   "sampling": {"n": 3}},
        "select": {"filter": "correct"},
        "train": {"model": str(student), "max_steps": 4, "batch_size": 4, "lr": 3e-3, "eval_every": 0,
                  "save_every": 100, "log_every": 1, "data": {"dev_fraction": 0}},
        "eval": {"data": {"split": "test"}, "sampling": {"max_new_tokens": 12}},
        "export": {"precision": "fp32", "accuracy": {"enabled": False}},
    }
    path = folder / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe))
    return path


def _stamps(run_dir: Path) -> dict[str, dict]:
    return {p.stem: json.loads(p.read_text()) for p in (run_dir / "stages").glob("*.json")}


def _statuses(run_dir: Path) -> dict[str, str]:
    return {row["stage"]: row["status"] for row in json.loads((run_dir / "run.json").read_text())["stages"]}


def test_links_stages_under_the_run_folder(tmp_path):
    cfg = parse_args(RunConfig, ["--config", str(_recipe(tmp_path, tmp_path / "q.jsonl", tmp_path / "m", "u", []))])
    link_stages(cfg)
    run_dir = tmp_path / "run"
    assert cfg.sample.out == str(run_dir / "cots.jsonl") and cfg.select.input == cfg.sample.out
    assert cfg.train.data.cots == cfg.select.out == str(run_dir / "train_cots.jsonl")
    assert cfg.train.data.source == cfg.eval.data.source == str(tmp_path / "q.jsonl")
    assert cfg.eval.model == cfg.export.model == str(run_dir / "train" / "student")


def test_a_path_the_recipe_sets_is_kept_even_when_it_equals_a_verbs_default(tmp_path):
    # "unset" is '' for every linked key: a recipe exporting the base model by name used to get its student
    recipe = _recipe(tmp_path, tmp_path / "q.jsonl", tmp_path / "m", "u", [])
    cfg = parse_args(RunConfig, ["--config", str(recipe), "--export.model", "smollm2-135m-instruct",
                                 "--train.out", "runs/train"])
    link_stages(cfg)
    assert cfg.export.model == "smollm2-135m-instruct" and cfg.train.out == "runs/train"
    assert cfg.eval.model == str(Path("runs/train") / "student")


def test_a_gguf_recipe_waits_for_the_report_a_gguf_export_writes(tmp_path):
    from distill.run import build_stages

    recipe = _recipe(tmp_path, tmp_path / "q.jsonl", tmp_path / "m", "u", [])
    cfg = parse_args(RunConfig, ["--config", str(recipe), "--export.format", "gguf", "--export.precision", "q8_0"])
    link_stages(cfg)
    assert cfg.export.out == str(tmp_path / "run" / "gguf-q8_0")
    assert build_stages(cfg)["export"].outputs == [str(tmp_path / "run" / "gguf-q8_0" / "gguf_report.json")]
    aliased = parse_args(RunConfig, ["--config", str(recipe), "--export.format", "gguf", "--export.precision", "int8"])
    link_stages(aliased)  # the folder plain `scotd export --format gguf --precision int8` writes
    assert aliased.export.out == str(tmp_path / "run" / "gguf-q8_0")
    onnx = parse_args(RunConfig, ["--config", str(recipe)])
    link_stages(onnx)
    assert build_stages(onnx)["export"].outputs == [str(tmp_path / "run" / "onnx-fp32" / "export_report.json")]


def test_recipe_runs_end_to_end_then_skips_until_an_input_changes(tiny_llama_dir, tmp_path, capsys):
    examples, _ = write_task(tmp_path / "task", n_train=12, n_test=4)
    run_dir = tmp_path / "run"
    stages = ["sample", "select", "train", "eval"]
    with TeacherServer(seed=1) as server:
        recipe = _recipe(tmp_path, examples, tiny_llama_dir, server.base_url, stages)
        assert cli_main(["run", str(recipe)]) == 0
        first = capsys.readouterr().out
        assert _statuses(run_dir) == dict.fromkeys(stages, "ran")
        requests = len(server.log)
        assert requests > 0
        summary = json.loads((run_dir / "eval" / "summary.json").read_text())
        assert summary["n"] == 4 and summary["model"] == str(run_dir / "train" / "student")
        assert "| eval | ran |" in first and f"{summary['accuracy']:.3f}" in first
        assert (run_dir / "report.md").read_text().count("| ran |") == 4
        assert (run_dir / "loss.png").stat().st_size > 1000
        kept = [json.loads(line) for line in (run_dir / "train_cots.jsonl").read_text().splitlines()]
        assert kept and all(r["correct"] for r in kept)
        stamps = _stamps(run_dir)
        assert stamps["train"]["inputs"][str(run_dir / "train_cots.jsonl")]

        # Same recipe again: every stage is up to date, the teacher is not asked again.
        assert cli_main(["run", str(recipe)]) == 0
        assert _statuses(run_dir) == dict.fromkeys(stages, "skipped")
        assert len(server.log) == requests and _stamps(run_dir) == stamps

        # A training setting changes: sample and select stay, train and eval rerun (train under torchrun).
        assert cli_main(["run", str(recipe), "--train.max_steps", "5", "--run.train_processes", "2"]) == 0
        assert _statuses(run_dir) == {"sample": "skipped", "select": "skipped", "train": "ran", "eval": "ran"}
        train_summary = json.loads((run_dir / "train" / "train_summary.json").read_text())
        assert (train_summary["global_step"], train_summary["world_size"]) == (5, 2)

        # select keeps one rationale per instance: its output hash changes, so train and eval follow.
        assert cli_main(["run", str(recipe), "--train.max_steps", "5", "--select.per_instance", "1"]) == 0
        assert _statuses(run_dir) == {"sample": "skipped", "select": "ran", "train": "ran", "eval": "ran"}

        # --run.force reruns a stage whose stamp matches.
        assert cli_main(["run", str(recipe), "--train.max_steps", "5", "--select.per_instance", "1",
                         "--run.force", "eval"]) == 0
        assert _statuses(run_dir)["eval"] == "ran" and _statuses(run_dir)["train"] == "skipped"
    assert len(server.log) == requests


def test_export_stage_and_eval_of_the_export(tiny_llama_dir, tmp_path):
    examples, _ = write_task(tmp_path / "task", n_train=8, n_test=4)
    run_dir = tmp_path / "run"
    with TeacherServer(seed=2) as server:
        recipe = _recipe(tmp_path, examples, tiny_llama_dir, server.base_url,
                         ["sample", "select", "train", "eval", "export", "eval_export"])
        assert cli_main(["run", str(recipe)]) == 0
    assert set(_statuses(run_dir).values()) == {"ran"}
    report = json.loads((run_dir / "onnx-fp32" / "export_report.json").read_text())
    assert report["passed"] and report["source_dir"] == str((run_dir / "train" / "student").resolve())
    torch_eval = json.loads((run_dir / "eval" / "summary.json").read_text())
    onnx_eval = json.loads((run_dir / "eval-export" / "summary.json").read_text())
    assert (torch_eval["backend"], onnx_eval["backend"]) == ("torch", "onnx")
    assert onnx_eval["accuracy"] == torch_eval["accuracy"]  # fp32 export, greedy: same answers


def test_shipped_recipes_parse():
    recipes = sorted((Path(__file__).resolve().parent.parent / "recipes").glob("*.yaml"))
    assert {"quickstart.yaml", "paper-csqa.yaml", "paper-obqa.yaml", "paper-quarel.yaml"} <= {p.name for p in recipes}
    arms = {p.stem: parse_args(RunConfig, ["--config", str(p)]) for p in recipes if p.stem.startswith("experiment-tso")}
    assert len({cfg.run.dir for cfg in arms.values()}) == len(arms) >= 7  # every arm writes its own folder
    trained = [cfg for cfg in arms.values() if "train" in cfg.run.stages]
    assert {(c.train.max_steps, c.train.batch_size, c.train.data.limit, c.sample.data.limit) for c in trained} \
        == {(48, 4, 32, 32)}  # same compute and questions in every arm
    for recipe in recipes:
        cfg = parse_args(RunConfig, ["--config", str(recipe)])
        assert cfg.sample.sampling.n >= 1 and cfg.train.model


def test_bad_recipes_are_one_line_errors(tmp_path, capsys):
    assert cli_main(["run"]) == 2
    assert "needs a recipe" in capsys.readouterr().err
    recipe = tmp_path / "r.yaml"
    recipe.write_text("run: {stages: [sample, distill]}\n")
    assert cli_main(["run", str(recipe)]) == 2
    assert "unknown stage(s) ['distill']" in capsys.readouterr().err
    recipe.write_text("trian: {max_steps: 3}\n")
    assert cli_main(["run", str(recipe)]) == 2
    assert "unknown config key 'trian'" in capsys.readouterr().err


def test_a_failing_stage_keeps_the_report_of_finished_ones(tmp_path, capsys):
    examples, _ = write_task(tmp_path / "task", n_train=4, n_test=2)
    with TeacherServer(seed=3) as server:
        recipe = _recipe(tmp_path, examples, tmp_path / "unused", server.base_url, ["sample", "select"])
        assert cli_main(["run", str(recipe), "--select.per_instance", "-1"]) == 2
    assert "--per-instance must be >= 0" in capsys.readouterr().err
    report = (tmp_path / "run" / "report.md").read_text()
    assert "| sample | ran |" in report and "| select | FAILED |" in report
    assert (tmp_path / "run" / "stages" / "sample.json").is_file()
    assert not (tmp_path / "run" / "stages" / "select.json").exists()


def test_a_recipe_runs_the_training_it_continues_first(tiny_llama_dir, tmp_path, capsys):
    examples, _ = write_task(tmp_path / "task", n_train=8, n_test=4)
    (tmp_path / "first").mkdir(), (tmp_path / "continued").mkdir()
    with TeacherServer(seed=2) as server:
        first = _recipe(tmp_path / "first", examples, tiny_llama_dir, server.base_url,
                        ["sample", "select", "train", "eval"])
        continued = _recipe(tmp_path / "continued", examples, tmp_path / "first" / "run" / "train" / "student",
                            server.base_url, ["sample", "select", "train"])
        recipe = yaml.safe_load(continued.read_text())
        recipe["run"]["requires"] = [str(first)]
        continued.write_text(yaml.safe_dump(recipe))
        assert cli_main(["run", str(continued)]) == 0
        # the first recipe ran through its training only; its eval is its own business
        assert _statuses(tmp_path / "first" / "run") == dict.fromkeys(["sample", "select", "train"], "ran")
        assert _statuses(tmp_path / "continued" / "run") == dict.fromkeys(["sample", "select", "train"], "ran")
        assert cli_main(["run", str(continued)]) == 0  # again: both up to date
        assert set(_statuses(tmp_path / "first" / "run").values()) == {"skipped"}
        assert set(_statuses(tmp_path / "continued" / "run").values()) == {"skipped"}
    capsys.readouterr()
    recipe["run"]["requires"] = [str(continued)]  # continued requires itself
    continued.write_text(yaml.safe_dump(recipe))
    assert cli_main(["run", str(continued)]) == 2
    assert "run.requires goes round in a circle" in capsys.readouterr().err
    recipe["run"]["requires"] = [str(tmp_path / "nowhere.yaml")]
    continued.write_text(yaml.safe_dump(recipe))
    assert cli_main(["run", str(continued)]) == 2
    assert "which is not a file" in capsys.readouterr().err


def test_extra_eval_stages_and_the_results_table(tiny_llama_dir, tmp_path, capsys):
    examples, _ = write_task(tmp_path / "task", n_train=8, n_test=4)
    transfer, _ = write_task(tmp_path / "transfer", n_train=0, n_test=5, seed=7)
    run_dir = tmp_path / "run"
    stages = ["sample", "select", "train", "eval", "eval_sc", "eval_transfer"]
    with TeacherServer(seed=4) as server:
        recipe = _recipe(tmp_path, examples, tiny_llama_dir, server.base_url, stages)
        assert cli_main(["run", str(recipe), "--run.stages", "sample", "select", "train", "eval", "eval_sc",
                         "--evals.transfer.source", str(transfer)]) == 2
        assert "eval_sc needs evals.sc_n set to n > 1" in capsys.readouterr().err
        assert cli_main(["run", str(recipe), "--evals.sc_n", "3", "--evals.transfer.source",
                         str(transfer), "--evals.transfer.split", "test", "--evals.transfer_max_new_tokens", "7"]) == 0
    assert _statuses(run_dir) == dict.fromkeys(stages, "ran")
    greedy, sc, moved = (json.loads((run_dir / d / "summary.json").read_text())
                         for d in ("eval", "eval-sc", "eval-transfer"))
    assert (greedy["decoding"], sc["decoding"], moved["decoding"]) == ("greedy", "self-consistency n=3 T=0.7", "greedy")
    assert greedy["source"] == sc["source"] == str(examples) and (greedy["n"], sc["n"]) == (4, 4)
    assert moved["source"] == str(transfer) and moved["n"] == 5
    assert yaml.safe_load((run_dir / "configs" / "eval_transfer.yaml").read_text())["sampling"]["max_new_tokens"] == 7
    capsys.readouterr()

    # scotd results reads the arm back: label from the recipe, cells from the three summaries.
    out = tmp_path / "docs" / "tiny"
    assert cli_main(["results", "--runs", str(run_dir), "--title", "tiny task", "--out", str(out)]) == 0
    rows = json.loads(out.with_suffix(".json").read_text())
    assert len(rows) == 1 and rows[0]["arm"] == "CoT N=3" and rows[0]["sampled_n"] == 3
    assert rows[0]["greedy"]["accuracy"] == greedy["accuracy"] and rows[0]["transfer"]["n"] == 5
    assert rows[0]["self_consistency"]["accuracy"] == sc["accuracy"]
    train_summary = json.loads((run_dir / "train" / "train_summary.json").read_text())
    assert rows[0]["train_tokens"] == train_summary["num_input_tokens_seen"] > 0
    assert rows[0]["hardware"] and "CPU cores" in rows[0]["hardware"]
    table = out.with_suffix(".md").read_text()
    assert "### tiny task" in table and f"{100 * greedy['accuracy']:.1f} [" in table
    assert out.with_suffix(".png").stat().st_size > 1000
    # an arm beside itself: every eval item paired, nothing gained or lost
    assert cli_main(["results", "--runs", str(run_dir), str(run_dir), "--out", str(out), "--plot", "false"]) == 0
    assert "| all shared items | +0.0 [+0.0, +0.0] (+0 / -0 of 4) |" in out.with_suffix(".md").read_text()
    assert json.loads(out.with_suffix(".json").read_text())[1]["paired"]["n"] == 4


def test_results_labels_every_kind_of_arm():
    from distill.results import arm_label

    def recipe(stages, mode="cot", n=30, keep=0, strategy="random", prompt="student"):
        return {"run": {"stages": stages}, "train": {"mode": mode}, "eval": {"prompt": prompt},
                "sample": {"sampling": {"n": n}}, "select": {"per_instance": keep, "strategy": strategy}}

    trained = ["sample", "select", "train", "eval"]
    assert arm_label(recipe(trained), trained=True) == ("CoT N=30", 30.0)
    assert arm_label(recipe(trained, n=1, keep=1), trained=True) == ("CoT N=1", 1.0)
    assert arm_label(recipe(trained, keep=5, strategy="diverse"), trained=True) == ("CoT N=30 -> 5 (diverse)", None)
    assert arm_label(recipe(["train", "eval"], mode="label_only"), trained=True) == ("label-only", None)
    assert arm_label(recipe(["eval"], prompt="few_shot"), trained=False) == ("untrained base, few-shot CoT", None)
    assert arm_label(recipe(["eval"], prompt="bbh_cot"), trained=False) == ("untrained base, BBH 3-shot CoT", None)
    # A trained arm scored again later with `--run.stages "[eval]"` is still the trained arm (it was labelled
    # "untrained base" from the last invocation's stages).
    assert arm_label(recipe(["eval"]), trained=True) == ("CoT N=30", 30.0)
    from distill.results import read_arm
    from serve.core.errors import UserError

    try:
        read_arm(Path("/nonexistent-run"))
    except UserError as exc:
        assert "no recipe.resolved.yaml" in str(exc)
    else:
        raise AssertionError("a folder without a resolved recipe must be refused")


def test_results_tabulate_each_task_of_a_mixture():
    from distill.results import per_task_table

    def arm(name, by_task):
        return {"arm": name, "greedy": {"accuracy": 0.5, "ci95": [0.4, 0.6], "n": 4, "by_task": by_task}}

    cell = {"accuracy": 0.75, "ci95": [0.5, 1.0], "n": 4}
    student = arm("CoT N=4", {"navigate": cell, "arithmetic/2_digit_addition": cell})
    student["step_check"] = {"by_task": {"arithmetic/2_digit_addition": {"steps": 9, "steps_right": 7}}}
    table = per_task_table([student, arm("untrained base", {"navigate": {**cell, "accuracy": 0.25}})])
    lines = table.strip().splitlines()
    assert lines[2] == "| task | CoT N=4 | untrained base |"
    assert lines[4] == "| arithmetic/2_digit_addition | 75.0 [50.0, 100.0] (n=4); steps 7/9 | not run |"
    assert lines[5] == "| navigate | 75.0 [50.0, 100.0] (n=4) | 25.0 [50.0, 100.0] (n=4) |"
    assert per_task_table([arm("single task", {})]) == ""
    five, seven = {**cell, "accuracy": 0.5}, {**cell, "accuracy": 0.0}
    student["transfer"] = {"accuracy": 0.25, "ci95": [0.0, 0.5], "n": 8,
                           "by_task": {"tracking/seven_objects": seven, "tracking/five_objects": five}}
    lines = per_task_table([student]).strip().splitlines()  # a transfer mixture: one row per variant
    assert lines[-2:] == ["| tracking/five_objects (transfer) | 50.0 [50.0, 100.0] (n=4) |",
                          "| tracking/seven_objects (transfer) | 0.0 [50.0, 100.0] (n=4) |"]


def test_results_put_codex_beside_each_bbh_file_and_count_the_files_above_it():
    from distill.results import per_task_table

    def cell(accuracy):
        return {"accuracy": accuracy, "ci95": [accuracy - 0.1, accuracy], "n": 250}

    student = {"arm": "reasoner", "greedy": {"accuracy": 0.9, "ci95": [0.8, 1.0], "n": 750, "by_task": {
        "bbh:web_of_lies": cell(0.96), "bbh:word_sorting": cell(0.30), "gen:arithmetic/2_digit_addition": cell(0.9)}}}
    lines = per_task_table([student]).strip().splitlines()
    assert lines[2] == "| task | reasoner | Codex answer-only | Codex CoT |"
    assert lines[4] == "| bbh:web_of_lies | 96.0 [86.0, 96.0] (n=250) | 51.6 | 95.2 |"
    assert lines[5] == "| bbh:word_sorting | 30.0 [20.0, 30.0] (n=250) | 50.4 | 40.4 |"
    assert lines[6].startswith("| gen:arithmetic/2_digit_addition |") and lines[6].endswith("| - | - |")
    assert lines[-1] == "reasoner: above Codex CoT on 1 of 2 BBH files scored."


def test_results_pair_two_arms_on_the_items_both_scored():
    from distill.paired import paired_difference, paired_table

    def rows(task, outcomes, start=0):
        return [{"key": f"{task}\t{start + i}", "id": str(start + i), "task": task, "correct": c}
                for i, c in enumerate(outcomes)]

    # the base scored items 0-9 of each file, the other arm items 2-11: only 2-9 (8 a file) are paired
    base = rows("bbh:a", [0, 0, 1, 1, 0, 0, 1, 1, 0, 0]) + rows("bbh:b", [1] * 10)
    other = rows("bbh:a", [1, 1, 1, 1, 1, 1, 0, 0, 1, 1], start=2) + rows("bbh:b", [1] * 8 + [0, 0], start=2)
    result = paired_difference(base, other)
    # file a, items 2-9: base 1,1,0,0,1,1,0,0 vs other 1,1,1,1,1,1,0,0 -> 2 gained; file b: all still right
    assert (result["n"], result["gained"], result["lost"]) == (16, 2, 0)
    assert result["difference"] == 2 / 16
    low, high = result["ci95"]
    assert 0 <= low <= 2 / 16 <= high  # two gains, no loss: the interval cannot reach below zero
    assert result["by_task"]["bbh:a"]["difference"] == 2 / 8 and result["by_task"]["bbh:b"]["difference"] == 0
    table = paired_table("reasoner", [("continued", result)]).strip().splitlines()
    assert table[2] == "| task | continued |"
    assert table[4].startswith("| bbh:a | +25.0 [") and table[4].endswith("(+2 / -0 of 8) |")
    assert table[-1].startswith("| all shared items | +12.5 [")
    assert paired_difference(base, rows("bbh:c", [1]))["n"] == 0  # nothing shared: no row in the table
    assert paired_table("reasoner", [("other", paired_difference(base, rows("bbh:c", [1])))]) == ""


def test_results_plot_each_bbh_file_beside_codex(tmp_path):
    from PIL import Image

    from distill.results import bbh_plot

    def arm(name, by_task):
        return {"arm": name, "greedy": {"accuracy": 0.5, "ci95": [0.4, 0.6], "n": 500, "by_task": by_task}}

    def cell(accuracy):
        return {"accuracy": accuracy, "ci95": [accuracy - 0.05, accuracy + 0.05], "n": 250}

    files = {f"bbh:{name}": cell(0.9) for name in ("web_of_lies", "word_sorting", "dyck_languages")}
    out = bbh_plot([arm("reasoner", files), arm("base", {"bbh:web_of_lies": cell(0.4)}), {"arm": "x", "greedy": None}],
                   tmp_path / "bbh.png", "BBH")
    assert out == tmp_path / "bbh.png"
    three = Image.open(out).size
    one = Image.open(bbh_plot([arm("reasoner", {"bbh:web_of_lies": cell(0.9)})], tmp_path / "one.png")).size
    assert three[1] > one[1]  # a row per file: the figure grows with the files scored
    assert bbh_plot([arm("tracking", {"gen:tracking/three_objects": cell(0.9)})], tmp_path / "none.png") is None
    assert not (tmp_path / "none.png").exists()


def test_eval_summary_breaks_a_mixture_down_by_task():
    from distill.evaluate import EvalConfig, by_task

    rows = [{"task": "a", "correct": True}, {"task": "a", "correct": False}, {"task": "b", "correct": True}]
    result = by_task(rows, EvalConfig())
    assert {task: (r["n"], r["accuracy"]) for task, r in result.items()} == {"a": (2, 0.5), "b": (1, 1.0)}
    assert by_task(rows[:2], EvalConfig()) == {}  # one task: the summary's own accuracy says it


def test_an_interrupted_train_stage_resumes_from_its_checkpoints(tiny_llama_dir, tmp_path, capsys):
    examples, _ = write_task(tmp_path / "task", n_train=12, n_test=4)
    run_dir = tmp_path / "run"
    with TeacherServer(seed=3) as server:
        recipe = _recipe(tmp_path, examples, tiny_llama_dir, server.base_url, ["sample", "select", "train"])
        args = ["run", str(recipe), "--train.max_steps", "6", "--train.save_every", "3", "--train.eval_every", "0",
                "--train.save_total_limit", "3"]
        assert cli_main(args) == 0
        # As if killed after step 3: the stage never finished, its start mark and first checkpoint remain.
        stamp = json.loads((run_dir / "stages" / "train.json").read_text())
        (run_dir / "stages" / "train.json").unlink()
        (run_dir / "stages" / "train.started.json").write_text(json.dumps(stamp))
        shutil.rmtree(run_dir / "train" / "checkpoints" / "checkpoint-6")
        capsys.readouterr()
        assert cli_main(args) == 0
        assert "resuming from its checkpoints" in capsys.readouterr().err
        steps = [json.loads(line)["step"] for line in (run_dir / "train" / "metrics.jsonl").read_text().splitlines()]
        assert 4 in steps and not (run_dir / "stages" / "train.started.json").exists()
        # Started by an older scotd, whose start mark held only a key over a config without today's options:
        # the run's own train_config.yaml and run_info.json say what it was, and it resumes.
        (run_dir / "stages" / "train.json").unlink()
        (run_dir / "stages" / "train.started.json").write_text(json.dumps({"key": "a hash over an older config"}))
        capsys.readouterr()
        assert cli_main(args) == 0
        assert "resuming from its checkpoints" in capsys.readouterr().err
        # Interrupted under another config: a fresh start, never a resume of checkpoints made under the old one.
        (run_dir / "stages" / "train.started.json").write_text(json.dumps(stamp))
        assert cli_main([*args, "--train.lr", "1e-3"]) == 0
        assert "resuming" not in capsys.readouterr().err


def test_the_dev_curve_scores_every_kept_checkpoint_on_the_dev_split(tiny_llama_dir, tmp_path, capsys):
    examples, _ = write_task(tmp_path / "task", n_train=8, n_test=6)
    rows = [json.loads(line) for line in examples.read_text().splitlines()]
    for row in rows[8:11]:
        row["split"] = "dev"
    examples.write_text("".join(json.dumps(row) + "\n" for row in rows))
    run_dir = tmp_path / "run"
    with TeacherServer(seed=5) as server:
        recipe = _recipe(tmp_path, examples, tiny_llama_dir, server.base_url, ["sample", "select", "train", "eval_curve"])
        args = ["run", str(recipe), "--train.max_steps", "6", "--train.save_every", "2", "--train.save_total_limit", "0"]
        assert cli_main(args) == 2
        assert "eval_curve needs evals.curve_limit" in capsys.readouterr().err
        assert cli_main([*args, "--evals.curve_limit", "2"]) == 0
    curve = json.loads((run_dir / "eval-curve" / "curve.json").read_text())
    assert curve["split"] == "dev" and [p["step"] for p in curve["points"]] == [2, 4, 6]
    assert all(p["n"] == 2 and 0.0 <= p["accuracy"] <= 1.0 for p in curve["points"])
    scored = [json.loads((run_dir / "eval-curve" / f"step-{s}" / "summary.json").read_text())["model"] for s in (2, 6)]
    assert scored[0].endswith("checkpoint-2") and scored[1].endswith("student")
    dev_ids = {row["id"] for row in rows if row["split"] == "dev"}
    predictions = (run_dir / "eval-curve" / "step-4" / "predictions.jsonl").read_text().splitlines()
    assert {json.loads(line)["id"] for line in predictions} <= dev_ids
    assert (run_dir / "eval-curve" / "curve.png").stat().st_size > 1000


def test_a_recipe_names_its_arm_with_run_label(tmp_path):
    import yaml

    from distill.results import read_arm

    recipe = {"run": {"stages": ["eval"], "label": "reasoner, PyTorch fp32"}, "train": {"mode": "cot", "out": str(
        tmp_path / "none")}, "eval": {"prompt": "student"}, "sample": {"sampling": {"n": 2}},
        "select": {"per_instance": 0}}
    (tmp_path / "recipe.resolved.yaml").write_text(yaml.safe_dump(recipe))
    assert read_arm(tmp_path)["arm"] == "reasoner, PyTorch fp32"
    recipe["run"]["label"] = ""
    (tmp_path / "recipe.resolved.yaml").write_text(yaml.safe_dump(recipe))
    assert read_arm(tmp_path)["arm"] == "untrained base"


def test_a_resumed_training_counts_every_segment_in_the_runs_wall_time(tmp_path):
    from distill.results import stage_seconds, train_segments

    (tmp_path / "stages").mkdir()
    for name, seconds in (("sample", 5.0), ("train", 100.0), ("export", 20.0)):
        (tmp_path / "stages" / f"{name}.json").write_text(json.dumps({"seconds": seconds}))
    (tmp_path / "stages" / "eval.started.json").write_text(json.dumps({"key": "running"}))
    train = tmp_path / "train"
    train.mkdir()
    (train / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in [
        {"step": 1, "train_runtime": 40.0}, {"step": 2, "train_runtime": 300.0}, {"step": 2},  # killed
        {"step": 3, "train_runtime": 30.0}, {"step": 4, "train_runtime": 95.0}]))  # resumed, finished
    assert train_segments(train / "metrics.jsonl") == [300.0, 95.0]
    assert stage_seconds(tmp_path, train) == 5.0 + 100.0 + 300.0 + 20.0
    (train / "metrics.jsonl").unlink()  # never resumed: the stamps alone
    assert stage_seconds(tmp_path, train) == 125.0
