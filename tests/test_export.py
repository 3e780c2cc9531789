"""scotd export on tiny random models: genai fp32 parity, gate failures, broken input, the decode bench."""

from __future__ import annotations

import itertools
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bench.decode import DecodeBenchConfig, run as run_bench
from bench.report import markers, write_section
from export.export_model import ExportConfig, run as run_export
from export.gates import AccuracyGate, gate_fails, settled_without_reference, sign_test
from serve.core.config import build
from serve.core.errors import UserError
from serve.core.provenance import cpu_kind, hardware

REPO = Path(__file__).resolve().parent.parent


def scotd(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "serve.cli", *args], capture_output=True, text=True, cwd=REPO)


def test_genai_fp32_export_of_tiny_llama_has_exact_greedy_parity(llama_fp32_export):
    report = json.loads((llama_fp32_export / "export_report.json").read_text())
    parity = report["gates"]["parity"]
    assert report["backend"] == "genai" and report["precision"] == "fp32" and report["passed"]
    assert parity["exact"] and parity["tokenizer_match"] and parity["prompts"] == 8
    assert parity["tokens_matched"] == parity["tokens_compared"] > 8 * 16
    # the gate decodes plain greedy; the engine's speculating default is compared with it beside the gate
    speculation = report["gates"]["speculation"]
    assert speculation["draft_tokens"] > 0 and speculation["prompts"] == 8
    assert speculation["same_prompts"] + sum(r["fp32_gap"] is not None for r in speculation["per_prompt"]) == 8
    assert all(abs(r["fp32_gap"]) < 1e-3 for r in speculation["per_prompt"] if r["fp32_gap"] is not None)
    for name in ("model.onnx", "genai_config.json", "tokenizer.json", "chat_template.jinja",
                 "generation_config.json", "README.md"):
        assert (llama_fp32_export / name).is_file(), name
    card = (llama_fp32_export / "README.md").read_text()
    assert "onnxruntime-genai" in card and f"{parity['tokens_matched']}/{parity['tokens_compared']}" in card
    assert report["size_mb"]["export"] > 0 and report["versions"]["onnxruntime-genai"]


def test_parity_compares_varied_tokens(lively_llama):
    # Guards the test above: the reference must not be one token repeated.
    from export.gates import encode_prompt, load_reference, parity_prompts, torch_token_stream

    model, tokenizer = load_reference(lively_llama)
    ids = list(torch_token_stream(model, encode_prompt(tokenizer, parity_prompts(tokenizer, 1)[0]), 32))
    assert len(set(ids)) >= 8


def test_batched_reference_matches_one_question_at_a_time(lively_llama):
    # The accuracy gate decodes its PyTorch reference in left-padded batches; padding must not
    # change what a row says (prompts of different lengths, so every batch pads).
    from export.gates import batched_greedy, encode_prompt, load_reference, parity_prompts, torch_token_stream

    model, tokenizer = load_reference(lively_llama)
    prompts = parity_prompts(tokenizer, 4)
    assert len({len(encode_prompt(tokenizer, p)) for p in prompts}) > 1
    alone = [tokenizer.decode(list(torch_token_stream(model, encode_prompt(tokenizer, p), 12)),
                              skip_special_tokens=True) for p in prompts]
    assert batched_greedy(model, tokenizer, prompts, 12, batch_size=4, desc="test") == alone
    assert len(set(alone)) > 1


def test_failing_accuracy_gate_fails_and_keeps_artifacts(lively_llama, tmp_path):
    data = tmp_path / "slice.jsonl"
    rows = [{"id": f"q{i}", "question": f"Is {i} even?", "answer": "yes" if i % 2 == 0 else "no"} for i in range(4)]
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "export"
    # No export can lose fewer than -1 points against an identical reference, and significance 1.0
    # counts any loss, however likely as noise: the gate must refuse.
    command = ["export", "--model", str(lively_llama), "--out", str(out), "--precision", "fp32",
               "--parity.enabled", "false", "--accuracy.source", str(data), "--accuracy.split", "all",
               "--accuracy.max_new_tokens", "8", "--accuracy.max_drop_points", "-1"]
    # With the default significance, 4 questions can never fail the gate (4 answers lost give p=1/16),
    # so by default the PyTorch reference is not decoded at all...
    settled = scotd(*command)
    assert settled.returncode == 0, settled.stderr
    gate = json.loads((out / "export_report.json").read_text())["gates"]["accuracy"]
    assert gate["reference_accuracy"] is None and gate["reference_seconds"] == 0.0
    assert gate["reference_skipped"].startswith(f"the export misses {4 - round(gate['export_accuracy'] / 25)} of 4")
    assert "reference was not decoded" in (out / "README.md").read_text()
    # ...and decoded, the same "loss" passes: no answer differs, so nothing was lost.
    passed = scotd(*command, "--accuracy.reference", "always", "--force", "true")
    assert passed.returncode == 0, passed.stderr
    gate = json.loads((out / "export_report.json").read_text())["gates"]["accuracy"]
    assert (gate["answers_lost"], gate["answers_gained"], gate["sign_test_p"]) == (0, 0, 1.0)
    result = scotd(*command, "--accuracy.significance", "1.0", "--force", "true")
    assert result.returncode == 2
    error = result.stderr.strip().splitlines()[-1]
    assert re.match(r"scotd export: error: export gate failed: fp32 loses -?[\d.]+ accuracy points", error)
    assert str(out) in error
    report = json.loads((out / "export_report.FAILED.json").read_text())
    assert not report["passed"] and report["gates"]["accuracy"]["examples"] == 4
    assert report["gates"]["accuracy"]["reference_cached"]  # decoded by the run before, same questions
    assert not (out / "export_report.json").exists() and (out / "model.onnx").is_file()
    assert "FAILED" in (out / "README.md").read_text()


