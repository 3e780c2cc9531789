"""``scotd bench decode``: PyTorch fp32 vs every ONNX export of the same model, in one run.

Each variant runs in its own fresh process, so load time and peak RSS are its own.
PyTorch runs twice: a lean KV-cache loop under inference_mode (the fastest plain
PyTorch we know how to write, and the baseline of the "vs PyTorch" column) and
transformers' ``generate()`` (what most users run; the baseline of "vs generate").
All variants get the same prompt token ids and generate the same number of tokens
(EOS ignored). Per repeat: prefill = time to the first new token, decode tok/s =
the remaining tokens over their time; one warm-up, then the median of the repeats.
Rows go to ``--json PATH`` and a markdown table replaces this benchmark's section of
docs/BENCHMARKS.md. llama.cpp joins when ``llama-cpp-python`` is installed and the
model has a GGUF source (never a dependency: it compiles for half an hour).
"""

from __future__ import annotations

import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from serve.core.config import option, parse_args
from serve.core.errors import UserError
from serve.core.provenance import CPUINFO, cpu_model
from serve.core.paths import project_root
from serve.store.export_folder import REPORT_FILE, is_finished_export

PROMPT_TEXT = ("Alice, Bob and Claire are playing a game. At the start Alice has a red ball, Bob has a blue ball "
               "and Claire has a green ball. First Alice and Bob swap balls, then Bob and Claire swap balls, and "
               "finally Claire and Alice swap balls. At the end of the game, which ball does Alice have? ") * 8
SECTION_START, SECTION_END = "<!-- bench decode: start -->", "<!-- bench decode: end -->"


@dataclass
class DecodeBenchConfig:
    """Decode speed, load time, memory and size: PyTorch fp32 vs ONNX exports (vs llama.cpp)."""
    models: list[str] = option(default_factory=lambda: ["smollm2-135m-instruct"],
                               help="registry names or HF folders; their exports (models/NAME/onnx-*, "
                                    "DIR-onnx-*) are found automatically")
    prompt_tokens: int = option(32, "prompt length in tokens")
    new_tokens: int = option(128, "tokens generated per repeat (EOS ignored)")
    repeats: int = option(3, "timed repeats after the warm-up (median reported)")
    torch: bool = option(True, "include the PyTorch fp32 row")
    llama_cpp: bool = option(True, "include llama.cpp when llama-cpp-python is installed")
    json: str = option("", "write the rows to this JSON file")
    markdown: str = option("docs/BENCHMARKS.md", "markdown file whose decode section is replaced ('' to skip)")


# --------------------------------------------------------------------------- variants

def find_variants(model: str, with_torch: bool, with_llama_cpp: bool) -> list[dict]:
    from serve.store.registry import load_registry, resolve_model_dir

    registry = load_registry()
    hf_dir = resolve_model_dir(model)
    if is_finished_export(hf_dir):  # an export folder given directly
        return [_export_variant(model, hf_dir)]
    exports = registry[model].exports() if model in registry else \
        sorted(p for p in hf_dir.parent.glob(f"{hf_dir.name}-onnx-*") if is_finished_export(p))
    variants = [{"model": model, "kind": kind, "backend": backend, "precision": "fp32", "path": str(hf_dir)}
                for kind, backend in (("torch", "pytorch"), ("torch_generate", "pytorch-generate"))] \
        if with_torch else []
    variants += [_export_variant(model, p) for p in exports]
    if with_llama_cpp and model in registry:
        variants += _llama_cpp_variants(registry[model])
    if len(variants) < 2:
        _log(f"note: {model} has no exports yet; make one with: scotd export --model {model}")
    return variants


def _export_variant(model: str, folder: Path) -> dict:
    report = json.loads((folder / REPORT_FILE).read_text())
    return {"model": model, "kind": "onnx", "backend": f"onnx-{report['backend']}",
            "precision": report["precision"], "path": str(folder)}


def _llama_cpp_variants(entry) -> list[dict]:
    try:
        import llama_cpp  # noqa: F401
    except ImportError:
        return []
    from serve.store.fetch import gguf_path

    rows = []
    for source in entry.sources:
        if source.get("kind") == "pypi_gguf":
            path = gguf_path(entry, source)
            rows.append({"model": entry.name, "kind": "llama_cpp", "backend": "llama.cpp",
                         "precision": path.stem.rsplit(".", 1)[-1], "path": str(path)})
    return rows


