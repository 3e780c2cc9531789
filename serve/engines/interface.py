"""One inference interface over ONNX Runtime and PyTorch.

An engine turns chat messages (or a raw prompt string) into a stream of text
chunks. Backends register as ``"module:Class"`` strings in ``ENGINES`` and are
imported on first use, so loading an ONNX engine never imports torch.

Engines also expose ``chat_template`` and ``apply_chat_template(messages,
tokenize=False, add_generation_prompt=True)`` so that
``serve.core.student_format.render_prompt(..., tokenizer=engine)`` builds the same
prompt a transformers tokenizer would.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import json
import time
from abc import ABC, abstractmethod
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Optional, Sequence, TypeVar

from serve.core.config import option
from serve.core.errors import UserError


class SamplingError(UserError, ValueError):
    """A decoding setting out of its range; ``param`` names it (the API answers 400 with it)."""

    def __init__(self, param: str, message: str):
        super().__init__(message)
        self.param = param


@dataclass
class SamplingParams:
    """How to decode: the engines' argument and, as it is, the ``sampling`` section of every config."""
    n: int = option(1, "samples per question (SCoTD's teacher: 30; > 1 at eval and infer: a majority vote)")
    max_new_tokens: int = option(256, "longest generation in tokens")
    temperature: float = option(0.0, "sampling temperature; 0 = greedy")
    top_p: float = option(1.0, "nucleus sampling mass")
    top_k: int = option(0, "top-k cut; 0 = none")
    stop: list[str] = option(default_factory=list, help="strings that end a generation")
    seed: Optional[int] = option(None, "sampling seed (null = unseeded)")
    stop_on_loop: int = option(0, "end a generation once its last N tokens repeat one block, digits alike "
                                  "(a student caught in a loop); 0 = never. 200 ends loops and no rationale of "
                                  "the program teachers (serve/engines/loop_watch.py); not in genai's static batches")

    def __post_init__(self) -> None:
        for name, ok, rule in (("n", self.n >= 1, ">= 1"), ("max_new_tokens", self.max_new_tokens >= 1, ">= 1"),
                               ("stop_on_loop", self.stop_on_loop >= 0, ">= 0 (0 = never)"),
                               ("temperature", self.temperature >= 0.0, ">= 0 (0 = greedy)"),
                               ("top_p", 0.0 < self.top_p <= 1.0, "in (0, 1]"), ("top_k", self.top_k >= 0, ">= 0 (0 = no cut)")):
            if not ok:
                raise SamplingError(name, f"sampling.{name} must be {rule}, got {getattr(self, name)!r}")

    @property
    def greedy(self) -> bool:
        return self.temperature <= 0.0

    def for_vote(self) -> "SamplingParams":
        """These settings for a majority vote: n > 1 greedy samples would agree trivially, so a
        vote asked for with temperature 0 samples at ``VOTE_TEMPERATURE``."""
        return dataclasses.replace(self, temperature=VOTE_TEMPERATURE) if self.n > 1 and self.greedy else self


VOTE_TEMPERATURE = 0.7  # the self-consistency paper's temperature for sampled reasoning paths


def cut_at_stop(text: str, stop: Sequence[str]) -> str:
    cuts = [text.find(s) for s in stop if s and s in text]
    return text[: min(cuts)] if cuts else text


class StopStringFilter:
    """Streams text while holding back any tail that could be the start of a stop string."""

    def __init__(self, stop: Sequence[str]):
        self.stop = [s for s in stop if s]
        self.buffer = ""
        self.stopped = False

    def push(self, chunk: str) -> str:
        if self.stopped:
            return ""
        self.buffer += chunk
        hits = [(self.buffer.find(s), s) for s in self.stop if s in self.buffer]
        if hits:
            cut = min(hits)[0]
            out, self.buffer, self.stopped = self.buffer[:cut], "", True
            return out
        hold = max((k for s in self.stop for k in range(1, len(s)) if self.buffer.endswith(s[:k])), default=0)
        out = self.buffer[: len(self.buffer) - hold]
        self.buffer = self.buffer[len(self.buffer) - hold:]
        return out

    def flush(self) -> str:
        out, self.buffer = ("" if self.stopped else self.buffer), ""
        return out


@dataclass
class Completion:
    """One finished reply: its text, and whether the wall-clock deadline cut it."""
    text: str
    timed_out: bool = False


def seeded_sample(sampling: SamplingParams, index: int) -> SamplingParams:
    """The ``index``-th of n samples: distinct seeds, or n seeded samples would all be the same text."""
    return sampling if sampling.seed is None else dataclasses.replace(sampling, seed=sampling.seed + index)