@pytest.mark.parametrize("max_drop_points, significance", [(5.0, 0.05), (10.0, 0.05), (-1.0, 0.2), (30.0, 1.0)])
def test_the_reference_is_skipped_only_when_no_reference_could_fail_the_gate(max_drop_points, significance):
    cfg = AccuracyGate(max_drop_points=max_drop_points, significance=significance)
    for n in range(1, 9):
        for export_ok in itertools.product([False, True], repeat=n):
            fails_somewhere = False
            for reference_ok in itertools.product([False, True], repeat=n):
                lost = sum(r and not e for r, e in zip(reference_ok, export_ok))
                gained = sum(e and not r for r, e in zip(reference_ok, export_ok))
                fails_somewhere |= gate_fails(100.0 * (lost - gained) / n, sign_test(lost, gained), cfg)
            assert settled_without_reference(export_ok, cfg) == (not fails_somewhere), (n, export_ok)


def test_a_rerun_replaces_an_export_that_stopped_before_passing(lively_llama, tmp_path):
    out = tmp_path / "export"
    common = ["export", "--model", str(lively_llama), "--out", str(out), "--precision", "fp32",
              "--parity.enabled", "false", "--accuracy.limit", "2", "--accuracy.max_new_tokens", "4"]
    missing = tmp_path / "no-such-questions.jsonl"  # the gate's data fails after the build, as a vanished download did
    failed = scotd(*common, "--accuracy.source", str(missing))
    assert failed.returncode == 2 and "not found" in failed.stderr.strip().splitlines()[-1]
    assert (out / "model.onnx").is_file() and not (out / "export_report.json").exists()
    rerun = scotd(*common, "--accuracy.source", "gen:navigate")
    assert rerun.returncode == 0, rerun.stderr
    assert "replacing the unfinished export" in rerun.stderr
    assert (out / "export_report.json").is_file() and not (out / ".scotd-export-unfinished").exists()
    again = scotd(*common, "--accuracy.source", "gen:navigate")  # a passed export is kept
    assert again.returncode == 2 and "already exists; pass --force true" in again.stderr


def test_the_sign_test_tells_a_lopsided_loss_from_noise():
    from export.gates import sign_test

    assert sign_test(0, 0) == 1.0
    assert sign_test(4, 1) == 6 / 32  # the undistilled base on navigate: 12 points "lost" in 25, as noise
    assert sign_test(6, 0) == 1 / 64 and sign_test(6, 0) < 0.05  # every right answer lost: a real loss
    assert sign_test(1, 4) == 31 / 32


