"""Export gates: the exported model against the PyTorch fp32 model it came from.

1. Greedy-token parity: 8 fixed chat prompts, 32 greedy tokens each, token ids
   compared one by one (the PyTorch side is a plain KV-cache argmax loop, so no
   generation-config default can change the reference).
2. Task accuracy: a BIG-bench slice answered greedily in the student format by
   both models; the difference is reported in accuracy points.

The PyTorch accuracy run is cached under ``cache_dir()/export-reference`` keyed by
the weights and the settings, so exporting three precisions pays for it once.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Optional, Sequence

from tqdm import tqdm

from serve.core.answers import grade
from serve.core.config import option
from serve.core.paths import cache_dir
from serve.core.student_format import render_prompt
from serve.data.sources import QuestionSource
from serve.engines.interface import SamplingParams

PARITY_QUESTIONS = [
    ("Which is heavier, a kilogram of iron or a kilogram of feathers?", ["the iron", "the feathers", "neither"]),
    ("Is the sun a star?", None),
    ("Alice has 3 apples and buys 5 more. How many apples does she have?", None),
    ("Yesterday was April 30, 2021. What is the date today?", ["05/01/2021", "04/29/2021", "05/30/2021"]),
    ("Write one sentence about why the sky looks blue.", None),
    ("Alice, Bob and Claire each hold a ball. Alice and Bob swap balls. Who holds Alice's first ball?",
     ["Alice", "Bob", "Claire"]),
    ("Would a pear sink in water?", None),
    ("Name a prime number between 10 and 20 and explain how you know.", None),
]


@dataclass
class ParityGate:
    """Greedy-token parity against PyTorch fp32 on fixed prompts."""
    enabled: bool = option(True, "run the parity gate")
    prompts: int = option(8, "how many of the fixed prompts to use (at most 8)")
    tokens: int = option(32, "greedy tokens compared per prompt")
    exact_for: list[str] = option(default_factory=lambda: ["fp32", "int8"],
                                  help="precisions whose export fails unless every token matches (up to near-ties)")
    # Measured on SmolLM2-135M int8: every divergence came where PyTorch's own top two logits were
    # 0.07-0.13 apart (on logits of ~30, with the third choice > 1.5 below). Weight rounding moves logits
    # by about that much; a real quantization error shows up as a gap of whole logits.
    tie_margin: float = option(0.25, "a quantized export may pick another token only where PyTorch fp32 "
                                     "scores the two within this many logits (fp32 exports get no margin)")


@dataclass
class AccuracyGate(QuestionSource):
    """Task accuracy, exported vs PyTorch fp32, on a slice of a question source."""
    source: str = option("bigbench:strategyqa", "the slice's question source")
    split: str = option("test", "split of the source")
    limit: Optional[int] = option(25, "questions in the slice")
    enabled: bool = option(True, "run the accuracy check")
    max_new_tokens: int = option(64, "greedy tokens per answer")
    # 5 points on 25 examples (4 points each): one net flipped answer passes, two fail. The slice is a
    # smoke alarm, not a significance test (the parity gate is the precise instrument): losing two
    # answers in 25 is already the size of the gains SCoTD reports from sampling more rationales.
    max_drop_points: float = option(5.0, "refuse the export when it loses more accuracy points than this")


# --------------------------------------------------------------------------- PyTorch reference

def load_reference(hf_dir: Path):
    """(model, tokenizer) in fp32 on CPU, eval mode."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(hf_dir)
    model = AutoModelForCausalLM.from_pretrained(hf_dir, dtype=torch.float32, use_safetensors=True).eval()
    return model, tokenizer


def encode_prompt(tokenizer, prompt: str) -> list[int]:
    """Token ids the way the engines encode: no second BOS on a prompt that starts with one."""
    bos = tokenizer.bos_token
    return tokenizer(prompt, add_special_tokens=not (bos and prompt.startswith(bos)))["input_ids"]


def eos_ids_of(model, tokenizer) -> set[int]:
    ids = model.generation_config.eos_token_id
    ids = set(ids if isinstance(ids, list) else [ids] if ids is not None else [])
    if tokenizer.eos_token_id is not None:
        ids.add(tokenizer.eos_token_id)
    return ids


