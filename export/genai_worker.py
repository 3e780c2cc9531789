"""``python -m export.genai_worker BUILDER-ARGS``: onnxruntime-genai's builder, run with the
transformers-5 config it loads translated by ``export.hf_translate.for_genai_builder``."""

from __future__ import annotations

import runpy
import sys

from transformers import AutoConfig

from export.hf_translate import for_genai_builder

_load = AutoConfig.from_pretrained


def _translated(*args, **kwargs):
    return for_genai_builder(_load(*args, **kwargs))


if __name__ == "__main__":
    AutoConfig.from_pretrained = _translated  # the builder calls AutoConfig.from_pretrained(folder)
    sys.argv = ["onnxruntime_genai.models.builder", *sys.argv[1:]]
    runpy.run_module("onnxruntime_genai.models.builder", run_name="__main__", alter_sys=True)
