"""The task rows of ``scotd bench decode``: a student answering held-out questions, as it is used.

The fixed-prompt rows time 128 tokens after a filler prompt, where prompt-lookup speculation has
little to look up. A distilled student's real output is a rationale that restates the question's
names, items and numbers. These rows time that: the test questions of ``--task`` in the student
format (rendered through the model's chat template, as the engines render it), greedy to EOS or
``--task_max_new_tokens``, every prompt in every repeat. Decode tok/s is the tokens after each
prompt's first over the time after its first, summed over the prompts.

Rows: the ONNX engine's default greedy (it speculates), the same export without speculation, llama.cpp
on each GGUF, and llama.cpp's Q8_0 with llama-cpp-python's own prompt-lookup decoding, so the
speculation is set against the same trick in the anchor engine, not only against its plain loop; where
llama.cpp's own binaries are built, its server plain and with each of its n-gram speculation modes
(bench/llama_native.py). The ratio column is taken against the fastest llama.cpp row of the model.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path

from tqdm import tqdm

from bench.harness import decode_row, interleaved, log, merge_rounds, peak_rss_mb
from bench.llama_native import NativeServer, native_variants
from export.decode_streams import STREAMS

STREAMS.setdefault("llama_native", NativeServer)

LOOKUP_BACKEND = "llama.cpp + prompt lookup"


def task_prompts(model_dir: Path, source: str, count: int) -> list[list[int]]:
    """Prompt ids of the first ``count`` test questions of ``source``, in the student format."""
    from transformers import AutoTokenizer

    from export.gates import encode_prompt
    from serve.core.student_format import render_prompt
    from serve.data.sources import QuestionSource

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    examples = QuestionSource(source=source, split="test", limit=count).load()
    return [encode_prompt(tokenizer, render_prompt(e.question, e.choices, tokenizer=tokenizer)) for e in examples]


def task_variants(variants: list[dict], hf_dir: Path) -> list[dict]:
    """The rows of one model that the task runs: ONNX exports and llama.cpp files, plus prompt lookup
    and the native binaries' rows on the Q8_0; each with the plain-greedy row whose tokens it should
    reproduce."""
    rows = []
    for variant in variants:
        if variant["kind"] == "onnx":
            plain = variant["backend"] if variant.get("options", {}).get("draft_tokens") == 0 else \
                variant["backend"].split(",")[0] + ", no speculation"
            rows.append({**variant, "reference": plain})
        elif variant["kind"] == "llama_cpp" and variant.get("gguf_only"):  # no binding: the native rows alone
            if variant["precision"] == "q8_0":
                rows += native_variants({k: v for k, v in variant.items() if k != "gguf_only"}, hf_dir)
        elif variant["kind"] == "llama_cpp":
            rows.append({**variant, "reference": "llama.cpp"})
            if variant["precision"] == "q8_0" and variant.get("options", {}).get("n_batch") == 1:
                # its verification pass is a batch of several tokens: the pass that crashed on this CPU
                log(f"task: no '{LOOKUP_BACKEND}' row: llama.cpp's batched pass crashed here and prompt lookup "
                     "cannot verify one token at a time")
            elif variant["precision"] == "q8_0":
                from serve.engines.onnx_engine import DRAFT_TOKENS  # both engines draft as far ahead

                rows.append({**variant, "backend": LOOKUP_BACKEND, "reference": "llama.cpp",
                             "options": {**variant.get("options", {}), "prompt_lookup": DRAFT_TOKENS}})
            if variant["precision"] == "q8_0":
                rows += native_variants(variant, hf_dir)
    return rows


def measure_task(variant: dict, prompts: list[list[int]], max_new_tokens: int, repeats: int) -> dict:
    from export.decode_streams import load_stream

    _, stream = load_stream(variant["kind"], Path(variant["path"]), **variant.get("options", {}))
    list(stream(prompts[0], 16, True))  # warm-up: allocations, kernel selection, caches
    rates, outputs, accepted, drafted = [], [], 0, 0
    for repeat in range(repeats):
        produced, seconds, outputs = 0, 0.0, []
        for ids in prompts:
            out, first = [], None
            for token in stream(ids, max_new_tokens, False):
                if first is None:
                    first = time.perf_counter()
                out.append(token)
            if first is not None:
                seconds += time.perf_counter() - first
            produced += max(len(out) - 1, 0)
            outputs.append(out)
            stats = stream.stats() if hasattr(stream, "stats") else None
            if stats and repeat == 0:
                accepted += stats["draft_tokens_accepted"]
                drafted += stats["draft_tokens_evaluated"]
        rates.append(produced / seconds if seconds else 0.0)
    rss = stream.peak_rss_mb() if hasattr(stream, "peak_rss_mb") else peak_rss_mb()  # a server: its own process
    if hasattr(stream, "close"):
        stream.close()
    return {**{k: variant[k] for k in ("model", "backend", "precision", "reference")},
            "decode_tok_s": rates, "tokens": sum(map(len, outputs)), "outputs": outputs,
            "acceptance": round(accepted / drafted, 3) if drafted else None, "peak_rss_mb": rss,
            "note": getattr(stream, "note", "")}


def same_tokens(rows: list[dict]) -> None:
    """Per row, on how many prompts its tokens equal those of its plain-greedy reference row."""
    for row in rows:
        reference = next((r for r in rows if r["model"] == row["model"] and r["backend"] == row["reference"]
                          and r["precision"] == row["precision"]), None)
        if reference is not None and reference is not row:
            pairs = list(zip(row["outputs"], reference["outputs"]))
            row["same_as_reference"] = f"{sum(a == b for a, b in pairs)}/{len(pairs)}"


def markdown(rows: list[dict], source: str, count: int, max_new_tokens: int) -> list[str]:

    anchor: dict[str, float] = {}
    for r in rows:
        if r["backend"].startswith("llama.cpp"):
            anchor[r["model"]] = max(anchor.get(r["model"], 0.0), r["decode_tok_s"])
    lines = ["", f"On the task: the first {count} test questions of `{source}` in the student format, greedy to EOS "
             f"(at most {max_new_tokens} tokens), each row in a fresh process per round, rounds interleaved, median. "
             "\"same tokens\" counts the prompts whose output equals the row's plain-greedy counterpart "
             "(the export without speculation; llama.cpp without prompt lookup).", "",
             "| model | backend | precision | decode tok/s | vs fastest llama.cpp row | tokens generated | "
             "same tokens as plain greedy | drafts accepted | peak RSS MB |", "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        base = anchor.get(r["model"])
        ratio = f"{r['decode_tok_s'] / base:.2f}x" if base else "-"
        acceptance = f"{r['acceptance']:.0%}" if r.get("acceptance") is not None else "-"
        lines.append(f"| {r['model']} | {r['backend']} | {r['precision']} | **{r['decode_tok_s']}** | {ratio} | "
                     f"{r['tokens']} | {r.get('same_as_reference', '-')} | {acceptance} | "
                     f"{r.get('peak_rss_mb', '-')} |")
    notes = sorted({f"{r['backend']}: {r['note']}" for r in rows if r.get("note")})
    return lines + ([""] + [f"- {note}" for note in notes] if notes else [])


def task_workload(jobs: list[tuple[dict, list[int]]], cfg) -> list[dict]:
    """The task rows of every model, rounds interleaved as for the fixed prompt."""
    from serve.store.registry import resolve_model_dir

    runs = []
    for model in cfg.models:
        hf_dir = resolve_model_dir(model)
        prompts = task_prompts(hf_dir, cfg.task, cfg.task_questions)
        runs += [(variant, prompts) for variant in task_variants([v for v, _ in jobs if v["model"] == model], hf_dir)]
    samples: dict[int, list[dict]] = {i: [] for i in range(len(runs))}
    for _, (variant, prompts) in tqdm(interleaved(runs, cfg.rounds), desc="bench decode: task", unit="row"):
        index = runs.index((variant, prompts))
        samples[index].append(decode_row(variant, {"task": "task", "prompts": prompts, "repeats": cfg.repeats,
                                                    "new_tokens": cfg.task_max_new_tokens}))
        log(f"task: {variant['model']} {variant['backend']} {variant['precision']}: "
             f"{statistics.median(samples[index][-1]['decode_tok_s']):.1f} tok/s")
    rows = [merge_rounds(samples[i]) for i in range(len(runs))]
    same_tokens(rows)
    return rows
