"""Single-stream decode levers, measured side by side (issue #13).

Each lever runs in its own fresh process, rounds interleaved (odd rounds in reverse order)
so that drift on a shared machine spreads over every lever; the median decode tok/s over
all rounds x repeats is reported. Two prompt sets:

- ``filler``: the 32-token prompt of ``scotd bench decode``, 128 greedy tokens, EOS ignored;
- ``task``: held-out tracking questions in the student format, greedy to EOS (what a
  rationale costs), where prompt-lookup speculation has something to look up.

    python scripts/decode_levers.py --export models/smollm2-135m-instruct/onnx-int8 \\
        --gguf models/smollm2-135m-instruct/gguf-q8_0/*.gguf --rounds 2 --repeats 3

Writes JSON (``--json``) and replaces its section of docs/BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))



def _genai_model(folder: str, overlay: dict | None):
    import onnxruntime_genai as og

    config = og.Config(folder)
    if overlay:
        config.overlay(json.dumps(overlay))
    return og, og.Model(config)


def _genai_stream(folder: str, overlay: dict | None = None, speculative: dict | None = None):
    """Tokens as genai's own greedy search emits them (optionally with n-gram speculation)."""
    og, model = _genai_model(folder, overlay)

    def stream(ids, n, ignore_eos):
        params = og.GeneratorParams(model)
        params.set_search_options(max_length=len(ids) + n + 8, do_sample=False, min_length=len(ids) + n if ignore_eos else 0)
        if speculative:
            params.set_speculative_options(**speculative)
        generator = og.Generator(model, params)
        generator.append_tokens(np.asarray(ids, dtype=np.int32))
        produced = 0
        while not generator.is_done() and produced < n:
            generator.generate_next_token()
            for token in generator.get_next_tokens():
                produced += 1
                yield int(token)
        stream.stats = generator.get_speculative_stats() if speculative else None
    return stream


def _engine_stream(folder: str):
    """The ONNX engine's own loop: genai logits read out, numpy argmax, token appended."""
    from serve.engines.interface import SamplingParams
    from serve.engines.onnx_engine import OnnxEngine

    engine = OnnxEngine(Path(folder))

    def stream(ids, n, ignore_eos):
        yield from engine.token_ids(ids, SamplingParams(max_new_tokens=n), ignore_eos=ignore_eos)
    return stream


def _llama_stream(path: str, threads: int):
    from llama_cpp import Llama

    # n_batch 1: this llama.cpp build's AMX path crashes on a multi-token batch here (see BENCHMARKS)
    llm = Llama(model_path=path, n_ctx=2048, n_threads=threads, n_threads_batch=threads, n_batch=1, n_ubatch=1,
                verbose=False)
    eos = llm.token_eos()

    def stream(ids, n, ignore_eos):
        llm.reset()
        for produced, token in enumerate(llm.generate(ids, temp=0.0, top_k=1, reset=True)):
            if produced >= n or (token == eos and not ignore_eos):
                return
            yield token
    return stream


def _logits_stream(folder: str):
    from serve.engines.onnx_engine import OnnxEngine

    engine = OnnxEngine(Path(folder))

    def stream(ids, n, ignore_eos):
        steps = engine.decoder.logits_stream(list(ids), n)
        logits = next(steps)
        for produced in range(n):
            token = int(np.argmax(logits))
            if token in engine.eos_ids and not ignore_eos:
                return
            yield token
            if produced + 1 < n:
                logits = steps.send(token)
    return stream


def make_stream(lever: dict):
    kind = lever["kind"]
    if kind == "logits":
        return _logits_stream(lever["path"])
    if kind == "engine":
        return _engine_stream(lever["path"])
    if kind == "genai":
        return _genai_stream(lever["path"], lever.get("overlay"), lever.get("speculative"))
    return _llama_stream(lever["path"], lever.get("threads", 1))


