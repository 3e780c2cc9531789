"""The rationales an export's draft store is built from (``scotd export --draft_store``), and the build.

``auto`` takes what the student was trained on: the CoT file its ``scotd_student.json`` names, read as
training read it (rows whose teacher answer was wrong are left out, as ``train.data.only_correct`` does
by default; each rationale as its training target, with the answer sentence). A base model or a
label-only student gets no store. The file is checked before the ONNX build, so a wrong path costs
nothing.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Optional

from serve.core.errors import UserError
from serve.core.student_format import target_text


def _log(message: str) -> None:
    print(f"[scotd export] {message}", file=sys.stderr, flush=True)


def resolve(source: str, model_dir: Path) -> Optional[Path]:
    """The rationale file for ``--draft_store`` (auto, a path, or '' for none); None when there is none."""
    if not source:
        return None
    if source != "auto":
        if not Path(source).is_file():
            raise UserError(f"--draft_store {source}: no such file; pass a CoT JSONL (scotd sample/select output), "
                            "auto, or '' for none")
        return Path(source)
    record = model_dir / "scotd_student.json"
    info = json.loads(record.read_text()) if record.is_file() else {}
    named = info.get("cots") or ""
    if not named or info.get("mode", "cot") != "cot":
        return None  # a base model, or a label-only student: no rationales it would write
    # the path as training saw it: relative to where scotd ran, usually a folder above the student
    found = next((c for c in [Path(named)] + [p / named for p in model_dir.resolve().parents] if c.is_file()), None)
    if found is None:
        _log(f"draft store: skipped, the student's training rationales ({named}) are not here; "
             "pass --draft_store FILE.jsonl to ship one")
    return found


def training_targets(path: Path) -> list[str]:
    """Each usable rationale of a CoT JSONL as the student learned to write it."""
    targets = []
    for line in path.read_text().splitlines():
        if not line.strip():
            continue
        record = json.loads(line)
        rationale = record.get("rationale")
        if not isinstance(rationale, str) or not rationale.strip() or record.get("correct") is False:
            continue
        gold = record.get("gold")
        targets.append(" " + (target_text(gold, rationale) if gold else rationale))
    return targets


def write(source: Path, out: Path) -> dict:
    """Build the draft store of ``source`` with the export's tokenizer into ``out``; its report entry."""
    from tokenizers import Tokenizer

    from serve.engines.draft_store import FILE, DraftStore

    started = time.time()
    targets = training_targets(source)
    tokenizer = Tokenizer.from_file(str(out / "tokenizer.json"))
    store = DraftStore.build(e.ids for e in tokenizer.encode_batch(targets, add_special_tokens=False))
    store.save(out / FILE)
    info = {"source": str(source), "rationales": len(targets), "contexts": len(store),
            "size_mb": round((out / FILE).stat().st_size / 2**20, 1), "seconds": round(time.time() - started, 1)}
    _log(f"draft store: {info['contexts']} contexts from {info['rationales']} rationales of {source} "
         f"({info['size_mb']} MB, {info['seconds']} s)")
    return info
