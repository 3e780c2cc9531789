"""The ``scotd`` console script: one verb per stage, each imported only when called.

Verbs live in a table of ``"package.module:function"`` strings so that ``scotd serve``
never imports torch, and a verb whose optional dependencies are missing says which
extra to install instead of failing with a bare ImportError. This table is the one place
the serve package names the floors above it (export, distill), and only by string.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from dataclasses import dataclass

from serve.core.errors import UserError


@dataclass(frozen=True)
class Verb:
    target: str  # "package.module:function", called with the remaining argv
    extra: str  # pip extra that provides its dependencies
    summary: str
    serves_default_model: bool = False  # may load the default model, so may export it on first use


VERBS: dict[str, Verb] = {
    "models": Verb("serve.cli.models:main", "serve", "list the model registry, fetch a model into models/NAME/hf"),
    "data": Verb("serve.cli.data:main", "serve", "list the question sources (generators, BBH tasks), show a few questions of one"),
    "sample": Verb("distill.sample:main", "distill", "sample N chain-of-thought rationales per question from a teacher"),
    "select": Verb("distill.select:main", "distill", "filter and downsample teacher rationales into a training set"),
    "train": Verb("distill.train:main", "distill", "fine-tune a student on kept rationales (full or LoRA; DDP under torchrun)"),
    "eval": Verb("distill.evaluate:main", "distill", "accuracy of a model folder (PyTorch or ONNX): greedy or self-consistency"),
    "run": Verb("distill.run:main", "distill", "run a recipe: sample -> select -> train -> eval -> export, skipping done stages"),
    "results": Verb("distill.results:main", "distill", "tabulate an experiment's arms (run folders): accuracy, CIs, plot vs N"),
    "teacher-report": Verb("distill.teacher_report:main", "distill",
                           "how good a teacher is on a CoT JSONL: accuracy, pass@N, majority vote"),
    "plot": Verb("distill.plots:main", "distill", "PNG plots across runs: training loss curves, accuracy vs samples per question"),
    "export": Verb("export.export_model:main", "export", "export a model to ONNX (int8/fp32/int4), gated on parity and accuracy vs PyTorch"),
    "serve": Verb("serve.apps.gradio_app:main", "serve", "Gradio reasoning chat (or --api: OpenAI-compatible HTTP API) for a model",
                  serves_default_model=True),
    "chat": Verb("serve.apps.chat:main", "serve", "chat with a model in the terminal, streaming its reasoning",
                 serves_default_model=True),
    "infer": Verb("serve.apps.infer:main", "serve", "answer a JSONL file of questions offline (resumable, one line out per line in)",
                  serves_default_model=True),
    "bench": Verb("serve.cli.bench:main", "serve", "run a benchmark (scotd bench WHAT --help), write JSON + docs/ table",
                  serves_default_model=True),
}

# A serving verb that finds the default model fetched but not exported exports it (gates included)
# where the export extra is installed; an edge install serves the PyTorch folder instead.
FIRST_USE_EXPORT = Verb("export.export_model:export_default_model", "export", "int8 export of the default model")


def _usage() -> str:
    width = max(len(name) for name in VERBS)
    rows = "\n".join(f"  {name.ljust(width)}  {verb.summary}" for name, verb in VERBS.items())
    return ("usage: scotd VERB [--config FILE] [--KEY VALUE ...]\n\n"
            "Symbolic chain-of-thought distillation: sample rationales from a teacher, train a small\n"
            "student on them, export it to ONNX and serve it on a CPU.\n\n"
            f"verbs:\n{rows}\n\nRun 'scotd VERB --help' for the options of one verb.\n")


def _load(name: str, verb: Verb):
    module_name, _, function = verb.target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.split(".")[0] in ("distill", "export", "serve"):
            raise
        raise UserError(f"'scotd {name}' needs the package '{exc.name}', which is not installed; "
                        f"install it with: pip install -e '.[{verb.extra}]'") from None
    return getattr(module, function)


def install_first_use_export() -> None:
    if not all(importlib.util.find_spec(name) is not None for name in ("torch", "transformers", "export")):
        return
    from serve.apps import model_pick

    model_pick.first_use_export = lambda: _load("export", FIRST_USE_EXPORT)()


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help", "help"):
        sys.stdout.write(_usage())
        return 0
    name, rest = argv[0], argv[1:]
    verb = VERBS.get(name)
    if verb is None:
        sys.stderr.write(f"scotd: unknown verb '{name}'; valid verbs: {', '.join(VERBS)}\n")
        return 2
    try:
        if verb.serves_default_model:
            install_first_use_export()
        result = _load(name, verb)(rest)
    except UserError as exc:
        sys.stderr.write(f"scotd {name}: error: {exc}\n")
        return 2
    except KeyboardInterrupt:
        sys.stderr.write(f"scotd {name}: interrupted; finished work is kept on disk\n")
        return 130
    return int(result or 0)