def measure(lever: dict, prompts: list[list[int]], new_tokens: int, ignore_eos: bool, repeats: int) -> dict:
    stream = make_stream(lever)
    list(stream(prompts[0], 16, True))  # warm-up
    rates, tokens, outputs, stats = [], 0, [], []
    for _ in range(repeats):
        produced, seconds = 0, 0.0
        outputs = []
        for ids in prompts:
            started = time.perf_counter()
            out = []
            for token in stream(ids, new_tokens, ignore_eos):
                if not out:
                    started = time.perf_counter()  # decode time only: from the first new token on
                out.append(token)
            seconds += time.perf_counter() - started
            produced += max(len(out) - 1, 0)
            outputs.append(out)
            if getattr(stream, "stats", None):
                stats.append(stream.stats)
        rates.append(produced / seconds)
        tokens = produced
    row = {"lever": lever["name"], "decode_tok_s": rates, "tokens": tokens, "outputs": outputs}
    if stats:
        accepted = sum(s["draft_tokens_accepted"] for s in stats)
        evaluated = sum(s["draft_tokens_evaluated"] for s in stats)
        row["acceptance"] = round(accepted / max(evaluated, 1), 3)
        row["emitted_per_round"] = round(statistics.mean(s["mean_emitted_tokens_per_round"] for s in stats), 2)
    return row


def task_prompts(folder: str, count: int) -> list[list[int]]:
    from tokenizers import Tokenizer

    from serve.core.student_format import plain_prompt
    from serve.data.sources import QuestionSource

    tokenizer = Tokenizer.from_file(str(Path(folder) / "tokenizer.json"))
    examples = QuestionSource(source="gen:tracking_shuffled_objects/three_objects", split="test",
                              limit=count).load()
    return [tokenizer.encode(plain_prompt(e.question)).ids for e in examples]


def filler_prompt(folder: str) -> list[list[int]]:
    from tokenizers import Tokenizer

    from bench.decode import PROMPT_TEXT

    tokenizer = Tokenizer.from_file(str(Path(folder) / "tokenizer.json"))
    return [tokenizer.encode(PROMPT_TEXT, add_special_tokens=False).ids[:32]]


def run_in_fresh_process(job: dict) -> dict:
    result = subprocess.run([sys.executable, __file__, "--worker", json.dumps(job)], capture_output=True, text=True,
                            cwd=str(ROOT))
    lines = [line for line in result.stdout.splitlines() if line.startswith("RESULT ")]
    if not lines:
        raise SystemExit(f"{job['lever']['name']} failed: {(result.stderr or result.stdout).strip()[-600:]}")
    return json.loads(lines[-1][7:])


def levers(args) -> list[dict]:
    def threads(n: int, spinning: bool = True) -> dict:
        options = {"intra_op_num_threads": n, **({} if spinning else {"session.intra_op.allow_spinning": "0"})}
        return {"model": {"decoder": {"session_options": options}}}

    rows = [{"name": "logits to numpy, argmax, token appended, 2 threads (the engine's sampled loop)", "kind": "logits",
             "path": args.export},
            {"name": "genai greedy search (generate_next_token), ORT's default threads", "kind": "genai",
             "path": args.export},
            {"name": "genai greedy, 1 intra-op thread", "kind": "genai", "path": args.export, "overlay": threads(1)},
            {"name": "genai greedy, 2 intra-op threads", "kind": "genai", "path": args.export, "overlay": threads(2)},
            {"name": "genai greedy, 2 intra-op threads, spinning off", "kind": "genai", "path": args.export,
             "overlay": threads(2, spinning=False)}]
    rows += [{"name": f"genai greedy, export {Path(extra).name}", "kind": "genai", "path": extra}
             for extra in args.extra_exports]
    for count, draft in ((1, 6), (1, 12), (2, 12)):
        rows.append({"name": f"n-gram speculation (ngram 2, draft {draft}), {count} thread(s)", "kind": "genai",
                     "path": args.export, "overlay": threads(count),
                     "speculative": {"ngram_size": 2, "max_draft_tokens": draft}})
    rows.append({"name": "scotd engine default (OnnxEngine greedy: 2 threads, draft 6)", "kind": "engine",
                 "path": args.export})
    for count in (1, 2):
        rows += [{"name": f"llama.cpp {Path(g).stem}, {count} thread(s)", "kind": "llama", "path": g,
                  "threads": count} for g in args.gguf]
    return rows


