"""Which drafter predicts a student's rationales: tokens kept per verification pass, replayed offline.

Decodes the student's int8 export plain greedy on held-out questions, then replays each drafter over
those exact token sequences: at every pass the drafter proposes up to K tokens from what is known so
far, the ones equal to the greedy tokens are kept plus one, as a verifying pass would keep them. No
timing: this isolates the drafter from the kernels (issue #13, docs/BENCHMARKS.md).

    python scripts/drafters.py runs/pilot/tso3-listing/train/student --questions 16
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def replay(sequences: list[tuple[list[int], list[int]]], propose, limit: int) -> dict:
    passes = accepted = drafted = tokens = 0
    for prompt, output in sequences:
        full, at = prompt + output, len(prompt) + 1  # the first token comes from the prompt's own pass
        tokens += len(output) - 1
        while at < len(full):
            draft = propose(full[:at], limit)
            kept = 0
            while kept < len(draft) and at + kept < len(full) and draft[kept] == full[at + kept]:
                kept += 1
            passes, accepted, drafted, at = passes + 1, accepted + kept, drafted + len(draft), at + kept + 1
    return {"tokens_per_pass": round(tokens / max(passes, 1), 2), "accepted": round(accepted / max(drafted, 1), 3)}


def engine_partings(export: Path, sequences, plain) -> list[tuple[int, int, float]]:
    """Where the engine's drafting default parts from plain greedy, and by how much plain greedy's logits
    preferred its own token there (a near-tie is a small margin)."""
    from serve.engines.interface import SamplingParams
    from serve.engines.onnx_engine import OnnxEngine

    drafting, partings = OnnxEngine(export), []
    for index, (prompt, reference) in enumerate(sequences):
        got = list(drafting.token_ids(prompt, SamplingParams(max_new_tokens=384)))
        if got != reference:
            at = next((k for k, (a, b) in enumerate(zip(got, reference)) if a != b), min(len(got), len(reference)))
            logits = next(plain.decoder.logits_stream(prompt + reference[:at], 1))
            other = got[at] if at < len(got) else min(plain.eos_ids)
            mine = reference[at] if at < len(reference) else min(plain.eos_ids)
            partings.append((index, at, round(float(logits[mine] - logits[other]), 4)))
    return partings


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("student", help="the student's HF folder; its int8 export is STUDENT-onnx-int8")
    parser.add_argument("--task", default="gen:tracking_shuffled_objects/three_objects")
    parser.add_argument("--questions", type=int, default=16)
    parser.add_argument("--limits", type=int, nargs="+", default=[2, 4, 8])
    parser.add_argument("--json", default="")
    args = parser.parse_args()
    from bench.decode_task import task_prompts
    from serve.engines.draft_store import FILE, DraftStore, lookup_draft
    from serve.engines.interface import SamplingParams
    from serve.engines.onnx_engine import DRAFT_TOKENS, OnnxEngine

    export = Path(f"{args.student}-onnx-int8")
    engine = OnnxEngine(export, draft_tokens=0)
    prompts = task_prompts(Path(args.student), args.task, args.questions)
    sequences = [(ids, list(engine.token_ids(ids, SamplingParams(max_new_tokens=384)))) for ids in prompts]
    store = DraftStore.load(export / FILE)
    drafters = {
        "prompt lookup, last 2 tokens": lambda ids, k: lookup_draft(ids, k, 2),
        "prompt lookup, last 3 tokens": lambda ids, k: lookup_draft(ids, k, 3),
        "draft store": store.draft,
        # the engine's default: prompt lookup drafts at most DRAFT_TOKENS where the store has nothing
        "draft store, else prompt lookup (the engine's)":
            lambda ids, k: store.draft(ids, k) or lookup_draft(ids, min(k, DRAFT_TOKENS)),
    }
    rows = [{"drafter": name, "limit": k, **replay(sequences, propose, k)}
            for name, propose in drafters.items() for k in args.limits]
    print(f"{len(sequences)} test questions of {args.task}, {sum(len(o) for _, o in sequences)} greedy tokens\n")
    print("| drafter | at most K drafted | tokens kept per pass | drafts accepted |\n|---|---|---|---|")
    for row in rows:
        print(f"| {row['drafter']} | {row['limit']} | {row['tokens_per_pass']} | {row['accepted']:.0%} |")
    partings = engine_partings(export, sequences, engine)
    print(f"\nThe engine's default (draft store) against plain greedy: {len(sequences) - len(partings)}/{len(sequences)} "
          f"questions token for token; partings (question, position, plain greedy's logit margin over the "
          f"drafting default's token): {partings}")
    if args.json:
        Path(args.json).write_text(json.dumps({"task": args.task, "questions": len(sequences), "rows": rows,
                                               "partings": partings}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
