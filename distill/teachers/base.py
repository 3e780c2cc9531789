"""The teacher interface: jobs in, batches of samples out as they complete.

A ``Job`` asks for ``n`` samples of one prompt. ``Teacher.sample(jobs)`` yields
``(job, samples)`` pairs in completion order; one job may come back in several
pieces (a server that ignores ``n``, a batch cut), and the sampler numbers the
samples of a job in the order they arrive. Each backend keeps token totals in
``usage``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Iterator, Literal, Optional

from distill.prompting import TeacherPrompt
from serve.core.config import option
from serve.core.records import Example
from serve.engines.interface import SamplingParams


@dataclass
class TeacherConfig:
    """The teacher model and how to reach it."""
    backend: str = option("openai", "teacher backend: openai (any OpenAI-compatible server), hf (local transformers) or program (a task solver, see distill/solvers)")
    model: str = option("", "model name sent to the server (openai) or registry name / folder (hf)")
    base_url: str = option("http://127.0.0.1:8000/v1", "openai: server URL up to /v1")
    api: Literal["chat", "completions"] = option("chat", "openai: /v1/chat/completions or /v1/completions")
    api_key_env: str = option("OPENAI_API_KEY", "openai: environment variable holding the API key (never logged)")
    concurrency: int = option(16, "openai: requests in flight at once")
    n_per_request: int = option(0, "openai: samples asked per request (0 = all of an instance; falls back to 1 "
                                   "per request if the server ignores n)")
    timeout_s: float = option(120.0, "openai: per-request timeout in seconds")
    max_retries: int = option(8, "openai: retries of one request on 429/5xx/timeouts/resets before giving up")
    backoff_s: float = option(1.0, "openai: first retry delay; doubles each retry, with jitter, capped by max_backoff_s")
    max_backoff_s: float = option(60.0, "openai: longest delay between retries (Retry-After may ask for more)")
    logprobs: bool = option(False, "openai: ask the server for token logprobs (vLLM, OpenAI support it)")
    batch_size: int = option(32, "hf: sequences generated together (prompts x samples per generate call)")
    share_prefill: bool = option(True, "hf: run each prompt through the model once and copy its KV cache to the n samples")
    device: str = option("auto", "hf: auto (cuda if available), cpu, cuda, cuda:1 ...")
    dtype: str = option("auto", "hf: auto (bf16 on GPU, fp32 on CPU), float32, bfloat16, float16")
    prompt_style: Literal["auto", "chat", "text"] = option(
        "auto", "chat messages or plain few-shot text; auto = chat for the chat API or a model with a chat template")
    trust_remote_code: bool = option(False, "hf: run model code shipped with the checkpoint (off: only built-in architectures)")
    rationale_style: str = option("default", "program: the solvers' rationale style, or several separated by commas, "
                                             "each family writing the first it has (tracking_shuffled_objects: compact, "
                                             "pairs; dyck_languages: pop_each; logical_deduction: numbered_spots; "
                                             "multistep_arithmetic_two, boolean_expressions: op_first)")


@dataclass
class Job:
    example_id: str
    prompt: TeacherPrompt
    n: int
    example: Optional[Example] = None  # the question itself, for teachers that solve rather than prompt
    indices: tuple[int, ...] = ()  # the sample indices this job fills, in order


@dataclass
class Sample:
    text: str
    logprob: Optional[float] = None  # sum of the token log-probabilities of ``text``
    tokens: int = 0
    finish_reason: Optional[str] = None


@dataclass
class Usage:
    requests: int = 0
    retries: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    errors: dict[str, int] = field(default_factory=dict)

    def count_error(self, kind: str) -> None:
        self.errors[kind] = self.errors.get(kind, 0) + 1


class Teacher(ABC):
    name: str

    def __init__(self, config: TeacherConfig, sampling: SamplingParams):
        self.config = config
        self.sampling = sampling
        self.usage = Usage()

    @abstractmethod
    def sample(self, jobs: list[Job]) -> Iterator[tuple[Job, list[Sample]]]:
        """Yield ``(job, samples)`` as they complete, until every job has ``job.n`` samples."""

    def close(self) -> None:
        pass
