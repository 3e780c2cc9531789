"""Write serve/data/bbh_question_keys.txt: the keys of every BBH question, which no generator may emit.

    python scripts/bbh_question_keys.py ../shared/bbh

The folder holds the BBH task files (``bbh/*.json``) and the BBH paper's 3-shot CoT prompts
(``cot-prompts/*.txt``); both sets of questions are banned. Only keys are written (a truncated
sha256 of the folded question text, ``serve.data.bbh.question_key``), never the questions.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> int:
    folder = Path(sys.argv[1] if len(sys.argv) > 1 else ROOT.parent / "shared" / "bbh")
    os.environ["SCOTD_BBH_DIR"] = str(folder / "bbh")
    from serve.data import bbh
    from serve.data.generated import _KEYS

    questions = [e.question for task in bbh.TASKS for e in bbh.load_task(task)]
    questions += bbh.prompt_questions(folder / "cot-prompts")
    keys = sorted({bbh.question_key(q) for q in questions})
    _KEYS.write_text("\n".join(keys) + "\n")
    print(f"{len(keys)} keys from {len(questions)} questions -> {_KEYS}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
