"""A built wheel installs and works outside the checkout: registry, prompts and solvers travel with it.

The wheel goes into a virtual environment that sees the system's site-packages (torch and the
rest need no reinstall) and ``scotd`` runs from a folder outside the checkout, so any file the
code still reads from the source tree, or a package left out of the wheel, fails here.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.slow


def source_files() -> list[str]:
    """The checkout's tracked and untracked-but-not-ignored files (never build/, models/ weights, runs/)."""
    listed = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=REPO,
                            capture_output=True, text=True, check=True).stdout.splitlines()
    return [name for name in listed if (REPO / name).is_file()]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    # Built from a copy: an in-tree build/ folder left by an earlier build could carry stale modules.
    src = tmp_path_factory.mktemp("src")
    for name in source_files():
        (src / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / name, src / name)
    dist = tmp_path_factory.mktemp("dist")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                    "-w", str(dist), str(src)], check=True, capture_output=True, text=True)
    return next(dist.glob("scotd-*.whl"))


@pytest.fixture(scope="module")
def venv(wheel, tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("venv")
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", str(root)], check=True)
    # --ignore-installed: the system may hold an (editable) scotd of its own; never touch it.
    subprocess.run([str(root / "bin" / "python"), "-m", "pip", "install", "-q", "--no-deps", "--ignore-installed",
                    "--disable-pip-version-check", str(wheel)], check=True, capture_output=True, text=True)
    return root


def test_the_wheel_holds_solvers_registry_and_prompts(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    solvers = {f"distill/solvers/{p.name}" for p in (REPO / "distill" / "solvers").glob("*.py")}
    prompts = {f"distill/prompts/{p.name}" for p in (REPO / "distill" / "prompts").glob("*.yaml")}
    assert solvers and prompts
    assert solvers | prompts | {"serve/store/registry.yaml", "serve/cli/verbs.py", "export/optimum_worker.py"} <= names
    assert not any(name.startswith("tests/") for name in names)


def test_installed_scotd_runs_outside_the_checkout(venv, tmp_path, tiny_llama_dir):
    work = tmp_path / "elsewhere"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "SCOTD_HOME", "VIRTUAL_ENV")}
    env.update(HF_HUB_OFFLINE="1", XDG_DATA_HOME=str(tmp_path / "data"), PATH=f"{venv / 'bin'}:{env['PATH']}")

    def scotd(*args: str) -> subprocess.CompletedProcess:
        result = subprocess.run([str(venv / "bin" / "scotd"), *args], cwd=work, env=env, capture_output=True,
                                text=True, timeout=900)
        assert result.returncode == 0, f"scotd {' '.join(args)}:\n{result.stdout}\n{result.stderr}"
        return result

    where = subprocess.run([str(venv / "bin" / "python"), "-c",
                            "import serve, serve.core.paths as p; print(serve.__file__); print(p.models_dir())"],
                           cwd=work, env=env, capture_output=True, text=True, check=True).stdout.splitlines()
    assert Path(where[0]).is_relative_to(venv), f"serve imported from {where[0]}, not the installed wheel"
    assert Path(where[1]) == tmp_path / "data" / "scotd" / "models"  # fetched models go to the user data folder

    assert "smollm2-135m-instruct" in scotd("models", "list").stdout

    cots = work / "cots.jsonl"
    scotd("sample", "--data.source", "gen:tracking_shuffled_objects/three_objects", "--data.limit", "3",
          "--teacher.backend", "program", "--sampling.n", "2", "--out", str(cots))
    records = [json.loads(line) for line in cots.read_text().splitlines()]
    assert len(records) == 6 and all(r["correct"] for r in records)

    scotd("eval", str(tiny_llama_dir), "--data.source", "gen:tracking_shuffled_objects/three_objects",
          "--data.limit", "2", "--prompt", "few_shot", "--sampling.max_new_tokens", "8", "--bootstrap", "10",
          "--out", str(work / "eval"))
    assert any((work / "eval").iterdir())
