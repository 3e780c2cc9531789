"""What ``scotd bench decode`` times: a token stream per backend, each loaded in its own process.

A stream is ``stream(n) -> iterator of token ids`` (greedy, exactly n new tokens, EOS ignored)
for one fixed prompt. Batch rows time ``sampling.n`` sampled sequences of the prompt, decoded
as one batch (``GenaiDecoder.sample_batch``) and one after another, in the same process.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Callable, Iterator

Stream = Callable[[int], Iterator[int]]


def _torch(path: Path, ids: list[int]) -> Stream:
    from export.gates import load_reference, torch_token_stream

    model, _ = load_reference(path)
    return lambda n: torch_token_stream(model, ids, n, ignore_eos=True)


def _torch_generate(path: Path, ids: list[int]) -> Stream:
    from export.gates import load_reference

    model, _ = load_reference(path)
    return lambda n: generate_token_stream(model, ids, n)


def _onnx(path: Path, ids: list[int], **engine_options) -> Stream:
    from serve.engines.interface import SamplingParams
    from serve.engines.onnx_engine import OnnxEngine

    engine = OnnxEngine(path, **engine_options)
    return lambda n: engine.token_ids(ids, SamplingParams(max_new_tokens=n), ignore_eos=True)


def llama_cpp_threads() -> int:
    """Every core, as ONNX Runtime uses (llama-cpp-python's own default is half of them)."""
    return os.cpu_count() or 1


def _llama_cpp(path: Path, ids: list[int], n_batch: int = 512) -> Stream:
    from llama_cpp import Llama

    threads = llama_cpp_threads()
    llm = Llama(model_path=str(path), n_ctx=len(ids) + 1024, n_threads=threads, n_threads_batch=threads,
                n_batch=n_batch, n_ubatch=n_batch, verbose=False)

    def stream(n):
        for produced, token in enumerate(llm.generate(ids, temp=0.0, top_k=1, reset=True)):
            if produced >= n:
                return
            yield token
    return stream


STREAMS: dict[str, Callable[[Path, list[int]], Stream]] = {
    "torch": _torch, "torch_generate": _torch_generate, "onnx": _onnx, "llama_cpp": _llama_cpp}


def load_stream(kind: str, path: Path, ids: list[int], **options) -> tuple[float, Stream]:
    started = time.perf_counter()
    stream = STREAMS[kind](path, ids, **options)
    return time.perf_counter() - started, stream


def generate_token_stream(model, ids: list[int], n: int):
    """Token ids as ``model.generate`` (greedy, exactly n new tokens) emits them, through a streamer."""
    import queue
    import threading

    import torch
    from transformers.generation.streamers import BaseStreamer

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

    inputs = torch.tensor([ids])
    worker = threading.Thread(target=lambda: model.generate(
        inputs, attention_mask=torch.ones_like(inputs), max_new_tokens=n, min_new_tokens=n, do_sample=False,
        streamer=IdStreamer(), pad_token_id=model.config.eos_token_id))
    worker.start()
    while (token := tokens.get()) is not None:
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
    started = time.perf_counter()
    sequential = [list(engine.token_ids(ids, replace(sampling, n=1, seed=seed + i), ignore_eos=True))
                  for i in range(n)]
    sequential_s = time.perf_counter() - started
    batched_tokens, sequential_tokens = sum(map(len, rows)), sum(map(len, sequential))
    return {"batch": n, "batched_tok_s": batched_tokens / batched_s, "sequential_tok_s": sequential_tokens / sequential_s,
            "tokens": batched_tokens}


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
