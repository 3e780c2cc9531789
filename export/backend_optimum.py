"""Backend ``optimum``: optimum-onnx ``text-generation-with-past`` in its own venv, then
onnxruntime weight-only ``MatMulNBitsQuantizer`` (8 or 4 bits) in this process.

Covers the architectures the genai builder lacks (OPT, GPT-2: the paper's students).
The folder is first translated for transformers 4.x, which reads a transformers-5
folder wrongly in two ways: it ignores ``rope_parameters`` (and silently falls back
to rope_theta 10000), and it does not know the tokenizer class ``TokenizersBackend``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from export.hf_translate import for_transformers4, tokenizer_for_transformers4
from export.optimum_venv import ensure_venv, installed_versions
from serve.core.errors import UserError

ARCHITECTURES = {"OPTForCausalLM", "GPT2LMHeadModel", "GPTNeoForCausalLM", "GPTJForCausalLM", "BloomForCausalLM",
                 "LlamaForCausalLM", "MistralForCausalLM", "Qwen2ForCausalLM", "GemmaForCausalLM",
                 "PhiForCausalLM", "FalconForCausalLM", "GPTBigCodeForCausalLM", "GPTNeoXForCausalLM"}
WORKER = Path(__file__).with_name("optimum_worker.py")


def supported_architectures() -> set[str]:
    return set(ARCHITECTURES)


def translate_folder(source: Path, dest: Path) -> None:
    """Link weights and copy everything else, rewriting the two files 4.x misreads."""
    dest.mkdir(parents=True, exist_ok=True)
    for path in source.iterdir():
        if not path.is_file():
            continue
        if path.name == "config.json":
            (dest / path.name).write_text(json.dumps(for_transformers4(json.loads(path.read_text())), indent=2))
        elif path.name == "tokenizer_config.json":
            data = tokenizer_for_transformers4(json.loads(path.read_text()))
            (dest / path.name).write_text(json.dumps(data, indent=2))
        elif path.suffix == ".safetensors":
            os.symlink(path.resolve(), dest / path.name)
        else:
            shutil.copy2(path, dest / path.name)


def quantize(model_file: Path, bits: int, block_size: int, accuracy_level: int) -> None:
    """Weight-only MatMulNBits quantization in place (activations stay fp32: dynamic int8 broke parity)."""
    import onnx
    from onnxruntime.quantization.matmul_nbits_quantizer import MatMulNBitsQuantizer

    model = onnx.load(str(model_file))
    quantizer = MatMulNBitsQuantizer(model, bits=bits, block_size=block_size, is_symmetric=True,
                                     accuracy_level=accuracy_level)
    quantizer.process()
    for stale in model_file.parent.glob(model_file.name + "*"):
        stale.unlink()
    quantizer.model.save_model_to_file(str(model_file), use_external_data_format=True)


def build(source: Path, out: Path, precision: str, block_size: int = 32, accuracy_level: int = 4) -> dict:
    python = ensure_venv()
    log = out / "build.log"
    with tempfile.TemporaryDirectory(prefix="scotd-optimum-") as scratch:
        translated = Path(scratch) / "hf4"
        translate_folder(source, translated)
        with log.open("w") as handle:
            result = subprocess.run([str(python), str(WORKER), str(translated), str(out)], stdout=handle,
                                    stderr=subprocess.STDOUT, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    if result.returncode != 0:
        tail = [line for line in log.read_text().splitlines() if line.strip()][-1:] or ["no output"]
        raise UserError(f"optimum-onnx export failed on '{source}' ({tail[0][:300]}); full log: {log}")
    if not (out / "model.onnx").is_file():
        raise UserError(f"optimum-onnx wrote no model.onnx into '{out}'; see {log}")
    bits = {"int8": 8, "int4": 4}.get(precision)
    if bits:
        quantize(out / "model.onnx", bits, block_size, accuracy_level)
    # optimum saves the 4.x-translated tokenizer config; restore the original files for serving.
    for name in ("tokenizer_config.json", "config.json"):
        if (source / name).is_file():
            shutil.copy2(source / name, out / name)
    return {"tool": "optimum-onnx text-generation-with-past" + (f" + MatMulNBits {bits}-bit" if bits else ""),
            "options": {"block_size": block_size, "accuracy_level": accuracy_level} if bits else {},
            "venv_versions": installed_versions()}
