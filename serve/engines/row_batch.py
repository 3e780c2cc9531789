"""Continuous batching over the one-stream ONNX Runtime session: sequences join and leave a running batch.

Every layer's KV cache is one ``(rows, kv_heads, capacity, head_size)`` buffer, a row per sequence. A
sequence joins by a prefill pass of its own over a view of its row (the view shares the buffer's
memory; the part of its prompt shared with the previous prompt is copied from that one's cache), then
decodes with the others: each ``step`` feeds one token per active row, ``(k, 1)`` ids and a
right-padded attention mask, over the rows ``[0, k)`` that hold every active one (free rows inside that
range decode a dummy token into a row nobody reads). A row left free is overwritten by the next prefill.

A step feeds at least ``MIN_FED`` rows (a lone row gets a dummy companion), because ONNX Runtime runs a
one-row pass through other kernels than a multi-row one. Rows still sit in other positions of larger
matrices than the single stream's, so a greedy row may part from the same prompt decoded alone where its
two best tokens nearly tie (as genai's batches may too).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from serve.engines.speculative_session import MIN_FED, PAST_PREFIX, PRESENT_PREFIX, SpeculativeSession


# Shorter shared prefixes are computed again: copying saves little there.
MIN_PREFIX = 8


class RowBatch:
    def __init__(self, session: SpeculativeSession, rows: int, capacity: int):
        self.session, self.rows, self.capacity = session, rows, capacity
        heads, head_size = session.kv_shape
        self.buffers = {past.name: np.zeros((rows, heads, capacity, head_size), session.kv_dtype)
                        for past in session.past}
        self.length = [0] * rows  # tokens in each row's cache; 0: the row is free
        self.last_prompt: tuple[list[int], dict[str, np.ndarray]] = ([], {})  # ids and their cache, for join

    def fits(self, prompt_tokens: int, new_tokens: int) -> bool:
        """Whether a row holds this prompt (padded as the single stream pads it) and this many new tokens."""
        return max(prompt_tokens, MIN_FED) + new_tokens <= self.capacity

    def free_rows(self) -> list[int]:
        return [row for row in range(self.rows) if not self.length[row]]

    def _binding(self, stop: int, start: int = 0):
        binding, values = self.session.session.io_binding(), []
        for name, buffer in self.buffers.items():
            value = self.session.ort.OrtValue.ortvalue_from_numpy(buffer[start:stop])
            binding.bind_ortvalue_input(name, value)
            binding.bind_ortvalue_output(PRESENT_PREFIX + name[len(PAST_PREFIX):], value)
            values.append(value)
        return binding, values

    def _run(self, binding, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        binding.bind_cpu_input("input_ids", ids)
        binding.bind_cpu_input("attention_mask", mask)
        binding.bind_output("logits")
        self.session.session.run_with_iobinding(binding)
        return binding.get_outputs()[-1].numpy()

    def join(self, row: int, prompt_ids: Sequence[int]) -> np.ndarray:
        """Prefill ``prompt_ids`` into a free ``row``; the next-token logits after the prompt. The part it
        shares with the previous prompt (a chat template's system turn, a task's instructions) is copied
        from that prompt's cache instead of computed again."""
        if not prompt_ids or max(len(prompt_ids) + 1, MIN_FED) > self.capacity:  # + 1: the padding, or a step
            raise ValueError(f"a prompt of {len(prompt_ids)} tokens does not fit rows of {self.capacity}")
        reused = self._reuse_prefix(row, prompt_ids)
        fed = list(prompt_ids[reused:])
        fed += fed[-1:] * max(0, MIN_FED - len(fed))  # as the single stream pads
        binding, values = self._binding(row + 1, row)  # noqa: F841 (values kept alive for the binding)
        logits = self._run(binding, np.asarray([fed], np.int64), np.ones((1, reused + len(fed)), np.int64))
        self.length[row] = len(prompt_ids)
        self.last_prompt = (list(prompt_ids), {name: buffer[row, :, :len(prompt_ids)].copy()
                                               for name, buffer in self.buffers.items()})
        return logits[0, len(prompt_ids) - reused - 1]

    def _reuse_prefix(self, row: int, prompt_ids: Sequence[int]) -> int:
        """Copy into ``row`` the cache of the longest prefix shared with the last prompt (at least
        ``MIN_PREFIX`` tokens, and one token short of the prompt: its last logits must be computed)."""
        ids, cache = self.last_prompt
        shared = 0
        for mine, theirs in zip(prompt_ids[:len(prompt_ids) - 1], ids):
            if mine != theirs:
                break
            shared += 1
        if shared < MIN_PREFIX:
            return 0
        for name, buffer in self.buffers.items():
            buffer[row, :, :shared] = cache[name][:, :shared]
        return shared

    def step(self, tokens: dict[int, int]) -> dict[int, np.ndarray]:
        """Feed each active row its next token (``tokens``: row -> token); each row's next-token logits."""
        stop = max(max(tokens) + 1, min(MIN_FED, self.rows))  # one row alone: padded, as the single stream is
        width = max(self.length[row] + 1 for row in tokens)
        if width > self.capacity:
            raise ValueError(f"a row reached the batch's capacity of {self.capacity} tokens")
        ids = np.zeros((stop, 1), np.int64)
        mask = np.zeros((stop, width), np.int64)
        for row in range(stop):
            if row in tokens:
                ids[row, 0] = tokens[row]
                mask[row, :self.length[row] + 1] = 1
            else:  # a free row inside the range: a dummy token at its position 0
                mask[row, 0] = 1
        binding, values = self._binding(stop)  # noqa: F841
        logits = self._run(binding, ids, mask)
        for row in tokens:
            self.length[row] += 1
        return {row: logits[row, -1] for row in tokens}

    def copy(self, source: int, row: int) -> None:
        """Give ``row`` the cache of ``source`` (n choices of one prompt share its prefill)."""
        for buffer in self.buffers.values():
            buffer[row, :, :self.length[source]] = buffer[source, :, :self.length[source]]
        self.length[row] = self.length[source]

    def leave(self, row: int) -> None:
        self.length[row] = 0
