"""What ``scotd bench decode`` times: a token stream per backend, each loaded in its own process.

A stream is ``stream(ids, n, ignore_eos) -> iterator of token ids``: greedy, at most n new tokens,
exactly n with ``ignore_eos`` (the fixed-prompt rows), else stopping at EOS (the task rows, where a
student writes its rationale to the end). Batch rows time ``sampling.n`` sampled sequences of the
prompt three ways in the same process: as one batch with one shared prefill (``GenaiDecoder.sample_batch``,
what the engine uses), as one genai Generator batch (each row prefilled), and one after another.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Callable, Iterator, Sequence

Stream = Callable[[Sequence[int], int, bool], Iterator[int]]


def _torch(path: Path) -> Stream:
    from export.gates import eos_ids_of, load_reference, torch_token_stream

    model, tokenizer = load_reference(path)
    eos = eos_ids_of(model, tokenizer)
    return lambda ids, n, ignore_eos: torch_token_stream(model, ids, n, eos, ignore_eos=ignore_eos)


def _torch_generate(path: Path) -> Stream:
    from export.gates import load_reference

    model, _ = load_reference(path)
    return lambda ids, n, ignore_eos: generate_token_stream(model, ids, n, ignore_eos)


def _onnx(path: Path, **engine_options) -> Stream:
    from serve.engines.interface import SamplingParams
    from serve.engines.onnx_engine import OnnxEngine

    engine = OnnxEngine(path, **engine_options)

    def stream(ids, n, ignore_eos):
        return engine.token_ids(ids, SamplingParams(max_new_tokens=n), ignore_eos=ignore_eos)
    stream.stats = lambda: getattr(getattr(engine, "decoder", None), "speculative_stats", None)  # for the task rows
    return stream


def llama_cpp_threads() -> int:
    """Every core, as ONNX Runtime uses (llama-cpp-python's own default is half of them)."""
    return os.cpu_count() or 1


def _llama_cpp(path: Path, n_batch: int = 512, prompt_lookup: int = 0) -> Stream:
    """llama.cpp greedy; ``prompt_lookup`` > 0 drafts that many tokens by llama-cpp-python's own
    prompt-lookup decoding (the same n-gram idea as the ONNX engine's speculation)."""
    from llama_cpp import Llama

    threads = llama_cpp_threads()
    draft = None
    if prompt_lookup:
        from llama_cpp.llama_speculative import LlamaPromptLookupDecoding

        draft = LlamaPromptLookupDecoding(max_ngram_size=2, num_pred_tokens=prompt_lookup)
    llm = Llama(model_path=str(path), n_ctx=2048, n_threads=threads, n_threads_batch=threads,
                n_batch=n_batch, n_ubatch=n_batch, draft_model=draft, verbose=False)
    return lambda ids, n, ignore_eos: llama_cpp_greedy(llm, ids, n, ignore_eos)


def llama_cpp_greedy(llm, ids: Sequence[int], n: int, ignore_eos: bool = False) -> Iterator[int]:
    """llama.cpp's greedy ids for a prompt (a ``llama_cpp.Llama``): at most ``n``, EOS ends them (not yielded)
    unless ``ignore_eos``. The one llama.cpp decoding loop: the benchmark's rows and the GGUF parity gate."""
    eos = llm.token_eos()
    for produced, token in enumerate(llm.generate(list(ids), temp=0.0, top_k=1, reset=True)):
        if produced >= n or (token == eos and not ignore_eos):
            return
        yield token


STREAMS: dict[str, Callable[..., Stream]] = {
    "torch": _torch, "torch_generate": _torch_generate, "onnx": _onnx, "llama_cpp": _llama_cpp}


def load_stream(kind: str, path: Path, **options) -> tuple[float, Stream]:
    started = time.perf_counter()
    stream = STREAMS[kind](path, **options)
    return time.perf_counter() - started, stream


def generate_token_stream(model, ids: Sequence[int], n: int, ignore_eos: bool = True):
    """Token ids as ``model.generate`` (greedy; exactly n new tokens with ``ignore_eos``) emits them,
    through a streamer."""
    import queue
    import threading

    import torch
    from transformers.generation.streamers import BaseStreamer

    from serve.engines.special_tokens import eos_ids

    tokens: queue.Queue = queue.Queue()

    class IdStreamer(BaseStreamer):
        prompt_seen = False

        def put(self, value):
            if not self.prompt_seen:  # generate() first hands over the prompt itself
                self.prompt_seen = True
                return
            for token in value.reshape(-1).tolist():
                tokens.put(token)

        def end(self):
            tokens.put(None)

    inputs = torch.tensor([list(ids)])
    worker = threading.Thread(target=lambda: model.generate(
        inputs, attention_mask=torch.ones_like(inputs), max_new_tokens=n, min_new_tokens=n if ignore_eos else 0,
        do_sample=False,
        streamer=IdStreamer(), pad_token_id=model.config.eos_token_id))
    eos = eos_ids(model.generation_config.eos_token_id)  # the ids generate() stops at (not the tokenizer's)
    worker.start()
    while (token := tokens.get()) is not None:
        if token in eos and not ignore_eos:  # generate() streams the EOS it stopped at
            continue
        yield token
    worker.join()


def batch_throughput(path: Path, ids: list[int], new_tokens: int, n: int, seed: int = 0) -> dict:
    """Total tok/s of n sampled sequences of one prompt: one batch against n one after another."""
    from dataclasses import replace

    from serve.engines.interface import SamplingParams
    from serve.engines.onnx_engine import OnnxEngine

    engine = OnnxEngine(path)
    sampling = SamplingParams(max_new_tokens=new_tokens, temperature=0.7, top_k=50, seed=seed, n=n)
    engine.decoder.sample_batch(ids, replace(sampling, n=min(n, 2)), 8, set(), ignore_eos=True)  # warm-up
    started = time.perf_counter()
    rows = engine.decoder.sample_batch(ids, sampling, new_tokens, set(), ignore_eos=True)
    batched_s = time.perf_counter() - started
    engine.decoder.decode_batch([ids] * min(n, 2), replace(sampling, n=min(n, 2)), 8, set(), ignore_eos=True)
    started = time.perf_counter()
    genai_rows = engine.decoder.decode_batch([ids] * n, sampling, new_tokens, set(), ignore_eos=True)[0]
    genai_s = time.perf_counter() - started
    started = time.perf_counter()
    sequential = [list(engine.token_ids(ids, replace(sampling, n=1, seed=seed + i), ignore_eos=True))
                  for i in range(n)]
    sequential_s = time.perf_counter() - started
    batched_tokens, sequential_tokens = sum(map(len, rows)), sum(map(len, sequential))
    return {"batch": n, "batched_tok_s": batched_tokens / batched_s, "sequential_tok_s": sequential_tokens / sequential_s,
            "genai_batch_tok_s": sum(map(len, genai_rows)) / genai_s, "tokens": batched_tokens}


def memory_bandwidth_gb_s(megabytes: int = 512, repeats: int = 5) -> float:
    """Streaming-read bandwidth as a decode step sees it: a matrix-vector product (BLAS, every core)
    over a matrix far larger than the caches; best of ``repeats``."""
    import numpy as np

    rows = megabytes * 2**20 // (4 * 4096)
    matrix = np.random.default_rng(0).standard_normal((rows, 4096), dtype=np.float32)
    vector = np.ones(4096, dtype=np.float32)
    best = float("inf")
    for _ in range(repeats + 1):
        started = time.perf_counter()
        matrix @ vector
        best = min(best, time.perf_counter() - started)
    return matrix.nbytes / best / 1e9


def bytes_read_per_token(path: Path) -> int:
    """Weight bytes one decode step reads: every weight, except an embedding table that is only
    gathered from (one row per token) when a separate LM head exists."""
    if path.suffix == ".gguf":
        from gguf import GGUFReader

        tensors = {t.name: int(t.n_bytes) for t in GGUFReader(str(path)).tensors}
        gathered = tensors.get("token_embd.weight", 0) if "output.weight" in tensors else 0
        return sum(tensors.values()) - gathered
    import onnx

    folder = path if path.is_dir() else path.parent
    model_file = folder / "model.onnx"
    graph = onnx.load(str(model_file), load_external_data=False).graph
    gathered = {node.input[0] for node in graph.node if node.op_type == "Gather"}
    total = 0
    for init in graph.initializer:
        if init.name in gathered:
            continue
        count = 1
        for dim in init.dims:
            count *= dim
        total += count * onnx.helper.tensor_dtype_to_np_dtype(init.data_type).itemsize
    return total
