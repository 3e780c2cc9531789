"""Levers that make student training cheaper on a CPU without changing what is learned from a step.

Each lever is a switch of ``train.speed``; ``scotd bench train`` measures them one by one
(docs/BENCHMARKS.md) and the defaults are the ones that paid on a 2-core CPU.

- ``target_logits``: the LM head (hidden x vocabulary, the largest matrix of a small model)
  and the cross-entropy run only at positions that carry a label, not at every prompt and
  padding position. Same loss to rounding; skipped under DDP, whose gradient hooks need the
  wrapped forward.
- ``group_by_length``: batches of similar-length sequences (transformers' length-grouped
  sampler), so less of each batch is padding.
- ``freeze_embeddings``: the (usually tied) token embedding / LM head gets no gradient and no
  optimizer state.
- ``freeze_layers``: the lowest K blocks get no gradient, so backward stops above them.
- ``threads``: torch intra-op threads (0 = torch's default).
- ``micro_batch``: each step's sequences go through forward and backward this many at a time,
  gradients accumulated: the same update, the activations of fewer sequences held at once (on a
  CPU the step takes about as long: it is compute-bound at any batch). -1: 1 on a CPU training in fp32,
  2 with bf16 autocast, the whole batch on a GPU.
- ``activation_checkpointing``: keep only each block's input for backward and recompute the rest
  there: about a third more compute for a fraction of the activation memory.
- ``prompt_backward``: ``skip``: the prompt (every position before the batch's first label) runs forward
  without a graph and the targets attend to its keys and values as a cache, so backward covers the target
  tokens only. An approximation: no gradient reaches the weights through the prompt's hidden states. Off by
  default: on the starter it cost steps right (87.3% against 95.9%) for about 1.2x the tokens/s (docs/RESULTS.md).
- ``sparse_embedding_grad``: the input embedding's gradient as the rows the batch used, added into the tied LM
  head's dense gradient, instead of a dense zero-filled vocabulary x hidden matrix per micro-batch. Same sum.
- ``allocator``: ``keep`` tells glibc malloc to serve large blocks from its heap and keep freed memory, so
  the step's large buffers (the embedding gradient, the LM head's logits) are reused, not mapped and
  page-faulted afresh every micro-batch. Linux/glibc only; elsewhere a no-op.
- ``heap_ceiling``: a heap fragments when batch shapes vary (kept, a 375-step run grew from 14 to 18.5 GB
  resident and slowed to 0.6x; as is, glibc grows too, more slowly), so free heap pages are handed back
  (``malloc_trim``) whenever the resident size passes this multiple of its size after the first step, which
  length grouping makes the step of the longest batch.
- ``compile``: ``torch.compile`` of the decoder (the blocks, what the target-only loss calls), with
  dynamic shapes since batches differ in length; inductor fuses the elementwise work around the matmuls.
"""

from __future__ import annotations

import ctypes
import ctypes.util
from dataclasses import dataclass
from typing import Any, Literal, Optional

import torch
import torch.nn.functional as F
from transformers import TrainerCallback

from distill.train_data import IGNORE_INDEX
from export.hf_translate import cache_keyword, returned_cache
from serve.core.config import option
from serve.core.provenance import resident_mb

# Output transforms some architectures apply after the LM head: the target-only path must repeat them.
_LOGIT_SOFTCAP = "final_logit_softcapping"
_UNSUPPORTED_SCALES = ("logit_scale", "logits_scaling")


@dataclass
class SpeedOptions:
    """Training-speed levers (see distill/train_speed.py and docs/BENCHMARKS.md)."""
    target_logits: bool = option(True, "compute the LM head and loss only where labels are (same loss, less compute)")
    group_by_length: bool = option(True, "batch sequences of similar length together (less padding)")
    freeze_embeddings: bool = option(False, "no gradient for the token embedding / tied LM head (a pretrained "
                                            "student only: a randomly initialised one must learn its embedding)")
    freeze_layers: int = option(0, "no gradient for the lowest K transformer blocks (backward stops above them)")
    threads: int = option(0, "torch intra-op threads (0 = torch's default)")
    micro_batch: int = option(-1, "sequences per forward/backward pass, accumulated into each step (0: the whole "
                                  "batch; -1: on a CPU 1 in fp32 and 2 with bf16 autocast, where it cuts the "
                                  "activations' memory at about the same speed; 0 on a GPU)")
    activation_checkpointing: bool = option(False, "recompute activations in backward (less memory, more compute)")
    compile: bool = option(False, "torch.compile the transformer blocks (dynamic shapes); measured 1.04x on a "
                                  "2-core CPU held to AVX2, so off")
    prompt_backward: Literal["full", "skip"] = option(
        "full", "full: backward through every position; skip: the prompt runs forward only and backward covers the "
                "target tokens (an approximation: nothing is learned through the prompt's hidden states; measured "
                "about 1.2x faster and worse steps on a 2-core AVX2 CPU)")
    sparse_embedding_grad: bool = option(True, "the tied input embedding's gradient as the rows used (same sum, no "
                                               "dense vocabulary-sized buffer per micro-batch)")
    allocator: Literal["default", "keep"] = option(
        "keep", "keep: glibc malloc keeps large freed blocks for reuse (fewer page faults a step); default: as is")
    heap_ceiling: float = option(1.25, "hand glibc's free heap pages back when the resident size passes this multiple "
                                       "of its size after the first step (0: never, and a fragmented heap grows "
                                       "with the batch shapes)")


