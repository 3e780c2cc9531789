"""The ONNX engine on a real genai export of a tiny model: streaming, sampling, stops, no torch."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from serve.engines.chat_template import render_chat
from serve.engines.interface import SamplingParams, load_engine
from serve.engines.onnx_engine import OnnxEngine
from serve.engines.sampling import pick_token

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def engine(llama_fp32_export) -> OnnxEngine:
    return OnnxEngine(llama_fp32_export)


def test_load_engine_picks_onnx_for_an_export(llama_fp32_export):
    engine = load_engine(llama_fp32_export)
    assert isinstance(engine, OnnxEngine) and engine.layout == "genai" and engine.precision == "fp32"


def test_importing_and_running_the_onnx_engine_never_imports_torch(llama_fp32_export):
    script = (
        "import sys, json\n"
        "from serve.engines.interface import load_engine, SamplingParams\n"
        f"engine = load_engine({str(llama_fp32_export)!r})\n"
        "text = ''.join(engine.stream([{'role': 'user', 'content': 'Is the sky blue?'}],"
        " SamplingParams(max_new_tokens=8, temperature=0.7, top_p=0.9, seed=1)))\n"
        "print(json.dumps({'torch': 'torch' in sys.modules, 'transformers': 'transformers' in sys.modules,"
        " 'chars': len(text)}))\n")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=REPO)
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    assert seen == {"torch": False, "transformers": False, "chars": seen["chars"]} and seen["chars"] > 0


def test_chat_template_and_encoding_match_transformers(engine, lively_llama):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(lively_llama)
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Is 4 even?"}]
    expected = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    assert engine.apply_chat_template(messages) == expected
    assert engine.encode(expected) == tokenizer(expected, add_special_tokens=False)["input_ids"]
    assert engine.count_tokens("So the answer is yes.") == len(tokenizer.encode("So the answer is yes.",
                                                                               add_special_tokens=False))


def test_greedy_streaming_matches_token_ids_and_max_tokens(engine):
    prompt = engine.apply_chat_template([{"role": "user", "content": "How many legs do two dogs have?"}])
    greedy = SamplingParams(max_new_tokens=12)
    ids = list(engine.token_ids(engine.encode(prompt), greedy))
    chunks = list(engine.stream_prompt(prompt, greedy))
    assert len(ids) <= 12 and len(chunks) >= 2
    assert "".join(chunks) == engine.tokenizer.decode(ids, skip_special_tokens=True)
    assert len(list(engine.token_ids(engine.encode(prompt), SamplingParams(max_new_tokens=3)))) <= 3


def test_stop_string_cuts_the_stream(engine):
    prompt = engine.apply_chat_template([{"role": "user", "content": "Is the sky blue?"}])
    full = "".join(engine.stream_prompt(prompt, SamplingParams(max_new_tokens=24)))
    stop = full[len(full) // 2: len(full) // 2 + 2]
    assert stop.strip()
    cut = "".join(engine.stream_prompt(prompt, SamplingParams(max_new_tokens=24, stop=[stop])))
    assert cut == full[: full.find(stop)]


def test_sampling_is_seeded_and_top_k_1_is_greedy(engine):
    prompt = engine.apply_chat_template([{"role": "user", "content": "Is the sky blue?"}])
    ids = engine.encode(prompt)
    hot = SamplingParams(max_new_tokens=16, temperature=1.5, seed=7)
    first, again = list(engine.token_ids(ids, hot)), list(engine.token_ids(ids, hot))
    other = list(engine.token_ids(ids, SamplingParams(max_new_tokens=16, temperature=1.5, seed=8)))
    greedy = list(engine.token_ids(ids, SamplingParams(max_new_tokens=16)))
    top1 = list(engine.token_ids(ids, SamplingParams(max_new_tokens=16, temperature=1.5, top_k=1, seed=3)))
    assert first == again and first != other and top1 == greedy


def test_pick_token_cuts():
    rng = np.random.default_rng(0)
    logits = np.array([0.0, 3.0, 2.9, -1.0, 1.0], dtype=np.float32)
    assert pick_token(logits, SamplingParams(), rng) == 1
    top2 = {pick_token(logits, SamplingParams(temperature=1.0, top_k=2), rng) for _ in range(200)}
    assert top2 == {1, 2}
    nucleus = {pick_token(logits, SamplingParams(temperature=1.0, top_p=0.5), rng) for _ in range(200)}
    assert nucleus <= {1, 2} and 1 in nucleus
    spread = {pick_token(logits, SamplingParams(temperature=5.0), rng) for _ in range(400)}
    assert spread == {0, 1, 2, 3, 4}
    # the top-k draw works on the k kept logits only: still the softmax of those two
    draws = [pick_token(logits, SamplingParams(temperature=1.0, top_k=2), rng) for _ in range(4000)]
    assert abs(draws.count(1) / len(draws) - np.exp(3.0) / (np.exp(3.0) + np.exp(2.9))) < 0.03
    # a nucleus wider than the few hundred tokens sorted first: the whole vocabulary is sorted instead
    flat = np.zeros(1000, dtype=np.float32)
    wide = {pick_token(flat, SamplingParams(temperature=1.0, top_p=0.5), rng) for _ in range(3000)}
    assert 400 < len(wide) <= 501


def test_prompt_longer_than_the_context_is_a_user_error(engine):
    from serve.core.errors import UserError

    with pytest.raises(UserError, match="shorten the input"):
        list(engine.token_ids([5] * (engine.decoder.context_length + 1), SamplingParams()))


def test_render_chat_supports_raise_exception_and_special_tokens():
    template = ("{% if messages[0]['role'] != 'user' %}{{ raise_exception('user first') }}{% endif %}"
                "{{ bos_token }}{% for m in messages %}{{ m['content'] }}{{ eos_token }}{% endfor %}")
    assert render_chat(template, [{"role": "user", "content": "hi"}], bos_token="<s>", eos_token="</s>") == "<s>hi</s>"
    from serve.core.errors import UserError

    with pytest.raises(UserError, match="user first"):
        render_chat(template, [{"role": "assistant", "content": "hi"}])


def test_n_samples_of_one_prompt_decode_as_one_seeded_batch(engine):
    prompt = engine.apply_chat_template([{"role": "user", "content": "How many legs do two dogs have?"}])
    ids = engine.encode(prompt)
    hot = SamplingParams(n=4, max_new_tokens=16, temperature=1.5, seed=11)
    rows = engine.decoder.sample_batch(ids, hot, 16, engine.eos_ids)
    assert len(rows) == 4 and all(len(row) <= 16 for row in rows) and len({tuple(r) for r in rows}) > 1
    assert engine.decoder.sample_batch(ids, hot, 16, engine.eos_ids) == rows  # same seed, same batch
    texts = engine.generate([prompt], hot)[0]
    assert texts == [engine.tokenizer.decode(row, skip_special_tokens=True) for row in rows]
    # genai's own greedy in a batch gives each row the single-stream greedy tokens
    greedy_rows = engine.decoder.sample_batch(ids, SamplingParams(n=3, max_new_tokens=16), 16, engine.eos_ids)
    single = list(engine.token_ids(ids, SamplingParams(max_new_tokens=16)))
    assert greedy_rows == [single] * 3


def test_prompts_of_different_lengths_decode_as_one_batch(engine, monkeypatch):
    """eval's and infer's batches: generate() decodes its prompts as one genai batch (right-padded); each
    greedy row gives that prompt's single-stream greedy tokens, and a seeded sampled batch repeats itself."""
    questions = ["Is the sky blue?", "Alice has a red ball, Bob has a blue ball and Claire has a green ball. "
                 "Alice and Bob swap balls. Which ball does Bob have?", "2 + 3 = ?", "Name a fruit that is yellow."]
    prompts = [engine.apply_chat_template([{"role": "user", "content": q}]) for q in questions]
    assert len({len(engine.encode(p)) for p in prompts}) == len(prompts)  # really different lengths
    batches = []
    real = engine.decoder.decode_batch
    monkeypatch.setattr(engine.decoder, "decode_batch", lambda rows, *a, **k: batches.append(len(rows)) or real(rows, *a, **k))
    greedy = SamplingParams(max_new_tokens=24)
    batched = engine.generate(prompts, greedy)
    assert batches == [4]  # one batch, one row per prompt
    single = [engine.tokenizer.decode(list(engine.token_ids(engine.encode(p), greedy)), skip_special_tokens=True)
              for p in prompts]
    assert [texts[0] for texts in batched] == single
    hot = SamplingParams(n=3, max_new_tokens=12, temperature=1.2, seed=5)
    first = engine.generate(prompts, hot)
    assert batches[1:] == [12] and [len(texts) for texts in first] == [3] * 4
    assert engine.generate(prompts, hot) == first  # fixed seed: the same batch again
    assert any(len(set(texts)) > 1 for texts in first)  # the n rows of a prompt are distinct samples


