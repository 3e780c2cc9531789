"""llama.cpp's own binaries as rows of ``scotd bench decode --task`` (issue #27).

A llama.cpp user runs the native binaries, not the Python binding, and llama.cpp ships n-gram
speculation that needs no draft model: a *static* n-gram cache built from any text
(``llama-lookup-create``), which is the draft store's own idea, and several dynamic modes that draft
from the context (``--spec-type ngram-*``). Each row here is one ``llama-server`` process (one slot,
every core, greedy) answering the same prompt ids as the ONNX rows, streamed and timed the same way:

- ``llama.cpp native``: plain decoding, the reference of the rows below for "same tokens";
- ``+ static lookup cache``: ``--spec-type ngram-cache -lcs`` over a cache that ``llama-lookup-create``
  builds from the rationales the student's draft store is built from (``export.draft_source``);
- ``+ ngram-simple`` / ``+ ngram-map-k`` / ``+ ngram-mod``: each dynamic mode at its defaults.

The binaries come from ``scripts/build_llama_native.sh`` (cached per instruction set, never a default
dependency) or from ``SCOTD_LLAMA_BIN``; without them the rows are left out with a log line. Where
llama.cpp's AMX matrix kernels crash (a batched pass on the 2-core Xeon of this project's machines, the
same crash the Python binding meets), a tool is rerun with ``--no-repack``, which keeps the weights off the
AMX buffer type, and the row says so.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Iterator, Optional, Sequence

from bench.harness import log
from serve.core.errors import UserError
from serve.core.paths import cache_dir
from serve.core.provenance import cpu_flags

TOOLS = ("llama-server", "llama-lookup-create")
NO_REPACK = "--no-repack"  # keeps weights off the extra (AMX) buffer types whose kernels crash on some CPUs
PLAIN = "llama.cpp native"
STATIC = "llama.cpp native + static lookup cache"
SPEC_ARGS: dict[str, list[str]] = {  # row -> llama-server flags; the static cache's path is added per model
    PLAIN: [],
    STATIC: ["--spec-type", "ngram-cache"],
    "llama.cpp native + ngram-simple": ["--spec-type", "ngram-simple"],
    "llama.cpp native + ngram-map-k": ["--spec-type", "ngram-map-k"],
    "llama.cpp native + ngram-mod": ["--spec-type", "ngram-mod"],
}


def instruction_set() -> str:
    """The name scripts/build_llama_native.sh gives this CPU's build (GGML_NATIVE tunes it to the CPU)."""
    flags = cpu_flags()
    return next((isa for isa in ("amx_bf16", "avx512_bf16", "avx512f", "avx2") if isa in flags), "generic")


def native_bin() -> Optional[Path]:
    """The folder holding llama.cpp's binaries for this CPU, or None when they are not built."""
    named = os.environ.get("SCOTD_LLAMA_BIN")
    folder = Path(named) if named else cache_dir() / "llama-native" / f"bin-{instruction_set()}"
    missing = [tool for tool in TOOLS if not (folder / tool).is_file()]
    if named and missing:
        raise UserError(f"SCOTD_LLAMA_BIN={named} lacks {', '.join(missing)}; build them with "
                        "bash scripts/build_llama_native.sh, or unset SCOTD_LLAMA_BIN")
    return None if missing else folder


def static_cache(folder: Path, gguf: Path, rationales: Path) -> Path:
    """llama-lookup-create's n-gram cache over the training rationales, built once per (GGUF, rationales)."""
    from export.draft_source import training_targets

    key = hashlib.sha256(f"{gguf.resolve()}:{gguf.stat().st_size}:{rationales.resolve()}:"
                         f"{rationales.stat().st_mtime_ns}".encode()).hexdigest()[:16]
    out = cache_dir() / "llama-native" / f"lookup-{key}.bin"
    if out.is_file():
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", suffix=".txt", encoding="utf-8", delete=False) as text:
        text.write("\n\n".join(training_targets(rationales)))
    try:
        partial = out.with_suffix(".partial")
        command = [str(folder / "llama-lookup-create"), "-m", str(gguf), "-f", text.name, "-lcs", str(partial)]
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode < 0:  # killed by a signal: the AMX kernels' crash
            done = subprocess.run([*command, NO_REPACK], capture_output=True, text=True)
        if done.returncode != 0 or not partial.is_file():
            tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
            raise UserError(f"llama-lookup-create failed (exit {done.returncode}): {tail[0][:300]}")
        partial.replace(out)
    finally:
        Path(text.name).unlink(missing_ok=True)
    return out


