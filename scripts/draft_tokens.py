"""How many tokens to draft per prompt lookup, on a student's own task (issue #13).

Each setting runs in a fresh process through ``scotd bench decode``'s task worker (held-out questions
greedy to EOS), rounds interleaved (odd rounds reversed), median decode tok/s over rounds x repeats:

    python scripts/draft_tokens.py runs/pilot/tso3-listing/train/student --drafts 0 2 3 4 6
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("student", help="the student's HF folder; its int8 export is STUDENT-onnx-int8")
    parser.add_argument("--task", default="gen:tracking_shuffled_objects/three_objects")
    parser.add_argument("--questions", type=int, default=8)
    parser.add_argument("--drafts", type=int, nargs="+", default=[0, 2, 3, 4, 6])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    from bench.decode_task import task_prompts

    student = Path(args.student)
    prompts = task_prompts(student, args.task, args.questions)
    rates: dict[int, list[float]] = {d: [] for d in args.drafts}
    acceptance: dict[int, float | None] = {}
    for index in range(args.rounds):
        for draft in args.drafts if index % 2 == 0 else list(reversed(args.drafts)):
            variant = {"model": student.name, "kind": "onnx", "backend": f"draft {draft}", "precision": "int8",
                       "reference": "", "path": f"{student}-onnx-int8", "options": {"draft_tokens": draft}}
            job = {"task": "task", "variant": variant, "prompts": prompts, "new_tokens": 384, "repeats": args.repeats}
            result = subprocess.run([sys.executable, "-m", "bench.decode", "--worker", json.dumps(job)],
                                    capture_output=True, text=True, cwd=str(ROOT))
            lines = [line for line in result.stdout.splitlines() if line.startswith("RESULT ")]
            if not lines:
                raise SystemExit(f"draft {draft} failed: {result.stderr.strip()[-400:]}")
            row = json.loads(lines[-1][len("RESULT "):])
            rates[draft] += row["decode_tok_s"]
            acceptance[draft] = row["acceptance"]
            print(f"round {index + 1}, draft {draft}: {row['decode_tok_s']}", file=sys.stderr, flush=True)
    plain = statistics.median(rates[0]) if 0 in rates else None
    print("| drafted tokens | decode tok/s (median) | vs no drafts | drafts accepted |\n|---|---|---|---|")
    for draft in args.drafts:
        median = statistics.median(rates[draft])
        ratio = f"{median / plain:.2f}x" if plain else "-"
        accepted = f"{acceptance[draft]:.0%}" if acceptance[draft] is not None else "-"
        print(f"| {draft} | {median:.1f} | {ratio} | {accepted} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
