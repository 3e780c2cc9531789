"""The export architecture matrix: a tiny random model per family, built from that family's config
shape with its quirks kept (tests/tiny_models.py), exported at fp32 with exact greedy parity and
at int8 through the gates. OPT and GPT-2 go through the optimum fallback (tests/test_export_optimum.py)."""

from __future__ import annotations

import json

import pytest

from export.export_model import ExportConfig, run as run_export
from serve.core.config import build
from tiny_models import build_tiny_model

GENAI_FAMILIES = ["llama", "llama3", "qwen2", "qwen3", "gemma3_text", "phi3", "mistral"]


@pytest.mark.parametrize("family", GENAI_FAMILIES)
def test_family_exports_with_exact_fp32_parity_and_int8_through_the_gates(family, tmp_path):
    source = build_tiny_model(tmp_path / "hf", family)
    reports = {}
    for precision in ("fp32", "int8"):
        out = run_export(build(ExportConfig, {"model": str(source), "out": str(tmp_path / precision),
                                              "precision": precision, "accuracy": {"enabled": False},
                                              "parity": {"prompts": 2, "tokens": 16}}))
        reports[precision] = json.loads((out / "export_report.json").read_text())
    fp32, int8 = reports["fp32"], reports["int8"]
    assert fp32["backend"] == "genai" and fp32["passed"] and fp32["gates"]["parity"]["exact"]
    assert fp32["gates"]["parity"]["tokens_matched"] == fp32["gates"]["parity"]["tokens_compared"] > 0
    assert int8["passed"] and int8["size_mb"]["export"] < fp32["size_mb"]["export"]


def test_a_family_the_builder_fails_on_gets_one_line_naming_it_and_the_alternative(tmp_path):
    """SmolLM3: the 0.18 builder dispatches on it but breaks on its NoPE layers; the export says so
    before building anything and points at GGUF (llama.cpp's converter takes SmolLM3)."""
    from serve.core.errors import UserError

    source = build_tiny_model(tmp_path / "hf", "smollm3")
    with pytest.raises(UserError) as caught:
        run_export(build(ExportConfig, {"model": str(source), "out": str(tmp_path / "int8")}))
    message = str(caught.value)
    assert "SmolLM3ForCausalLM" in message and "NoPE" in message and "--format gguf" in message
    assert "\n" not in message and not (tmp_path / "int8" / "model.onnx").exists()
