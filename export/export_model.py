"""``scotd export``: a Hugging Face student -> a self-contained, gated ONNX folder.

Recipe, top to bottom:
1. check the input folder (config, safetensors weights, tokenizer) and pick a backend
   (``BACKENDS``: the genai builder where it supports the architecture, else optimum);
2. build the ONNX model into the output folder and copy tokenizer, chat template and
   generation config next to it, so the folder runs with no other file;
3. gates against PyTorch fp32: greedy-token parity (exact for fp32/int8) and task
   accuracy (the gate for int4);
4. write ``export_report.json`` and the model card. A failing gate writes
   ``export_report.FAILED.json`` instead, keeps the artifacts, and fails the command.
"""

from __future__ import annotations

import importlib
import json
import shutil
import sys
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

from export import draft_source, gates
from export.model_card import write_model_card
from serve.core.config import build, option, parse_args, to_dict
from serve.core.errors import UserError
from serve.core.provenance import package_versions
from serve.core.student_format import STUDENT_INFO
from serve.store.export_folder import (DEFAULT_PRECISION, FAILED_REPORT_FILE, GGUF_ALIASES, GGUF_PRECISIONS,
                                      ONNX_PRECISIONS, REPORT_FILE, UNFINISHED_MARKER, export_folder_name)
from serve.store.registry import DEFAULT_MODEL, load_registry, resolve_model_dir

# name -> module with supported_architectures() and build(source, out, precision, block_size, accuracy_level)
BACKENDS: dict[str, str] = {
    "genai": "export.backend_genai",
    "optimum": "export.backend_optimum",
}
SELF_CONTAINED_FILES = ["tokenizer.json", "tokenizer_config.json", "chat_template.jinja", "special_tokens_map.json",
                        "generation_config.json", "config.json", STUDENT_INFO]
PACKAGES = ["scotd", "onnxruntime", "onnxruntime-genai", "onnx", "onnx-ir", "torch", "transformers", "tokenizers"]


@dataclass
class ExportConfig:
    """Export a Hugging Face causal LM to ONNX, quantize it, and gate it against PyTorch fp32."""
    model: str = option("", f"model folder or registry name ('': {DEFAULT_MODEL}; in a recipe, its student)",
                        aliases=("--in",))
    out: str = option("", "output folder (default: models/NAME/onnx-PRECISION, or <model_dir>-onnx-PRECISION)")
    format: Literal["onnx", "gguf"] = option("onnx", "onnx: for scotd's engines (ONNX Runtime); gguf: for llama.cpp, "
                                                     "Ollama, LM Studio (llama.cpp's converter; an Ollama Modelfile beside it)")
    precision: Literal[ONNX_PRECISIONS + GGUF_PRECISIONS] = option(
        DEFAULT_PRECISION, "onnx: int8 (default), fp32 (reference), int4 (smallest, accuracy-gated); gguf: q8_0 "
                           "(= int8), f32 (= fp32), f16, bf16, and with llama-cpp-python installed q4_k_m, q5_k_m, q6_k")
    backend: Literal["auto", "genai", "optimum"] = option("auto", "exporter; auto picks genai when it supports "
                                                                  "the architecture, else optimum")
    fallback: bool = option(True, "let --backend auto fall back to optimum for architectures genai lacks")
    block_size: int = option(32, "quantization block size (int8/int4)")
    accuracy_level: int = option(4, "MatMulNBits accuracy level (4: int8 activations inside the kernel)")
    force: bool = option(False, "replace an existing output folder")
    draft_store: str = option("auto", "rationales (a CoT JSONL) whose n-grams the engine drafts from when it decodes "
                                      "greedily: auto = the student's own training rationales (its scotd_student.json), "
                                      "'' = none")
    parity: gates.ParityGate = field(default_factory=gates.ParityGate)
    accuracy: gates.AccuracyGate = field(default_factory=gates.AccuracyGate)


