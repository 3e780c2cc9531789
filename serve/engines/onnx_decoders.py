"""The ONNX engine's two decoders, one per export layout (``DECODERS``).

- ``GenaiDecoder``: a folder written by onnxruntime-genai's model builder. One stream (greedy, with or
  without drafts, and sampling) goes through ``SpeculativeSession``, our own ONNX Runtime loop, wherever
  it can drive the decoder, so every greedy path gives the same tokens; k samples of one prompt go
  through the same session as a ``RowBatch`` (one prefill, copied to every row); batches of several
  prompts go through genai's Generator, loaded on first use, so a process that only streams or samples
  holds one copy of the weights. A decoder the loop cannot drive (a sliding-window cache) is left to
  genai throughout;
- ``SessionDecoder``: an optimum-onnx folder, a plain InferenceSession loop with explicit past key/values.
"""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path
from typing import Iterator, Optional, Sequence

import numpy as np

from serve.core.errors import UserError
from serve.engines import draft_store, speculative_session
from serve.engines.interface import SamplingParams, read_json, seeded_sample
from serve.engines.sampling import pick_token

# Drafted tokens per lookup (docs/BENCHMARKS.md): on the Xeon (AMX) 6 gave 2.3x plain greedy on the reasoner's
# rationales and 4 gave 2.0x; on the AMD EPYC (AVX512, no AMX) the tracking student's rationales ran at 1.17x with
# 3-4 and 0.98x with 6, since a longer verification pass costs more there. 4 pays on both. 0 turns it off.
DRAFT_TOKENS = 4
# Drafted tokens per pass from a draft store. Its drafts stop where the store is unsure, so a higher cap
# costs little when the store runs out and keeps more tokens per verifying pass when it knows the phrasing:
# on the tracking student's rationales 8 keeps more a pass than 4 (numbers: docs/BENCHMARKS.md, scripts/drafters.py).
STORE_DRAFT_TOKENS = 8
# Rows of one genai batch in generate(): beyond this the KV cache, not the weights, dominates memory.
MAX_BATCH_ROWS = 32


# What a decoder can do beyond ``logits_stream`` (which every decoder has): the engine asks this, not
# hasattr, and tests/test_engine_onnx.py checks that each decoder defines exactly what it declares.
GREEDY_TOKENS = "greedy_tokens"  # greedy ids from the library's own search (and the draft store)
DECODE_BATCH = "decode_batch"  # several prompts as one padded batch
SAMPLE_BATCH_UNTIL = "sample_batch_until"  # n samples of one prompt as one batch, cut at a deadline
CAPABILITIES = (GREEDY_TOKENS, DECODE_BATCH, SAMPLE_BATCH_UNTIL)


