"""stop_on_loop: a generation whose last tokens repeat one block ends there; a long honest rationale does not."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from serve.engines.interface import SamplingError, SamplingParams
from serve.engines.loop_watch import CHECK_EVERY, LoopWatch, repeats


def test_repeats_needs_the_whole_span_to_be_one_block():
    block = [5, 9, 2, 7, 7, 3, 1]
    assert repeats(block * 40, span=200)
    broken = block * 40
    broken[-150] = 4  # one token inside the last 200 differs: no longer one repeated block
    assert not repeats(broken, span=200)
    assert not repeats(block * 20, span=200)  # 140 tokens: too short to tell
    assert repeats([8] * 300, span=200) and not repeats(list(range(400)), span=200)
    assert not repeats([1, 2] * 200, span=0)


def _ids(tokenizer, text: str) -> list[int]:
    ids = tokenizer.encode(text, add_special_tokens=False)
    return list(getattr(ids, "ids", ids))


def test_a_loop_with_a_climbing_counter_is_caught_and_a_long_rationale_is_not(llama_fp32_export):
    from distill.solvers.tracking_shuffled_objects import narrate, parse_puzzle
    from serve.data.generated import load_generated
    from serve.engines.onnx_engine import OnnxEngine

    tokenizer = OnnxEngine(llama_fp32_export).tokenizer
    loop = "".join(f"The s- words differ at letter {n}: a: sorb; o: scorch. " for n in range(2, 90))
    watch = LoopWatch(tokenizer, span=200)
    caught = next((i for i, token in enumerate(_ids(tokenizer, loop)) if watch.push(token)), None)
    assert caught is not None
    # the counter changes every line, so only with digits alike is it one block; caught within one look
    assert caught + 1 <= next(n for n in range(1, caught + 2) if repeats(watch.ids[:n], 200)) + CHECK_EVERY
    # seven people swapping partners, restated in full after every swap: long and repetitive, not a loop
    examples = load_generated("tracking_shuffled_objects/seven_objects", split="train", limit=5)
    for example in examples:
        rationale, _ = narrate(parse_puzzle(example.question), random.Random(0))
        watch = LoopWatch(tokenizer, span=200)
        ids = _ids(tokenizer, rationale)
        assert len(ids) > 400 and not any(watch.push(token) for token in ids)


def test_stop_on_loop_is_checked_and_off_by_default():
    assert SamplingParams().stop_on_loop == 0
    with pytest.raises(SamplingError, match="stop_on_loop must be >= 0"):
        SamplingParams(stop_on_loop=-1)


def test_the_engine_ends_a_looping_stream_and_a_batched_row(tiny_llama_dir, tmp_path):
    """The default-init tiny model repeats one token forever: a loop at its plainest."""
    from export.export_model import ExportConfig, run as run_export
    from serve.core.config import build
    from serve.engines.onnx_engine import OnnxEngine

    out = tmp_path / "repeating"
    run_export(build(ExportConfig, {"model": str(tiny_llama_dir), "out": str(out), "precision": "fp32",
                                    "accuracy": {"enabled": False}, "parity": {"enabled": False}}))
    engine = OnnxEngine(out)
    prompt = engine.apply_chat_template([{"role": "user", "content": "Is the sky blue?"}])
    plain = SamplingParams(max_new_tokens=300)
    full = list(engine.token_ids(engine.encode(prompt), plain))
    assert len(full) == 300 and repeats(full, 64)  # the premise: it loops to the budget
    watched = SamplingParams(max_new_tokens=300, stop_on_loop=64)
    text = "".join(engine.stream_prompt(prompt, watched))
    kept = _ids(engine.tokenizer, text)
    assert 64 < len(kept) <= 64 + 1 + CHECK_EVERY  # cut at the first look after 65 tokens of one block
    rows = {0: "", 1: ""}
    for row, piece in engine.stream_rows([prompt, prompt], [plain, watched]):
        rows[row] += piece or ""
    assert rows[0] == engine.tokenizer.decode(full, skip_special_tokens=True) and rows[1] == text
    # the eval's and infer's continuous batch: each answer cut alike
    from serve.apps.infer import answer_all

    assert engine.batches and engine.row_batch(2) is not None  # the path taken is the continuous batch
    answers = [texts[0] for _, group in answer_all(engine, ["a", "b", "c"], lambda item: prompt, watched, rows=2,
                                                   desc="loops") for texts in group]
    assert len(answers) == 3 and all(64 < len(_ids(engine.tokenizer, a)) <= 64 + 1 + CHECK_EVERY for a in answers)


def test_the_torch_engine_ends_a_loop_too(tiny_llama_dir):
    from serve.engines.torch_engine import TorchEngine

    engine = TorchEngine(tiny_llama_dir)
    prompt = engine.apply_chat_template([{"role": "user", "content": "Is the sky blue?"}])
    full, = engine.generate([prompt], SamplingParams(max_new_tokens=200))[0]
    cut, = engine.generate([prompt], SamplingParams(max_new_tokens=200, stop_on_loop=64))[0]
    streamed = "".join(engine.stream_prompt(prompt, SamplingParams(max_new_tokens=200, stop_on_loop=64)))
    assert len(_ids(engine.tokenizer, full)) == 200 and full.startswith(cut) and streamed == cut
    assert 64 < len(_ids(engine.tokenizer, cut)) <= 64 + 1 + CHECK_EVERY