def _log(message: str) -> None:
    print(f"[scotd export] {message}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- input checks

def check_model_folder(model_dir: Path) -> dict:
    """The folder's config.json, after checking it has what an export needs."""
    config_file = model_dir / "config.json"
    if not config_file.is_file():
        raise UserError(f"'{model_dir}' has no config.json; pass a Hugging Face model folder "
                        "(config.json + *.safetensors + tokenizer.json)")
    try:
        config = json.loads(config_file.read_text())
    except json.JSONDecodeError as exc:
        raise UserError(f"'{config_file}' is not valid JSON ({exc}); restore the file from the training run") from None
    if not any(model_dir.glob("*.safetensors")):
        pickles = [p.name for p in model_dir.glob("*.bin")]
        hint = (f" (it has {', '.join(pickles)}: scotd loads safetensors only; re-save with "
                "model.save_pretrained(dir, safe_serialization=True))" if pickles else "")
        raise UserError(f"'{model_dir}' has no weights: no *.safetensors file{hint}; "
                        "point --model at a trained student or a fetched model")
    if not (model_dir / "tokenizer.json").is_file():
        raise UserError(f"'{model_dir}' has no tokenizer (tokenizer.json); the export must ship one: save it with "
                        "tokenizer.save_pretrained(dir) into the model folder")
    if not config.get("architectures"):
        raise UserError(f"'{config_file}' names no architectures; expected e.g. \"architectures\": "
                        "[\"LlamaForCausalLM\"]")
    return config


def _backend(name: str):
    return importlib.import_module(BACKENDS[name])


def choose_backend(cfg: ExportConfig, architecture: str) -> str:
    if cfg.backend != "auto":
        if architecture not in _backend(cfg.backend).supported_architectures():
            raise UserError(f"backend '{cfg.backend}' does not support {architecture}; "
                            f"supported: {', '.join(sorted(_backend(cfg.backend).supported_architectures()))}")
        return cfg.backend
    if architecture in _backend("genai").supported_architectures():
        return "genai"
    if architecture in _backend("optimum").supported_architectures():
        if cfg.fallback:
            return "optimum"
        raise UserError(f"the genai builder does not support {architecture} and the optimum fallback is disabled; "
                        "pass --fallback true (or --backend optimum) to export it with optimum-onnx")
    failure = _backend("genai").BUILDER_FAILURES.get(architecture)
    if failure:
        raise UserError(f"onnxruntime-genai's builder cannot export {architecture}: {failure}; export it with "
                        "--format gguf instead (llama.cpp's converter takes it)")
    raise UserError(f"no ONNX export backend supports {architecture}; genai supports "
                    f"{', '.join(sorted(_backend('genai').supported_architectures()))}; optimum supports "
                    f"{', '.join(sorted(_backend('optimum').supported_architectures()))}; for llama.cpp-based "
                    "runtimes try --format gguf (llama.cpp's converter knows more families)")


def check_precision(fmt: str, precision: str) -> str:
    """``precision`` as ``fmt`` names it (an ONNX name given for GGUF becomes llama.cpp's: int8 -> q8_0);
    each format takes its own names, so a mixed one is refused saying which."""
    if fmt == "gguf":
        if precision == "int4":
            raise UserError("--format gguf has no 'int4'; llama.cpp's 4-bit type is --precision q4_k_m")
        return GGUF_ALIASES.get(precision, precision)
    if precision not in ONNX_PRECISIONS:
        raise UserError(f"--precision {precision} is a GGUF type; pass --format gguf, or one of "
                        f"{', '.join(ONNX_PRECISIONS)} for ONNX")
    return precision


def default_out(model: str, model_dir: Path, precision: str, fmt: str = "onnx") -> Path:
    folder = export_folder_name(precision, fmt)
    registry = load_registry()
    if model in registry:
        return registry[model].folder / folder
    return model_dir.parent / f"{model_dir.name}-{folder}"


def folder_mb(folder: Path, pattern: str = "*") -> float:
    return round(sum(p.stat().st_size for p in folder.glob(pattern) if p.is_file()) / 2**20, 1)


# --------------------------------------------------------------------------- recipe

def run(cfg: ExportConfig) -> Path:
    # the caller's config stays as given
    cfg = replace(cfg, model=cfg.model or DEFAULT_MODEL, precision=check_precision(cfg.format, cfg.precision))
    model_dir = resolve_model_dir(cfg.model)
    config = check_model_folder(model_dir)
    architecture = config["architectures"][0]
    backend = choose_backend(cfg, architecture) if cfg.format == "onnx" else "llama.cpp"
    draft_rationales = draft_source.resolve(cfg.draft_store, model_dir) if cfg.format == "onnx" else None
    out = Path(cfg.out) if cfg.out else default_out(cfg.model, model_dir, cfg.precision, cfg.format)
    if out.exists() and any(out.iterdir()):
        if (out / UNFINISHED_MARKER).exists():
            _log(f"replacing the unfinished export in {out}")
        elif not cfg.force:
            raise UserError(f"'{out}' already exists; pass --force true to replace it, or --out another folder")
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / UNFINISHED_MARKER).write_text("scotd export started here and has not passed yet\n")
    if cfg.format == "gguf":
        from export import gguf_export

        gguf_export.run(cfg, model_dir, architecture, out)
        (out / UNFINISHED_MARKER).unlink()
        return out
    _log(f"{architecture} -> backend '{backend}'" + (" (picked by --backend auto)" if cfg.backend == "auto" else ""))

    _log(f"building {cfg.precision} ONNX model into {out} (log: {out / 'build.log'})")
    started = time.time()
    build = _backend(backend).build(model_dir, out, cfg.precision, cfg.block_size, cfg.accuracy_level)
    for name in SELF_CONTAINED_FILES:
        if (model_dir / name).is_file():
            shutil.copy2(model_dir / name, out / name)
    export_seconds = round(time.time() - started, 1)
    _log(f"built in {export_seconds} s: {folder_mb(out)} MB")

    report = {"model": cfg.model, "source_dir": str(model_dir.resolve()), "architecture": architecture,
              "backend": backend, "precision": cfg.precision, "build": build,
              "export_seconds": export_seconds,
              "size_mb": {"export": folder_mb(out), "source_safetensors": folder_mb(model_dir, "*.safetensors")},
              "versions": {k: v for k, v in package_versions(PACKAGES).items() if v is not None}, "config": to_dict(cfg), "gates": {}}
    if draft_rationales:
        report["draft_store"] = draft_source.write(draft_rationales, out)
    report["size_mb"]["ratio"] = round(report["size_mb"]["export"] / max(report["size_mb"]["source_safetensors"], 1e-9), 3)
    failures = run_gates(cfg, model_dir, out, report)
    report["passed"] = not failures
    report["failures"] = failures
    report["created"] = time.strftime("%Y-%m-%dT%H:%M:%S")
    name = REPORT_FILE if not failures else FAILED_REPORT_FILE
    (out / name).write_text(json.dumps(report, indent=2) + "\n")
    write_model_card(out, report)
    if failures:
        raise UserError(f"export gate failed: {'; '.join(failures)}; artifacts kept for inspection in {out} "
                        f"(report: {out / name})")
    (out / UNFINISHED_MARKER).unlink()
    _log(f"passed; report: {out / name}")
    return out


