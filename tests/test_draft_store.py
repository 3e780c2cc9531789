"""Drafting from a student's training rationales: the store, the verifying session loop, the export step."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from export import draft_source
from export.export_model import ExportConfig, run as run_export
from serve.core.config import build
from serve.core.errors import UserError
from serve.engines.draft_store import FILE, DraftStore, lookup_draft
from serve.engines.interface import SamplingParams
from serve.engines.onnx_engine import OnnxEngine
from serve.engines.speculative_session import supported


def test_the_store_drafts_what_followed_and_stops_where_its_rationales_disagree(tmp_path):
    # two rationales share "1 2 3 4 5" then part (6 vs 9); "7 8" follows "4 5 6" in both that have it
    store = DraftStore.build([[1, 2, 3, 4, 5, 6, 7, 8], [1, 2, 3, 4, 5, 9, 7, 8], [0, 4, 5, 6, 7, 8]])
    assert store.draft([1, 2, 3], 8) == [4, 5]  # after "3 4 5" the rationales disagree: the draft ends
    assert store.draft([4, 5, 6], 8) == [7, 8]
    assert store.draft([4, 5, 6], 1) == [7]
    assert store.draft([40, 50, 60], 8) == []  # an unseen context drafts nothing
    store.save(tmp_path / FILE)
    assert DraftStore.load(tmp_path / FILE).table == store.table
    assert lookup_draft([5, 6, 7, 1, 5, 6], 3) == [7, 1, 5]
    (tmp_path / "other.json").write_text('{"format": "something/else"}')
    with pytest.raises(ValueError, match="scotd.draft-store/1"):
        DraftStore.load(tmp_path / "other.json")


def _prompts(engine: OnnxEngine, count: int) -> list[list[int]]:
    words = ["apple", "pear", "plum", "fig", "kiwi"]
    return [engine.encode(engine.apply_chat_template([{"role": "user", "content": f"{i}: " + " ".join(
        words[(i * j) % 5] for j in range(i % 6 + 3))}])) for i in range(count)]


def test_store_drafted_greedy_gives_the_tokens_of_plain_greedy_on_50_prompts(llama_fp32_export, tmp_path):
    """The verifying session loop against plain greedy: the same tokens, exactly, on every prompt, with
    drafts accepted and drafts rejected along the way."""
    plain = OnnxEngine(llama_fp32_export, draft_tokens=0)
    greedy = SamplingParams(max_new_tokens=40)
    prompts = _prompts(plain, 50)
    references = [list(plain.token_ids(ids, greedy)) for ids in prompts]
    assert plain.decoder.speculative_stats is None  # plain greedy drafted nothing
    # the store knows the model's own continuations, with every 7th token spoilt: drafts are often right, not always
    spoilt = [[t if k % 7 else (t + 1) % 256 for k, t in enumerate(ids + ref)] for ids, ref in zip(prompts, references)]
    folder = tmp_path / "export"
    shutil.copytree(llama_fp32_export, folder)
    DraftStore.build(spoilt).save(folder / FILE)
    drafting = OnnxEngine(folder)
    assert drafting.decoder.store is not None
    accepted = evaluated = 0
    for ids, reference in zip(prompts, references):
        assert list(drafting.token_ids(ids, greedy)) == reference
        accepted += drafting.decoder.speculative_stats["draft_tokens_accepted"]
        evaluated += drafting.decoder.speculative_stats["draft_tokens_evaluated"]
    print(f"drafted {evaluated}, accepted {accepted}")
    assert accepted > 100 and evaluated - accepted > 20, "drafts must be both accepted and rejected to prove anything"


def test_every_pass_reads_the_logits_of_a_multi_row_pass(llama_fp32_export):
    """Why the loop pads one-token passes: the logits a padded pass gives a position are bit for bit those
    of the same position fed inside a wider pass, whatever its width."""
    engine = OnnxEngine(llama_fp32_export, draft_tokens=0)
    session = engine.decoder.session
    ids = _prompts(engine, 3)[2]
    tokens = list(engine.token_ids(ids, SamplingParams(max_new_tokens=12)))
    steps = session.logits_stream(ids, 12)
    stepped = [next(steps)] + [steps.send(t) for t in tokens[:-1]]
    for width in (2, 3, 5):
        binding, buffers = session._bind_cache(len(ids) + 16)
        rows, cached, fed = [session._logits(binding, ids, 0, len(ids) + 16)[-1]], len(ids), tokens[:-1]
        for start in range(0, len(fed), width):
            chunk = fed[start:start + width]
            rows += list(session._logits(binding, chunk, cached, len(ids) + 16))
            cached += len(chunk)
        assert np.array_equal(np.stack(rows), np.stack(stepped)), width


def test_the_draft_store_respects_the_token_budget_and_ignore_eos(llama_fp32_export, tmp_path):
    """The tiny model never emits its own EOS, so a token it does emit plays EOS: without ignore_eos the
    text stops before it; with ignore_eos it is never chosen (the next-best token is, as genai's
    min_length does), checked against a plain logits loop with that token masked."""
    plain = OnnxEngine(llama_fp32_export, draft_tokens=0)
    ids = _prompts(plain, 3)[2]
    stop = list(plain.token_ids(ids, SamplingParams(max_new_tokens=30)))[3]
    steps, reference = plain.decoder.logits_stream(list(ids), 30), []
    logits = next(steps)
    while len(reference) < 30:
        logits = logits.copy()
        logits[stop] = -np.inf
        reference.append(int(np.argmax(logits)))
        if len(reference) < 30:
            logits = steps.send(reference[-1])
    folder = tmp_path / "export"
    shutil.copytree(llama_fp32_export, folder)
    DraftStore.build([ids + reference]).save(folder / FILE)
    drafting = OnnxEngine(folder)
    drafting.eos_ids = {stop}
    for budget in (1, 2, 7, 30):
        assert list(drafting.token_ids(ids, SamplingParams(max_new_tokens=budget), ignore_eos=True)) == reference[:budget]
    assert drafting.decoder.speculative_stats["draft_tokens_accepted"] > 5
    plain.eos_ids = {stop}
    assert list(drafting.token_ids(ids, SamplingParams(max_new_tokens=30))) == list(plain.token_ids(ids, SamplingParams(max_new_tokens=30)))
    assert drafting.with_draft_tokens(0).decoder.speculates is False  # the plain view never drafts


def test_views_of_an_engine_share_one_verifying_session(llama_fp32_export, tmp_path):
    folder = tmp_path / "export"
    shutil.copytree(llama_fp32_export, folder)
    DraftStore.build([[1, 2, 3, 4, 5, 6]]).save(folder / FILE)
    plain = OnnxEngine(folder, draft_tokens=0)
    drafting = plain.with_draft_tokens(4)  # built plain, drafting from the store once asked to
    other = drafting.with_draft_tokens(2)
    ids = _prompts(plain, 2)[1]
    list(drafting.token_ids(ids, SamplingParams(max_new_tokens=8)))
    list(other.token_ids(ids, SamplingParams(max_new_tokens=8)))
    assert drafting.decoder.store is not None and drafting.decoder.max_draft == 8
    assert plain.decoder.max_draft == 0
    assert drafting.decoder._loaded["session"] is not None
    assert other.decoder._loaded is drafting.decoder._loaded is plain.decoder._loaded


def test_a_decoder_the_session_loop_cannot_drive_is_left_to_genai(llama_fp32_export):
    assert supported(json.loads((llama_fp32_export / "genai_config.json").read_text()))
    for change in ({"sliding_window": {"window_size": 64}}, {"inputs": {"input_ids": "input_ids", "attention_mask":
                   "attention_mask", "position_ids": "position_ids", "past_key_names": "past_key_values.%d.key",
                   "past_value_names": "past_key_values.%d.value"}}):
        config = json.loads((llama_fp32_export / "genai_config.json").read_text())
        config["model"]["decoder"].update(change)
        assert not supported(config), change


def test_export_writes_the_draft_store_of_the_students_training_rationales(lively_llama, tmp_path):
    student = tmp_path / "student"
    shutil.copytree(lively_llama, student)
    cots = tmp_path / "train_cots.jsonl"
    rationales = [f"Swap {k}: fig and plum trade. Now fig has the ball {k % 3}." for k in range(12)]
    cots.write_text("".join(json.dumps({"example_id": str(k), "rationale": r}) + "\n" for k, r in enumerate(rationales)))
    (student / "scotd_student.json").write_text(json.dumps({"mode": "cot", "cots": str(cots)}))
    out = run_export(build(ExportConfig, {"model": str(student), "out": str(tmp_path / "onnx"), "precision": "fp32",
                                          "accuracy": {"enabled": False}}))
    report = json.loads((out / "export_report.json").read_text())
    assert report["draft_store"]["rationales"] == 12 and report["draft_store"]["contexts"] > 20
    assert OnnxEngine(out).decoder.store is not None
    speculation = report["gates"]["speculation"]
    assert speculation["draft_store"] is True and speculation["draft_tokens"] == 8  # the check ran the store's path
    assert "n-grams of 12 training rationales in `draft_store.json`" in (out / "README.md").read_text()
    # a path relative to a folder above the student (where training ran) is found from anywhere
    (student / "scotd_student.json").write_text(json.dumps({"mode": "cot", "cots": cots.name}))
    assert draft_source.resolve("auto", student) == cots.resolve()
    # none for '', for a base model, for a label-only student; a missing file is a one-line error
    assert draft_source.resolve("", student) is None and draft_source.resolve("auto", lively_llama) is None
    (student / "scotd_student.json").write_text(json.dumps({"mode": "label_only", "cots": str(cots)}))
    assert draft_source.resolve("auto", student) is None
    with pytest.raises(UserError, match="--draft_store nowhere.jsonl: no such file"):
        run_export(build(ExportConfig, {"model": str(student), "out": str(tmp_path / "never"), "draft_store": "nowhere.jsonl"}))
    assert not (tmp_path / "never").exists()  # refused before the build


def test_the_store_learns_rationales_as_the_student_was_trained_on_them(tmp_path):
    cots = tmp_path / "cots.jsonl"
    rows = [{"rationale": "Alice has the ball.", "gold": "(a)", "correct": True},
            {"rationale": "Bob has the hat.", "gold": "(b)", "correct": False},  # training leaves it out
            {"rationale": "Claire has the cup.", "correct": None}]
    cots.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert draft_source.training_targets(cots) == [" Alice has the ball. So the answer is (a).", " Claire has the cup."]