def test_batch_chunks_are_seeded_by_the_shared_seeded_sample(engine, monkeypatch):
    """The k-th batch of generate() samples as the interface's k-th sample does (seed + k), through
    the one ``seeded_sample`` that Engine.complete and the API use too."""
    from serve.engines import interface, onnx_engine

    hot = SamplingParams(n=2, max_new_tokens=4, temperature=1.2, seed=5)
    assert interface.seeded_sample(hot, 3).seed == 8 and interface.seeded_sample(hot, 3).temperature == 1.2
    assert interface.seeded_sample(SamplingParams(), 3) == SamplingParams()  # unseeded stays unseeded
    asked, seeds = [], []
    monkeypatch.setattr(onnx_engine, "seeded_sample", lambda sampling, index: asked.append(index)
                        or interface.seeded_sample(sampling, index))
    monkeypatch.setattr(onnx_engine, "MAX_BATCH_ROWS", 2)  # a prompt's two rows a batch
    real = engine.decoder.decode_batch
    monkeypatch.setattr(engine.decoder, "decode_batch", lambda rows, sampling, *a: seeds.append(sampling.seed)
                        or real(rows, sampling, *a))
    engine.generate(["Q: Is the sky blue?\nA:", "Q: Is 4 even?\nA:"], hot)
    assert asked == [0, 1] and seeds == [5, 6]


