"""TorchEngine on tiny random models (fast) and the real SmolLM2-135M (slow)."""

from __future__ import annotations

import dataclasses
import json
import shutil
import threading
from pathlib import Path

import pytest

from serve.core.errors import UserError
from serve.core.student_format import render_prompt
from serve.engines.interface import SamplingParams, load_engine


@pytest.fixture(scope="module")
def engine(tiny_llama_dir):
    return load_engine(tiny_llama_dir, backend="torch")


def chat(engine, text: str) -> str:
    return engine.apply_chat_template([{"role": "user", "content": text}])


def test_auto_backend_picks_torch_and_cpu_fp32(engine, tiny_llama_dir):
    assert type(load_engine(tiny_llama_dir)).__name__ == "TorchEngine"
    assert engine.device.type == "cpu" and str(engine.dtype) == "torch.float32"


def test_chat_template_matches_student_format(engine, tiny_llama_dir):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_llama_dir)
    question = "Is the sky blue on a clear day?"
    assert render_prompt(question, tokenizer=engine) == render_prompt(question, tokenizer=tokenizer)


def test_stream_joins_to_the_batched_greedy_output(engine):
    prompt = chat(engine, "Which is heavier, a brick or a feather?")
    sampling = SamplingParams(max_new_tokens=16)
    chunks = list(engine.stream_prompt(prompt, sampling))
    assert len(chunks) >= 1
    assert "".join(chunks) == engine.generate([prompt], sampling)[0][0]


def test_left_padded_batch_equals_one_prompt_at_a_time(engine):
    prompts = [chat(engine, "How many legs do two dogs have? Each dog has 4 legs."), "Q: hi\nA:",
               chat(engine, "Alice has a red ball.")]
    sampling = SamplingParams(max_new_tokens=12)
    batched = engine.generate(prompts, sampling)
    alone = [engine.generate([p], sampling)[0] for p in prompts]
    assert batched == alone


def test_n_samples_are_seeded_and_greedy_n_repeats(engine):
    prompts = [chat(engine, "Is the sky blue?"), chat(engine, "Alice, Bob and Claire swap balls.")]
    hot = SamplingParams(max_new_tokens=10, temperature=1.0, top_p=0.95, seed=7)
    first = engine.generate(prompts, dataclasses.replace(hot, n=3))
    assert [len(samples) for samples in first] == [3, 3]
    assert len(set(first[0])) > 1, "temperature 1.0 on a random model should not repeat itself"
    assert engine.generate(prompts, dataclasses.replace(hot, n=3)) == first
    greedy = engine.generate(prompts, SamplingParams(n=2, max_new_tokens=10))
    assert all(a == b for a, b in greedy)


def test_stop_strings_cut_stream_and_batch(engine):
    prompt = chat(engine, "The quick brown fox")
    free = engine.generate([prompt], SamplingParams(max_new_tokens=24, temperature=1.0, seed=3))[0][0]
    assert len(free) > 8
    stop = free[len(free) // 2: len(free) // 2 + 2]
    expected = free[: free.find(stop)]
    sampling = SamplingParams(max_new_tokens=24, temperature=1.0, seed=3, stop=[stop])
    assert engine.generate([prompt], sampling)[0][0] == expected
    assert "".join(engine.stream_prompt(prompt, sampling)) == expected


def test_max_new_tokens_bounds_the_output(engine):
    prompt = chat(engine, "Alice, Bob and Claire")
    short = engine.generate([prompt], SamplingParams(max_new_tokens=4, temperature=1.0, seed=1))[0][0]
    longer = engine.generate([prompt], SamplingParams(max_new_tokens=20, temperature=1.0, seed=1))[0][0]
    assert short and longer.startswith(short) and len(longer) > len(short)


def test_closing_the_stream_early_stops_the_worker(engine):
    prompt = chat(engine, "Tell a long story")
    stream = engine.stream_prompt(prompt, SamplingParams(max_new_tokens=400, temperature=1.0, seed=0))
    next(stream)
    stream.close()
    assert not [t for t in threading.enumerate() if t.name == "scotd-torch-generate"]


def test_folder_without_a_model_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="neither an ONNX export"):
        load_engine(tmp_path)
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(UserError, match="scotd models fetch"):
        load_engine(tmp_path, backend="torch")


