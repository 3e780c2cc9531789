"""The ONNX engine: streams text from an exported folder with no torch in the process.

Two folder layouts, one decoder class each (``DECODERS``):

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
import json
import os
import time
from pathlib import Path
from typing import Iterator, Optional, Sequence

import numpy as np

from serve.core.errors import UserError
from serve.core.student_format import plain_prompt
from serve.engines import draft_store, speculative_session
from serve.engines.chat_template import read_chat_template, read_tokenizer_config, render_chat, token_text
from serve.engines.interface import Completion, Engine, SamplingParams, StopStringFilter, cut_at_stop
from serve.store.export_folder import REPORT_FILE


def detect_layout(model_dir: Path) -> str:
    if (model_dir / "genai_config.json").is_file():
        return "genai"
    if (model_dir / "model.onnx").is_file():
        return "optimum"
    raise UserError(f"'{model_dir}' is not an ONNX export: it has neither genai_config.json nor model.onnx; "
                    "make one with: scotd export --model MODEL --out DIR")


def _read_json(path: Path) -> dict:
    return json.loads(path.read_text()) if path.is_file() else {}


def eos_token_ids(model_dir: Path) -> list[int]:
    """End-of-sequence ids from generation_config.json, config.json or genai_config.json."""
    for source in (_read_json(model_dir / "generation_config.json"), _read_json(model_dir / "config.json"),
                   _read_json(model_dir / "genai_config.json").get("model", {})):
        value = source.get("eos_token_id")
        if value is not None:
            return [int(v) for v in (value if isinstance(value, list) else [value])]
    return []


# --------------------------------------------------------------------------- sampling

def pick_token(logits: np.ndarray, sampling: SamplingParams, rng: np.random.Generator) -> int:
    """Greedy argmax, or a sample after temperature, top-k and top-p (nucleus) cuts."""
    if sampling.greedy:
        return int(np.argmax(logits))
    scores = logits.astype(np.float64) / sampling.temperature
    if 0 < sampling.top_k < scores.size:
        kth = np.partition(scores, -sampling.top_k)[-sampling.top_k]
        scores = np.where(scores < kth, -np.inf, scores)
    probs = np.exp(scores - scores.max())
    probs /= probs.sum()
    if sampling.top_p < 1.0:
        order = np.argsort(-probs)
        before = np.cumsum(probs[order]) - probs[order]  # mass of strictly more likely tokens
        keep = order[before < sampling.top_p]
        mask = np.zeros_like(probs)
        mask[keep] = probs[keep]
        probs = mask / mask.sum()
    return int(rng.choice(probs.size, p=probs))


# --------------------------------------------------------------------------- decoders

class GenaiDecoder:
    """onnxruntime-genai folder: the Generator owns the KV cache, we read its logits."""

    def __init__(self, model_dir: Path, draft_tokens: int = 0, threads: int = 0):
        import onnxruntime_genai as og

        self.og, self.draft_tokens = og, draft_tokens
        # genai leaves ONNX Runtime's thread count to its default, which ran one thread on a 2-vCPU VM
        # here; every core decodes 1.65x faster (docs/BENCHMARKS.md, decode levers)
        try:
            config = og.Config(str(model_dir))
            config.overlay(json.dumps({"model": {"decoder": {"session_options": {
                "intra_op_num_threads": threads or os.cpu_count() or 1}}}}))
            self.model = og.Model(config)
        except Exception as exc:  # genai raises a bare RuntimeError naming the missing file
            raise UserError(f"cannot load the genai model in '{model_dir}': {exc}; re-export it with scotd export") from None
        model = _read_json(model_dir / "genai_config.json")["model"]
        self.context_length = int(model.get("context_length", 2048))
        pad = model.get("pad_token_id", model.get("eos_token_id", 0))
        self.pad_id = int(pad[0] if isinstance(pad, list) else pad)
        # A sliding-window model's KV cache must hold at least the window (Gemma 3: 512), whatever the request.
        self.min_cache = int(((model.get("decoder") or {}).get("sliding_window") or {}).get("window_size") or 0)
        # A student exported with its training rationales drafts from them, through our own session loop
        self.model_dir, self.threads, self.session = model_dir, threads, None
        store = model_dir / draft_store.FILE
        self.store = draft_store.DraftStore.load(store) \
            if store.is_file() and draft_tokens > 0 and speculative_session.supported(model_dir) else None

    def _max_length(self, prompt_tokens: int, new_tokens: int) -> int:
        return min(self.context_length, max(prompt_tokens + new_tokens, self.min_cache))

    @property
    def speculates(self) -> bool:
        # genai's n-gram decoding rewinds the KV cache after a rejected draft; a sliding-window cache cannot
        return self.draft_tokens > 0 and not self.min_cache

    def greedy_tokens(self, prompt_ids: Sequence[int], budget: int, eos_ids: set[int],
                      ignore_eos: bool = False) -> Iterator[int]:
        """Greedy ids from genai's own search, with prompt-lookup speculation where the model allows it:
        the last 2 tokens are looked up in the sequence so far, up to ``draft_tokens`` tokens that followed
        them are proposed, and one forward pass verifies them all. A rationale restates the question's
        names, items and numbers, so drafts are often right; the kept tokens are the model's own greedy
        choices (a verified pass can part from a one-token pass only where two logits nearly tie). With a
        draft store, drafts come from it first (``STORE_DRAFT_TOKENS``), prompt lookup where it knows nothing."""
        if self.store is not None and self.speculates:
            yield from self._store_greedy_tokens(prompt_ids, budget, eos_ids, ignore_eos)
            return
        params = self.og.GeneratorParams(self.model)
        options = dict(max_length=self._max_length(len(prompt_ids), budget), do_sample=False)
        if ignore_eos:  # a benchmark's fixed token count
            options["min_length"] = len(prompt_ids) + budget
        params.set_search_options(**options)
        if self.speculates:
            params.set_speculative_options(ngram_size=2, max_draft_tokens=self.draft_tokens)
        generator = self.og.Generator(self.model, params)
        generator.append_tokens(np.asarray(prompt_ids, dtype=np.int32))
        produced = 0
        try:
            while produced < budget and not generator.is_done():
                generator.generate_next_token()
                for token in generator.get_next_tokens():
                    if int(token) in eos_ids and not ignore_eos:
                        return
                    yield int(token)
                    produced += 1
                    if produced >= budget:
                        return
        finally:  # drafts proposed / accepted, for benchmarks and tests
            self.speculative_stats = generator.get_speculative_stats() if self.speculates else None

    def _store_greedy_tokens(self, prompt_ids, budget, eos_ids, ignore_eos) -> Iterator[int]:
        if self.session is None:  # loaded on first use: a second copy of the weights, for greedy only
            self.session = speculative_session.SpeculativeSession(self.model_dir, self.context_length, self.threads)

        def draft(ids: list[int], limit: int) -> list[int]:
            return self.store.draft(ids, limit) or draft_store.lookup_draft(ids, min(limit, self.draft_tokens))

        try:
            yield from self.session.greedy_tokens(prompt_ids, budget, eos_ids, ignore_eos, draft,
                                                  max(STORE_DRAFT_TOKENS, self.draft_tokens))
        finally:
            self.speculative_stats = self.session.speculative_stats

    def sample_batch(self, prompt_ids: Sequence[int], sampling: SamplingParams, budget: int,
                     eos_ids: set[int], ignore_eos: bool = False) -> list[list[int]]:
        """``sampling.n`` sequences for one prompt decoded as one batch: each step reads the weights
        once for all n rows. genai's own sampler picks the tokens (seeded by ``sampling.seed``), since
        a batched Generator takes no tokens from outside after the prompt."""
        return self.sample_batch_until(prompt_ids, sampling, budget, eos_ids, ignore_eos=ignore_eos)[0]

    def sample_batch_until(self, prompt_ids: Sequence[int], sampling: SamplingParams, budget: int,
                           eos_ids: set[int], deadline: Optional[float] = None,
                           ignore_eos: bool = False) -> tuple[list[list[int]], list[bool]]:
        """``sample_batch``, stopped when ``time.monotonic()`` passes ``deadline``: (rows, which rows
        the deadline cut)."""
        return self.decode_batch([list(prompt_ids)] * sampling.n, sampling, budget, eos_ids, deadline, ignore_eos)

    def decode_batch(self, prompts: Sequence[Sequence[int]], sampling: SamplingParams, budget: int,
                     eos_ids: set[int], deadline: Optional[float] = None,
                     ignore_eos: bool = False) -> tuple[list[list[int]], list[bool]]:
        """One genai batch, a row per prompt (prompts of any lengths: genai 0.18 reads right padding with
        the pad id as padding, and each row then decodes its single-stream greedy tokens), each row cut at
        EOS or ``budget`` tokens, all stopped at ``deadline``: (rows, which rows the deadline cut)."""
        n, width = len(prompts), max(len(p) for p in prompts)
        params = self.og.GeneratorParams(self.model)
        options = dict(max_length=self._max_length(width, budget), batch_size=n, do_sample=not sampling.greedy)
        if ignore_eos:  # a benchmark's fixed token count
            options["min_length"] = width + budget
        if not sampling.greedy:
            options.update(temperature=sampling.temperature, top_p=sampling.top_p, top_k=sampling.top_k or 0)
            if sampling.seed is not None:
                options["random_seed"] = int(sampling.seed)
        params.set_search_options(**options)
        generator = self.og.Generator(self.model, params)
        generator.append_tokens(np.asarray([list(p) + [self.pad_id] * (width - len(p)) for p in prompts],
                                           dtype=np.int32))
        rows: list[list[int]] = [[] for _ in range(n)]
        finished = [False] * n
        while not generator.is_done() and not all(finished):
            if deadline is not None and time.monotonic() >= deadline:
                return rows, [not done for done in finished]
            generator.generate_next_token()
            for row, token in enumerate(generator.get_next_tokens()):
                if finished[row]:
                    continue
                if (int(token) in eos_ids and not ignore_eos) or len(rows[row]) >= budget:
                    finished[row] = True
                else:
                    rows[row].append(int(token))
        return rows, [False] * n

    def logits_stream(self, prompt_ids: Sequence[int], max_new_tokens: int) -> Iterator:
        """Yield next-token logits; the caller ``send``s back the chosen token."""
        params = self.og.GeneratorParams(self.model)
        params.set_search_options(max_length=self._max_length(len(prompt_ids), max_new_tokens), do_sample=False)
        generator = self.og.Generator(self.model, params)
        generator.append_tokens(np.asarray(prompt_ids, dtype=np.int32))
        while True:
            token = yield generator.get_logits()[0, -1]
            generator.append_tokens(np.asarray([token], dtype=np.int32))


class SessionDecoder:
    """optimum folder: an InferenceSession step function with explicit past key/values."""

    def __init__(self, model_dir: Path, threads: int = 0):
        import onnxruntime as ort

        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        try:
            self.session = ort.InferenceSession(str(model_dir / "model.onnx"), options,
                                                providers=["CPUExecutionProvider"])
        except Exception as exc:
            raise UserError(f"cannot load '{model_dir / 'model.onnx'}': {str(exc).splitlines()[0]}; "
                            "re-export it with scotd export") from None
        self.inputs = {i.name: i for i in self.session.get_inputs()}
        self.output_names = [o.name for o in self.session.get_outputs()]
        self.past_names = [n for n in self.inputs if n.startswith("past_key_values")]
        config = _read_json(model_dir / "config.json")
        self.context_length = int(config.get("max_position_embeddings") or config.get("n_positions") or 2048)
        self.float_type = np.float16 if "float16" in self.inputs[self.past_names[0]].type else np.float32

    def _empty_past(self) -> dict[str, np.ndarray]:
        past = {}
        for name in self.past_names:
            batch, heads, _, head_dim = self.inputs[name].shape
            past[name] = np.zeros((1, int(heads), 0, int(head_dim)), dtype=self.float_type)
        return past

    def logits_stream(self, prompt_ids: Sequence[int], max_new_tokens: int) -> Iterator:
        past = self._empty_past()
        new_ids = np.asarray([prompt_ids], dtype=np.int64)
        seen = 0
        while True:
            total = seen + new_ids.shape[1]
            feed = {"input_ids": new_ids, "attention_mask": np.ones((1, total), dtype=np.int64), **past}
            if "position_ids" in self.inputs:
                feed["position_ids"] = np.arange(seen, total, dtype=np.int64)[None, :]
            if "use_cache_branch" in self.inputs:
                feed["use_cache_branch"] = np.array([seen > 0])
            outputs = dict(zip(self.output_names, self.session.run(None, feed)))
            past = {name: outputs[name.replace("past_key_values", "present")] for name in self.past_names}
            seen = total
            token = yield outputs["logits"][0, -1]
            new_ids = np.asarray([[token]], dtype=np.int64)


DECODERS = {"genai": GenaiDecoder, "optimum": SessionDecoder}
# Drafted tokens per lookup (docs/BENCHMARKS.md): on the Xeon (AMX) 6 gave 2.3x plain greedy on the reasoner's
# rationales and 4 gave 2.0x; on the AMD EPYC (AVX512, no AMX) the tracking student's rationales ran at 1.17x with
# 3-4 and 0.98x with 6, since a longer verification pass costs more there. 4 pays on both. 0 turns it off.
DRAFT_TOKENS = 4
# Drafted tokens per pass from a draft store, whose drafts end where the store is unsure: on the tracking
# student's rationales (Xeon, 2026-12-04) 8 gave 2.95 tokens a pass and 4 gave 2.67 (docs/BENCHMARKS.md).
STORE_DRAFT_TOKENS = 8
# Rows of one genai batch in generate(): beyond this the KV cache, not the weights, dominates memory.
MAX_BATCH_ROWS = 32


# --------------------------------------------------------------------------- engine

class OnnxEngine(Engine):
    """An exported folder (genai or optimum layout) behind the common Engine interface."""

    backend = "onnx"

    def __init__(self, model_dir: str | Path, threads: int = 0, draft_tokens: int = DRAFT_TOKENS, **_ignored):
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
        self.eos_ids = set(eos_token_ids(self.model_dir))
        eos_text = self.special_tokens["eos_token"]
        if eos_text and self.tokenizer.token_to_id(eos_text) is not None:
            self.eos_ids.add(self.tokenizer.token_to_id(eos_text))
        decoder_cls = DECODERS[self.layout]
        self.decoder = decoder_cls(self.model_dir, threads=threads) if self.layout == "optimum" \
            else decoder_cls(self.model_dir, draft_tokens=draft_tokens, threads=threads)
        report = _read_json(self.model_dir / REPORT_FILE)
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
        # Same rule as the PyTorch engine: a prompt that already starts with BOS gets no second one.
        bos = self.special_tokens["bos_token"]
        add_special = not (bos and prompt.startswith(bos))
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
        if sampling.greedy and hasattr(self.decoder, "greedy_tokens"):
            yield from self.decoder.greedy_tokens(prompt_ids, budget, self.eos_ids, ignore_eos)
            return
        rng = np.random.default_rng(sampling.seed)
        steps = self.decoder.logits_stream(list(prompt_ids), budget)
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
        """``sampling.n`` completions per prompt. A genai folder decodes every prompt's rows as one batch
        (n sampled rows per prompt; one greedy row, since n greedy ones are the same); a single greedy
        prompt takes the speculating single-stream path instead."""
        copies = 1 if sampling.greedy else sampling.n
        batched = hasattr(self.decoder, "decode_batch") and len(prompts) * copies > 1
        encoded = [self.encode(p) for p in prompts] if batched else []
        if not batched or any(len(ids) + sampling.max_new_tokens > self.decoder.context_length for ids in encoded):
            if sampling.greedy and sampling.n > 1:  # n greedy completions are one, repeated
                return [texts * sampling.n for texts in super().generate(prompts, dataclasses.replace(sampling, n=1))]
            return super().generate(prompts, sampling)
        rows = [ids for ids in encoded for _ in range(copies)]
        step = max(copies, MAX_BATCH_ROWS // copies * copies)  # a prompt's copies stay in one batch
        decoded: list[list[int]] = []
        for index, start in enumerate(range(0, len(rows), step)):
            chunk_sampling = sampling if sampling.seed is None else dataclasses.replace(sampling, seed=sampling.seed + index)
            decoded += self.decoder.decode_batch(rows[start:start + step], chunk_sampling, sampling.max_new_tokens,
                                                 self.eos_ids)[0]
        texts = [cut_at_stop(self.tokenizer.decode(row, skip_special_tokens=True), sampling.stop) for row in decoded]
        return [texts[i * copies:(i + 1) * copies] * (sampling.n // copies) for i in range(len(prompts))]

    def complete(self, prompt: str, sampling: SamplingParams, deadline: Optional[float] = None) -> list[Completion]:
        """n sampled completions decoded as one batch (genai), cut together at the deadline."""
        if sampling.n == 1 or sampling.greedy or not hasattr(self.decoder, "sample_batch_until"):
            return super().complete(prompt, sampling, deadline)
        ids = self.encode(prompt)
        budget = min(sampling.max_new_tokens, self.decoder.context_length - len(ids))
        if budget <= 0:
            return super().complete(prompt, sampling, deadline)  # raises the engine's context error
        rows, cut = self.decoder.sample_batch_until(ids, sampling, budget, self.eos_ids, deadline)
        return [Completion(cut_at_stop(self.tokenizer.decode(row, skip_special_tokens=True), sampling.stop), timed_out)
                for row, timed_out in zip(rows, cut)]

    def stream_prompt(self, prompt: str, sampling: SamplingParams) -> Iterator[str]:
        stops = StopStringFilter(sampling.stop)
        generated: list[int] = []
        emitted = ""
        for token in self.token_ids(self.encode(prompt), sampling):
            generated.append(token)
            text = self.tokenizer.decode(generated, skip_special_tokens=True)
            if text.endswith("\ufffd"):  # half of a multi-byte character: wait for the rest
                continue
            chunk = stops.push(text[len(emitted):])
            emitted = text
            if chunk:
                yield chunk
            if stops.stopped:
                return
        tail = stops.flush()
        if tail:
            yield tail

    def with_draft_tokens(self, draft_tokens: int) -> "OnnxEngine":
        """This engine drafting ``draft_tokens`` per lookup (0: plain greedy), sharing the loaded model:
        the export gates compare both greedy paths without loading the folder twice."""
        other = copy.copy(self)
        other.decoder = copy.copy(self.decoder)
        other.decoder.draft_tokens = draft_tokens
        return other

    def close(self) -> None:
        self.decoder = None

