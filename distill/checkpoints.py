"""A training run's checkpoints (``OUT/checkpoints/checkpoint-STEP``): which one is last, which optimizer
wrote it, and setting an earlier run's aside instead of deleting them (nothing computed is lost)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Optional

from serve.core.errors import UserError

SUPERSEDED = "checkpoints-superseded"


def listed(out: Path) -> list[Path]:
    return sorted((out / "checkpoints").glob("checkpoint-*"), key=lambda p: int(p.name.rpartition("-")[2]))


def saved_optimizer(checkpoints: list[Path]) -> Optional[str]:
    """The ``TrainingArguments.optim`` the last checkpoint was trained with, when it says."""
    import torch

    args_file = checkpoints[-1] / "training_args.bin"
    if not args_file.is_file():
        return None
    saved = torch.load(args_file, weights_only=False)  # scotd's own checkpoint: TrainingArguments, pickled
    return str(getattr(saved.optim, "value", saved.optim))


def optimizer_for_resume(optim: str, checkpoints: list[Path]) -> str:
    """``auto`` resumes with the checkpoints' optimizer (whatever this CPU would pick for a fresh run, their
    state fits only theirs); an explicit other one is refused."""
    saved = saved_optimizer(checkpoints)
    if saved is None or optim == saved:
        return optim
    if optim == "auto":
        return saved
    raise UserError(f"the checkpoints in {checkpoints[-1].parent} were trained with optimizer {saved} and optim "
                    f"is set to {optim}: set it to {saved} or auto to resume them, or start over without resuming "
                    "(scotd run: --run.force train)")


def set_aside(out: Path) -> Optional[Path]:
    """Move an earlier run's checkpoints to OUT/checkpoints-superseded (replacing older ones set aside), so a fresh
    run never resumes from them or keeps one as its best; returns where they went."""
    if not listed(out):
        return None
    target = out / SUPERSEDED
    shutil.rmtree(target, ignore_errors=True)
    (out / "checkpoints").rename(target)
    return target
