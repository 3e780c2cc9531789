"""Tiny random causal LMs and a small real BPE tokenizer, built in well under a second.

The tokenizer is trained here with the ``tokenizers`` library on a short corpus, so
it is a real byte-level BPE tokenizer (with ChatML special tokens and a chat
template) without any download. Models are random-initialised from a config with
a fixed seed, so every test sees the same weights.
"""

from __future__ import annotations

from pathlib import Path

CHAT_TEMPLATE = (
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>\n' }}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
SPECIAL = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
CORPUS = [
    "Q: Which is heavier, a brick or a feather? A: A brick is dense. So the answer is (a).",
    "Alice, Bob and Claire swap balls. At the start Alice has a red ball. So the answer is (b).",
    "Is the sky blue on a clear day? Sunlight scatters. So the answer is yes.",
    "How many legs do two dogs have? Each dog has 4 legs, 2 x 4 = 8. So the answer is 8.",
    "Answer choices: (a) yes (b) no (c) maybe (d) unknown (e) none of the above",
    "The quick brown fox jumps over the lazy dog 0 1 2 3 4 5 6 7 8 9 .,;:!?()[]'\"",
] * 4


def build_tokenizer(out_dir: Path, vocab_size: int = 384):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    core = Tokenizer(models.BPE())
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    core.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=SPECIAL,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    core.train_from_iterator(CORPUS, trainer=trainer)
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=core, bos_token="<|im_start|>", eos_token="<|im_end|>",
                                        unk_token="<|endoftext|>", pad_token="<|im_end|>")
    tokenizer.chat_template = CHAT_TEMPLATE
    tokenizer.model_max_length = 512
    out_dir.mkdir(parents=True, exist_ok=True)
    tokenizer.save_pretrained(out_dir)
    return tokenizer


def _config(arch: str, vocab_size: int, bos: int, eos: int):
    from transformers import AutoConfig

    common = dict(vocab_size=vocab_size, bos_token_id=bos, eos_token_id=eos, pad_token_id=eos)
    specs = {
        "llama": dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                      num_key_value_heads=2, max_position_embeddings=512, tie_word_embeddings=True,
                      rope_theta=10000.0),
        "qwen2": dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                      num_key_value_heads=2, max_position_embeddings=512, tie_word_embeddings=True),
        "opt": dict(hidden_size=64, ffn_dim=128, num_hidden_layers=2, num_attention_heads=4,
                    max_position_embeddings=512, word_embed_proj_dim=64),
        "gpt2": dict(n_embd=64, n_layer=2, n_head=4, n_positions=512),
        # the families' quirks kept: Llama 3 rope scaling, Qwen3's q/k norms, Gemma 3's sliding + full
        # attention with a rope per attention type, Phi-3's fused projections, Mistral's sliding window, SmolLM3's NoPE layers
        "llama3": dict(model_type="llama", hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                       num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512,
                       tie_word_embeddings=True, rope_parameters={"rope_type": "llama3", "rope_theta": 500000.0,
                       "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                       "original_max_position_embeddings": 128}),
        "qwen3": dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                      num_key_value_heads=2, head_dim=16, max_position_embeddings=512, tie_word_embeddings=True),
        "gemma3_text": dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                            num_key_value_heads=1, head_dim=16, max_position_embeddings=512, sliding_window=256,
                            layer_types=["sliding_attention", "full_attention"], query_pre_attn_scalar=16),
        "phi3": dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                     num_key_value_heads=4, max_position_embeddings=512, original_max_position_embeddings=512),
        "mistral": dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                        num_key_value_heads=2, max_position_embeddings=512, sliding_window=4096),  # Mistral-7B's window
        # SmolLM3's quirk: every 4th layer has no rotary embedding (NoPE), so 4 layers hold one of each
        "smollm3": dict(hidden_size=64, intermediate_size=128, num_hidden_layers=4, num_attention_heads=4,
                        num_key_value_heads=2, max_position_embeddings=512, tie_word_embeddings=True,
                        no_rope_layer_interval=4),
    }
    if arch not in specs:
        raise ValueError(f"no tiny config for '{arch}'; known: {', '.join(specs)}")
    spec = dict(specs[arch])
    return AutoConfig.for_model(spec.pop("model_type", arch), **common, **spec)


def build_tiny_model(out_dir: Path, arch: str = "llama", seed: int = 0) -> Path:
    """Save a random ``arch`` model + tokenizer + generation config as a standard HF folder."""
    import torch
    from transformers import AutoModelForCausalLM, GenerationConfig

    tokenizer = build_tokenizer(out_dir)
    bos, eos = tokenizer.convert_tokens_to_ids(["<|im_start|>", "<|im_end|>"])
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(_config(arch, len(tokenizer), bos, eos), dtype=torch.float32)
    model.generation_config = GenerationConfig(bos_token_id=bos, eos_token_id=eos, pad_token_id=eos)
    model.save_pretrained(out_dir, safe_serialization=True)
    return out_dir


def build_tiny_spm_llama(out_dir: Path, seed: int = 0, arch: str = "llama") -> Path:
    """A tiny random Llama (or another ``arch`` of llama.cpp's llama family) with a SentencePiece
    tokenizer (``tokenizer.model`` kept beside the fast one).

    llama.cpp's converter recognises a BPE tokenizer by hashing how it splits a fixed text, so a
    BPE vocabulary trained here is unknown to it; a SentencePiece model is read directly. This is
    the tiny Llama that GGUF export tests use."""
    import sentencepiece
    import torch
    from transformers import AutoModelForCausalLM, GenerationConfig, LlamaTokenizer

    out_dir.mkdir(parents=True, exist_ok=True)
    corpus = out_dir / "corpus.txt"
    corpus.write_text("\n".join(CORPUS * 8))
    sentencepiece.SentencePieceTrainer.train(
        input=str(corpus), model_prefix=str(out_dir / "tokenizer"), vocab_size=400, model_type="bpe",
        unk_id=0, bos_id=1, eos_id=2, pad_id=-1, character_coverage=1.0, byte_fallback=True, minloglevel=2)
    corpus.unlink()
    (out_dir / "tokenizer.vocab").unlink()
    tokenizer = LlamaTokenizer.from_pretrained(out_dir)
    tokenizer.chat_template = CHAT_TEMPLATE
    tokenizer.save_pretrained(out_dir)
    torch.manual_seed(seed)
    config = _config(arch, len(tokenizer), tokenizer.bos_token_id, tokenizer.eos_token_id)
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    model.generation_config = GenerationConfig(bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id)
    model.save_pretrained(out_dir, safe_serialization=True)
    return out_dir
