"""``scotd bench sample`` end to end on a tiny model: JSON written, only its markdown section replaced."""

from __future__ import annotations

import json

from bench.report import markers
from bench.sample import main


def test_bench_writes_json_and_replaces_only_its_section(tmp_path, tiny_llama_dir, capsys):
    questions = tmp_path / "q.jsonl"
    questions.write_text("".join(json.dumps({"question": f"Is {i} even?", "answer": "yes" if i % 2 == 0 else "no"})
                                 + "\n" for i in range(6)))
    markdown = tmp_path / "BENCHMARKS.md"
    start, end = markers("sample")
    markdown.write_text(f"# Benchmarks\n\n## Decode\nkeep me\n\n{start}\nold numbers\n{end}\n\n## Other\n")
    args = ["--model", str(tiny_llama_dir), "--data.source", str(questions), "--data.limit", "2", "--sampling.n", "3",
            "--sampling.max_new_tokens", "4", "--json_out", str(tmp_path / "sample.json"), "--markdown", str(markdown)]
    assert main(args) == 0
    result = json.loads((tmp_path / "sample.json").read_text())
    assert [arm["samples"] for arm in result["arms"]] == [6, 6, 6]
    assert result["speedup_samples_per_s"] == round(result["arms"][0]["seconds"] / result["arms"][1]["seconds"], 2)
    assert all(arm["generated_tokens"] <= 3 * 2 * 4 for arm in result["arms"])
    text = markdown.read_text()
    assert "keep me" in text and "## Other" in text and "old numbers" not in text
    assert text.count(markers("sample")[0]) == 1 and "| one sample per generate call | 6 |" in text
    assert "samples/s" in capsys.readouterr().out
