"""The native llama.cpp rows of `scotd bench decode --task` (bench/llama_native.py).

The binaries take ~20 minutes of two cores to build (scripts/build_llama_native.sh), so CI runs
without them: these tests cover finding them and a server that fails to start, a real executable that
exits on purpose. The rows themselves are measured in docs/BENCHMARKS.md with the built binaries.
"""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from bench.llama_native import SPEC_ARGS, TOOLS, NativeServer, instruction_set, native_bin, native_variants
from serve.core.errors import UserError


def _tool(folder: Path, name: str, script: str) -> Path:
    path = folder / name
    path.write_text("#!/bin/sh\n" + script)
    path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return path


def test_without_a_build_there_are_no_native_rows_and_the_log_says_how_to_build_them(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SCOTD_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("SCOTD_LLAMA_BIN", raising=False)
    assert native_bin() is None
    assert native_variants({"model": "m", "path": str(tmp_path / "m.gguf"), "precision": "q8_0"}, tmp_path) == []
    assert "bash scripts/build_llama_native.sh" in capsys.readouterr().err
    # a build in the cache for this CPU's instruction set is found
    folder = tmp_path / "cache" / "llama-native" / f"bin-{instruction_set()}"
    folder.mkdir(parents=True)
    for tool in TOOLS:
        _tool(folder, tool, "exit 0\n")
    assert native_bin() == folder


def test_a_named_folder_without_the_binaries_is_a_one_line_error(tmp_path, monkeypatch):
    _tool(tmp_path, "llama-server", "exit 0\n")
    monkeypatch.setenv("SCOTD_LLAMA_BIN", str(tmp_path))
    with pytest.raises(UserError, match="lacks llama-lookup-create.*build_llama_native.sh"):
        native_bin()


def test_every_row_of_a_model_without_rationales_but_the_static_cache(tmp_path, monkeypatch, capsys):
    for tool in TOOLS:
        _tool(tmp_path, tool, "exit 0\n")
    monkeypatch.setenv("SCOTD_LLAMA_BIN", str(tmp_path))
    rows = native_variants({"model": "m", "path": str(tmp_path / "m.gguf"), "precision": "q8_0"}, tmp_path)
    assert [r["backend"] for r in rows] == [b for b in SPEC_ARGS if "static" not in b]
    assert all(r["kind"] == "llama_native" and r["reference"] == "llama.cpp native" for r in rows)
    assert "names no training rationales" in capsys.readouterr().err


def test_without_the_python_binding_a_gguf_gives_the_native_rows_alone(tmp_path, monkeypatch, capsys):
    from bench.decode_task import task_variants

    for tool in TOOLS:
        _tool(tmp_path, tool, "exit 0\n")
    monkeypatch.setenv("SCOTD_LLAMA_BIN", str(tmp_path))
    q8 = {"model": "m", "kind": "llama_cpp", "backend": "llama.cpp", "precision": "q8_0", "path": str(tmp_path / "m.gguf")}
    q4 = {**q8, "precision": "q4_1"}
    carried = task_variants([{**q8, "gguf_only": True}, {**q4, "gguf_only": True}], tmp_path)
    assert carried and all(r["kind"] == "llama_native" and "gguf_only" not in r for r in carried)
    with_binding = task_variants([q8, q4], tmp_path)  # the binding's own rows come first, then the same native rows
    assert [r["backend"] for r in with_binding if r["kind"] == "llama_cpp"][:1] == ["llama.cpp"]
    assert [r for r in with_binding if r["kind"] == "llama_native"] == carried


def test_a_server_that_exits_at_start_is_reported_with_its_last_words(tmp_path):
    _tool(tmp_path, "llama-server", "echo 'error: failed to load model m.gguf' >&2\nexit 1\n")
    with pytest.raises(UserError, match=r"llama-server exited \(code 1\): error: failed to load model m.gguf"):
        NativeServer(tmp_path / "m.gguf", bin=str(tmp_path))


def test_a_server_killed_by_a_signal_is_started_again_with_its_weights_off_the_amx_kernels(tmp_path):
    """llama.cpp's AMX kernels crash in batched passes on some CPUs (the start-up warm-up is one): a start
    that dies by a signal is retried once with --no-repack; one that exits on its own is not."""
    calls = tmp_path / "calls"
    _tool(tmp_path, "llama-server", f'echo "$@" >> {calls}\nkill -SEGV $$\n')
    with pytest.raises(UserError, match=r"exited \(code -11\)"):
        NativeServer(tmp_path / "m.gguf", bin=str(tmp_path))
    first, second = calls.read_text().splitlines()
    assert "--no-repack" not in first and "--no-repack" in second
    calls.unlink()
    _tool(tmp_path, "llama-server", f'echo "$@" >> {calls}\nexit 2\n')
    with pytest.raises(UserError, match=r"exited \(code 2\)"):
        NativeServer(tmp_path / "m.gguf", bin=str(tmp_path))
    assert len(calls.read_text().splitlines()) == 1