def export_default_model() -> Path:
    """The default model's int8 export, for a serving verb's first use (installed by serve.cli.verbs)."""
    return run(build(ExportConfig, {"model": DEFAULT_MODEL, "precision": DEFAULT_PRECISION}))


def run_gates(cfg: ExportConfig, model_dir: Path, out: Path, report: dict) -> list[str]:
    """Run the enabled gates, record them in ``report``, return the failures as sentences."""
    if not (cfg.parity.enabled or cfg.accuracy.enabled):
        return []
    from serve.engines.onnx_engine import OnnxEngine

    # The parity gate checks the weights, by plain greedy; the default greedy's speculation is a decoding
    # choice whose agreement with plain greedy is recorded beside it (gates.speculation_agreement).
    speculating = OnnxEngine(out)
    engine = speculating.with_draft_tokens(0)
    failures = []
    loaded: list = []

    def reference():  # loaded once, and not at all when parity is off and the accuracy run is cached
        if not loaded:
            loaded.append(gates.load_reference(model_dir))
        return loaded[0]

    if cfg.parity.enabled:
        started = time.time()
        margin = 0.0 if cfg.precision == "fp32" else cfg.parity.tie_margin
        plain_outputs: list[list[int]] = []
        parity = gates.run_parity(reference(), engine, cfg.parity, tie_margin=margin, outputs=plain_outputs)
        parity["seconds"] = round(time.time() - started, 1)
        parity["required_exact"] = cfg.precision in cfg.parity.exact_for
        report["gates"]["parity"] = parity
        _log(f"parity: {parity['tokens_matched']}/{parity['tokens_compared']} greedy tokens match PyTorch fp32 "
             f"({parity['exact_prompts']}/{parity['prompts']} prompts exact, {parity['near_tie_prompts']} part "
             f"at a near-tie <= {margin} logits)")
        if parity["required_exact"] and not parity["passed"]:
            gaps = [r["divergence_gap"] for r in parity["per_prompt"] if not (r["exact"] or r["near_tie"])]
            what = "the tokenizers disagree" if not parity["tokenizer_match"] else \
                f"{parity['tokens_matched']}/{parity['tokens_compared']} greedy tokens match and it parts from " \
                f"PyTorch where fp32 prefers its token by {max(gaps)} logits (> {margin})"
            failures.append(f"{cfg.precision} must match PyTorch fp32 token for token but {what}")
        if getattr(speculating.decoder, "speculates", False):
            agreement = gates.speculation_agreement(reference(), plain_outputs, speculating, cfg.parity)
            report["gates"]["speculation"] = agreement
            gaps = [r["fp32_gap"] for r in agreement["per_prompt"] if r["fp32_gap"] is not None]
            _log(f"speculative greedy (the engine's default) keeps plain greedy's tokens on "
                 f"{agreement['same_prompts']}/{agreement['prompts']} prompts"
                 + (f"; where it parts, PyTorch fp32 scores the two tokens {min(map(abs, gaps))}-"
                    f"{max(map(abs, gaps))} logits apart" if gaps else ""))
    if cfg.accuracy.enabled:
        accuracy = gates.run_accuracy(model_dir, reference, engine, cfg.accuracy)
        report["gates"]["accuracy"] = accuracy
        if accuracy["reference_accuracy"] is None:
            _log(f"accuracy on {accuracy['task']} ({accuracy['examples']} examples): export "
                 f"{accuracy['export_accuracy']}%; PyTorch fp32 reference not decoded ({accuracy['reference_skipped']}; "
                 "--accuracy.reference always decodes it)")
        else:
            _log(f"accuracy on {accuracy['task']} ({accuracy['examples']} examples): PyTorch fp32 "
                 f"{accuracy['reference_accuracy']}%, export {accuracy['export_accuracy']}% "
                 f"(drop {accuracy['drop_points']} points, limit {cfg.accuracy.max_drop_points}; answers lost/gained "
                 f"{accuracy['answers_lost']}/{accuracy['answers_gained']}, sign test p={accuracy['sign_test_p']})")
        if accuracy["reference_accuracy"] is not None and \
                gates.gate_fails(accuracy["drop_points"], accuracy["sign_test_p"], cfg.accuracy):
            advice = "; use --precision int8, which keeps greedy parity" if cfg.precision == "int4" else ""
            failures.append(f"{cfg.precision} loses {accuracy['drop_points']} accuracy points on {accuracy['task']} "
                            f"(limit {cfg.accuracy.max_drop_points}; {accuracy['answers_lost']} answers lost, "
                            f"{accuracy['answers_gained']} gained, sign test p={accuracy['sign_test_p']}){advice}")
    engine.close()
    speculating.close()
    return failures


def main(argv: list[str]) -> int:
    cfg = parse_args(ExportConfig, argv, prog="scotd export", description=__doc__.split("\n\n")[0])
    run(cfg)
    return 0
