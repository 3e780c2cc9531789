from __future__ import annotations

import json
from pathlib import Path

import pytest

from distill.cot_record import CoTRecord
from distill.select import SelectConfig, jaccard_distance, main, run, select
from serve.core.errors import UserError
from serve.core.records import read_records, to_dict

NEAR_DUPLICATES = ["Alice swaps with Bob, so Alice has the red ball now.",
                   "Alice swaps with Bob, so Alice has the red ball then.",
                   "Alice swaps with Bob, so now Alice has the red ball."]
DISTINCT = ["Track each trade in order: after the second trade the red ball is with Claire.",
            "Bob ends with green because Claire gave it to him last."]


def record(example_id: str, index: int, rationale: str, correct: bool = True, logprob: float | None = -5.0,
           tokens: int = 10) -> CoTRecord:
    return CoTRecord(example_id, index, "t", "sha", rationale, "(a)" if correct else "(b)", "(a)", correct,
                     logprob, tokens, "stop")


def write(path: Path, records: list[CoTRecord]) -> Path:
    path.write_text("".join(json.dumps(to_dict(r)) + "\n" for r in records))
    return path


def test_filters_keep_what_they_say():
    records = [record("q", i, f"reason {i}", correct=i % 2 == 0) for i in range(6)]
    for name, expected in [("correct", [0, 2, 4]), ("incorrect", [1, 3, 5]), ("all", list(range(6)))]:
        kept, stats = select(records, SelectConfig(filter=name))
        assert [r.sample_index for r in kept] == expected and stats["records_kept"] == len(expected)


def test_random_is_seeded_and_downsamples_per_instance():
    records = [record(q, i, f"{q} reason number {i}") for q in ("q1", "q2") for i in range(10)]
    first, _ = select(records, SelectConfig(per_instance=3, seed=7))
    again, _ = select(records, SelectConfig(per_instance=3, seed=7))
    other, _ = select(records, SelectConfig(per_instance=3, seed=8))
    assert [r.key for r in first] == [r.key for r in again] != [r.key for r in other]
    assert sum(r.example_id == "q1" for r in first) == 3 == sum(r.example_id == "q2" for r in first)


def test_diverse_never_keeps_two_near_duplicates():
    records = [record("q", i, text) for i, text in enumerate(NEAR_DUPLICATES + DISTINCT)]
    assert jaccard_distance({"a", "b"}, {"a", "b"}) == 0.0 and jaccard_distance({"a"}, {"b"}) == 1.0
    for seed in range(10):
        kept, _ = select(records, SelectConfig(per_instance=3, strategy="diverse", seed=seed))
        assert sum(r.rationale in NEAR_DUPLICATES for r in kept) == 1, seed
        assert {r.rationale for r in kept} >= set(DISTINCT)


def test_likelihood_keeps_highest_logprob_per_token():
    records = [record("q", 0, "short", logprob=-3.0, tokens=2),   # -1.5 per token
               record("q", 1, "long and fluent", logprob=-4.0, tokens=8),  # -0.5 per token: best
               record("q", 2, "middle", logprob=-4.0, tokens=4)]  # -1.0
    kept, _ = select(records, SelectConfig(per_instance=2, strategy="likelihood"))
    assert [r.sample_index for r in kept] == [1, 2]
    with pytest.raises(UserError, match="needs teacher logprobs"):
        select([record("q", 0, "a"), record("q", 1, "b", logprob=None)],
               SelectConfig(per_instance=1, strategy="likelihood"))


def test_instance_thresholds_and_dedupe():
    easy = [record("easy", i, "same words", correct=True) for i in range(4)]
    hard = [record("hard", i, f"try {i}", correct=i == 0) for i in range(4)]
    kept, stats = select(easy + hard, SelectConfig(max_teacher_accuracy=0.9))
    assert {r.example_id for r in kept} == {"hard"} and stats["instances_dropped"]["accuracy_threshold"] == 1
    kept, stats = select(easy + hard, SelectConfig(min_teacher_accuracy=0.5))
    assert [r.key for r in kept] == [("easy", 0)]  # four identical rationales collapse to one
    kept, stats = select(easy + hard, SelectConfig(min_kept=2, dedupe=False))
    assert {r.example_id for r in kept} == {"easy"} and stats["instances_dropped"]["too_few_kept"] == 1


def test_cli_writes_training_set_and_stats(tmp_path, capsys):
    source = write(tmp_path / "cots.jsonl", [record(q, i, f"{q} step {i}", correct=i < 3)
                                             for q in ("q1", "q2", "q3") for i in range(5)])
    out = tmp_path / "train.jsonl"
    assert main(["--in", str(source), "--out", str(out), "--filter", "correct", "--per-instance", "2",
                 "--strategy", "diverse"]) == 0
    kept = read_records(out, CoTRecord)
    assert len(kept) == 6 and all(r.correct for r in kept)
    stats = json.loads((tmp_path / "train.stats.json").read_text())
    assert stats["records_kept"] == 6 and stats["instances_kept"] == 3
    assert "kept 6 of 15 rationales for 3 of 3 instances" in capsys.readouterr().out
    with pytest.raises(UserError, match="--out must differ from --in"):
        run(SelectConfig(input=str(source), out=str(source)))


def test_teacher_report_counts_votes_pass_at_n_and_restricts_to_a_subset():
    from distill.cot_record import CoTRecord
    from distill.teacher_report import teacher_report

    def rec(q, i, pred, gold):
        return CoTRecord(example_id=q, sample_index=i, teacher="t", prompt_sha="p", rationale="r", prediction=pred,
                         gold=gold, correct=pred == gold)

    records = [rec("q1", 0, "yes", "yes"), rec("q1", 1, "no", "yes"), rec("q1", 2, "yes", "yes"),
               rec("q2", 0, "yes", "no"), rec("q2", 1, None, "no"), rec("q2", 2, "yes", "no"),
               rec("q3", 0, "no", "no")]
    report = teacher_report(records)
    assert report["questions"] == 3 and report["samples"] == 7
    assert report["accuracy"] == 3 / 7 and report["parse_rate"] == 6 / 7
    assert report["pass_at_n"] == 2 / 3 and report["majority_vote_accuracy"] == 2 / 3
    assert report["most_common_gold_share"] == 2 / 3
    only = teacher_report(records, gold={"q2": "no"})
    assert (only["questions"], only["accuracy"], only["pass_at_n"]) == (1, 0.0, 0.0)