# What -1 and auto mean per path, measured on one 2-core Xeon (docs/bench/train-memory-*.md). fp32 (no native bf16,
# the laptop case): micro-batches of 1 with Adafactor peak at 2.7 GB against 4.6 GB for micro-batches of 2 with
# AdamW, at 0.94x the tokens/s held to AVX2 (0.90x on AVX512), with BBH accuracy unchanged (docs/RESULTS.md).
# bf16 autocast (AMX): the same pair saves less (3.9 against 4.9 GB) and costs more (0.82x), so it keeps AdamW.
FP32_CPU_MICRO_BATCH, BF16_CPU_MICRO_BATCH = 1, 2
# Adafactor keeps factored second moments and no first moment: a fraction of AdamW's two full-size moments.
FP32_CPU_OPTIM, DEFAULT_OPTIM = "adafactor", "adamw_torch_fused"


def resolve_optim(optim: str, on_gpu: bool, bf16: bool) -> str:
    """``train.optim`` as transformers names it: ``auto`` is Adafactor on a CPU training in fp32, else fused AdamW."""
    if optim != "auto":
        return optim
    return DEFAULT_OPTIM if on_gpu or bf16 else FP32_CPU_OPTIM


def micro_batching(batch_size: int, grad_accum: int, micro_batch: int, on_gpu: bool, bf16: bool) -> tuple[int, int]:
    """(per-pass batch, accumulation steps) that put ``batch_size x grad_accum`` sequences in a step."""
    from serve.core.errors import UserError

    cpu_size = BF16_CPU_MICRO_BATCH if bf16 else FP32_CPU_MICRO_BATCH
    size = (0 if on_gpu else cpu_size) if micro_batch < 0 else micro_batch
    if size <= 0 or size >= batch_size:
        return batch_size, grad_accum
    if batch_size % size:
        raise UserError(f"speed.micro_batch {size} does not divide batch_size {batch_size}; pick a divisor "
                        "(or 0 for the whole batch)")
    return size, grad_accum * (batch_size // size)


def _blocks(model: Any) -> Optional[torch.nn.ModuleList]:
    """The stack of transformer blocks of a causal LM, wherever its architecture keeps it."""
    decoder = model.get_decoder() if hasattr(model, "get_decoder") else None
    for owner in (decoder, getattr(model, "transformer", None)):
        for name in ("layers", "h"):
            blocks = getattr(owner, name, None) if owner is not None else None
            if isinstance(blocks, torch.nn.ModuleList):
                return blocks
    return None


def apply_freezing(model: Any, speed: SpeedOptions) -> dict[str, int]:
    """Turn off gradients as the options say; returns trainable and frozen parameter counts."""
    if speed.freeze_embeddings:
        for module in (model.get_input_embeddings(), model.get_output_embeddings()):
            if module is not None:
                for parameter in module.parameters():
                    parameter.requires_grad_(False)
    if speed.freeze_layers > 0:
        blocks = _blocks(model)
        if blocks is None:
            from serve.core.errors import UserError
            raise UserError(f"speed.freeze_layers: cannot find the transformer blocks of {type(model).__name__}; "
                            "set --speed.freeze_layers 0")
        for block in blocks[: speed.freeze_layers]:
            for parameter in block.parameters():
                parameter.requires_grad_(False)
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    frozen = sum(p.numel() for p in model.parameters() if not p.requires_grad)
    return {"trainable_parameters": trainable, "frozen_parameters": frozen}


def tie_sparse_embedding_grad(model: Any, speed: SpeedOptions) -> bool:
    """Make the input embedding's gradient sparse where its weight is the trainable LM head's too (the sum with
    the head's dense gradient is dense again, so the optimizer sees what it always saw); True when it did."""
    embedding, head = model.get_input_embeddings(), model.get_output_embeddings()
    tied = (isinstance(embedding, torch.nn.Embedding) and head is not None and head.weight is embedding.weight
            and embedding.weight.requires_grad)
    if speed.sparse_embedding_grad and tied:
        embedding.sparse = True
    return bool(speed.sparse_embedding_grad and tied)


_M_TRIM_THRESHOLD, _M_MMAP_MAX = -1, -4  # glibc mallopt parameter ids (malloc.h)


class HeapCeiling(TrainerCallback):
    """Hands glibc's free heap pages back (``malloc_trim``) at the end of a step once the resident size passes
    ``ceiling`` times its size after the first step; counts the trims into the logs."""

    def __init__(self, libc: Any, ceiling: float):
        self.libc, self.ceiling = libc, ceiling
        self.limit_mb: Optional[float] = None
        self.trims = 0

    def on_step_end(self, args, state, control, **kwargs):
        resident = resident_mb()
        if resident is None:
            return
        if self.limit_mb is None:
            self.limit_mb = resident * self.ceiling
        elif resident > self.limit_mb:
            self.libc.malloc_trim(0)
            self.trims += 1

    def on_log(self, args, state, control, logs=None, **kwargs):
        if logs is not None and "loss" in logs:
            logs["heap_trims"] = self.trims


def configure_allocator(speed: SpeedOptions) -> Optional[HeapCeiling]:
    """Applies ``allocator`` to glibc malloc (``keep``: large blocks served from its heap, freed memory not handed
    back, so a step's large buffers are reused instead of mapped and zero-faulted again) and returns the callback
    that holds the heap under ``heap_ceiling``; None off glibc or with a ceiling of 0."""
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
        if libc is None or not hasattr(libc, "malloc_trim"):  # not glibc (macOS, musl): its allocator stays as it is
            return None
        if speed.allocator == "keep":
            libc.mallopt(_M_MMAP_MAX, 0)
            libc.mallopt(_M_TRIM_THRESHOLD, 2**31 - 1)
    except (OSError, AttributeError):
        return None
    return HeapCeiling(libc, speed.heap_ceiling) if speed.heap_ceiling > 0 else None


def supports_target_logits(model: Any) -> bool:
    """True when the model is a plain decoder + LM head whose logits the target-only path can reproduce."""
    config = getattr(model, "config", None)
    if config is None or any(getattr(config, name, None) not in (None, 1, 1.0) for name in _UNSUPPORTED_SCALES):
        return False
    try:
        return model.get_decoder() is not None and model.get_output_embeddings() is not None
    except (AttributeError, NotImplementedError):
        return False


def _gradient_start(labels: torch.Tensor) -> int:
    """The first position backward must cover: the one before the batch's earliest label (it predicts it)."""
    labelled = (labels != IGNORE_INDEX).any(dim=0).nonzero()
    return max(int(labelled[0]) - 1, 0) if len(labelled) else 0


def target_only_loss(model: Any, inputs: dict[str, torch.Tensor],
                     num_items_in_batch: Optional[torch.Tensor | int] = None,
                     skip_prompt_backward: bool = False) -> torch.Tensor:
    """Causal-LM cross-entropy computed from the LM head at labelled positions only.

    Normalised as transformers normalises its own loss: the sum over label tokens divided by
    ``num_items_in_batch`` when the Trainer passes it (gradient accumulation, DDP), else the mean. With
    ``skip_prompt_backward``, the positions before the batch's first label run without a graph (see above)."""
    labels, ids, mask = inputs["labels"], inputs["input_ids"], inputs.get("attention_mask")
    decoder = model.get_decoder()
    start = _gradient_start(labels) if skip_prompt_backward else 0
    prefix: dict[str, Any] = {}
    if start > 0:
        with torch.no_grad():  # the prompt's keys and values, computed by the current weights, held as a cache
            out = decoder(input_ids=ids[:, :start], attention_mask=None if mask is None else mask[:, :start],
                          use_cache=True)
        prefix = {cache_keyword(decoder): returned_cache(out), "use_cache": True}
    hidden = decoder(input_ids=ids[:, start:], attention_mask=mask, **({"use_cache": False} | prefix)).last_hidden_state
    next_labels = labels[:, start + 1:]
    where = next_labels != IGNORE_INDEX
    logits = model.get_output_embeddings()(hidden[:, :-1][where]).float()
    cap = getattr(model.config, _LOGIT_SOFTCAP, None)
    if cap:
        logits = torch.tanh(logits / cap) * cap
    total = F.cross_entropy(logits, next_labels[where], reduction="sum")
    if num_items_in_batch is None:
        return total / where.sum().clamp(min=1)
    return total / num_items_in_batch
