"""``scotd export --format gguf``: a Hugging Face student -> a GGUF file for llama.cpp, Ollama, LM Studio.

The conversion is llama.cpp's own ``convert_hf_to_gguf.py``, taken from the llama.cpp that the
llama-cpp-python source archive vendors (downloaded once from PyPI with ``pip download
--no-binary``, cached, never installed). It writes f32, f16, bf16 and q8_0 by itself; k-quants
(q4_k_m, q5_k_m, q6_k) need llama.cpp's quantizer, which scotd calls through llama-cpp-python
when that is installed. Beside the ``.gguf`` go an Ollama ``Modelfile`` (template and stop
tokens), a report and a model card. With llama-cpp-python installed, a parity gate compares
llama.cpp's greedy tokens with PyTorch fp32's, with the ONNX export's near-tie rule.
The serve engines stay ONNX and PyTorch: GGUF is for other runtimes.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path
from typing import Any, Iterator, Optional, Sequence

from serve.core.downloads import PipDownloadFailed, pip_download
from serve.core.errors import UserError
from serve.core.paths import cache_dir
from serve.core.provenance import package_versions
from serve.store.export_folder import GGUF_CONVERTER_TYPES, GGUF_REPORT_FILE

LLAMA_CPP_PYTHON = "llama-cpp-python==0.3.36"  # its sdist vendors the llama.cpp whose converter we run
PACKAGES = ["scotd", "torch", "transformers", "sentencepiece", "llama-cpp-python"]
_VENDOR_PARTS = ("convert_hf_to_gguf.py", "conversion/", "gguf-py/")


def _log(message: str) -> None:
    print(f"[scotd export gguf] {message}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- the converter

def converter_dir() -> Path:
    """llama.cpp's converter and its gguf-py, extracted once from the llama-cpp-python sdist."""
    version = LLAMA_CPP_PYTHON.split("==")[1]
    root = cache_dir() / "llama-cpp" / version
    if (root / "convert_hf_to_gguf.py").is_file():
        return root
    archives = sorted((cache_dir() / "llama-cpp").glob(f"llama_cpp_python-{version}.tar.gz"))
    if not archives:
        _log(f"downloading the {LLAMA_CPP_PYTHON} source archive for llama.cpp's converter (once, ~75 MB)")
        try:
            pip_download(LLAMA_CPP_PYTHON, cache_dir() / "llama-cpp", sdist=True)
        except PipDownloadFailed as exc:
            raise UserError(f"cannot download {LLAMA_CPP_PYTHON} from PyPI ({exc}); GGUF export needs llama.cpp's "
                            "converter from it: check the network or pip's index settings") from None
        archives = sorted((cache_dir() / "llama-cpp").glob(f"llama_cpp_python-{version}.tar.gz"))
    staging = root.with_name(root.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    prefix = f"llama_cpp_python-{version}/vendor/llama.cpp/"
    with tarfile.open(archives[0]) as archive:
        for member in archive.getmembers():
            inner = member.name[len(prefix):] if member.name.startswith(prefix) else None
            if inner and member.isfile() and inner.startswith(_VENDOR_PARTS):
                member.name = inner
                archive.extract(member, staging, filter="data")
    staging.rename(root)
    return root


def special_tokens_added(model_dir: Path) -> dict[str, bool]:
    """Whether the HF tokenizer (what PyTorch and the ONNX engine encode with) adds BOS and EOS itself."""
    from tokenizers import Tokenizer

    tokenizer_file = model_dir / "tokenizer.json"
    if not tokenizer_file.is_file():
        return {}
    config = json.loads((model_dir / "tokenizer_config.json").read_text()) \
        if (model_dir / "tokenizer_config.json").is_file() else {}
    tokenizer = Tokenizer.from_file(str(tokenizer_file))
    plain, special = (tokenizer.encode("a", add_special_tokens=flag).ids for flag in (False, True))
    added = {}
    for kind, position in (("bos", 0), ("eos", -1)):
        token = config.get(f"{kind}_token")
        token = token.get("content") if isinstance(token, dict) else token
        token_id = tokenizer.token_to_id(token) if token else None
        added[kind] = token_id is not None and len(special) > len(plain) and special[position] == token_id
    return added


def converter_input(model_dir: Path, scratch: Path) -> Path:
    """``model_dir``, or a linked copy whose tokenizer_config.json states ``add_bos_token`` and
    ``add_eos_token`` as the HF tokenizer behaves: where the config leaves them out, llama.cpp's
    converter falls back to its own per-vocabulary default (a SentencePiece Llama: add BOS), and
    llama.cpp would then encode prompts with a token PyTorch never saw."""
    config_file = model_dir / "tokenizer_config.json"
    config = json.loads(config_file.read_text()) if config_file.is_file() else {}
    added = special_tokens_added(model_dir)
    if all(config.get(f"add_{kind}_token") == value for kind, value in added.items()):
        return model_dir
    staged = scratch / model_dir.name
    staged.mkdir(parents=True, exist_ok=True)
    for item in model_dir.iterdir():
        if item.name != config_file.name:
            (staged / item.name).symlink_to(item.resolve())
    config.update({f"add_{kind}_token": value for kind, value in added.items()})
    (staged / config_file.name).write_text(json.dumps(config, indent=2))
    return staged


def convert(model_dir: Path, out_file: Path, outtype: str, log: Path) -> None:
    with tempfile.TemporaryDirectory(prefix="scotd-gguf-") as scratch:
        _convert(converter_input(model_dir, Path(scratch)), out_file, outtype, log)


def _convert(model_dir: Path, out_file: Path, outtype: str, log: Path) -> None:
    converter = converter_dir()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(converter / "gguf-py"), os.environ.get("PYTHONPATH", "")])}
    # the converter runs in its own folder: every path it gets is absolute
    command = [sys.executable, str(converter / "convert_hf_to_gguf.py"), str(model_dir.resolve()),
               "--outfile", str(out_file.resolve()), "--outtype", outtype]
    with log.open("a") as handle:
        result = subprocess.run(command, env=env, stdout=handle, stderr=subprocess.STDOUT, cwd=converter)
    if result.returncode != 0:
        lines = [line for line in log.read_text(errors="replace").splitlines() if line.strip()]
        last = lines[-1] if lines else "no output"
        hint = " (pip install sentencepiece)" if "sentencepiece" in last else ""
        raise UserError(f"llama.cpp's converter failed on {model_dir}: {last}{hint}; full log: {log}")