def native_variants(variant: dict, hf_dir: Path) -> list[dict]:
    """The native rows for a model's Q8_0 GGUF (``variant``), or none when the binaries are not built."""
    from export.draft_source import resolve

    folder = native_bin()
    if folder is None:
        log(f"task: no native llama.cpp rows: build them with bash scripts/build_llama_native.sh "
            f"(looked in {cache_dir() / 'llama-native' / ('bin-' + instruction_set())})")
        return []
    rationales = resolve("auto", hf_dir)
    rows = []
    for backend, args in SPEC_ARGS.items():
        if backend == STATIC:
            if rationales is None:
                log(f"task: no '{STATIC}' row: {hf_dir} names no training rationales")
                continue
            args = [*args, "-lcs", str(static_cache(folder, Path(variant["path"]), rationales))]
        rows.append({**variant, "kind": "llama_native", "backend": backend, "reference": PLAIN,
                     "options": {"bin": str(folder), "server_args": args}})
    return rows


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class NativeServer:
    """One llama-server process for one GGUF and one speculation setting; a token stream over its
    ``/completion`` endpoint (the bench's ``Stream`` protocol) with the draft counts of the last call."""

    def __init__(self, path: Path, bin: str, server_args: Sequence[str] = (), context: int = 4096):
        from export.decode_streams import llama_cpp_threads

        threads = str(llama_cpp_threads())
        self.command = [str(Path(bin) / "llama-server"), "-m", str(path), "--host", "127.0.0.1", "-t", threads,
                        "-tb", threads, "-c", str(context), "-np", "1", "--no-webui", *server_args]
        self.speculative_stats: Optional[dict] = None
        self.note = ""
        try:  # the start's warm-up and a 4-token prompt are batched passes: where the AMX kernels crash, here
            self._start(self.command)
            list(self([1, 2, 3, 4], 2, True))
        except (UserError, urllib.error.URLError, ConnectionError, OSError):
            if self.process.poll() is None or self.process.returncode >= 0:
                raise  # alive, or ended on its own: not the crash this works around
            self.note = "weights kept off llama.cpp's AMX kernels (--no-repack): they crashed here"
            self._start([*self.command, NO_REPACK])

    def _start(self, command: list[str]) -> None:
        self.port = _free_port()
        self.log = tempfile.TemporaryFile("w+")  # a file, not a pipe: a pipe nobody reads fills and stalls the server
        self.process = subprocess.Popen([*command, "--port", str(self.port)], stdout=subprocess.DEVNULL,
                                        stderr=self.log, text=True)
        self._wait_ready()

    def _wait_ready(self, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self.log.seek(0)
                tail = self.log.read().strip().splitlines()[-1:] or ["no output"]
                raise UserError(f"llama-server exited (code {self.process.returncode}): {tail[0][:300]}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/health", timeout=2) as reply:
                    if reply.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.2)
        self.close()
        raise UserError(f"llama-server did not answer /health within {timeout:.0f} s")

    def __call__(self, ids: Sequence[int], n: int, ignore_eos: bool) -> Iterator[int]:
        body = {"prompt": list(ids), "n_predict": n, "temperature": 0.0, "top_k": 1, "ignore_eos": ignore_eos,
                "cache_prompt": False, "stream": True, "return_tokens": True}
        request = urllib.request.Request(f"http://127.0.0.1:{self.port}/completion", json.dumps(body).encode(),
                                         {"Content-Type": "application/json"})
        self.speculative_stats = None
        with urllib.request.urlopen(request, timeout=600) as reply:
            for line in reply:
                if not line.startswith(b"data: "):
                    continue
                event = json.loads(line[len(b"data: "):])
                yield from event.get("tokens") or []
                timings = event.get("timings") or {}
                if "draft_n" in timings:
                    self.speculative_stats = {"draft_tokens_evaluated": timings["draft_n"],
                                              "draft_tokens_accepted": timings.get("draft_n_accepted", 0)}

    def stats(self) -> Optional[dict]:
        return self.speculative_stats

    def peak_rss_mb(self) -> float:
        status = Path(f"/proc/{self.process.pid}/status")
        for line in status.read_text().splitlines() if status.is_file() else []:
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
        return 0.0

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self.log.close()
