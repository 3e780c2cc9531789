"""Tiny-model fixtures shared by the export and ONNX-engine tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from export.export_model import ExportConfig, run as run_export
from serve.core.config import build


def lively_model(out_dir: Path, arch: str) -> Path:
    """A tiny random model whose weights are scaled up, so greedy decoding varies token to token
    (at the default init every prompt decodes to one repeated token, which would make parity trivial)."""
    import torch
    from transformers import AutoModelForCausalLM
    from tiny_models import build_tiny_model

    build_tiny_model(out_dir, arch)
    model = AutoModelForCausalLM.from_pretrained(out_dir)
    with torch.no_grad():
        for parameter in model.parameters():
            if parameter.dim() == 2:
                parameter.mul_(8.0)
    model.save_pretrained(out_dir)
    return out_dir


@pytest.fixture(scope="session")
def lively_llama(tmp_path_factory) -> Path:
    return lively_model(tmp_path_factory.mktemp("lively-llama"), "llama")


@pytest.fixture(scope="session")
def llama_fp32_export(lively_llama, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("exports") / "llama-fp32"
    cfg = build(ExportConfig, {"model": str(lively_llama), "out": str(out), "precision": "fp32",
                               "accuracy": {"enabled": False}})
    return run_export(cfg)