def require_quantizer(precision: str):
    try:
        import llama_cpp
    except ImportError:
        raise UserError(f"--precision {precision} needs llama.cpp's quantizer, which scotd reaches through "
                        "llama-cpp-python (not installed; PyPI has no wheel: pip install llama-cpp-python builds it, "
                        f"~30 min on 2 cores); without it use one of {', '.join(GGUF_CONVERTER_TYPES)}") from None
    return llama_cpp


def llama_ftype(precision: str) -> str:
    """llama-cpp-python's name for a k-quant's file type: q4_k_m -> LLAMA_FTYPE_MOSTLY_Q4_K_M."""
    return f"LLAMA_FTYPE_MOSTLY_{precision.upper()}"


def quantize(source: Path, target: Path, precision: str) -> None:
    llama_cpp = require_quantizer(precision)
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = getattr(llama_cpp, llama_ftype(precision))
    code = llama_cpp.llama_model_quantize(str(source).encode(), str(target).encode(), params)
    if code != 0:
        raise UserError(f"llama.cpp's quantizer returned {code} for {precision}; see its output above")


# --------------------------------------------------------------------------- Ollama

# Chat formats Ollama's Go templates can express, recognised by the Jinja template's markers.
OLLAMA_FORMATS = {
    "<|im_start|>": ('{{- range .Messages }}<|im_start|>{{ .Role }}\n{{ .Content }}<|im_end|>\n{{ end }}'
                     '<|im_start|>assistant\n', ["<|im_end|>"]),
    "<|start_header_id|>": ('<|begin_of_text|>{{- range .Messages }}<|start_header_id|>{{ .Role }}<|end_header_id|>\n\n'
                            '{{ .Content }}<|eot_id|>{{ end }}<|start_header_id|>assistant<|end_header_id|>\n\n',
                            ["<|eot_id|>"]),
    "<start_of_turn>": ('{{- range .Messages }}<start_of_turn>{{ if eq .Role "assistant" }}model{{ else }}'
                        '{{ .Role }}{{ end }}\n{{ .Content }}<end_of_turn>\n{{ end }}<start_of_turn>model\n',
                        ["<end_of_turn>"]),
}


def chat_template_text(model_dir: Path) -> str:
    jinja = model_dir / "chat_template.jinja"
    if jinja.is_file():
        return jinja.read_text()
    config = model_dir / "tokenizer_config.json"
    return str(json.loads(config.read_text()).get("chat_template") or "") if config.is_file() else ""


def modelfile(model_dir: Path, gguf_name: str) -> str:
    """An Ollama Modelfile: the file, the chat template as a Go template, stop tokens, greedy decoding."""
    template = chat_template_text(model_dir)
    lines = [f"FROM ./{gguf_name}", ""]
    for marker, (go_template, stops) in OLLAMA_FORMATS.items():
        if marker in template:
            lines += [f'TEMPLATE """{go_template}"""'] + [f'PARAMETER stop "{s}"' for s in stops]
            break
    else:
        lines += ["# chat template: none of the formats scotd writes for Ollama; Ollama falls back to the",
                  "# template stored in the GGUF (tokenizer.chat_template) where it recognises it"]
    lines += ["PARAMETER temperature 0", 'SYSTEM ""', ""]
    return "\n".join(lines)


