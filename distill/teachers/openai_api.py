"""Teacher behind any OpenAI-compatible HTTP server (OpenAI, vLLM, llama.cpp, TGI, Ollama).

Requests run on an asyncio loop in a background thread (httpx.AsyncClient, at most
``concurrency`` in flight); finished batches reach the caller through a queue so
the sampler can write them to disk as they arrive. A request asks for all missing
samples of an instance at once (``n``); if the server answers with fewer choices,
the backend stops asking for ``n`` > 1 and sends one request per sample instead.
429, 5xx, timeouts and dropped connections are retried with exponential backoff
and jitter, honouring ``Retry-After``; other HTTP errors stop the run with the
server's message, since retrying a bad request or a wrong key cannot succeed.
"""

from __future__ import annotations

import asyncio
import email.utils
import os
import queue
import random
import threading
import time
from typing import Any, Iterator, Optional

import httpx

from distill.prompting import TEXT_STOP, clean_rationale
from distill.teachers.base import Job, Sample, Teacher
from serve.core.errors import UserError

RETRY_STATUS = {408, 409, 425, 429, 500, 502, 503, 504}
UNREACHABLE_AFTER_S = 5.0  # connection refused / unknown host for this long before any answer: fail
_DONE = object()


class TeacherError(UserError):
    """The server refused in a way a retry cannot fix, or kept failing past max_retries."""


def retry_after_seconds(value: Optional[str]) -> Optional[float]:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date), or None."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        parsed = email.utils.parsedate_to_datetime(value) if value.strip() else None
        return max(0.0, parsed.timestamp() - time.time()) if parsed else None