def table(results: dict, prompts_name: str) -> list[str]:
    lines = [f"| lever ({prompts_name}) | decode tok/s (median) | vs first row | same tokens as first row | "
             "acceptance | tokens per verify |", "|---|---|---|---|---|---|"]
    base = statistics.median(results[0]["decode_tok_s"])
    reference = results[0]["outputs"]
    for r in results:
        median = statistics.median(r["decode_tok_s"])
        same = "-" if r["lever"].startswith("llama.cpp") else \
            f"{sum(a == b for a, b in zip(r['outputs'], reference))}/{len(reference)}"
        lines.append(f"| {r['lever']} | {median:.1f} | {median / base:.2f}x | {same} | "
                     f"{r.get('acceptance', '-')} | {r.get('emitted_per_round', '-')} |")
    return lines


def main() -> int:
    if sys.argv[1:2] == ["--worker"]:
        job = json.loads(sys.argv[2])
        print("RESULT " + json.dumps(measure(job["lever"], job["prompts"], job["new_tokens"], job["ignore_eos"],
                                             job["repeats"])), flush=True)
        return 0
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--export", required=True, help="the genai int8 export folder")
    parser.add_argument("--extra_exports", nargs="*", default=[], help="other exports of the same model")
    parser.add_argument("--gguf", nargs="*", default=[], help="GGUF files of the same model for llama.cpp rows")
    parser.add_argument("--task_questions", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--sets", nargs="*", default=["filler", "task"])
    parser.add_argument("--json", default="docs/results/decode-levers.json")
    parser.add_argument("--markdown", default="docs/BENCHMARKS.md")
    args = parser.parse_args()
    prompt_sets = {"filler": (filler_prompt(args.export), 128, True),
                   "task": (task_prompts(args.export, args.task_questions), 384, False)}
    all_levers = levers(args)
    out: dict[str, list[dict]] = {}
    for name in args.sets:
        prompts, new_tokens, ignore_eos = prompt_sets[name]
        merged: dict[str, dict] = {}
        for round_index in range(args.rounds):
            order = all_levers if round_index % 2 == 0 else list(reversed(all_levers))
            for lever in order:
                row = run_in_fresh_process({"lever": lever, "prompts": prompts, "new_tokens": new_tokens,
                                            "ignore_eos": ignore_eos, "repeats": args.repeats})
                print(f"[{name} round {round_index + 1}] {lever['name']}: "
                      f"{statistics.median(row['decode_tok_s']):.1f} tok/s", file=sys.stderr, flush=True)
                if lever["name"] in merged:
                    merged[lever["name"]]["decode_tok_s"] += row["decode_tok_s"]
                else:
                    merged[lever["name"]] = row
        out[name] = [merged[lever["name"]] for lever in all_levers]
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps({k: [{**r, "outputs": None} for r in v] for k, v in out.items()}, indent=1))
    from serve.core.provenance import cpu_model

    lines = ["## Decode levers, single stream (`scripts/decode_levers.py`)", "",
             f"{time.strftime('%Y-%m-%d')}, {cpu_model()}, 2 cores; median of {args.rounds} interleaved rounds x "
             f"{args.repeats} repeats, each lever in a fresh process. Command: `python scripts/decode_levers.py "
             + " ".join(sys.argv[1:]) + "`", ""]
    for name, results in out.items():
        lines += table(results, name) + [""]
    from bench.report import write_section

    write_section(ROOT / args.markdown, "decode-levers", "\n".join(lines))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
