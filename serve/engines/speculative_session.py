"""Greedy decoding of a genai export straight through ONNX Runtime, verifying drafts of our own.

onnxruntime-genai's Generator drafts only from the sequence so far (prompt lookup). A distilled
student's rationales are better predicted by its training rationales (``DraftStore``), and the Generator
takes no drafts from outside, so this loop runs the exported ``model.onnx`` itself: the KV cache is one
preallocated buffer per layer, bound as both the past input and the present output (the export's
GroupQueryAttention writes in place, ``past_present_share_buffer``), and each pass feeds the last kept
token plus the drafted ones. The logits of every fed position give the greedy choice after each prefix;
the drafted tokens that equal those choices are kept, with the choice after them, and a rejected tail is
forgotten by sending a shorter attention mask next time (its cache rows are overwritten).

Every pass feeds at least ``MIN_FED`` positions, a one-position pass padded with a repeat of its token
whose outputs are dropped. ONNX Runtime runs a one-row pass through other kernels than a multi-row one
(int8 MatMulNBits on a 2-core Xeon: logits up to 1.4 apart), while the rows of multi-row passes agree
bit for bit whatever the pass width and the row's place in it. So plain greedy (no drafts), greedy with
drafts of any length and ``logits_stream`` read the same logits, and speculation gives plain greedy's
tokens exactly. Sampling needs no such agreement and steps one row a pass (``exact=False``), the faster
kernel.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, Iterator, Sequence

import numpy as np

PAST_PREFIX, PRESENT_PREFIX = "past_key_values.", "present."
MIN_FED = 2


def supported(genai_config: dict) -> bool:
    """True for a decoder (a parsed ``genai_config.json``) whose only inputs are ids, the attention mask
    and a shared-buffer KV cache."""
    decoder = genai_config["model"].get("decoder", {})
    inputs = decoder.get("inputs", {})
    return (genai_config.get("search", {}).get("past_present_share_buffer", False)
            and set(inputs) == {"input_ids", "attention_mask", "past_key_names", "past_value_names"}
            and decoder.get("filename") == "model.onnx" and not decoder.get("sliding_window"))


class SpeculativeSession:
    def __init__(self, model_dir: Path, decoder_config: dict, context_length: int, threads: int = 0):
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or os.cpu_count() or 1
        self.ort = ort
        self.session = ort.InferenceSession(str(model_dir / "model.onnx"), options, providers=["CPUExecutionProvider"])
        self.context_length = context_length
        self.kv_shape = (int(decoder_config["num_key_value_heads"]), int(decoder_config["head_size"]))
        self.past = [i for i in self.session.get_inputs() if i.name.startswith(PAST_PREFIX)]
        self.kv_dtype = np.float16 if "float16" in self.past[0].type else np.float32

    def _bind_cache(self, capacity: int):
        """An IOBinding over fresh cache buffers, and the buffers: the caller keeps them alive while the
        binding is used (older onnxruntime releases hold no reference of their own)."""
        binding, buffers = self.session.io_binding(), []
        heads, head_size = self.kv_shape
        for past in self.past:
            buffer = self.ort.OrtValue.ortvalue_from_numpy(np.zeros((1, heads, capacity, head_size), self.kv_dtype))
            binding.bind_ortvalue_input(past.name, buffer)
            binding.bind_ortvalue_output(PRESENT_PREFIX + past.name[len(PAST_PREFIX):], buffer)
            buffers.append(buffer)
        return binding, buffers

    def _logits(self, binding, fed: list[int], cached: int, capacity: int, min_fed: int = MIN_FED) -> np.ndarray:
        """Logits of each fed position (the cache grows in place), from a pass of at least ``min_fed``
        positions where the cache has room for the padding (a pass at the context's end may not)."""
        padded = fed + fed[-1:] * max(0, min(min_fed - len(fed), capacity - cached - len(fed)))
        binding.bind_cpu_input("input_ids", np.asarray([padded], dtype=np.int64))
        binding.bind_cpu_input("attention_mask", np.ones((1, cached + len(padded)), dtype=np.int64))
        binding.bind_output("logits")  # rebound each pass: its shape follows the fed length
        self.session.run_with_iobinding(binding)
        return binding.get_outputs()[-1].numpy()[0, :len(fed)]

    def logits_stream(self, prompt_ids: Sequence[int], max_new_tokens: int,
                      exact: bool = True) -> Iterator[np.ndarray]:
        """Next-token logits after the prompt; the caller ``send``s back each chosen token. ``exact``: the
        logits greedy decoding reads (padded passes), else one-row passes."""
        capacity = min(self.context_length, len(prompt_ids) + max_new_tokens + MIN_FED)
        binding, buffers = self._bind_cache(capacity)  # noqa: F841 (kept alive for the binding)
        pending, cached = list(prompt_ids), 0
        while True:
            logits = self._logits(binding, pending, cached, capacity, MIN_FED if exact else 1)[-1]
            cached += len(pending)
            pending = [int((yield logits))]

    def greedy_tokens(self, prompt_ids: Sequence[int], budget: int, eos_ids: set[int], ignore_eos: bool,
                      draft: Callable[[list[int], int], list[int]], max_draft: int, stats: dict) -> Iterator[int]:
        """Greedy ids after ``prompt_ids``; ``stats`` gets genai's keys for drafts accepted / evaluated."""
        capacity = min(self.context_length, len(prompt_ids) + budget + max(max_draft, MIN_FED - 1) + 1)
        binding, buffers = self._bind_cache(capacity)  # noqa: F841 (kept alive for the binding)
        banned = sorted(eos_ids) if ignore_eos else []
        sequence, pending, cached, produced = list(prompt_ids), list(prompt_ids), 0, 0
        accepted_total = drafted_total = 0
        try:
            while produced < budget:
                room = capacity - cached - len(pending)
                drafted = draft(sequence, max(0, min(max_draft, room, budget - produced - 1))) if produced else []
                logits = self._logits(binding, pending + drafted, cached, capacity)[len(pending) - 1:]
                if banned:  # EOS when it is ignored, as genai's min_length masks it
                    logits[:, banned] = -np.inf
                choices = logits.argmax(axis=-1)
                accepted = 0
                while accepted < len(drafted) and drafted[accepted] == choices[accepted]:
                    accepted += 1
                accepted_total, drafted_total = accepted_total + accepted, drafted_total + len(drafted)
                cached += len(pending) + accepted
                for token in map(int, choices[:accepted + 1]):
                    if token in eos_ids and not ignore_eos:
                        return
                    yield token
                    sequence.append(token)
                    produced += 1
                    if produced >= budget:
                        return
                pending = [sequence[-1]]
        finally:  # the same keys as genai's statistics, for benchmarks and tests
            stats.update(draft_tokens_accepted=accepted_total, draft_tokens_evaluated=drafted_total)
