"""The ONNX engine: streams text from an exported folder with no torch in the process.

Two folder layouts, one decoder class each (``DECODERS`` in ``serve/engines/onnx_decoders.py``):

- ``genai``: written by onnxruntime-genai's model builder (``genai_config.json``);
  the genai ``Generator`` runs the fused model and keeps the KV cache;
- ``optimum``: written by optimum-onnx ``text-generation-with-past`` (``model.onnx``
  with ``past_key_values.*`` inputs); a plain InferenceSession loop feeds the
  ``present.*`` outputs back as the next step's past.

Both decoders hand back next-token logits and one numpy sampler picks the token,
so greedy, temperature, top-k and top-p mean the same thing on every layout.
Text goes through the folder's ``tokenizer.json`` (``tokenizers``) and its chat
template (jinja2), exactly as the PyTorch engine encodes it.
"""

from __future__ import annotations

import copy
import dataclasses
from contextlib import closing
from pathlib import Path
from typing import Callable, Iterator, Optional, Sequence

import numpy as np

from serve.core.errors import UserError
from serve.core.student_format import plain_prompt
from serve.engines.chat_template import read_chat_template, read_tokenizer_config, render_chat, token_text
from serve.engines.onnx_decoders import (DECODE_BATCH, DECODERS, DRAFT_TOKENS, GREEDY_TOKENS, MAX_BATCH_ROWS,
                                         SAMPLE_BATCH_UNTIL)
from serve.engines.interface import (Completion, Engine, SamplingParams, StopStringFilter, cut_at_stop, read_json,
                                     seeded_sample)
from serve.engines.loop_watch import LoopWatch
from serve.engines.sampling import pick_token
from serve.engines.special_tokens import adds_special_tokens, eos_ids
from serve.store.export_folder import REPORT_FILE


def detect_layout(model_dir: Path) -> str:
    if (model_dir / "genai_config.json").is_file():
        return "genai"
    if (model_dir / "model.onnx").is_file():
        return "optimum"
    raise UserError(f"'{model_dir}' is not an ONNX export: it has neither genai_config.json nor model.onnx; "
                    "make one with: scotd export --model MODEL --out DIR")


def eos_token_ids(model_dir: Path) -> list[int]:
    """End-of-sequence ids from generation_config.json, config.json or genai_config.json."""
    for source in (read_json(model_dir / "generation_config.json"), read_json(model_dir / "config.json"),
                   read_json(model_dir / "genai_config.json").get("model", {})):
        value = source.get("eos_token_id")
        if value is not None:
            return [int(v) for v in (value if isinstance(value, list) else [value])]
    return []


class TokenText:
    """The text of a growing token sequence as pieces, held back at half a character and at what could
    start a stop string.

    Each token decodes a short window, not the whole sequence (which costs a 1,500-token rationale
    0.25 ms a token): the tokens since the last piece, after the ones before it as context. The piece
    is what the token adds to the context's text, so a tokenizer that drops a leading space at the
    start of a decode drops it from both."""

    def __init__(self, tokenizer, stop: Sequence[str], loop_span: int = 0):
        self.tokenizer, self.stops, self.ids = tokenizer, StopStringFilter(stop), []
        self.loop = LoopWatch(tokenizer, loop_span)
        self.context = self.fresh = 0  # ids[context:fresh] are decoded already; ids[fresh:] are not

    def push(self, token: int) -> str:
        self.ids.append(token)
        self.loop.push(token)
        before = self.tokenizer.decode(self.ids[self.context:self.fresh], skip_special_tokens=True)
        text = self.tokenizer.decode(self.ids[self.context:], skip_special_tokens=True)
        if text.endswith("\ufffd") or len(text) <= len(before):  # half a character, or nothing new yet
            return ""
        self.context, self.fresh = self.fresh, len(self.ids)
        return self.stops.push(text[len(before):])

    @property
    def stopped(self) -> bool:
        """A stop string was met, or the text is caught in a loop (``stop_on_loop``)."""
        return self.stops.stopped or self.loop.looping

    def flush(self) -> str:
        return self.stops.flush()


# --------------------------------------------------------------------------- engine