def prompt_ids(model: str, count: int) -> list[int]:
    from tokenizers import Tokenizer

    from serve.store.registry import resolve_model_dir

    tokenizer = Tokenizer.from_file(str(resolve_model_dir(model) / "tokenizer.json"))
    ids = tokenizer.encode(PROMPT_TEXT, add_special_tokens=False).ids
    if len(ids) < count:
        raise UserError(f"the benchmark prompt has only {len(ids)} tokens; use --prompt_tokens {len(ids)} or less")
    return ids[:count]


# --------------------------------------------------------------------------- worker (fresh process)

def _token_stream(variant: dict, ids: list[int], new_tokens: int):
    """(load seconds, function(ids, n) -> iterator of token ids) for one variant."""
    started = time.perf_counter()
    if variant["kind"] == "torch":
        from export.gates import torch_token_stream, load_reference

        model, _ = load_reference(Path(variant["path"]))
        return time.perf_counter() - started, lambda n: torch_token_stream(model, ids, n, ignore_eos=True)
    if variant["kind"] == "torch_generate":
        from export.gates import load_reference

        model, _ = load_reference(Path(variant["path"]))
        return time.perf_counter() - started, lambda n: generate_token_stream(model, ids, n)
    if variant["kind"] == "onnx":
        from serve.engines.interface import SamplingParams
        from serve.engines.onnx_engine import OnnxEngine

        engine = OnnxEngine(Path(variant["path"]))
        return time.perf_counter() - started, \
            lambda n: engine.token_ids(ids, SamplingParams(max_new_tokens=n), ignore_eos=True)
    from llama_cpp import Llama

    llm = Llama(model_path=variant["path"], n_ctx=len(ids) + new_tokens + 8, verbose=False)

    def llama_stream(n):
        llm.reset()
        for produced, token in enumerate(llm.generate(ids, temp=0.0, top_k=1, reset=True)):
            if produced >= n:
                return
            yield token
    return time.perf_counter() - started, llama_stream


def generate_token_stream(model, ids: list[int], n: int):
    """Token ids as ``model.generate`` (greedy, exactly n new tokens) emits them, through a streamer."""
    import queue
    import threading

    import torch
    from transformers.generation.streamers import BaseStreamer

    tokens: queue.Queue = queue.Queue()

    class IdStreamer(BaseStreamer):
        prompt_seen = False

        def put(self, value):
            if not self.prompt_seen:  # generate() first hands over the prompt itself
                self.prompt_seen = True
                return
            for token in value.reshape(-1).tolist():
                tokens.put(token)

        def end(self):
            tokens.put(None)

    inputs = torch.tensor([ids])
    worker = threading.Thread(target=lambda: model.generate(
        inputs, attention_mask=torch.ones_like(inputs), max_new_tokens=n, min_new_tokens=n, do_sample=False,
        streamer=IdStreamer(), pad_token_id=model.config.eos_token_id))
    worker.start()
    while (token := tokens.get()) is not None:
        yield token
    worker.join()


def measure(variant: dict, ids: list[int], new_tokens: int, repeats: int) -> dict:
    load_s, stream = _token_stream(variant, ids, new_tokens)
    list(stream(min(16, new_tokens)))  # warm-up: allocations, kernel selection, caches
    prefill_ms, decode_tok_s = [], []
    for _ in range(repeats):
        started = time.perf_counter()
        stamps = [time.perf_counter() for _ in stream(new_tokens)]
        if len(stamps) != new_tokens:
            raise RuntimeError(f"{variant['backend']} produced {len(stamps)} tokens, expected {new_tokens}")
        prefill_ms.append(1000 * (stamps[0] - started))
        decode_tok_s.append((len(stamps) - 1) / (stamps[-1] - stamps[0]))
    path = Path(variant["path"])
    files = [path] if path.is_file() else [p for p in path.iterdir() if p.is_file()]
    if variant["kind"].startswith("torch"):
        files = list(path.glob("*.safetensors"))
    return {**{k: variant[k] for k in ("model", "backend", "precision")},
            "decode_tok_s": round(statistics.median(decode_tok_s), 1),
            "prefill_ms": round(statistics.median(prefill_ms), 1), "load_s": round(load_s, 2),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            "size_mb": round(sum(f.stat().st_size for f in files) / 2**20, 1),
            "prompt_tokens": len(ids), "new_tokens": new_tokens, "repeats": repeats}