def _one_line_error(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_folder_without_weights_is_a_one_line_error(lively_llama, tmp_path):
    folder = tmp_path / "no-weights"
    shutil.copytree(lively_llama, folder, ignore=shutil.ignore_patterns("*.safetensors"))
    error = _one_line_error(scotd("export", "--model", str(folder), "--out", str(tmp_path / "o")))
    assert "has no weights" in error and "safetensors" in error
    assert not (tmp_path / "o").exists()


def test_folder_without_tokenizer_is_a_one_line_error(lively_llama, tmp_path):
    folder = tmp_path / "no-tokenizer"
    shutil.copytree(lively_llama, folder, ignore=shutil.ignore_patterns("tokenizer*"))
    error = _one_line_error(scotd("export", "--model", str(folder), "--out", str(tmp_path / "o")))
    assert "has no tokenizer" in error and "tokenizer.save_pretrained" in error


def test_unsupported_architecture_with_fallback_disabled_is_a_one_line_error(tmp_path):
    from tiny_models import build_tiny_model

    folder = build_tiny_model(tmp_path / "opt", "opt")
    error = _one_line_error(scotd("export", "--model", str(folder), "--fallback", "false"))
    assert "does not support OPTForCausalLM" in error and "--fallback true" in error
    config = json.loads((folder / "config.json").read_text())
    config["architectures"] = ["BertForMaskedLM"]
    (folder / "config.json").write_text(json.dumps(config))
    error = _one_line_error(scotd("export", "--model", str(folder)))
    assert "no ONNX export backend supports BertForMaskedLM" in error and "--format gguf" in error


def test_existing_output_needs_force(llama_fp32_export, lively_llama):
    with pytest.raises(UserError, match="already exists; pass --force true"):
        run_export(build(ExportConfig, {"model": str(lively_llama), "out": str(llama_fp32_export)}))


def test_bench_decode_rows_and_markdown_section(lively_llama, llama_fp32_export, tmp_path):
    linked = tmp_path / "student"
    shutil.copytree(lively_llama, linked)
    shutil.copytree(llama_fp32_export, tmp_path / "student-onnx-fp32")
    markdown = tmp_path / "BENCH.md"
    markdown.write_text("# Benchmarks\n\n## Other section\nkeep me\n")
    cfg = build(DecodeBenchConfig, {"models": [str(linked)], "prompt_tokens": 8, "new_tokens": 6, "repeats": 2,
                                    "rounds": 2, "batch": [2], "bandwidth": False,
                                    "json_out": str(tmp_path / "rows.json"), "markdown": str(markdown)})
    rows = run_bench(cfg)
    assert [(r["backend"], r["precision"]) for r in rows] == [
        ("pytorch", "fp32"), ("pytorch-generate", "fp32"), ("onnx-genai", "fp32"), ("onnx-genai, no speculation", "fp32")]
    written = json.loads((tmp_path / "rows.json").read_text())
    assert written["rows"] == rows
    assert [(b["batch"], b["tokens"]) for b in written["batch"]] == [(2, 2 * 6)]  # EOS ignored: k x new_tokens
    assert all(b["batched_tok_s"] > 0 and b["genai_batch_tok_s"] > 0 for b in written["batch"])
    for row in rows:
        assert row["samples"] == 4  # 2 rounds x 2 repeats, one median
        assert row["decode_tok_s"] > 0 and row["prefill_ms"] > 0 and row["load_s"] > 0
        assert row["peak_rss_mb"] > 50 and row["size_mb"] > 0
    text = markdown.read_text()
    assert "keep me" in text and text.count(markers("decode")[0]) == 1 and "onnx-genai" in text
    assert f", {cpu_kind()}, 8-token prompt" in text  # the machine as run.json names it, and its matmul path
    onnx_line = next(line for line in text.splitlines() if "| onnx-genai |" in line)
    speed = {r["backend"]: r["decode_tok_s"] for r in rows}
    assert f"| - | {speed['onnx-genai'] / speed['pytorch']:.2f}x |" in onnx_line  # no llama.cpp row to compare with
    write_section(markdown, "decode", "new table")
    assert "new table" in markdown.read_text() and "onnx-genai" not in markdown.read_text()
    assert "keep me" in markdown.read_text()


def test_the_machine_line_names_the_gpus_torch_sees_only_when_asked(monkeypatch):
    from types import SimpleNamespace

    cpu = hardware(gpus=False)
    assert cpu.endswith(" CPU cores")
    cuda = SimpleNamespace(is_available=lambda: True, device_count=lambda: 2, get_device_name=lambda i: "Tiny GPU")
    monkeypatch.setitem(sys.modules, "torch", SimpleNamespace(cuda=cuda))
    assert hardware() == f"2x Tiny GPU + {cpu}" and hardware(gpus=False) == cpu


def test_bench_decode_task_rows_answer_test_questions_to_eos(lively_llama, llama_fp32_export, tmp_path):
    """--task: each ONNX row decodes the source's test questions in the student format, greedy to EOS; the
    speculating row is checked token for token against the export's plain greedy."""
    linked = tmp_path / "student"
    shutil.copytree(lively_llama, linked)
    shutil.copytree(llama_fp32_export, tmp_path / "student-onnx-fp32")
    questions = tmp_path / "questions.jsonl"
    questions.write_text("".join(json.dumps({"id": f"q{i}", "question": f"Alice has {i} red balls and Bob has {i + 1}. "
                                             "Who has more red balls, Alice or Bob?", "answer": "Bob",
                                             "split": "test" if i < 3 else "train"}) + "\n" for i in range(5)))
    cfg = build(DecodeBenchConfig, {"models": [str(linked)], "prompt_tokens": 8, "new_tokens": 4, "repeats": 1,
                                    "rounds": 2, "bandwidth": False, "torch": False, "json_out": str(tmp_path / "rows.json"),
                                    "markdown": str(tmp_path / "BENCH.md"), "task": str(questions),
                                    "task_questions": 2, "task_max_new_tokens": 20})
    run_bench(cfg)
    task = json.loads((tmp_path / "rows.json").read_text())["task"]
    assert [r["backend"] for r in task] == ["onnx-genai", "onnx-genai, no speculation"]
    for row in task:
        assert row["samples"] == 2 and row["decode_tok_s"] > 0
        assert 0 < row["tokens"] <= 2 * 20  # two questions, stopped at EOS or the budget
    assert task[0]["same_as_reference"] == "2/2"  # fp32: speculation keeps plain greedy's tokens
    text = (tmp_path / "BENCH.md").read_text()
    assert f"first 2 test questions of `{questions}`" in text and "| onnx-genai, no speculation | fp32 |" in text


def test_weights_read_per_token_leave_out_a_gathered_embedding(tmp_path):
    """A decode step reads every weight once, but only one row of a table it gathers from."""
    import numpy as np
    import onnx
    from gguf import GGUFWriter
    from onnx import TensorProto, helper, numpy_helper

    from export.decode_streams import bytes_read_per_token

    embedding = numpy_helper.from_array(np.zeros((100, 8), np.float32), "embed")
    head = numpy_helper.from_array(np.zeros((8, 100), np.float32), "head")
    graph = helper.make_graph(
        [helper.make_node("Gather", ["embed", "ids"], ["hidden"]), helper.make_node("MatMul", ["hidden", "head"], ["logits"])],
        "g", [helper.make_tensor_value_info("ids", TensorProto.INT64, [1])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, 100])], [embedding, head])
    onnx.save(helper.make_model(graph), str(tmp_path / "model.onnx"))
    assert bytes_read_per_token(tmp_path) == 8 * 100 * 4  # the head, not the gathered table

    def gguf_file(name, tensors):
        writer = GGUFWriter(str(tmp_path / name), "llama")
        for tensor_name, shape in tensors:
            writer.add_tensor(tensor_name, np.zeros(shape, np.float32))
        writer.write_header_to_file(), writer.write_kv_data_to_file(), writer.write_tensors_to_file()
        writer.close()
        return tmp_path / name

    untied = gguf_file("untied.gguf", [("token_embd.weight", (100, 8)), ("output.weight", (100, 8)),
                                       ("blk.0.ffn_up.weight", (16, 8))])
    tied = gguf_file("tied.gguf", [("token_embd.weight", (100, 8)), ("blk.0.ffn_up.weight", (16, 8))])
    assert bytes_read_per_token(untied) == (100 * 8 + 16 * 8) * 4  # a separate head: the table is only gathered
    assert bytes_read_per_token(tied) == (100 * 8 + 16 * 8) * 4  # tied: the table is the head, read every step