def test_greedy_with_speculation_gives_the_tokens_of_plain_greedy_on_50_prompts(llama_fp32_export):
    """Prompt-lookup speculation (the engine's default greedy) against a plain loop over the logits, argmax
    taken in numpy: the same tokens on every prompt."""
    speculating, plain = OnnxEngine(llama_fp32_export), OnnxEngine(llama_fp32_export, draft_tokens=0)
    assert speculating.decoder.speculates and not plain.decoder.speculates
    greedy = SamplingParams(max_new_tokens=40)
    accepted = 0
    for i in range(50):
        words = " ".join(["apple", "pear", "plum", "fig"][(i + j) % 4] for j in range(i % 7 + 2))
        ids = speculating.encode(speculating.apply_chat_template([{"role": "user", "content": f"{i}: {words} {words}"}]))
        fast = list(speculating.token_ids(ids, greedy))
        accepted += speculating.decoder.speculative_stats["draft_tokens_accepted"]
        steps = plain.decoder.logits_stream(list(ids), 40)  # the reference: logits to numpy, argmax
        logits, reference = next(steps), []
        while len(reference) < 40 and (token := int(np.argmax(logits))) not in plain.eos_ids:
            reference.append(token)
            logits = steps.send(token)
        assert fast == reference, i
        assert list(plain.token_ids(ids, greedy)) == reference, i
    assert accepted > 50, "speculation never had a draft accepted: the test would prove nothing"


def test_one_stream_holds_one_copy_of_the_weights(llama_fp32_export):
    """Greedy (drafting or not) and sampling of one stream run through one ONNX Runtime session; genai's
    model, a second copy of the weights, is loaded only when a batch needs it."""
    engine = OnnxEngine(llama_fp32_export)
    ids = engine.encode(engine.apply_chat_template([{"role": "user", "content": "fig plum fig plum fig"}]))
    list(engine.token_ids(ids, SamplingParams(max_new_tokens=12)))
    list(engine.with_draft_tokens(0).token_ids(ids, SamplingParams(max_new_tokens=12)))
    list(engine.token_ids(ids, SamplingParams(max_new_tokens=12, temperature=0.8, seed=1)))
    assert engine.decoder._loaded["session"] is not None and engine.decoder._loaded["model"] is None
    engine.generate(["fig plum", "plum fig fig"], SamplingParams(max_new_tokens=6))
    assert engine.decoder._loaded["model"] is not None


def test_a_plain_greedy_view_shares_the_loaded_model(llama_fp32_export):
    """``with_draft_tokens(0)``, as the export gates use it: plain greedy on the same loaded genai model,
    the speculating engine left as it was."""
    speculating = OnnxEngine(llama_fp32_export)
    plain = speculating.with_draft_tokens(0)
    assert plain.decoder.model is speculating.decoder.model and plain.decoder.session is speculating.decoder.session
    assert speculating.decoder.speculates and not plain.decoder.speculates
    ids = speculating.encode(speculating.apply_chat_template([{"role": "user", "content": "fig plum fig plum fig"}]))
    greedy = SamplingParams(max_new_tokens=24)
    assert list(plain.token_ids(ids, greedy)) == list(OnnxEngine(llama_fp32_export, draft_tokens=0).token_ids(ids, greedy))
    assert plain.decoder.speculative_stats is None
    list(speculating.token_ids(ids, greedy))
    assert speculating.decoder.speculative_stats["draft_tokens_evaluated"] > 0


