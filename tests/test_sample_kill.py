"""``kill -9`` in the middle of ``scotd sample``, then a rerun: exactly N records per instance."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from teacher_server import TeacherServer

N, QUESTIONS = 6, 15


def scotd_sample(base_url: str, questions: Path, out: Path) -> list[str]:
    return [sys.executable, "-m", "serve.cli", "sample", "--data.source", str(questions), "--data.split", "all",
            "--teacher.backend", "openai", "--teacher.model", "m", "--teacher.base_url", base_url,
            "--teacher.concurrency", "2", "--teacher.n_per_request", "2", "--teacher.backoff_s", "0.02",
            "--sampling.n", str(N), "--out", str(out)]


def count_lines(path: Path) -> int:
    return path.read_bytes().count(b"\n") if path.exists() else 0


def test_kill_9_mid_run_then_rerun_gives_exactly_n_per_instance(tmp_path):
    questions = tmp_path / "q.jsonl"
    questions.write_text("".join(json.dumps({"id": f"q{i}", "question": f"Q{i}?", "choices": ["x", "y"],
                                             "answer": "a"}) + "\n" for i in range(QUESTIONS)))
    out = tmp_path / "cots.jsonl"
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    with TeacherServer(delay_s=0.15, faults=["ok", "ok", "ok", "500"]) as server:
        command = scotd_sample(server.base_url, questions, out)
        victim = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 60
        while count_lines(out) < 12 and victim.poll() is None and time.time() < deadline:
            time.sleep(0.02)
        victim.send_signal(signal.SIGKILL)
        victim.wait()
        at_kill = count_lines(out)
        assert 12 <= at_kill < N * QUESTIONS, "the run must be killed part-way through"
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    records = [json.loads(line) for line in out.read_text().splitlines()]
    keys = Counter((r["example_id"], r["sample_index"]) for r in records)
    assert set(keys.values()) == {1}, "no duplicates"
    assert Counter(example_id for example_id, _ in keys) == Counter({f"q{i}": N for i in range(QUESTIONS)})
    assert f"{at_kill} records on disk" in done.stderr or "torn last line" in done.stderr
    assert f"samples {N * QUESTIONS}" in done.stdout
