"""scotd bench train on a tiny model: one subprocess per variant, rows counted from the batches trained."""
from __future__ import annotations

import json

from serve.cli.verbs import main as cli_main


def test_bench_train_rows_and_markdown(tiny_llama_dir, tmp_path, capsys):
    out_json, out_md = tmp_path / "train.json", tmp_path / "BENCH.md"
    out_md.write_text("# Benchmarks\n\nkept text\n")
    code = cli_main(["bench", "train", "--model", str(tiny_llama_dir), "--data.limit", "12", "--rationales", "2",
                     "--batch_size", "2", "--steps", "2", "--variants", "today,fp32_levers,freeze10",
                     "--json_out", str(out_json), "--markdown", str(out_md)])
    assert code == 0
    result = json.loads(out_json.read_text())
    rows = {row["variant"]: row for row in result["variants"]}
    assert set(rows) == {"today", "fp32_levers", "freeze10"}
    for row in rows.values():
        assert row["steps"] == 2 and row["tokens"] > 0 and 0 < row["target_tokens"] < row["tokens"]
        assert row["tokens"] <= row["padded_positions"] <= 2 * 2 * max(1, row["tokens"])
    assert rows["today"]["speedup_vs_today"] == 1.0
    # the tiny llama has 2 blocks: freeze10 freezes both and the (tied) embedding
    assert rows["freeze10"]["trainable_parameters"] < rows["today"]["trainable_parameters"]
    text = out_md.read_text()
    assert "kept text" in text and "<!-- bench:train:start -->" in text and "today: fp32" in text
    assert cli_main(["bench", "train", "--steps", "0", "--json_out", str(out_json)]) == 2
    assert "steps must be >= 1" in capsys.readouterr().err
