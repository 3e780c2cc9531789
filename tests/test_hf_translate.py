"""export/hf_translate.py: one test per transformers-5 quirk a backend misreads."""

from __future__ import annotations

from types import SimpleNamespace

from export.hf_translate import for_genai_builder, for_transformers4, tokenizer_for_transformers4

GEMMA3_ROPE = {"full_attention": {"rope_type": "linear", "rope_theta": 1_000_000.0, "factor": 8.0},
               "sliding_attention": {"rope_type": "default", "rope_theta": 10_000.0}}


def test_transformers4_reads_rope_theta_not_rope_parameters():
    config = for_transformers4({"rope_parameters": {"rope_theta": 100000.0, "rope_type": "default"},
                                "dtype": "float32", "model_type": "llama"})
    assert config["rope_theta"] == 100000.0 and "rope_parameters" not in config and "rope_scaling" not in config
    assert config["torch_dtype"] == "float32"


def test_transformers4_gets_llama3_scaling_as_rope_scaling():
    scaled = for_transformers4({"rope_parameters": {"rope_theta": 5e5, "rope_type": "llama3", "factor": 8.0}})
    assert scaled["rope_scaling"] == {"rope_type": "llama3", "factor": 8.0} and scaled["rope_theta"] == 5e5


def test_transformers4_gets_gemma3_global_and_local_rope():
    config = for_transformers4({"rope_parameters": GEMMA3_ROPE, "model_type": "gemma3_text"})
    assert config["rope_theta"] == 1_000_000.0 and config["rope_local_base_freq"] == 10_000.0
    assert config["rope_scaling"] == {"rope_type": "linear", "factor": 8.0}


def test_transformers4_does_not_know_the_tokenizers_backend_class():
    tokenizer = tokenizer_for_transformers4({"tokenizer_class": "TokenizersBackend", "backend": "tokenizers"})
    assert tokenizer == {"tokenizer_class": "PreTrainedTokenizerFast"}


def test_genai_builder_gets_gemma3_rope_flat_with_a_local_base():
    config = for_genai_builder(SimpleNamespace(rope_parameters={k: dict(v) for k, v in GEMMA3_ROPE.items()}))
    assert config.rope_parameters == {"rope_type": "linear", "rope_theta": 1_000_000.0, "factor": 8.0}
    assert config.rope_theta == 1_000_000.0 and config.rope_local_base_freq == 10_000.0


def test_genai_builder_gets_a_rope_type_where_none_is_written():
    config = for_genai_builder(SimpleNamespace(rope_parameters={"rope_theta": 10000.0}))
    assert config.rope_parameters == {"rope_theta": 10000.0, "rope_type": "default"}


def test_the_kv_cache_goes_in_and_comes_out_under_this_release_name(tiny_llama_dir):
    """A cache passed by ``cache_keyword`` is used (the continuation's logits equal a full pass's) and
    no deprecation warning is raised for the old name."""
    import warnings

    import torch
    from transformers import AutoModelForCausalLM

    from export.hf_translate import cache_keyword, returned_cache

    model = AutoModelForCausalLM.from_pretrained(tiny_llama_dir).eval()
    ids = torch.tensor([[5, 9, 2, 7, 11, 3]])
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("error")
        prefix = model(input_ids=ids[:, :4], use_cache=True)
        tail = model(input_ids=ids[:, 4:], use_cache=True, **{cache_keyword(model): returned_cache(prefix)})
        full = model(input_ids=ids)
    torch.testing.assert_close(tail.logits, full.logits[:, 4:], rtol=1e-4, atol=1e-4)