def test_n_samples_share_one_prefill_in_the_one_stream_session(llama_fp32_export):
    """k samples of one prompt go through our session (one prefill copied to k rows), so the process
    never loads genai's model, the second copy of the weights; each row draws with its own seed."""
    fresh = OnnxEngine(llama_fp32_export)
    ids = fresh.encode(fresh.apply_chat_template([{"role": "user", "content": "Name a colour."}]))
    rows = fresh.decoder.sample_batch(ids, SamplingParams(n=5, max_new_tokens=12, temperature=1.5, seed=3), 12,
                                      fresh.eos_ids)
    assert fresh.decoder._loaded["model"] is None and fresh.decoder._loaded["session"] is not None
    assert len(rows) == 5 and len({tuple(row) for row in rows}) == 5 and all(0 < len(row) <= 12 for row in rows)
    again = fresh.decoder.sample_batch(ids, SamplingParams(n=2, max_new_tokens=12, temperature=1.5, seed=3), 12,
                                       fresh.eos_ids)
    assert again == rows[:2]  # row i's stream depends on its own seed, not on how many rows decode beside it


def test_n_sampled_completions_decode_as_one_batch_cut_together_at_the_deadline(engine):
    import time

    prompt = engine.apply_chat_template([{"role": "user", "content": "Name three fruits."}])
    hot = SamplingParams(n=3, max_new_tokens=16, temperature=1.5, seed=5)
    rows = engine.decoder.sample_batch(engine.encode(prompt), hot, 16, engine.eos_ids)
    done = engine.complete(prompt, hot)  # what the API's n uses
    assert [c.text for c in done] == [engine.tokenizer.decode(row, skip_special_tokens=True) for row in rows]
    assert not any(c.timed_out for c in done)
    late = engine.complete(prompt, hot, deadline=time.monotonic())  # already past: nothing is decoded
    assert [(c.text, c.timed_out) for c in late] == [("", True)] * 3
    one_by_one = engine.complete(prompt, SamplingParams(n=2, max_new_tokens=8, seed=5))  # greedy: the plain path
    assert one_by_one[0].text == one_by_one[1].text and not one_by_one[0].timed_out


def test_each_decoder_defines_exactly_the_capabilities_it_declares():
    from serve.engines.onnx_decoders import CAPABILITIES, DECODERS

    for layout, decoder in DECODERS.items():
        assert hasattr(decoder, "logits_stream"), layout
        defined = {name for name in CAPABILITIES if callable(getattr(decoder, name, None))}
        assert defined == set(decoder.capabilities), layout


def test_a_misspelt_engine_option_is_a_one_line_error(llama_fp32_export):
    from serve.core.errors import UserError

    with pytest.raises(UserError, match="'onnx' engine has no option draft_token; it takes: threads, draft_tokens"):
        load_engine(llama_fp32_export, draft_token=4)
    assert load_engine(llama_fp32_export, draft_tokens=0).decoder.capabilities


def _metaspace_tokenizer():
    """A SentencePiece-style tokenizer (``▁`` for spaces, the first one dropped on decode) as Llama and Gemma
    use: decoding a window of tokens differs at its start from decoding it inside the whole text."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    core = Tokenizer(models.BPE(unk_token="<unk>", byte_fallback=True))
    core.pre_tokenizer = pre_tokenizers.Metaspace(prepend_scheme="first")
    core.decoder = decoders.Sequence([decoders.ByteFallback(), decoders.Metaspace(prepend_scheme="first")])
    corpus = ["Alice swaps the ball with Bob. So the answer is (B).", "ünïcödé façade 東京 🙂 naïve", "a b c"] * 20
    core.train_from_iterator(corpus, trainers.BpeTrainer(vocab_size=300, special_tokens=["<unk>", "<eos>"] + [
        f"<0x{b:02X}>" for b in range(256)], show_progress=False))
    return PreTrainedTokenizerFast(tokenizer_object=core, eos_token="<eos>")


@pytest.mark.parametrize("kind", ["byte-level BPE", "metaspace"])
def test_streamed_pieces_join_to_the_whole_decode(engine, kind):
    """TokenText decodes a short window per token; its pieces must still join to the text of the whole
    sequence: multi-byte characters split across tokens, emoji, skipped special tokens, leading spaces."""
    from serve.engines.onnx_engine import TokenText

    tokenizer = engine.tokenizer if kind == "byte-level BPE" else _metaspace_tokenizer()
    special = sorted(engine.eos_ids)[0] if kind == "byte-level BPE" else tokenizer.eos_token_id
    texts = ["Alice swaps the ball with Bob.  So the answer is (B).", " leading space, then 東京 🙂 naïve façade",
             "ünïcödé\n\n  twice  spaced", "🙂🙂🙂"]
    for text in texts:
        ids = tokenizer.encode(text, add_special_tokens=False)
        ids = list(getattr(ids, "ids", ids))  # the engine's tokenizer is a tokenizers.Tokenizer
        ids = ids[:3] + [special] + ids[3:]  # a special token inside: skipped by both
        stream = TokenText(tokenizer, [])
        pieces = [stream.push(token) for token in ids]
        assert "".join(pieces) + stream.flush() == tokenizer.decode(ids, skip_special_tokens=True), text
        assert sum(1 for p in pieces if p) >= 2  # it streams, not one piece at the end
