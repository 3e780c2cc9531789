"""Backend ``genai``: onnxruntime-genai's model builder (fused decoder, its own KV-cache loop).

The builder runs as a subprocess (``python -m export.genai_worker``, which translates the
transformers-5 config the builder loads: ``export.hf_translate``) so its peak memory and its
many log lines stay out of the scotd process; the log is kept next to the export.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

from serve.core.errors import UserError

# Used when the installed builder's dispatch table cannot be read.
_KNOWN = {"LlamaForCausalLM", "MistralForCausalLM", "Qwen2ForCausalLM", "Qwen3ForCausalLM", "GemmaForCausalLM",
          "Gemma2ForCausalLM", "Gemma3ForCausalLM", "PhiForCausalLM", "Phi3ForCausalLM", "SmolLM3ForCausalLM",
          "GraniteForCausalLM", "OlmoForCausalLM", "NemotronForCausalLM"}


# Architectures the builder dispatches on but fails to build (found by tests/test_export_matrix.py on a tiny
# model of the family, onnxruntime-genai 0.18): architecture -> what goes wrong.
BUILDER_FAILURES = {
    "SmolLM3ForCausalLM": "its NoPE layers (no rotary embedding in every 4th layer) make the builder look up "
                          "a position_ids input it has already removed (KeyError: 'position_ids')",
}


def supported_architectures() -> set[str]:
    """Architectures the installed builder dispatches on (read from its source, so upgrades count),
    less those it is known to fail on."""
    return _dispatched() - set(BUILDER_FAILURES)


def _dispatched() -> set[str]:
    try:
        import importlib.util

        spec = importlib.util.find_spec("onnxruntime_genai")
        source = (Path(spec.origin).parent / "models" / "builder.py").read_text()
        found = set(re.findall(r'config\.architectures\[0\] == "(\w+)"', source))
        return found or set(_KNOWN)
    except (AttributeError, OSError, TypeError):
        return set(_KNOWN)


def builder_options(precision: str, block_size: int, accuracy_level: int) -> list[str]:
    if precision == "fp32":
        return []
    options = [f"block_size={block_size}", f"accuracy_level={accuracy_level}"]
    if precision == "int4":
        # The LM head is the most output-sensitive weight: keep it at int8 inside an int4 body. A tied
        # head shared with the embedding gets no separate int8 copy (the builder writes a dangling
        # reference), so untie them: int8 head MatMul, int4 embedding Gather.
        options += ["matmul_mixed_precision=last_matmul:int8", "shared_embeddings=false",
                    "op_types_to_quantize=MatMul/Gather"]
    return options


def build(source: Path, out: Path, precision: str, block_size: int = 32, accuracy_level: int = 4) -> dict:
    """Write the ONNX model + genai_config.json + tokenizer into ``out``; returns build facts."""
    options = builder_options(precision, block_size, accuracy_level)
    log = out / "build.log"
    with tempfile.TemporaryDirectory(prefix="scotd-genai-") as scratch:
        command = [sys.executable, "-m", "export.genai_worker", "-i", str(source), "-o", str(out),
                   "-p", precision, "-e", "cpu", "-c", scratch]
        if options:
            command += ["--extra_options", *options]
        with log.open("w") as handle:
            result = subprocess.run(command, stdout=handle, stderr=subprocess.STDOUT,
                                    env={**os.environ, "HF_HUB_OFFLINE": "1"})
    if result.returncode != 0:
        tail = [line for line in log.read_text().splitlines() if line.strip()][-1:] or ["no output"]
        raise UserError(f"the onnxruntime-genai builder failed on '{source}' ({tail[0][:300]}); "
                        f"full log: {log}")
    return {"tool": "onnxruntime_genai.models.builder", "options": options}
