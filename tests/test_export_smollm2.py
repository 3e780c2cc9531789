"""The real SmolLM2-135M-Instruct through scotd export (slow tier: minutes on a 2-core CPU)."""

from __future__ import annotations

import json

import pytest

from export.export_model import ExportConfig, run as run_export
from serve.core.config import build
from serve.engines.interface import SamplingParams, load_engine


@pytest.mark.slow
def test_smollm2_fp32_export_matches_pytorch_and_answers(smollm2_dir, tmp_path):
    cfg = build(ExportConfig, {"model": str(smollm2_dir), "out": str(tmp_path / "onnx-fp32"), "precision": "fp32",
                               "parity": {"prompts": 4, "tokens": 24},
                               "accuracy": {"limit": 4, "max_new_tokens": 32, "reference": "always"}})
    out = run_export(cfg)
    report = json.loads((out / "export_report.json").read_text())
    parity, accuracy = report["gates"]["parity"], report["gates"]["accuracy"]
    assert report["passed"] and parity["exact"] and parity["tokens_matched"] == parity["tokens_compared"] >= 4 * 8
    assert accuracy["examples"] == 4 and accuracy["drop_points"] <= cfg.accuracy.max_drop_points
    assert report["size_mb"]["export"] > 400  # fp32 weights: about the size of the safetensors
    engine = load_engine(out)
    text = "".join(engine.stream([{"role": "user", "content": "What is the capital of France?"}],
                                 SamplingParams(max_new_tokens=16)))
    assert "Paris" in text


@pytest.mark.slow
def test_smollm2_gguf_q8_0_with_an_ollama_modelfile(smollm2_dir, tmp_path):
    from gguf import GGUFReader

    out = run_export(build(ExportConfig, {"model": str(smollm2_dir), "format": "gguf", "precision": "q8_0",
                                          "out": str(tmp_path / "gguf-q8_0"), "parity": {"prompts": 4, "tokens": 24}}))
    report = json.loads((out / "gguf_report.json").read_text())
    reader = GGUFReader(out / report["file"])
    assert reader.fields["general.architecture"].contents() == "llama"
    assert len(reader.fields["tokenizer.ggml.tokens"].contents()) == 49152
    assert {t.tensor_type.name for t in reader.tensors if t.name.endswith("attn_q.weight")} == {"Q8_0"}
    assert 120 < report["size_mb"]["export"] < 160  # 8.5 bits per weight of 135M, about a quarter of fp32
    modelfile = (out / "Modelfile").read_text()
    assert "<|im_start|>assistant" in modelfile and 'PARAMETER stop "<|im_end|>"' in modelfile
    parity = report["gates"]["parity"]
    assert report["passed"] and (isinstance(parity, str) and parity.startswith("skipped") or parity["passed"])
