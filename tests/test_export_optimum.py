"""The optimum fallback (its own pinned venv, built on first use) on tiny random OPT and GPT-2 models."""

from __future__ import annotations

import json

import pytest

from export.export_model import ExportConfig, run as run_export
from export_fixtures import lively_model
from serve.core.config import build
from serve.engines.interface import SamplingParams, load_engine


@pytest.mark.slow
@pytest.mark.parametrize("arch", ["opt", "gpt2"])
def test_optimum_fp32_export_has_exact_greedy_parity(arch, tmp_path):
    source = lively_model(tmp_path / arch, arch)
    cfg = build(ExportConfig, {"model": str(source), "out": str(tmp_path / "onnx"), "precision": "fp32",
                               "accuracy": {"enabled": False}})
    out = run_export(cfg)
    report = json.loads((out / "export_report.json").read_text())
    assert report["backend"] == "optimum"  # picked by --backend auto: genai has no OPT/GPT-2 builder
    assert report["build"]["venv_versions"]["transformers"].startswith("4.")
    parity = report["gates"]["parity"]
    assert parity["exact"] and parity["tokens_matched"] == parity["tokens_compared"] > 8 * 16
    engine = load_engine(out)
    assert engine.layout == "optimum"
    prompt = engine.apply_chat_template([{"role": "user", "content": "Is the sky blue?"}])
    hot = SamplingParams(max_new_tokens=10, temperature=1.0, top_p=0.9, seed=4)
    assert "".join(engine.stream_prompt(prompt, hot)) == "".join(engine.stream_prompt(prompt, hot))


@pytest.mark.slow
def test_optimum_int8_export_is_weight_quantized(tmp_path):
    source = lively_model(tmp_path / "opt", "opt")
    cfg = build(ExportConfig, {"model": str(source), "out": str(tmp_path / "onnx"), "precision": "int8",
                               "backend": "optimum", "block_size": 32, "accuracy": {"enabled": False},
                               "parity": {"exact_for": []}})
    out = run_export(cfg)
    import onnx

    ops = {node.op_type for node in onnx.load(str(out / "model.onnx"), load_external_data=False).graph.node}
    assert "MatMulNBits" in ops
    report = json.loads((out / "export_report.json").read_text())
    assert report["gates"]["parity"]["tokens_compared"] > 0 and "MatMulNBits 8-bit" in report["build"]["tool"]