def torch_token_stream(model, prompt_ids: Sequence[int], max_new_tokens: int, eos_ids: set[int] = frozenset(),
                       ignore_eos: bool = False) -> Iterator[int]:
    """Greedy ids from a KV-cache loop; stops at EOS (not yielded) unless ``ignore_eos``."""
    import torch

    with torch.inference_mode():
        inputs = torch.tensor([list(prompt_ids)])
        past = None
        for _ in range(max_new_tokens):
            out = model(input_ids=inputs, past_key_values=past, use_cache=True)
            past = out.past_key_values
            token = int(out.logits[0, -1].argmax())
            if token in eos_ids and not ignore_eos:
                return
            yield token
            inputs = torch.tensor([[token]])


# --------------------------------------------------------------------------- gate 1: parity

def parity_prompts(tokenizer, count: int) -> list[str]:
    return [render_prompt(q, c, tokenizer=tokenizer) for q, c in PARITY_QUESTIONS[:count]]


def divergence_gap(model, prompt_ids: list[int], expected: list[int], got: list[int], at: int,
                   eos: set[int]) -> float:
    """PyTorch's logit of its own token minus its logit of the export's token where they part."""
    import torch

    stop = min(eos) if eos else 0
    ref_token = expected[at] if at < len(expected) else stop
    got_token = got[at] if at < len(got) else stop
    with torch.inference_mode():
        logits = model(input_ids=torch.tensor([prompt_ids + expected[:at]])).logits[0, -1]
    return round(float(logits[ref_token] - logits[got_token]), 4)


def run_parity(reference, engine, cfg: ParityGate, tie_margin: float = 0.0,
               outputs: list | None = None) -> dict[str, Any]:
    """Compare greedy ids prompt by prompt. ``exact``: every sequence matched in full; ``passed``:
    every sequence matched or parted only at a near-tie (PyTorch gap <= ``tie_margin``). The export's
    ids of each prompt are appended to ``outputs`` when given."""
    model, tokenizer = reference
    eos = eos_ids_of(model, tokenizer)
    greedy = SamplingParams(max_new_tokens=cfg.tokens, temperature=0.0)
    rows = []
    for prompt in tqdm(parity_prompts(tokenizer, cfg.prompts), desc="parity", unit="prompt", leave=False):
        ids = encode_prompt(tokenizer, prompt)
        expected = list(torch_token_stream(model, ids, cfg.tokens, eos))
        got = list(engine.token_ids(ids, greedy))
        if outputs is not None:
            outputs.append(got)
        prefix = next((i for i, (a, b) in enumerate(zip(expected, got)) if a != b), min(len(expected), len(got)))
        exact = expected == got
        gap = None if exact else divergence_gap(model, ids, expected, got, prefix, eos)
        rows.append({"prompt_tokens": len(ids), "tokenizer_match": engine.encode(prompt) == ids,
                     "reference_tokens": len(expected), "export_tokens": len(got),
                     "matched_prefix": prefix, "exact": exact, "divergence_gap": gap,
                     "near_tie": gap is not None and abs(gap) <= tie_margin})
    matched = sum(r["matched_prefix"] for r in rows)
    compared = sum(max(r["reference_tokens"], r["export_tokens"]) for r in rows)
    tokenizer_match = all(r["tokenizer_match"] for r in rows)
    return {"prompts": len(rows), "tokens_per_prompt": cfg.tokens, "tokens_matched": matched,
            "tokens_compared": compared, "exact_prompts": sum(r["exact"] for r in rows),
            "near_tie_prompts": sum(r["near_tie"] for r in rows), "tie_margin": tie_margin,
            "tokenizer_match": tokenizer_match, "exact": tokenizer_match and all(r["exact"] for r in rows),
            "passed": tokenizer_match and all(r["exact"] or r["near_tie"] for r in rows), "per_prompt": rows}


def speculation_agreement(reference, plain_outputs: list[list[int]], speculating, cfg: ParityGate) -> dict[str, Any]:
    """Not a gate: on the parity prompts, does the engine's default greedy (prompt-lookup speculation,
    whose verification pass runs several tokens through other kernels) keep plain greedy's tokens
    (``plain_outputs``, as the parity gate decoded them)? Where it parts, ``fp32_gap`` is PyTorch's logit
    of plain greedy's token minus that of the speculative one."""
    model, tokenizer = reference
    eos = eos_ids_of(model, tokenizer)
    greedy = SamplingParams(max_new_tokens=cfg.tokens, temperature=0.0)
    rows = []
    for prompt, base in zip(parity_prompts(tokenizer, cfg.prompts), plain_outputs, strict=True):
        ids = encode_prompt(tokenizer, prompt)
        fast = list(speculating.token_ids(ids, greedy))
        at = next((i for i, (a, b) in enumerate(zip(base, fast)) if a != b), min(len(base), len(fast)))
        rows.append({"same": base == fast, "matched_prefix": at,
                     "fp32_gap": None if base == fast else divergence_gap(model, ids, base, fast, at, eos)})
    return {"prompts": len(rows), "same_prompts": sum(r["same"] for r in rows),
            "draft_tokens": speculating.decoder.max_draft, "draft_store": speculating.decoder.store is not None,
            "per_prompt": rows}