# --------------------------------------------------------------------------- parity gate

class LlamaCppTokens:
    """llama.cpp (through llama-cpp-python): prompt encoding and greedy token ids."""

    def __init__(self, gguf: Path, n_batch: int = 512):
        import llama_cpp

        self.llm = llama_cpp.Llama(str(gguf), n_ctx=2048, n_threads=os.cpu_count() or 1, n_batch=n_batch,
                                   n_ubatch=n_batch, verbose=False)

    def encode(self, prompt: str) -> list[int]:
        return self.llm.tokenize(prompt.encode(), add_bos=True, special=True)

    def greedy(self, prompt_ids: Sequence[int], max_new_tokens: int) -> list[int]:
        from export.decode_streams import llama_cpp_greedy

        return list(llama_cpp_greedy(self.llm, prompt_ids, max_new_tokens))


class ReplayedTokens:
    """What llama.cpp answered in its own process, replayed to the parity gate as an engine."""

    def __init__(self, replies: list[dict]):
        self.encoded = {r["prompt"]: r["encoded"] for r in replies}
        self.generated = {tuple(r["ids"]): r["generated"] for r in replies}

    def encode(self, prompt: str) -> list[int]:
        return self.encoded[prompt]

    def token_ids(self, prompt_ids: Sequence[int], sampling) -> Iterator[int]:
        return iter(self.generated[tuple(prompt_ids)][:sampling.max_new_tokens])


def _llama_cpp_worker() -> None:
    job = json.loads(sys.stdin.read())
    llm = LlamaCppTokens(Path(job["gguf"]), job["n_batch"])
    replies = [{**item, "encoded": llm.encode(item["prompt"]), "generated": llm.greedy(item["ids"], job["tokens"])}
               for item in job["items"]]
    print(json.dumps(replies))


def llama_cpp_replies(gguf: Path, items: list[dict], tokens: int) -> tuple[list[dict], str]:
    """Run llama.cpp in a fresh process, as llama.cpp's own tools would: beside a PyTorch model in the
    same process its decode has crashed, and a gate must fail, not crash. Where llama.cpp's batched
    prompt pass crashes (its AMX kernels do on this machine's Xeon with llama-cpp-python 0.3.36), the
    prompt is fed one token at a time; the returned note says so."""
    def attempt(n_batch: int) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "export.gguf_export", "--llama-cpp-worker"], capture_output=True,
                              text=True, input=json.dumps({"gguf": str(gguf.resolve()), "items": items, "tokens": tokens,
                                                           "n_batch": n_batch}),
                              cwd=str(Path(__file__).resolve().parent.parent))
    note, result = "", attempt(512)
    if result.returncode < 0:  # killed by a signal: a crash inside llama.cpp
        note = (f"llama.cpp's batched prompt pass crashed (signal {-result.returncode}); prompts were fed one "
                "token at a time")
        _log(f"note: {note}")
        result = attempt(1)
    if result.returncode != 0:
        tail = (result.stderr.strip().splitlines() or ["no output"])[-1]
        raise UserError(f"llama.cpp could not run {gguf.name} (exit {result.returncode}: {tail[:300]}); "
                        "check the llama-cpp-python install, or export with --parity.enabled false")
    return json.loads(result.stdout.strip().splitlines()[-1]), note


def parity_gate(model_dir: Path, gguf: Path, precision: str, parity_cfg) -> Optional[dict[str, Any]]:
    """The ONNX parity gate's comparison, against llama.cpp; None when llama-cpp-python is absent."""
    import importlib.util

    if importlib.util.find_spec("llama_cpp") is None:
        return None
    from export import gates

    started = time.time()
    margin = 0.0 if precision == "f32" else parity_cfg.tie_margin
    model, tokenizer = reference = gates.load_reference(model_dir)
    items = [{"prompt": prompt, "ids": gates.encode_prompt(tokenizer, prompt)}
             for prompt in gates.parity_prompts(tokenizer, parity_cfg.prompts)]
    replies, note = llama_cpp_replies(gguf, items, parity_cfg.tokens)
    result = gates.run_parity(reference, ReplayedTokens(replies), parity_cfg, tie_margin=margin)
    if note:
        result["note"] = note
    result["seconds"] = round(time.time() - started, 1)
    return result


# --------------------------------------------------------------------------- recipe