class Engine(ABC):
    """A loaded model that streams text. Subclasses implement ``stream_prompt``."""

    backend: str = "?"
    model_dir: Path
    chat_template: Optional[str] = None

    @abstractmethod
    def stream_prompt(self, prompt: str, sampling: SamplingParams) -> Iterator[str]:
        """Yield text chunks generated after the raw ``prompt`` string."""

    @abstractmethod
    def apply_chat_template(self, messages: list[dict[str, str]], tokenize: bool = False,
                            add_generation_prompt: bool = True) -> str:
        """Render chat messages to the prompt string the model was trained on."""

    def stream(self, messages: list[dict[str, str]], sampling: SamplingParams) -> Iterator[str]:
        return self.stream_prompt(self.apply_chat_template(messages), sampling)

    def generate(self, prompts: Sequence[str], sampling: SamplingParams) -> list[list[str]]:
        """``sampling.n`` completions per prompt. Backends with real batching override this."""
        return [["".join(self.stream_prompt(p, sampling)) for _ in range(sampling.n)] for p in prompts]

    def complete(self, prompt: str, sampling: SamplingParams, deadline: Optional[float] = None) -> list[Completion]:
        """``sampling.n`` completions of one prompt, each cut once ``time.monotonic()`` passes ``deadline``.
        One after another here; an engine that decodes the n as one batch overrides this."""
        completions = []
        for index in range(sampling.n):
            text, timed_out = "", False
            with closing(iter(self.stream_prompt(prompt, seeded_sample(sampling, index)))) as pieces:
                for piece in pieces:
                    text += piece
                    if deadline is not None and time.monotonic() >= deadline:
                        timed_out = True
                        break
            completions.append(Completion(text, timed_out))
        return completions

    batches: bool = False  # whether stream_rows decodes several prompts as one batch

    def row_batch(self, rows: int, capacity: int = 4096):
        """A continuous batch of ``rows`` sequences (``serve.engines.row_batch.RowBatch``), or None."""
        return None

    def stream_rows(self, prompts: Sequence[str], samplings: Sequence[SamplingParams],
                    active: Callable[[int], bool] = lambda row: True) -> Iterator[tuple[int, Optional[str]]]:
        """Several prompts as one batch (engines whose ``batches`` is True): ``(row, piece)``, ``(row, None)``."""
        raise NotImplementedError(f"the {self.backend} engine does not decode batches")

    def count_tokens(self, text: str) -> int:
        raise NotImplementedError

    @property
    def context_length(self) -> Optional[int]:
        """Prompt plus generated tokens the model can attend to (None: unknown)."""
        return None

    def close(self) -> None:
        pass

    @property
    def name(self) -> str:
        return f"{self.model_dir.parent.name}/{self.model_dir.name} ({self.backend})"


ENGINES: dict[str, str] = {
    "torch": "serve.engines.torch_engine:TorchEngine",
    "onnx": "serve.engines.onnx_engine:OnnxEngine",
}


def detect_backend(model_dir: Path) -> str:
    """``onnx`` for an exported folder (genai config or .onnx files), else ``torch``."""
    if (model_dir / "genai_config.json").is_file() or any(model_dir.glob("*.onnx")):
        return "onnx"
    if (model_dir / "config.json").is_file():
        return "torch"
    raise UserError(f"'{model_dir}' holds neither an ONNX export (genai_config.json / *.onnx) "
                    "nor a Hugging Face model (config.json)")


def load_engine(model: str | Path, backend: str = "auto", **options) -> Engine:
    """Load ``model`` (folder path or registry name) with ``backend`` (auto|torch|onnx)."""
    from serve.store.registry import resolve_model_dir

    model_dir = resolve_model_dir(model)
    chosen = detect_backend(model_dir) if backend == "auto" else backend
    if chosen not in ENGINES:
        raise UserError(f"unknown engine backend '{backend}'; valid: auto, {', '.join(ENGINES)}")
    module_name, _, class_name = ENGINES[chosen].partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.startswith("serve"):
            raise UserError(f"the '{chosen}' engine is not available in this version of scotd") from None
        extra = "serve" if chosen == "onnx" else "export"
        raise UserError(f"the '{chosen}' engine needs '{exc.name}'; install it with: pip install -e '.[{extra}]'") from None
    engine_class = getattr(module, class_name)
    accepted = [name for name in inspect.signature(engine_class.__init__).parameters if name not in ("self", "model_dir")]
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        raise UserError(f"the '{chosen}' engine has no option {', '.join(unknown)}; it takes: {', '.join(accepted)}")
    return engine_class(model_dir, **options)


def read_json(path: Path) -> dict:
    return json.loads(path.read_text()) if path.is_file() else {}


Item = TypeVar("Item")


def generate_in_batches(engine: Engine, items: Sequence[Item], render: Callable[[Item], str],
                        sampling: SamplingParams, batch_size: int, desc: str) -> Iterator[tuple[list[Item], list[list[str]]]]:
    """The batch-answer loop of ``scotd eval`` and ``scotd infer``: ``(batch, completions)``
    pairs, ``sampling.n`` completions per item, with a progress bar over the items."""
    from tqdm import tqdm

    with tqdm(total=len(items), desc=desc, unit="q", dynamic_ncols=True) as bar:
        for start in range(0, len(items), batch_size):
            batch = list(items[start:start + batch_size])
            yield batch, engine.generate([render(item) for item in batch], sampling)
            bar.update(len(batch))
