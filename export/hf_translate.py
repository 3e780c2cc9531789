"""The one place that translates a transformers-5 model folder into what each export backend reads.

transformers 5 writes rope settings as ``rope_parameters`` (nested per attention type for
Gemma 3: ``full_attention`` / ``sliding_attention``) and names the tokenizer class
``TokenizersBackend``. The backends were written against the transformers-4 shape:

- optimum-onnx runs under transformers 4.x in its own venv, which ignores ``rope_parameters``
  (silently falling back to rope_theta 10000) and does not know ``TokenizersBackend``:
  ``for_transformers4`` / ``tokenizer_for_transformers4`` rewrite the files it reads;
- the onnxruntime-genai builder loads the folder with this process's transformers 5 but
  expects one flat ``rope_parameters`` with a ``rope_type`` and, for Gemma 3, a
  ``rope_local_base_freq``: ``for_genai_builder`` fixes the loaded config object
  (``export/genai_worker.py`` applies it inside the builder's process).

- transformers 5.x renamed the key-value cache keyword of ``forward``/``generate`` and the output
  field from ``past_key_values`` to ``cache`` (the old name warns and goes in 5.40); scotd supports
  releases on both sides: ``cache_keyword`` / ``returned_cache``.

Every quirk found gets a function branch here and a test in tests/test_hf_translate.py.
"""

from __future__ import annotations

import functools
import inspect
from typing import Any

LAYER_TYPES = ("full_attention", "sliding_attention")


def _per_layer_type(rope: Any) -> bool:
    return isinstance(rope, dict) and any(isinstance(rope.get(kind), dict) for kind in LAYER_TYPES)


def for_transformers4(config: dict) -> dict:
    """A transformers-5 config.json as transformers 4.x expects it."""
    config = dict(config)
    rope = config.pop("rope_parameters", None)
    if _per_layer_type(rope):  # Gemma 3: the global rope at the top, the local one as rope_local_base_freq
        local = rope.get("sliding_attention") or {}
        rope = rope.get("full_attention") or local
        if "rope_theta" in local:
            config["rope_local_base_freq"] = local["rope_theta"]
    if isinstance(rope, dict):
        if "rope_theta" in rope:
            config["rope_theta"] = rope["rope_theta"]
        if rope.get("rope_type", "default") != "default":
            config["rope_scaling"] = {k: v for k, v in rope.items() if k != "rope_theta"}
    if "dtype" in config and "torch_dtype" not in config:
        config["torch_dtype"] = config["dtype"]
    return config


def tokenizer_for_transformers4(config: dict) -> dict:
    config = dict(config)
    if config.get("tokenizer_class") in (None, "TokenizersBackend"):
        config["tokenizer_class"] = "PreTrainedTokenizerFast"
    config.pop("backend", None)
    return config


def for_genai_builder(config: Any) -> Any:
    """A loaded transformers-5 config, adjusted in place to what the genai builder reads."""
    rope = getattr(config, "rope_parameters", None)
    if _per_layer_type(rope):
        full = dict(rope.get("full_attention") or {})
        local = rope.get("sliding_attention") or full
        full.setdefault("rope_type", "default")
        config.rope_parameters = full
        config.rope_theta = full.get("rope_theta", getattr(config, "rope_theta", None))
        config.rope_local_base_freq = local.get("rope_theta", config.rope_theta)
    elif isinstance(rope, dict):
        rope.setdefault("rope_type", "default")
    return config


@functools.cache
def _cache_keyword_of(model_class: type) -> str:
    return "cache" if "cache" in inspect.signature(model_class.forward).parameters else "past_key_values"


def cache_keyword(model: Any) -> str:
    """The keyword this transformers release's ``model.forward`` (and ``generate``) takes a KV cache by."""
    return _cache_keyword_of(type(model))


def returned_cache(output: Any) -> Any:
    """The KV cache a forward pass with ``use_cache=True`` returned, under either field name."""
    cache = getattr(output, "cache", None)
    return output.past_key_values if cache is None else cache