def test_unknown_dtype_names_the_valid_ones(tiny_llama_dir):
    with pytest.raises(UserError, match="valid: auto"):
        load_engine(tiny_llama_dir, backend="torch", dtype="int3")


def tokenizer_variant(model_dir: Path, out: Path, bos: bool) -> Path:
    """The tiny model with a tokenizer that puts its BOS before every encoding (``bos``), or with none at all;
    its generation config lists two EOS ids, and an empty model.onnx makes the folder an ONNX one too."""
    from tokenizers import Tokenizer, processors

    shutil.copytree(model_dir, out)
    if bos:
        tokenizer = Tokenizer.from_file(str(out / "tokenizer.json"))
        bos_id = tokenizer.token_to_id("<|im_start|>")
        tokenizer.post_processor = processors.TemplateProcessing(single="<|im_start|> $A",
                                                                 special_tokens=[("<|im_start|>", bos_id)])
        tokenizer.save(str(out / "tokenizer.json"))
    else:
        config = json.loads((out / "tokenizer_config.json").read_text())
        (out / "tokenizer_config.json").write_text(json.dumps({**config, "bos_token": None}))
    generation = json.loads((out / "generation_config.json").read_text())
    (out / "generation_config.json").write_text(json.dumps({**generation, "eos_token_id": [generation["eos_token_id"], 0]}))
    (out / "model.onnx").write_bytes(b"")
    return out


class TextOnlyDecoder:
    """The ONNX engine's decoder slot, empty: these tests read only the engine's text side."""
    context_length = 512

    def __init__(self, model_dir, threads: int = 0):
        pass


@pytest.fixture(params=[True, False], ids=["bos", "no-bos"])
def both_engines(request, tiny_llama_dir, tmp_path, monkeypatch):
    """(torch engine, ONNX engine, transformers tokenizer) on one folder, with and without a BOS token."""
    from transformers import AutoTokenizer

    from serve.engines import onnx_engine

    folder = tokenizer_variant(tiny_llama_dir, tmp_path / "model", request.param)
    monkeypatch.setitem(onnx_engine.DECODERS, "optimum", TextOnlyDecoder)
    return (load_engine(folder, backend="torch"), load_engine(folder, backend="onnx"),
            AutoTokenizer.from_pretrained(folder))


def test_every_encoder_gives_a_prompt_the_same_ids_under_the_shared_bos_rule(both_engines):
    """The engines, the export gates and the training data encode alike: BOS once, never twice."""
    from distill.train_data import encode
    from export.gates import encode_prompt

    torch_engine, onnx, tokenizer = both_engines
    bos_id = tokenizer.convert_tokens_to_ids("<|im_start|>")
    for prompt in (chat(torch_engine, "Is the sky blue?"), "Q: Is the sky blue?\nA:"):
        ids = torch_engine._encode([prompt])["input_ids"][0].tolist()
        assert onnx.encode(prompt) == ids == encode_prompt(tokenizer, prompt)
        assert encode(tokenizer, prompt, "yes", 512)["input_ids"][:len(ids)] == ids
        assert ids[:2] != [bos_id, bos_id]  # a chat prompt starts with BOS already and gets no second one
        assert (ids[0] == bos_id) == (tokenizer.bos_token is not None or prompt.startswith("<|im_start|>"))


def test_the_engines_and_the_gates_stop_at_the_same_eos_ids(both_engines):
    from export.gates import eos_ids_of

    torch_engine, onnx, tokenizer = both_engines
    eos = tokenizer.convert_tokens_to_ids("<|im_end|>")
    assert onnx.eos_ids == eos_ids_of(torch_engine.model, tokenizer) == {eos, 0}


@pytest.mark.slow
def test_smollm2_answers_in_streaming_and_batch(smollm2_dir):
    engine = load_engine(smollm2_dir, backend="torch")
    prompt = render_prompt("What is 2 plus 3?", tokenizer=engine)
    sampling = SamplingParams(max_new_tokens=32)
    streamed = "".join(engine.stream_prompt(prompt, sampling))
    assert streamed.strip()
    assert streamed == engine.generate([prompt], sampling)[0][0]
    assert "5" in streamed or "five" in streamed.lower()
