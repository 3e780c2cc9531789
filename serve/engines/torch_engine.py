"""The PyTorch engine: a Hugging Face causal LM on CPU (fp32) or GPU (bf16).

Streaming runs ``model.generate`` in a worker thread that feeds a
``TextIteratorStreamer``; closing the iterator early (a client that hangs up)
sets a flag that a stopping criterion reads, so the worker ends within one token.
``generate`` is really batched: prompts are left-padded and sampled with
``num_return_sequences`` in one call per batch, which is what evaluation uses.

This is the only module of ``serve`` that imports torch.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Iterator, Optional, Sequence

import torch
from transformers import (AutoModelForCausalLM, AutoTokenizer, StoppingCriteria, StoppingCriteriaList,
                          TextIteratorStreamer)

from serve.core.errors import UserError
from serve.core.student_format import plain_prompt
from serve.engines.interface import Engine, SamplingParams, StopStringFilter, cut_at_stop
from serve.engines.loop_watch import LoopWatch
from serve.engines.special_tokens import adds_special_tokens

DTYPES = {"float32": torch.float32, "fp32": torch.float32, "bfloat16": torch.bfloat16, "bf16": torch.bfloat16,
          "float16": torch.float16, "fp16": torch.float16}


def pick_device(device: str) -> torch.device:
    if device != "auto":
        return torch.device(device)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def pick_dtype(dtype: str, device: torch.device) -> torch.dtype:
    if dtype == "auto":
        if device.type == "cuda":
            return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return torch.float32  # bf16 matmuls on most CPUs are slower than fp32, and less exact
    if dtype not in DTYPES:
        raise UserError(f"unknown dtype '{dtype}'; valid: auto, {', '.join(DTYPES)}")
    return DTYPES[dtype]


class _CancelFlag(StoppingCriteria):
    def __init__(self, event: threading.Event):
        self.event = event

    def __call__(self, input_ids, scores, **kwargs) -> bool:
        return self.event.is_set()


class _LoopStop(StoppingCriteria):
    """``stop_on_loop`` for transformers' generate: a LoopWatch per row, fed each row's newest token."""

    def __init__(self, tokenizer, span: int):
        self.tokenizer, self.span, self.watches = tokenizer, span, []

    def __call__(self, input_ids, scores, **kwargs) -> torch.Tensor:
        if not self.watches:
            self.watches = [LoopWatch(self.tokenizer, self.span) for _ in range(input_ids.shape[0])]
        return torch.tensor([watch.push(int(token)) for watch, token in zip(self.watches, input_ids[:, -1])],
                            dtype=torch.bool, device=input_ids.device)


class TorchEngine(Engine):
    backend = "torch"

    def __init__(self, model_dir: str | Path, device: str = "auto", dtype: str = "auto", batch_size: int = 8,
                 trust_remote_code: bool = False):
        self.model_dir = Path(model_dir)
        self.device = pick_device(device)
        self.dtype = pick_dtype(dtype, self.device)
        self.batch_size = max(1, int(batch_size))
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(self.model_dir, trust_remote_code=trust_remote_code)
            self.model = AutoModelForCausalLM.from_pretrained(
                self.model_dir, dtype=self.dtype, use_safetensors=True, trust_remote_code=trust_remote_code)
        except (OSError, ValueError) as exc:
            first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise UserError(f"cannot load a Hugging Face model from '{self.model_dir}' ({first_line}); it needs "
                            "config.json, *.safetensors and tokenizer files (scotd models fetch NAME makes one)") from None
        self.model.to(self.device).eval()
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.tokenizer.padding_side = "left"
        self.chat_template = self.tokenizer.chat_template

    # ------------------------------------------------------------------ prompts

    def apply_chat_template(self, messages: list[dict[str, str]], tokenize: bool = False,
                            add_generation_prompt: bool = True) -> str:
        if not self.chat_template:
            return plain_prompt(messages[-1]["content"])  # the student format's form for the last user turn
        return self.tokenizer.apply_chat_template(messages, tokenize=tokenize,
                                                  add_generation_prompt=add_generation_prompt)

    def _encode(self, prompts: Sequence[str]) -> dict:
        # One setting for the whole batch: special tokens only when no prompt starts with BOS.
        add = all(adds_special_tokens(p, self.tokenizer.bos_token) for p in prompts)
        batch = self.tokenizer(list(prompts), return_tensors="pt", padding=True, add_special_tokens=add)
        return {k: v.to(self.device) for k, v in batch.items()}

    @property
    def context_length(self) -> Optional[int]:
        config = self.model.config
        return getattr(config, "max_position_embeddings", None) or getattr(config, "n_positions", None)

    def count_tokens(self, text: str) -> int:
        return len(self.tokenizer.encode(text, add_special_tokens=False))

    # ------------------------------------------------------------------ decoding

    def _generation_kwargs(self, sampling: SamplingParams) -> dict:
        kwargs = dict(max_new_tokens=sampling.max_new_tokens, pad_token_id=self.tokenizer.pad_token_id)
        if sampling.greedy:
            kwargs.update(do_sample=False, temperature=None, top_p=None, top_k=None)
        else:
            kwargs.update(do_sample=True, temperature=sampling.temperature, top_p=sampling.top_p,
                          top_k=sampling.top_k)
        if sampling.stop:
            kwargs.update(stop_strings=list(sampling.stop), tokenizer=self.tokenizer)
        return kwargs

    def _stopping(self, sampling: SamplingParams, *criteria: StoppingCriteria) -> StoppingCriteriaList:
        loop = [_LoopStop(self.tokenizer, sampling.stop_on_loop)] if sampling.stop_on_loop else []
        return StoppingCriteriaList([*criteria, *loop])

    def _seed(self, sampling: SamplingParams) -> None:
        if sampling.seed is not None:
            torch.manual_seed(sampling.seed)
            if self.device.type == "cuda":
                torch.cuda.manual_seed_all(sampling.seed)

    def stream_prompt(self, prompt: str, sampling: SamplingParams) -> Iterator[str]:
        inputs = self._encode([prompt])
        streamer = TextIteratorStreamer(self.tokenizer, skip_prompt=True, skip_special_tokens=True)
        cancel = threading.Event()
        failure: list[BaseException] = []
        kwargs = self._generation_kwargs(sampling)
        kwargs.pop("stop_strings", None), kwargs.pop("tokenizer", None)  # the text filter below stops instead

        def work() -> None:
            try:
                self._seed(sampling)
                with torch.inference_mode():
                    self.model.generate(**inputs, **kwargs, streamer=streamer,
                                        stopping_criteria=self._stopping(sampling, _CancelFlag(cancel)))
            except BaseException as exc:  # surfaced in the consumer thread below
                failure.append(exc)
                streamer.end()

        worker = threading.Thread(target=work, name="scotd-torch-generate", daemon=True)
        worker.start()
        stops = StopStringFilter(sampling.stop)
        try:
            for chunk in streamer:
                text = stops.push(chunk)
                if text:
                    yield text
                if stops.stopped:
                    break
            tail = stops.flush()
            if tail:
                yield tail
        finally:
            cancel.set()
            worker.join()
        if failure:
            raise RuntimeError(f"generation failed in {self.name}: {failure[0]}") from failure[0]

    def generate(self, prompts: Sequence[str], sampling: SamplingParams) -> list[list[str]]:
        """``sampling.n`` completions per prompt, batched ``batch_size`` prompts at a time."""
        n = sampling.n
        results: list[list[str]] = []
        kwargs = self._generation_kwargs(sampling)
        # Greedy decoding gives n identical sequences: compute one and repeat it.
        per_prompt = 1 if sampling.greedy else n
        self._seed(sampling)
        for start in range(0, len(prompts), self.batch_size):
            chunk = list(prompts[start:start + self.batch_size])
            inputs = self._encode(chunk)
            with torch.inference_mode():
                output = self.model.generate(**inputs, **kwargs, num_return_sequences=per_prompt,
                                             stopping_criteria=self._stopping(sampling))
            new_tokens = output[:, inputs["input_ids"].shape[1]:]
            texts = self.tokenizer.batch_decode(new_tokens, skip_special_tokens=True)
            texts = [cut_at_stop(t, sampling.stop) for t in texts]
            for i in range(len(chunk)):
                samples = texts[i * per_prompt:(i + 1) * per_prompt]
                results.append(samples * n if per_prompt == 1 else samples)
        return results

    def close(self) -> None:
        self.model = None
        if self.device.type == "cuda":
            torch.cuda.empty_cache()