def _worker(argv: list[str]) -> int:
    job = json.loads(argv[0])
    print("RESULT " + json.dumps(measure(job["variant"], job["ids"], job["new_tokens"], job["repeats"])), flush=True)
    return 0


# --------------------------------------------------------------------------- driver

def _log(message: str) -> None:
    print(f"[scotd bench decode] {message}", file=sys.stderr, flush=True)


def run_variant(variant: dict, ids: list[int], cfg: DecodeBenchConfig) -> dict:
    job = json.dumps({"variant": variant, "ids": ids, "new_tokens": cfg.new_tokens, "repeats": cfg.repeats})
    result = subprocess.run([sys.executable, "-m", "export.bench_decode", "--worker", job], capture_output=True,
                            text=True, cwd=str(Path(__file__).resolve().parent.parent),
                            env={**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"})
    lines = [line for line in result.stdout.splitlines() if line.startswith("RESULT ")]
    if result.returncode != 0 or not lines:
        tail = (result.stderr or result.stdout).strip().splitlines()[-1:] or ["no output"]
        raise UserError(f"benchmarking {variant['backend']} {variant['precision']} ({variant['path']}) failed: "
                        f"{tail[0][:300]}")
    return json.loads(lines[-1][len("RESULT "):])


def markdown_table(rows: list[dict], cfg: DecodeBenchConfig) -> str:
    baseline = {r["model"]: r["decode_tok_s"] for r in rows if r["backend"] == "pytorch"}
    generate = {r["model"]: r["decode_tok_s"] for r in rows if r["backend"] == "pytorch-generate"}
    cpu = (cpu_model() or platform.processor()) if CPUINFO.is_file() else "?"
    lines = [SECTION_START, "## Decode speed (`scotd bench decode`)", "",
             f"{time.strftime('%Y-%m-%d')}, {os.cpu_count()} CPU cores ({cpu}), {cfg.prompt_tokens}-token prompt, "
             f"{cfg.new_tokens} greedy tokens (EOS ignored), 1 warm-up then the median of {cfg.repeats}; each row "
             "in a fresh process. Command: `scotd bench decode --models " + " ".join(cfg.models) + "`", "",
             "| model | backend | precision | decode tok/s | vs PyTorch | vs generate | prefill ms | load s | "
             "peak RSS MB | size MB |", "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        ratios = [f"{r['decode_tok_s'] / base:.1f}x" if base else "-"
                  for base in (baseline.get(r["model"]), generate.get(r["model"]))]
        lines.append(f"| {r['model']} | {r['backend']} | {r['precision']} | {r['decode_tok_s']} | {' | '.join(ratios)} | "
                     f"{r['prefill_ms']} | {r['load_s']} | {r['peak_rss_mb']} | {r['size_mb']} |")
    return "\n".join(lines + ["", SECTION_END])


def write_section(path: Path, section: str) -> None:
    """Replace this benchmark's section of ``path`` (or append it), leaving the rest untouched."""
    text = path.read_text() if path.is_file() else "# Benchmarks\n"
    if SECTION_START in text and SECTION_END in text:
        head, rest = text.split(SECTION_START, 1)
        text = head + section + rest.split(SECTION_END, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def run(cfg: DecodeBenchConfig) -> list[dict]:
    if cfg.repeats < 1 or cfg.new_tokens < 2:
        raise UserError("--repeats must be at least 1 and --new_tokens at least 2")
    jobs = []
    for model in cfg.models:
        ids = prompt_ids(model, cfg.prompt_tokens)
        jobs += [(variant, ids) for variant in find_variants(model, cfg.torch, cfg.llama_cpp)]
    rows = []
    for variant, ids in tqdm(jobs, desc="bench decode", unit="variant"):
        rows.append(run_variant(variant, ids, cfg))
        _log(f"{variant['model']} {rows[-1]['backend']} {rows[-1]['precision']}: {rows[-1]['decode_tok_s']} tok/s")
    if cfg.json:
        Path(cfg.json).parent.mkdir(parents=True, exist_ok=True)
        Path(cfg.json).write_text(json.dumps(rows, indent=2) + "\n")
    section = markdown_table(rows, cfg)
    if cfg.markdown:
        target = Path(cfg.markdown)
        write_section(target if target.is_absolute() else project_root() / target, section)
    print(section)
    return rows


def main(argv: list[str]) -> int:
    if argv[:1] == ["--worker"]:
        return _worker(argv[1:])
    run(parse_args(DecodeBenchConfig, argv, prog="scotd bench decode", description=__doc__.split("\n\n")[0]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