def run(cfg, model_dir: Path, architecture: str, out: Path) -> Path:
    """Convert (and quantize), write the Modelfile, gate, report. ``cfg`` is an ExportConfig."""
    stem = model_dir.parent.name if model_dir.name == "hf" else model_dir.name  # models/NAME/hf -> NAME
    precision, name = cfg.precision, f"{stem}-{cfg.precision}.gguf"
    log = out / "build.log"
    started = time.time()
    if precision in GGUF_CONVERTER_TYPES:
        _log(f"converting {model_dir} to {precision} with llama.cpp's converter (log: {log})")
        convert(model_dir, out / name, precision, log)
    else:
        require_quantizer(precision)  # before minutes of conversion, not after
        staged = out / f"{model_dir.name}-f16.gguf.partial"
        _log(f"converting {model_dir} to f16, then quantizing to {precision} (log: {log})")
        convert(model_dir, staged, "f16", log)
        quantize(staged, out / name, precision)
        staged.unlink()
    seconds = round(time.time() - started, 1)
    (out / "Modelfile").write_text(modelfile(model_dir, name))
    size_mb = round((out / name).stat().st_size / 2**20, 1)
    source_mb = round(sum(p.stat().st_size for p in model_dir.glob("*.safetensors")) / 2**20, 1)
    _log(f"wrote {out / name} ({size_mb} MB) in {seconds} s and an Ollama Modelfile")
    report: dict[str, Any] = {
        "model": cfg.model, "source_dir": str(model_dir.resolve()), "architecture": architecture, "format": "gguf",
        "precision": precision, "file": name, "export_seconds": seconds,
        "size_mb": {"export": size_mb, "source_safetensors": source_mb, "ratio": round(size_mb / max(source_mb, 1e-9), 3)},
        "converter": f"llama.cpp convert_hf_to_gguf.py from {LLAMA_CPP_PYTHON}",
        "versions": {k: v for k, v in package_versions(PACKAGES).items() if v is not None}, "gates": {}}
    failures = []
    parity = parity_gate(model_dir, out / name, precision, cfg.parity) if cfg.parity.enabled else None
    if parity is None:
        report["gates"]["parity"] = "skipped: llama-cpp-python is not installed (pip install llama-cpp-python)" \
            if cfg.parity.enabled else "disabled"
        _log(f"parity gate: {report['gates']['parity']}")
    else:
        report["gates"]["parity"] = parity
        _log(f"parity: {parity['tokens_matched']}/{parity['tokens_compared']} greedy tokens match PyTorch fp32 "
             f"({parity['exact_prompts']}/{parity['prompts']} prompts exact, {parity['near_tie_prompts']} part at a near-tie)")
        if not parity["passed"]:
            failures.append(f"{precision} GGUF parts from PyTorch fp32 beyond a near-tie on "
                            f"{parity['prompts'] - parity['exact_prompts'] - parity['near_tie_prompts']} prompt(s)")
    report.update(passed=not failures, failures=failures, created=time.strftime("%Y-%m-%dT%H:%M:%S"))
    (out / GGUF_REPORT_FILE).write_text(json.dumps(report, indent=2) + "\n")
    (out / "README.md").write_text(model_card(report))
    if failures:
        raise UserError(f"GGUF gate failed: {'; '.join(failures)}; artifacts kept in {out}")
    return out


def model_card(report: dict) -> str:
    parity = report["gates"]["parity"]
    checks = parity if isinstance(parity, str) else (
        f"greedy parity with PyTorch fp32 through llama.cpp: {parity['tokens_matched']}/{parity['tokens_compared']} "
        f"tokens, {parity['exact_prompts']}/{parity['prompts']} prompts exact, {parity['near_tie_prompts']} parting "
        f"at a near-tie ({'passed' if parity['passed'] else 'FAILED'})")
    return "\n".join([
        f"# {report['model']} — GGUF {report['precision']}", "",
        f"A GGUF file of `{report['model']}` ({report['architecture']}) for llama.cpp, Ollama and LM Studio, written "
        f"by {report['converter']}.", "",
        f"- File: `{report['file']}`, {report['size_mb']['export']} MB ({report['size_mb']['ratio']:.0%} of the "
        f"{report['size_mb']['source_safetensors']} MB fp32 safetensors); conversion took {report['export_seconds']} s",
        f"- Check: {checks}", "",
        "## Run it", "```bash",
        f"llama-cli -m {report['file']} -cnv            # llama.cpp",
        f"ollama create {Path(report['model']).name.lower()} -f Modelfile && ollama run {Path(report['model']).name.lower()}",
        "```", ""])


if __name__ == "__main__" and sys.argv[1:] == ["--llama-cpp-worker"]:
    _llama_cpp_worker()
