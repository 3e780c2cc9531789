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

import importlib
import json
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Optional, Sequence

from serve.core.errors import UserError


@dataclass
class SamplingParams:
    max_new_tokens: int = 256
    temperature: float = 0.0  # 0 means greedy
    top_p: float = 1.0
    top_k: int = 0  # 0 means no top-k cut
    stop: list[str] = field(default_factory=list)
    seed: Optional[int] = None

    @property
    def greedy(self) -> bool:
        return self.temperature <= 0.0


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

    def generate(self, prompts: Sequence[str], sampling: SamplingParams, n: int = 1) -> list[list[str]]:
        """``n`` completions per prompt. Backends with real batching override this."""
        return [["".join(self.stream_prompt(p, sampling)) for _ in range(n)] for p in prompts]

    def count_tokens(self, text: str) -> int:
        raise NotImplementedError

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
    return getattr(module, class_name)(model_dir, **options)


def read_json(path: Path) -> dict:
    return json.loads(path.read_text()) if path.is_file() else {}
