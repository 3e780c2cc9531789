"""GGUF export through llama.cpp's own converter (vendored in the llama-cpp-python sdist)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from export.export_model import ExportConfig, run
from serve.core.config import build
from serve.core.errors import UserError
from tiny_models import build_tiny_spm_llama


@pytest.fixture(scope="module")
def spm_llama(tmp_path_factory):
    return build_tiny_spm_llama(tmp_path_factory.mktemp("tiny-spm-llama"))


def export(model, out, **values):
    return run(build(ExportConfig, {"model": str(model), "format": "gguf", "out": str(out), **values}))


def read_gguf(path):
    from gguf import GGUFReader

    reader = GGUFReader(path)
    fields = {name: field.contents() for name, field in reader.fields.items()
              if name in ("general.architecture", "tokenizer.ggml.tokens", "tokenizer.chat_template")}
    return fields, {tensor.name: tensor.tensor_type.name for tensor in reader.tensors}


@pytest.mark.parametrize("precision, weight_type", [("int8", "Q8_0"), ("f32", "F32"), ("f16", "F16")])
def test_gguf_file_modelfile_and_report(spm_llama, tmp_path, precision, weight_type):
    out = export(spm_llama, tmp_path / precision, precision=precision)
    report = json.loads((out / "gguf_report.json").read_text())
    gguf = out / report["file"]
    fields, tensors = read_gguf(gguf)
    assert fields["general.architecture"] == "llama" and len(fields["tokenizer.ggml.tokens"]) == 400
    assert "<|im_start|>" in fields["tokenizer.chat_template"]
    assert tensors["blk.0.attn_q.weight"] == weight_type and tensors["blk.1.ffn_down.weight"] == weight_type
    assert len([n for n in tensors if n.startswith("blk.")]) == 2 * 9  # two layers of attention + MLP + norms
    modelfile = (out / "Modelfile").read_text()
    assert f"FROM ./{gguf.name}" in modelfile and "<|im_start|>assistant" in modelfile
    assert 'PARAMETER stop "<|im_end|>"' in modelfile
    assert report["precision"] == ("q8_0" if precision == "int8" else precision) and report["passed"] is True
    assert "GGUF" in (out / "README.md").read_text()


def test_gguf_export_takes_paths_relative_to_the_callers_folder(spm_llama, tmp_path, monkeypatch):
    """The converter runs in its own folder; `scotd export --model runs/x/student` still works."""
    shutil.copytree(spm_llama, tmp_path / "runs" / "student")
    monkeypatch.chdir(tmp_path)
    out = export(Path("runs/student"), Path("runs/student-gguf-f32"), precision="f32")
    report = json.loads((tmp_path / out / "gguf_report.json").read_text())
    assert (tmp_path / "runs" / "student-gguf-f32" / report["file"]).stat().st_size > 0


def test_gguf_precision_names_and_the_quantizer_are_checked(spm_llama, tmp_path):
    with pytest.raises(UserError, match="q4_k_m"):
        export(spm_llama, tmp_path / "a", precision="int4")
    with pytest.raises(UserError, match="is a GGUF type; pass --format gguf"):
        run(build(ExportConfig, {"model": str(spm_llama), "precision": "q8_0", "out": str(tmp_path / "b")}))
    try:
        import llama_cpp  # noqa: F401
    except ImportError:
        with pytest.raises(UserError, match="needs llama.cpp's quantizer.*llama-cpp-python"):
            export(spm_llama, tmp_path / "c", precision="q4_k_m")
        assert not any((tmp_path / "c").glob("*.gguf*"))  # refused before converting anything


def test_precision_names_come_from_the_export_folder_contract():
    """--precision offers exactly the contract's names, its default is the contract's, and the names a
    format takes are returned, the caller's config left as given."""
    from typing import get_args, get_type_hints

    from export.export_model import check_precision
    from export.gguf_export import llama_ftype
    from serve.store.export_folder import DEFAULT_PRECISION, GGUF_K_QUANTS, GGUF_PRECISIONS, ONNX_PRECISIONS

    assert get_args(get_type_hints(ExportConfig)["precision"]) == ONNX_PRECISIONS + GGUF_PRECISIONS
    assert build(ExportConfig, {}).precision == DEFAULT_PRECISION in ONNX_PRECISIONS
    cfg = build(ExportConfig, {"format": "gguf", "precision": "int8"})
    assert check_precision(cfg.format, cfg.precision) == "q8_0" and cfg.precision == "int8"
    assert [check_precision("gguf", p) for p in GGUF_PRECISIONS] == list(GGUF_PRECISIONS)
    assert [check_precision("onnx", p) for p in ONNX_PRECISIONS] == list(ONNX_PRECISIONS)
    assert [llama_ftype(p) for p in GGUF_K_QUANTS] == ["LLAMA_FTYPE_MOSTLY_Q4_K_M", "LLAMA_FTYPE_MOSTLY_Q5_K_M",
                                                       "LLAMA_FTYPE_MOSTLY_Q6_K"]


def test_gguf_parity_with_pytorch_through_llama_cpp(spm_llama, tmp_path):
    pytest.importorskip("llama_cpp", reason="llama-cpp-python is not installed: the GGUF parity gate cannot run")
    out = export(spm_llama, tmp_path / "f32", precision="f32")
    parity = json.loads((out / "gguf_report.json").read_text())["gates"]["parity"]
    assert parity["passed"] and parity["exact"], parity


def test_smollm3_which_the_onnx_builder_refuses_exports_to_gguf(tmp_path):
    """SmolLM3 (NoPE every 4th layer) goes through llama.cpp's converter; where llama-cpp-python is
    installed, its greedy tokens must equal PyTorch fp32's."""
    source = build_tiny_spm_llama(tmp_path / "smollm3", arch="smollm3")
    out = export(source, tmp_path / "gguf", precision="f32")
    report = json.loads((out / "gguf_report.json").read_text())
    fields, tensors = read_gguf(out / report["file"])
    assert fields["general.architecture"] == "smollm3" and tensors["blk.3.attn_q.weight"] == "F32"
    parity = report["gates"].get("parity")
    try:
        import llama_cpp  # noqa: F401
    except ImportError:
        assert parity.startswith("skipped: llama-cpp-python is not installed")
    else:
        assert parity["exact"] and parity["tokens_matched"] == parity["tokens_compared"], parity
