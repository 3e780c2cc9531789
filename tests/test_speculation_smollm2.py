"""Exact speculation on the real SmolLM2-135M-Instruct, int8 (slow tier): the quantized kernels are where a
verifying pass and a one-token pass used to part."""

from __future__ import annotations

import shutil

import pytest

from export.export_model import ExportConfig, run as run_export
from serve.core.config import build
from serve.core.student_format import render_prompt
from serve.data.sources import QuestionSource
from serve.engines.draft_store import FILE, DraftStore
from serve.engines.interface import SamplingParams
from serve.engines.onnx_engine import OnnxEngine


@pytest.mark.slow
def test_int8_greedy_with_drafts_gives_plain_greedys_tokens_on_50_prompts(smollm2_dir, tmp_path):
    out = run_export(build(ExportConfig, {"model": str(smollm2_dir), "out": str(tmp_path / "int8"), "precision": "int8",
                                          "parity": {"enabled": False}, "accuracy": {"enabled": False}}))
    plain = OnnxEngine(out, draft_tokens=0)
    questions = QuestionSource(source="gen:tracking_shuffled_objects/three_objects?wording=varied", split="test",
                               limit=50).load()
    prompts = [plain.encode(render_prompt(q.question, q.choices, tokenizer=plain)) for q in questions]
    greedy = SamplingParams(max_new_tokens=48)
    references = [list(plain.token_ids(ids, greedy)) for ids in prompts]
    # a store that knows each continuation with every 5th token spoilt: drafts accepted and rejected
    spoilt = [[t if k % 5 else t + 1 for k, t in enumerate(ids + ref)] for ids, ref in zip(prompts, references)]
    folder = tmp_path / "with-store"
    shutil.copytree(out, folder)
    DraftStore.build(spoilt).save(folder / FILE)
    drafting = OnnxEngine(folder)
    accepted = evaluated = 0
    for i, (ids, reference) in enumerate(zip(prompts, references)):
        assert list(drafting.token_ids(ids, greedy)) == reference, f"prompt {i} parted from plain greedy"
        accepted += drafting.decoder.speculative_stats["draft_tokens_accepted"]
        evaluated += drafting.decoder.speculative_stats["draft_tokens_evaluated"]
    lookup = OnnxEngine(out)  # prompt lookup alone, the default without a store
    for ids, reference in zip(prompts[:10], references):
        assert list(lookup.token_ids(ids, greedy)) == reference
    assert accepted > 100 and evaluated - accepted > 100, (accepted, evaluated)  # both, or it proves nothing