# --------------------------------------------------------------------------- gate 2: accuracy

def _score(examples, outputs: list[str]) -> tuple[list[str | None], list[bool]]:
    graded = [grade(text, example) for example, text in zip(examples, outputs)]
    return [prediction for prediction, _ in graded], [right for _, right in graded]


def _reference_key(hf_dir: Path, cfg: AccuracyGate) -> str:
    weights = sorted((p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in hf_dir.glob("*.safetensors"))
    settings = [str(hf_dir.resolve()), weights, cfg.source, cfg.split, cfg.limit, cfg.seed, cfg.max_new_tokens, 1]
    return hashlib.sha256(json.dumps(settings).encode()).hexdigest()[:20]


def reference_outputs(hf_dir: Path, reference, prompts: list[str], cfg: AccuracyGate) -> tuple[list[str], float, bool]:
    """PyTorch fp32 greedy outputs for ``prompts`` (cached); returns (outputs, seconds, from_cache).

    The same unbatched KV-cache argmax loop as the parity gate: no padding, so an export with
    token parity gives identical text and the accuracy difference is exactly zero.
    """
    cache = cache_dir() / "export-reference" / f"{_reference_key(hf_dir, cfg)}.json"
    if cache.is_file():
        saved = json.loads(cache.read_text())
        if saved.get("prompts") == prompts:
            return saved["outputs"], saved["seconds"], True
    model, tokenizer = reference() if callable(reference) else reference
    eos = eos_ids_of(model, tokenizer)
    started, outputs = time.time(), []
    for prompt in tqdm(prompts, desc="accuracy (pytorch fp32)", unit="example", leave=False):
        ids = list(torch_token_stream(model, encode_prompt(tokenizer, prompt), cfg.max_new_tokens, eos))
        outputs.append(tokenizer.decode(ids, skip_special_tokens=True))
    seconds = round(time.time() - started, 1)
    cache.parent.mkdir(parents=True, exist_ok=True)
    cache.write_text(json.dumps({"prompts": prompts, "outputs": outputs, "seconds": seconds}))
    return outputs, seconds, False


def run_accuracy(hf_dir: Path, reference, engine, cfg: AccuracyGate) -> dict[str, Any]:
    """``reference`` is (model, tokenizer) or a function that loads them (skipped on a cache hit)."""
    examples = cfg.load()
    prompts = [render_prompt(e.question, e.choices, tokenizer=engine) for e in examples]
    reference_texts, reference_s, cached = reference_outputs(hf_dir, reference, prompts, cfg)
    greedy = SamplingParams(max_new_tokens=cfg.max_new_tokens, temperature=0.0)
    started = time.time()
    exported = ["".join(engine.stream_prompt(p, greedy))
                for p in tqdm(prompts, desc="accuracy (export)", unit="example", leave=False)]
    export_s = round(time.time() - started, 1)
    ref_pred, ref_ok = _score(examples, reference_texts)
    exp_pred, exp_ok = _score(examples, exported)
    n = max(1, len(examples))
    ref_acc, exp_acc = 100.0 * sum(ref_ok) / n, 100.0 * sum(exp_ok) / n
    return {"task": cfg.source, "split": cfg.split, "examples": len(examples),
            "max_new_tokens": cfg.max_new_tokens, "reference_accuracy": round(ref_acc, 2),
            "export_accuracy": round(exp_acc, 2), "drop_points": round(ref_acc - exp_acc, 2),
            "max_drop_points": cfg.max_drop_points,
            "answer_agreement": round(100.0 * sum(a == b for a, b in zip(ref_pred, exp_pred)) / n, 2),
            "identical_outputs": sum(a == b for a, b in zip(reference_texts, exported)),
            "reference_seconds": reference_s, "reference_cached": cached, "export_seconds": export_s}