class OnnxEngine(Engine):
    """An exported folder (genai or optimum layout) behind the common Engine interface."""

    backend = "onnx"

    def __init__(self, model_dir: str | Path, threads: int = 0, draft_tokens: int = DRAFT_TOKENS,
                 use_draft_store: bool = True):
        from tokenizers import Tokenizer

        self.model_dir = Path(model_dir)
        self.layout = detect_layout(self.model_dir)
        tokenizer_file = self.model_dir / "tokenizer.json"
        if not tokenizer_file.is_file():
            raise UserError(f"'{self.model_dir}' has no tokenizer.json; the exported folder must carry the "
                            "tokenizer (re-export it with scotd export)")
        self.tokenizer = Tokenizer.from_file(str(tokenizer_file))
        config = read_tokenizer_config(self.model_dir)
        self.special_tokens = {key: token_text(config.get(key)) for key in
                               ("bos_token", "eos_token", "unk_token", "pad_token")}
        self.chat_template = read_chat_template(self.model_dir)
        eos_text = self.special_tokens["eos_token"]
        self.eos_ids = eos_ids(eos_token_ids(self.model_dir), self.tokenizer.token_to_id(eos_text) if eos_text else None)
        decoder_cls = DECODERS[self.layout]
        self.decoder = decoder_cls(self.model_dir, threads=threads) if self.layout == "optimum" \
            else decoder_cls(self.model_dir, draft_tokens=draft_tokens, threads=threads, use_draft_store=use_draft_store)
        report = read_json(self.model_dir / REPORT_FILE)
        self.precision = report.get("precision", "?")

    # ------------------------------------------------------------------ text

    def apply_chat_template(self, messages: list[dict[str, str]], tokenize: bool = False,
                            add_generation_prompt: bool = True) -> str:
        if not self.chat_template:
            return plain_prompt(messages[-1]["content"])  # the student format's form for the last user turn
        prompt = render_chat(self.chat_template, messages, add_generation_prompt=add_generation_prompt,
                             **self.special_tokens)
        return self.encode(prompt) if tokenize else prompt

    def encode(self, prompt: str) -> list[int]:
        add_special = adds_special_tokens(prompt, self.special_tokens["bos_token"])
        return self.tokenizer.encode(prompt, add_special_tokens=add_special).ids

    @property
    def context_length(self) -> int:
        return self.decoder.context_length

    def count_tokens(self, text: str) -> int:
        return len(self.tokenizer.encode(text, add_special_tokens=False).ids)

    # ------------------------------------------------------------------ decoding

    def token_ids(self, prompt_ids: Sequence[int], sampling: SamplingParams,
                  ignore_eos: bool = False) -> Iterator[int]:
        """Generated token ids, one at a time; stops at EOS (kept out) unless ``ignore_eos``."""
        room = self.decoder.context_length - len(prompt_ids)
        if room <= 0:
            raise UserError(f"the prompt has {len(prompt_ids)} tokens but {self.model_dir.name} holds at most "
                            f"{self.decoder.context_length}; shorten the input")
        budget = min(sampling.max_new_tokens, room)
        if budget <= 0:
            return
        if sampling.greedy and GREEDY_TOKENS in self.decoder.capabilities:
            yield from self.decoder.greedy_tokens(prompt_ids, budget, self.eos_ids, ignore_eos)
            return
        rng = np.random.default_rng(sampling.seed)
        steps = self.decoder.logits_stream(list(prompt_ids), budget, exact=sampling.greedy)
        logits = next(steps)
        for produced in range(budget):
            token = pick_token(logits, sampling, rng)
            if token in self.eos_ids and not ignore_eos:
                break
            yield token
            if produced + 1 < budget:
                logits = steps.send(token)
        steps.close()

    def generate(self, prompts: Sequence[str], sampling: SamplingParams) -> list[list[str]]:
        """``sampling.n`` completions per prompt. One prompt's n samples decode as ``complete`` decodes
        them; otherwise a genai folder decodes every prompt's rows as one batch (n sampled rows per prompt;
        one greedy row, since n greedy ones are the same); a single greedy prompt takes the speculating
        single-stream path instead."""
        copies = 1 if sampling.greedy else sampling.n
        if len(prompts) == 1 and copies > 1 and SAMPLE_BATCH_UNTIL in self.decoder.capabilities:
            return [[completion.text for completion in self.complete(prompts[0], sampling)]]  # one shared prefill
        batched = DECODE_BATCH in self.decoder.capabilities and len(prompts) * copies > 1
        encoded = [self.encode(p) for p in prompts] if batched else []
        if not batched or any(len(ids) + sampling.max_new_tokens > self.decoder.context_length for ids in encoded):
            if sampling.greedy and sampling.n > 1:  # n greedy completions are one, repeated
                return [texts * sampling.n for texts in super().generate(prompts, dataclasses.replace(sampling, n=1))]
            return super().generate(prompts, sampling)
        rows = [ids for ids in encoded for _ in range(copies)]
        step = max(copies, MAX_BATCH_ROWS // copies * copies)  # a prompt's copies stay in one batch
        decoded: list[list[int]] = []
        for index, start in enumerate(range(0, len(rows), step)):
            decoded += self.decoder.decode_batch(rows[start:start + step], seeded_sample(sampling, index),
                                                 sampling.max_new_tokens, self.eos_ids)[0]
        texts = [cut_at_stop(self.tokenizer.decode(row, skip_special_tokens=True), sampling.stop) for row in decoded]
        return [texts[i * copies:(i + 1) * copies] * (sampling.n // copies) for i in range(len(prompts))]

    def complete(self, prompt: str, sampling: SamplingParams, deadline: Optional[float] = None) -> list[Completion]:
        """n sampled completions decoded as one batch (one shared prefill where our session drives the
        decoder, else genai), cut together at the deadline."""
        if sampling.n == 1 or sampling.greedy or SAMPLE_BATCH_UNTIL not in self.decoder.capabilities:
            return super().complete(prompt, sampling, deadline)
        ids = self.encode(prompt)
        budget = min(sampling.max_new_tokens, self.decoder.context_length - len(ids))
        if budget <= 0:
            return super().complete(prompt, sampling, deadline)  # raises the engine's context error
        rows, cut = self.decoder.sample_batch_until(ids, sampling, budget, self.eos_ids, deadline)
        return [Completion(cut_at_stop(self.tokenizer.decode(row, skip_special_tokens=True), sampling.stop), timed_out)
                for row, timed_out in zip(rows, cut)]

    def stream_prompt(self, prompt: str, sampling: SamplingParams) -> Iterator[str]:
        text = TokenText(self.tokenizer, sampling.stop, sampling.stop_on_loop)
        for token in self.token_ids(self.encode(prompt), sampling):
            chunk = text.push(token)
            if chunk:
                yield chunk
            if text.stopped:
                return
        tail = text.flush()
        if tail:
            yield tail

    def row_batch(self, rows: int, capacity: int = 4096):
        """A ``RowBatch`` (continuous batching) over this export's one-stream session, or None where the
        session loop cannot drive the decoder."""
        if not getattr(self.decoder, "session_loop", False):
            return None
        from serve.engines.row_batch import RowBatch

        return RowBatch(self.decoder.session, rows, min(capacity, self.context_length))

    @property
    def batches(self) -> bool:
        """Whether ``stream_rows`` decodes several prompts as one batch (a genai folder)."""
        return DECODE_BATCH in self.decoder.capabilities

    def stream_rows(self, prompts: Sequence[str], samplings: Sequence[SamplingParams],
                    active: Callable[[int], bool] = lambda row: True) -> Iterator[tuple[int, Optional[str]]]:
        """Several prompts decoded as one batch: ``(row, text piece)`` as the rows advance and ``(row, None)``
        once a row ends (EOS, its own ``max_new_tokens`` or stop string, or ``active(row)`` turning False,
        which the caller uses for a deadline or a client that left). The rows share one search: the
        temperature, top-p, top-k and seed of ``samplings[0]``; the caller batches only rows that agree."""
        encoded = [self.encode(prompt) for prompt in prompts]
        budget = max(s.max_new_tokens for s in samplings)
        if max(map(len, encoded)) + budget > self.context_length:
            raise UserError(f"a batch of {len(prompts)} prompts needs {max(map(len, encoded)) + budget} tokens of "
                            f"context; {self.model_dir.name} holds {self.context_length}: decode them apart")
        texts = [TokenText(self.tokenizer, s.stop, s.stop_on_loop) for s in samplings]
        live = [True] * len(prompts)

        def end(row: int) -> Iterator[tuple[int, Optional[str]]]:
            live[row] = False
            tail = texts[row].flush()
            if tail:
                yield row, tail
            yield row, None

        with closing(self.decoder.batch_steps(encoded, samplings[0], budget)) as steps:
            for tokens in steps:
                for row, token in enumerate(tokens):
                    if not live[row]:
                        continue
                    if not active(row) or token in self.eos_ids:
                        yield from end(row)
                        continue
                    chunk = texts[row].push(token)
                    if chunk:
                        yield row, chunk
                    if texts[row].stopped or len(texts[row].ids) >= samplings[row].max_new_tokens:
                        yield from end(row)
                if not any(live):
                    return
        for row in [r for r, alive in enumerate(live) if alive]:
            yield from end(row)

    def with_draft_tokens(self, draft_tokens: int) -> "OnnxEngine":
        """This engine drafting ``draft_tokens`` per lookup (0: plain greedy), sharing the loaded model:
        the export gates compare both greedy paths without loading the folder twice."""
        other = copy.copy(self)
        other.decoder = copy.copy(self.decoder)
        other.decoder.draft_tokens = draft_tokens
        return other

    def close(self) -> None:
        self.decoder = None

