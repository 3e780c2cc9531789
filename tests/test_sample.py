"""``scotd sample`` with the hf backend on a tiny random model: records, batching, resume."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from distill.prompting import build_prompt, load_prompt_set, prompt_set_for
from distill.sample import SampleConfig, main, run
from distill.teachers.base import Job, TeacherConfig
from serve.core.config import build
from serve.core.errors import UserError
from serve.core.records import Example
from serve.engines.interface import SamplingParams

SHORT_PROMPT = """\
name: tiny
answer_type: multiple_choice
instruction: Answer with a reason.
demonstrations:
  - question: Which is heavier?
    choices: [a brick, a feather]
    answer: (a)
    rationale: A brick is dense.
"""


@pytest.fixture
def questions(tmp_path) -> Path:
    rows = [{"id": f"q{i}", "question": f"Alice has ball {i}. Who has it?", "choices": ["Alice", "Bob", "Claire"],
             "answer": "a"} for i in range(5)]
    path = tmp_path / "q.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def make_config(tmp_path: Path, questions: Path, model: Path, n: int = 3, **sampling) -> SampleConfig:
    prompt = tmp_path / "tiny_prompt.yaml"
    prompt.write_text(SHORT_PROMPT)
    return build(SampleConfig, {
        "data": {"source": str(questions), "split": "all"},
        "teacher": {"backend": "hf", "model": str(model), "batch_size": 4},
        "sampling": {"n": n, "max_new_tokens": 8, "temperature": 1.0, **sampling},
        "prompt": {"set": str(prompt)}, "out": str(tmp_path / "cots.jsonl")})


def lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_hf_sampling_writes_complete_records(tmp_path, questions, tiny_llama_dir):
    summary = run(make_config(tmp_path, questions, tiny_llama_dir))
    records = lines(tmp_path / "cots.jsonl")
    assert Counter((r["example_id"], r["sample_index"]) for r in records) == \
        Counter({(f"q{i}", j): 1 for i in range(5) for j in range(3)})
    for r in records:
        assert r["logprob"] is not None and r["logprob"] < 0 and 1 <= r["tokens"] <= 8
        assert r["finish_reason"] in ("stop", "length") and r["teacher"].startswith("hf:")
        assert r["gold"] == "(a)" and r["correct"] == (r["prediction"] == "(a)")
    assert len({r["prompt_sha"] for r in records}) == 5
    assert summary["samples"] == 15 and summary["instances_complete"] == 5
    assert summary["tokens"] == sum(r["tokens"] for r in records)
    assert json.loads((tmp_path / "cots.summary.json").read_text())["samples"] == 15


def test_resume_adds_only_missing_keys_and_repairs_a_torn_line(tmp_path, questions, tiny_llama_dir):
    run(make_config(tmp_path, questions, tiny_llama_dir, n=2))
    out = tmp_path / "cots.jsonl"
    first = out.read_text()
    with out.open("a") as handle:
        handle.write('{"example_id": "q0", "sample_ind')  # a run killed mid-write
    summary = run(make_config(tmp_path, questions, tiny_llama_dir, n=3))
    assert out.read_text().startswith(first)  # earlier records untouched
    keys = Counter((r["example_id"], r["sample_index"]) for r in lines(out))
    assert len(keys) == 15 and set(keys.values()) == {1}
    assert summary["written_this_run"] == 5
    with pytest.raises(UserError, match="sampling.temperature"):
        run(make_config(tmp_path, questions, tiny_llama_dir, n=3, temperature=0.5))


def test_shared_prefill_and_padding_match_plain_generation(tiny_llama_dir):
    from distill.teachers.hf import HFTeacher

    teacher = HFTeacher(TeacherConfig(backend="hf", model=str(tiny_llama_dir)),
                        SamplingParams(max_new_tokens=6, temperature=0.0))
    prompts = ["Q: Is the sky blue on a clear day?\nA:", "Q: How many legs?\nA:"]
    shared = teacher.generate(prompts, 2)
    teacher.share_prefill = False
    repeated = teacher.generate(prompts, 2)
    alone = [teacher.generate([p], 1)[0][0] for p in prompts]  # no padding at all
    for i in range(2):
        assert [s.text for s in shared[i]] == [s.text for s in repeated[i]] == [alone[i].text] * 2
        assert shared[i][0].logprob == pytest.approx(alone[i].logprob, abs=1e-3)


def test_batches_respect_batch_size_and_cover_every_sample(tiny_llama_dir):
    from distill.teachers.hf import HFTeacher

    teacher = HFTeacher(TeacherConfig(backend="hf", model=str(tiny_llama_dir), batch_size=8), SamplingParams())
    prompt = build_prompt(Example("x", "t", "q", "yes", answer_type="yes_no"), load_prompt_set("yes_no"))
    jobs = [Job(f"e{i}", prompt, n) for i, n in enumerate([3, 3, 3, 20, 1, 3])]
    plan = list(teacher._batches(jobs))
    assert all(len(chunk) * n <= 8 for chunk, n in plan)
    covered = Counter()
    for chunk, n in plan:
        for job in chunk:
            covered[job.example_id] += n
    assert covered == Counter({f"e{i}": n for i, n in enumerate([3, 3, 3, 20, 1, 3])})


def test_prompts_by_answer_type_and_rationalization():
    mc = Example("m", "t", "Pick one", "(b)", ["x", "y"], answer_type="multiple_choice")
    cache: dict = {}
    assert prompt_set_for(mc, "auto", cache).name == "multiple_choice"
    assert prompt_set_for(Example("n", "t", "2+2?", "4", answer_type="number"), "auto", cache).name == "numeric"
    plain, hinted = build_prompt(mc, cache["multiple_choice"]), build_prompt(mc, cache["multiple_choice"], True)
    assert "Hint" not in plain.text and "(Hint: the correct answer is (b).)" in hinted.text
    assert plain.sha != hinted.sha and plain.text.endswith("(a) x\n(b) y\nA:")
    assert plain.messages[-1]["content"].endswith("(b) y") and plain.messages[0]["role"] == "system"
    assert plain.messages[2]["content"].endswith("So the answer is (b).")


def test_cli_errors_are_one_line(tmp_path, capsys):
    from serve.cli.verbs import main as scotd

    assert scotd(["sample", "--sampling.nn", "3"]) == 2
    assert "unknown option '--sampling.nn'" in capsys.readouterr().err
    assert scotd(["sample", "--data.source", str(tmp_path / "none.jsonl"), "--out", str(tmp_path / "o.jsonl")]) == 2
    assert "none.jsonl' not found" in capsys.readouterr().err
    # out-of-range sampling values stop before any question is loaded (the checks of SamplingParams)
    for flag, value, rule in (("temperature", "-1", ">= 0"), ("top_p", "1.5", "in (0, 1]"), ("n", "0", ">= 1"),
                              ("max_new_tokens", "0", ">= 1"), ("top_k", "-2", ">= 0")):
        assert scotd(["sample", f"--sampling.{flag}", value]) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith(f"scotd sample: error: sampling.{flag} must be {rule}") and len(err.splitlines()) == 1
        assert err.endswith(f"got {float(value) if flag in ('temperature', 'top_p') else int(value)}")
    with pytest.raises(SystemExit):
        main(["--help"])
    assert "--sampling.n" in capsys.readouterr().out