def test_generate_baseline_streams_the_same_greedy_tokens_as_the_kv_loop(lively_llama):
    from export.decode_streams import generate_token_stream
    from export.gates import encode_prompt, load_reference, parity_prompts, torch_token_stream

    model, tokenizer = load_reference(lively_llama)
    ids = encode_prompt(tokenizer, parity_prompts(tokenizer, 1)[0])
    loop = list(torch_token_stream(model, ids, 12, ignore_eos=True))
    streamed = list(generate_token_stream(model, ids, 12))
    assert len(streamed) == 12
    eos = model.config.eos_token_id
    first_eos = loop.index(eos) if eos in loop else len(loop)  # generate() may not emit EOS before n tokens
    assert streamed[:first_eos] == loop[:first_eos] and first_eos > 0


def test_divergence_gap_is_the_reference_logit_difference(lively_llama):
    import torch

    from export.gates import divergence_gap, encode_prompt, load_reference, parity_prompts, torch_token_stream

    model, tokenizer = load_reference(lively_llama)
    ids = encode_prompt(tokenizer, parity_prompts(tokenizer, 1)[0])
    expected = list(torch_token_stream(model, ids, 6))
    with torch.inference_mode():
        logits = model(input_ids=torch.tensor([ids + expected[:3]])).logits[0, -1]
    runner_up = int(torch.topk(logits, 2).indices[1])
    got = expected[:3] + [runner_up]
    gap = divergence_gap(model, ids, expected, got, 3, set())
    assert gap == pytest.approx(float(logits[expected[3]] - logits[runner_up]), abs=1e-3) and gap >= 0