class OpenAITeacher(Teacher):
    def __init__(self, config, sampling):
        super().__init__(config, sampling)
        if not config.model:
            raise UserError("teacher.model is empty; set it to the model name the server serves "
                            "(e.g. --teacher.model meta-llama/Llama-3.1-8B-Instruct)")
        self.name = f"openai:{config.model}"
        self.api_key = os.environ.get(config.api_key_env, "")
        if config.api == "completions" and config.prompt_style == "chat":
            raise UserError("teacher.prompt_style chat needs teacher.api chat; the completions API takes plain text")
        self.use_chat = config.api == "chat"
        self.few_shot_as_turns = config.prompt_style != "text"  # else the few-shot text goes in one user turn
        self.server_honours_n: Optional[bool] = None if config.n_per_request != 1 else False

    # ------------------------------------------------------------------ request bodies

    def _body(self, job: Job, n: int) -> tuple[str, dict[str, Any]]:
        s = self.sampling
        body: dict[str, Any] = {"model": self.config.model, "n": n, "max_tokens": s.max_new_tokens,
                                "temperature": s.temperature, "top_p": s.top_p, "stop": TEXT_STOP[:4]}
        if s.seed is not None:
            body["seed"] = s.seed
        if self.use_chat:
            body["messages"] = (list(job.prompt.messages) if self.few_shot_as_turns
                                else [{"role": "user", "content": job.prompt.text}])
            if self.config.logprobs:
                body["logprobs"] = True
            return "/chat/completions", body
        body["prompt"] = job.prompt.text
        if self.config.logprobs:
            body["logprobs"] = 1
        return "/completions", body

    def _parse(self, data: dict[str, Any]) -> list[Sample]:
        choices = data.get("choices")
        if not isinstance(choices, list):
            raise ValueError("response has no 'choices' list")
        usage = data.get("usage") or {}
        self.usage.prompt_tokens += int(usage.get("prompt_tokens") or 0)
        completion = int(usage.get("completion_tokens") or 0)
        self.usage.completion_tokens += completion
        samples = []
        for choice in choices:
            text = (choice.get("message") or {}).get("content") if self.use_chat else choice.get("text")
            token_logprobs = _token_logprobs(choice.get("logprobs"))
            # Without logprobs the per-sample count is the request's total shared evenly (exact when n = 1).
            tokens = len(token_logprobs) if token_logprobs else round(completion / max(1, len(choices)))
            samples.append(Sample(clean_rationale(text or ""), sum(token_logprobs) if token_logprobs else None,
                                  tokens, choice.get("finish_reason")))
        return samples

    # ------------------------------------------------------------------ one request with retries

    def _delay(self, attempt: int, retry_after: Optional[float]) -> float:
        backoff = min(self.config.max_backoff_s, self.config.backoff_s * 2 ** attempt)
        jittered = backoff * random.uniform(0.5, 1.0)
        return max(jittered, retry_after) if retry_after is not None else jittered

    async def _request(self, client: httpx.AsyncClient, job: Job, n: int) -> list[Sample]:
        path, body = self._body(job, n)
        for attempt in range(self.config.max_retries + 1):
            retry_after = None
            try:
                self.usage.requests += 1
                response = await client.post(path, json=body)
                if response.status_code == 200:
                    return self._parse(response.json())
                if response.status_code not in RETRY_STATUS:
                    raise TeacherError(_refusal(response, self.config))
                kind = f"http {response.status_code}"
                retry_after = retry_after_seconds(response.headers.get("retry-after"))
            except (httpx.TimeoutException, httpx.TransportError) as exc:
                kind = type(exc).__name__
            except ValueError as exc:  # a 200 whose body is not the expected JSON: treat as transient
                kind = f"bad response ({exc})"
            self.usage.count_error(kind)
            if attempt == self.config.max_retries:
                raise TeacherError(f"request for '{job.example_id}' failed {attempt + 1} times (last: {kind}); "
                                   f"check the server at {self.config.base_url}, or raise teacher.max_retries")
            self.usage.retries += 1
            await asyncio.sleep(self._delay(attempt, retry_after))
        raise AssertionError("unreachable")

    # ------------------------------------------------------------------ scheduling

    async def _check_reachable(self, client: httpx.AsyncClient) -> None:
        """Fail in seconds, not after the retry schedule, when nothing answers at base_url: the long
        backoff is for servers that have answered (429, 5xx, timeouts, drops), not for a wrong URL."""
        deadline = time.monotonic() + UNREACHABLE_AFTER_S
        while True:
            try:
                await client.get("/models", timeout=UNREACHABLE_AFTER_S)
                return  # any HTTP answer, even an error status, means a server is there
            except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
                if time.monotonic() >= deadline:
                    reason = str(exc) or type(exc).__name__
                    raise TeacherError(f"no server answers at {self.config.base_url} ({reason}); start the "
                                       "teacher server or fix teacher.base_url") from None
                await asyncio.sleep(0.5)  # a server that is still starting gets a few seconds
            except httpx.HTTPError:
                return  # it accepted the connection; the requests' own retries handle the rest

    async def _run_job(self, client, limit: asyncio.Semaphore, job: Job, out: queue.Queue) -> None:
        remaining = job.n
        while remaining > 0:
            if self.server_honours_n is False:
                ask = 1
            else:
                ask = remaining if self.config.n_per_request <= 0 else min(remaining, self.config.n_per_request)
            async with limit:
                samples = await self._request(client, job, ask)
            if ask > 1 and len(samples) < ask:
                self.server_honours_n = False
            elif ask > 1:
                self.server_honours_n = True
            samples = samples[:remaining]
            remaining -= len(samples)
            if samples:
                out.put((job, samples))

    async def _run_all(self, jobs: list[Job], out: queue.Queue, stop: threading.Event) -> None:
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        limits = httpx.Limits(max_connections=self.config.concurrency, max_keepalive_connections=self.config.concurrency)
        async with httpx.AsyncClient(base_url=self.config.base_url.rstrip("/"), headers=headers, limits=limits,
                                     timeout=httpx.Timeout(self.config.timeout_s)) as client:
            await self._check_reachable(client)
            limit = asyncio.Semaphore(self.config.concurrency)
            pending = {asyncio.ensure_future(self._run_job(client, limit, job, out)) for job in jobs}
            try:
                while pending and not stop.is_set():
                    done, pending = await asyncio.wait(pending, timeout=0.5, return_when=asyncio.FIRST_EXCEPTION)
                    for task in done:
                        task.result()  # re-raise a TeacherError right away
            finally:
                for task in pending:
                    task.cancel()
                await asyncio.gather(*pending, return_exceptions=True)

    def sample(self, jobs: list[Job]) -> Iterator[tuple[Job, list[Sample]]]:
        out: queue.Queue = queue.Queue()
        stop = threading.Event()

        def worker() -> None:
            try:
                asyncio.run(self._run_all(jobs, out, stop))
                out.put(_DONE)
            except BaseException as exc:  # handed to the caller's thread
                out.put(exc)

        thread = threading.Thread(target=worker, name="openai-teacher", daemon=True)
        thread.start()
        try:
            while True:
                item = out.get()
                if item is _DONE:
                    return
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            stop.set()
            thread.join(timeout=5)


def _token_logprobs(logprobs: Any) -> list[float]:
    if not isinstance(logprobs, dict):
        return []
    if isinstance(logprobs.get("content"), list):  # chat API
        return [float(t["logprob"]) for t in logprobs["content"] if t.get("logprob") is not None]
    if isinstance(logprobs.get("token_logprobs"), list):  # completions API
        return [float(v) for v in logprobs["token_logprobs"] if v is not None]
    return []


def _refusal(response: httpx.Response, config) -> str:
    try:
        detail = response.json().get("error", {})
        message = detail.get("message") if isinstance(detail, dict) else str(detail)
    except ValueError:
        message = response.text[:200]
    hints = {401: f"check the API key in ${config.api_key_env}",
             403: f"check the API key in ${config.api_key_env} and its access to '{config.model}'",
             404: f"check teacher.base_url ({config.base_url}, up to /v1), teacher.api and teacher.model",
             400: "check teacher.model and the sampling options the server accepts"}
    hint = hints.get(response.status_code, "see the server's message")
    return f"teacher server answered {response.status_code}: {message or 'no message'}; {hint}"