class GenaiDecoder:
    """onnxruntime-genai folder: the Generator owns the KV cache, we read its logits."""

    capabilities = frozenset(CAPABILITIES)

    def __init__(self, model_dir: Path, draft_tokens: int = 0, threads: int = 0, use_draft_store: bool = True):
        import onnxruntime_genai as og

        self.og, self.draft_tokens = og, draft_tokens
        # genai leaves ONNX Runtime's thread count to its default, which ran one thread on a 2-vCPU VM;
        # using every core decoded 1.65x faster there (docs/BENCHMARKS.md, decode levers)
        try:
            self.config = og.Config(str(model_dir))
            self.config.overlay(json.dumps({"model": {"decoder": {"session_options": {
                "intra_op_num_threads": threads or os.cpu_count() or 1}}}}))
        except Exception as exc:  # genai raises a bare RuntimeError naming the missing file
            raise UserError(f"cannot read the genai model in '{model_dir}': {exc}; re-export it with scotd export") from None
        genai_config = read_json(model_dir / "genai_config.json")
        model = genai_config["model"]
        self.context_length = int(model.get("context_length", 2048))
        pad = model.get("pad_token_id", model.get("eos_token_id", 0))
        self.pad_id = int(pad[0] if isinstance(pad, list) else pad)
        # A sliding-window model's KV cache must hold at least the window (Gemma 3: 512), whatever the request.
        self.min_cache = int(((model.get("decoder") or {}).get("sliding_window") or {}).get("window_size") or 0)
        self.model_dir, self.threads = model_dir, threads
        self.session_loop = speculative_session.supported(genai_config)
        # What is loaded on first use, shared by every view of this decoder (with_draft_tokens copies it)
        self._loaded: dict = {"lock": threading.Lock(), "session": None, "model": None}
        store = model_dir / draft_store.FILE
        self.store = draft_store.DraftStore.load(store) if use_draft_store and store.is_file() and self.session_loop \
            else None
        self.decoder_config = model.get("decoder", {})
        self.speculative_stats: Optional[dict] = None

    @property
    def model(self):
        """genai's model, for batches and for decoders our loop cannot drive: a second copy of the weights."""
        with self._loaded["lock"]:
            if self._loaded["model"] is None:
                try:
                    self._loaded["model"] = self.og.Model(self.config)
                except Exception as exc:
                    raise UserError(f"cannot load the genai model in '{self.model_dir}': {exc}; "
                                    "re-export it with scotd export") from None
            return self._loaded["model"]

    @property
    def session(self) -> speculative_session.SpeculativeSession:
        with self._loaded["lock"]:
            if self._loaded["session"] is None:
                try:
                    self._loaded["session"] = speculative_session.SpeculativeSession(
                        self.model_dir, self.decoder_config, self.context_length, self.threads)
                except Exception as exc:
                    raise UserError(f"cannot load '{self.model_dir / 'model.onnx'}': {str(exc).splitlines()[0]}; "
                                    "re-export it with scotd export") from None
            return self._loaded["session"]

    def _max_length(self, prompt_tokens: int, new_tokens: int) -> int:
        return min(self.context_length, max(prompt_tokens + new_tokens, self.min_cache))

    @property
    def max_draft(self) -> int:
        """Tokens one verifying pass may draft: the store's longer drafts where there is a store."""
        if not self.speculates:
            return 0
        return max(STORE_DRAFT_TOKENS, self.draft_tokens) if self.store is not None else self.draft_tokens

    @property
    def speculates(self) -> bool:
        # genai's n-gram decoding rewinds the KV cache after a rejected draft; a sliding-window cache cannot
        return self.draft_tokens > 0 and not self.min_cache

    def greedy_tokens(self, prompt_ids: Sequence[int], budget: int, eos_ids: set[int],
                      ignore_eos: bool = False) -> Iterator[int]:
        """Greedy ids, speculating when ``draft_tokens`` > 0: drafted tokens are checked by one forward pass
        and kept where they equal the model's own greedy choices. Drafts come from the draft store where the
        student has one (``STORE_DRAFT_TOKENS``), else from prompt lookup (the tokens that followed the last
        2 tokens' latest occurrence: a rationale restates the question's names, items and numbers), else a
        one-token guess from the last token's latest follower. Through our loop (``SpeculativeSession``) the
        kept tokens are plain greedy's exactly; genai's own search (a decoder our loop cannot drive) may part
        from its plain greedy where two logits nearly tie."""
        if self.session_loop:
            yield from self._session_greedy_tokens(prompt_ids, budget, eos_ids, ignore_eos)
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

    def _draft(self, ids: list[int], limit: int) -> list[int]:
        if limit <= 0:
            return []
        drafted = self.store.draft(ids, limit) if self.store is not None else []
        return drafted or draft_store.lookup_draft(ids, min(limit, self.draft_tokens)) \
            or draft_store.lookup_draft(ids, 1, ngram=1)

    def _session_greedy_tokens(self, prompt_ids, budget, eos_ids, ignore_eos) -> Iterator[int]:
        session = self.session
        stats: dict = {}
        self.speculative_stats = stats if self.speculates else None  # filled as the call decodes
        draft = self._draft if self.speculates else (lambda ids, limit: [])
        yield from session.greedy_tokens(prompt_ids, budget, eos_ids, ignore_eos, draft, self.max_draft, stats)

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
        if self.session_loop and not sampling.greedy:
            return self._shared_prefill_samples(list(prompt_ids), sampling, budget, eos_ids, deadline, ignore_eos)
        return self.decode_batch([list(prompt_ids)] * sampling.n, sampling, budget, eos_ids, deadline, ignore_eos)

    def _shared_prefill_samples(self, prompt_ids: list[int], sampling: SamplingParams, budget: int,
                                eos_ids: set[int], deadline: Optional[float],
                                ignore_eos: bool) -> tuple[list[list[int]], list[bool]]:
        """n samples in a ``RowBatch`` over our session: the prompt is prefilled once and its cache copied
        to every row (genai's batch prefills each copy), each row draws with its own seed
        (``seeded_sample``), and a row leaves the batch at its EOS, so later steps feed fewer rows."""
        from serve.engines.row_batch import RowBatch

        n = sampling.n
        batch = RowBatch(self.session, n, max(len(prompt_ids), speculative_session.MIN_FED) + budget + 1)
        first = batch.join(0, prompt_ids)
        for row in range(1, n):
            batch.copy(0, row)
        settings = [seeded_sample(sampling, row) for row in range(n)]
        rngs = [np.random.default_rng(setting.seed) for setting in settings]
        rows: list[list[int]] = [[] for _ in range(n)]
        logits = {row: first for row in range(n)}
        while logits:
            if deadline is not None and time.monotonic() >= deadline:
                return rows, [row in logits for row in range(n)]
            fed = {}
            for row, row_logits in logits.items():
                token = pick_token(row_logits, settings[row], rngs[row])
                if token in eos_ids and not ignore_eos:
                    continue
                rows[row].append(token)
                if len(rows[row]) < budget:
                    fed[row] = token
            logits = batch.step(fed) if fed else {}
        return rows, [False] * n

    def batch_steps(self, prompts: Sequence[Sequence[int]], sampling: SamplingParams, budget: int,
                    ignore_eos: bool = False) -> Iterator[list[int]]:
        """One genai batch, a row per prompt (prompts of any lengths: genai 0.18 reads right padding with
        the pad id as padding, and each row then decodes its single-stream greedy tokens): each step's
        token for every row, until genai stops (every row at EOS, or ``budget`` tokens past the longest
        prompt). Closing the iterator ends the batch."""
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
        while not generator.is_done():
            generator.generate_next_token()
            yield [int(token) for token in generator.get_next_tokens()]

    def decode_batch(self, prompts: Sequence[Sequence[int]], sampling: SamplingParams, budget: int,
                     eos_ids: set[int], deadline: Optional[float] = None,
                     ignore_eos: bool = False) -> tuple[list[list[int]], list[bool]]:
        """``batch_steps`` collected: each row cut at EOS or ``budget`` tokens, all stopped at ``deadline``:
        (rows, which rows the deadline cut)."""
        rows: list[list[int]] = [[] for _ in prompts]
        finished = [False] * len(prompts)
        steps = self.batch_steps(prompts, sampling, budget, ignore_eos)
        try:
            while not all(finished):
                if deadline is not None and time.monotonic() >= deadline:
                    return rows, [not done for done in finished]
                tokens = next(steps, None)
                if tokens is None:
                    break
                for row, token in enumerate(tokens):
                    if finished[row]:
                        continue
                    if (token in eos_ids and not ignore_eos) or len(rows[row]) >= budget:
                        finished[row] = True
                    else:
                        rows[row].append(token)
        finally:
            steps.close()
        return rows, [False] * len(prompts)

    def logits_stream(self, prompt_ids: Sequence[int], max_new_tokens: int, exact: bool = True) -> Iterator:
        """Yield next-token logits; the caller ``send``s back the chosen token. ``exact``: the very logits
        greedy decoding reads (our loop's padded passes); sampling passes False for the faster one-row pass."""
        if self.session_loop:
            yield from self.session.logits_stream(prompt_ids, max_new_tokens, exact)
            return
        params = self.og.GeneratorParams(self.model)
        params.set_search_options(max_length=self._max_length(len(prompt_ids), max_new_tokens), do_sample=False)
        generator = self.og.Generator(self.model, params)
        generator.append_tokens(np.asarray(prompt_ids, dtype=np.int32))
        while True:
            token = yield generator.get_logits()[0, -1]
            generator.append_tokens(np.asarray([token], dtype=np.int32))


class SessionDecoder:
    """optimum folder: an InferenceSession step function with explicit past key/values."""

    capabilities: frozenset[str] = frozenset()

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
        config = read_json(model_dir / "config.json")
        self.context_length = int(config.get("max_position_embeddings") or config.get("n_positions") or 2048)
        self.float_type = np.float16 if "float16" in self.inputs[self.past_names[0]].type else np.float32

    def _empty_past(self) -> dict[str, np.ndarray]:
        past = {}
        for name in self.past_names:
            batch, heads, _, head_dim = self.inputs[name].shape
            past[name] = np.zeros((1, int(heads), 0, int(head_dim)), dtype=self.float_type)
        return past

    def logits_stream(self, prompt_ids: Sequence[int], max_new_tokens: int, exact: bool = True) -> Iterator:
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
