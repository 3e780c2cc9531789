"""An OpenAI-compatible HTTP API over one engine: ``/v1/chat/completions`` and ``/v1/models``.

Streaming (server-sent events) and non-streaming, ``n`` samples, ``stop``, ``seed``,
``max_tokens``/``max_completion_tokens``; errors use OpenAI's ``{"error": {...}}`` shape
so OpenAI clients raise their usual exceptions. Concurrent requests decode as one batch
(``batch_rows``, ``serve.apps.batching``) where the engine batches (a genai export); otherwise
generation is serialised by a semaphore (``concurrency``): on a CPU, parallel requests only share the
same cores.

Work per request is bounded: ``max_tokens`` may not exceed the server's cap nor what the context
window leaves after the prompt (400 naming both), a reply that runs past ``request_timeout_s``
ends with ``finish_reason: "length"``, a streaming client that disconnects stops its generation
within a token, and at most ``max_queue`` requests wait for a slot (429 with ``Retry-After``
beyond that, on which OpenAI clients and scotd's teacher back off).
Around it (``serve.apps.api_conventions``): ``/health``, ``/metrics`` and an optional API key.
Started by ``scotd serve --api``; the distill ``openai`` teacher backend can point at it.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from contextlib import contextmanager
from typing import Any, AsyncIterator, Iterator, Literal, Optional, Union

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from serve.apps.api_conventions import FAILED, ApiError, Conventions, Metrics, Serving, api_key_from
from serve.apps.api_streams import Tally, batched_chunks, finish_reason, sequential_chunks
from serve.apps.batching import Batcher, Ticket, collect, optional_batcher
from serve.core.student_format import split_answer_sentence
from serve.engines.interface import Completion, Engine, SamplingError, SamplingParams

ROLES = ("system", "user", "assistant")  # what chat templates render; any other role is refused


class Message(BaseModel):
    model_config = ConfigDict(extra="allow")
    role: str
    content: Any = None  # checked by text(): a string or a list of text parts

    def text(self, index: int) -> str:
        where = f"messages[{index}].content"
        if isinstance(self.content, str):
            return self.content
        if not isinstance(self.content, list):
            got = "null" if self.content is None else type(self.content).__name__
            raise ApiError(400, f"{where} is {got}; it must be a string or a list of text parts "
                                '([{"type": "text", "text": "..."}])', param=where)
        for at, part in enumerate(self.content):
            if not (isinstance(part, dict) and part.get("type") == "text" and isinstance(part.get("text"), str)):
                kind = f"a '{part.get('type')}' part" if isinstance(part, dict) else type(part).__name__
                raise ApiError(400, f"{where}[{at}] is {kind}; this server reads only text parts "
                                    '({"type": "text", "text": "..."})', param=where)
        return "".join(part["text"] for part in self.content)


class ChatRequest(BaseModel):
    model_config = ConfigDict(extra="allow")  # user, metadata, ... are accepted and ignored
    model: str
    messages: list[Message] = Field(min_length=1)
    # Ranges common to every verb are checked by SamplingParams; these caps are the API's own policy.
    temperature: float = Field(1.0, le=2.0)
    top_p: float = 1.0
    n: int = Field(1, le=16)
    max_tokens: Optional[int] = None
    max_completion_tokens: Optional[int] = None
    stop: Union[str, list[str], None] = None
    seed: Optional[int] = None
    stream: bool = False
    stream_options: Optional[dict[str, Any]] = None
    reasoning_format: Optional[Literal["none", "split"]] = None  # None: the server's --reasoning_format
    logprobs: Optional[bool] = None  # refused when asked for: no engine here returns log probabilities
    top_logprobs: Optional[int] = None


class Slots:
    """``concurrency`` generation slots and a bounded wait: beyond ``max_queue`` waiting, a 429."""

    def __init__(self, concurrency: int, max_queue: int, retry_after_s: int):
        self.size = max(1, concurrency)
        self.free = threading.Semaphore(self.size)
        self.lock, self.waiting, self.max_queue, self.retry_after_s = threading.Lock(), 0, max_queue, retry_after_s
        self.running = 0

    def widen(self, slots: int) -> None:
        """At least ``slots`` requests at once (a batching engine decodes them together)."""
        with self.lock:
            extra, self.size = max(0, slots - self.size), max(self.size, slots)
        if extra:
            self.free.release(extra)

    def enter_queue(self) -> None:
        with self.lock:
            if self.waiting >= self.max_queue:
                raise ApiError(429, f"the server is busy: {self.waiting} requests are waiting (scotd serve "
                                    f"--max_queue {self.max_queue}); retry after {self.retry_after_s} s",
                               kind="rate_limit_error", code="server_busy",
                               headers={"Retry-After": str(self.retry_after_s)})
            self.waiting += 1

    def _leave_queue(self, started: bool) -> None:
        with self.lock:
            self.waiting -= 1
            self.running += started

    def release(self) -> None:
        with self.lock:
            self.running -= 1
        self.free.release()

    @contextmanager
    def hold(self) -> Iterator[None]:
        self.enter_queue()
        started = False
        try:
            started = self.free.acquire()
        finally:
            self._leave_queue(started)
        try:
            yield
        finally:
            self.release()

    async def acquire_queued(self) -> None:
        """Wait for a slot (after ``enter_queue``) without holding a thread, so a client that leaves
        while waiting costs nothing."""
        started = False
        try:
            while not (started := self.free.acquire(blocking=False)):
                await asyncio.sleep(0.01)
        finally:
            self._leave_queue(started)


def _invalid_request(exc: RequestValidationError) -> ApiError:
    """FastAPI's validation error as OpenAI's 400; a body that is not a JSON object is named ``body``."""
    first = exc.errors()[0] if exc.errors() else {}
    loc = tuple(first.get("loc", ()))
    if first.get("type") == "json_invalid":  # loc: ("body", character offset)
        why = (first.get("ctx") or {}).get("error", "decode error")
        at = f" at character {loc[1]}" if len(loc) > 1 else ""
        return ApiError(400, f"the request body is not valid JSON: {why}{at}", param="body", code="invalid_json")
    if loc == ("body",):
        return ApiError(400, "the request body must be a JSON object (Content-Type: application/json): "
                             f"{first.get('msg', 'bad value')}", param="body")
    where = ".".join(str(p) for p in loc if p != "body")
    return ApiError(400, f"invalid request: {where}: {first.get('msg', 'bad value')}", param=where or None)


def create_api(engine: Optional[Engine], model_id: Optional[str], max_input_chars: int = 8000, concurrency: int = 1,
               default_max_tokens: int = 256, max_tokens_cap: int = 2048, request_timeout_s: float = 300.0,
               max_queue: int = 32, reasoning_format: str = "none", api_key: Optional[str] = None,
               batch_rows: int = 8) -> FastAPI:
    """The API app. ``engine`` None: loading; ``app.state.serving.ready(engine, model_id)`` serves it then
    (``/health`` is 503 and ``/v1`` requests wait until that). ``api_key``: required on every route but /health.
    ``batch_rows``: rows (requests x n) one batch may hold where the engine batches; 1 decodes one at a time."""
    app = FastAPI(title="scotd OpenAI-compatible API")
    slots = Slots(concurrency, max_queue, retry_after_s=max(1, int(request_timeout_s // 10)))
    serving = app.state.serving = Serving(engine, model_id)
    batching: dict = {"lock": threading.Lock(), "engine": None, "batcher": None}
    metrics = app.state.metrics = Metrics(lambda: {"queue_depth": slots.waiting, "running": slots.running,
                                                   "loaded": int(serving.loaded),
                                                   **(batching["batcher"].counts() if batching["batcher"] else {})})
    app.add_middleware(Conventions, serving=serving, metrics=metrics, api_key=api_key, load_wait_s=request_timeout_s)
    created = int(time.time())

    def batcher_for(engine: Engine) -> Optional[Batcher]:
        """The engine's batcher, made on first use (the engine may load after the app starts)."""
        with batching["lock"]:
            if batching["engine"] is not engine:
                batching.update(engine=engine, batcher=optional_batcher(engine, batch_rows))
                if batching["batcher"] is not None:
                    slots.widen(batch_rows)
            return batching["batcher"]

    def model_card() -> dict:
        return {"id": serving.model_id, "object": "model", "created": created, "owned_by": "scotd"}

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError):
        return exc.response()

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError):
        return _invalid_request(exc).response()

    @app.get("/v1/models")
    def list_models() -> dict:
        return {"object": "list", "data": [model_card()]}

    @app.get("/v1/models/{name:path}")
    def get_model(name: str) -> dict:
        if name != serving.model_id:
            raise ApiError(404, f"model '{name}' is not served here; this server serves '{serving.model_id}'",
                           code="model_not_found")
        return model_card()

    def token_budget(engine: Engine, request: ChatRequest, prompt_tokens: int) -> int:
        room = engine.context_length - prompt_tokens if engine.context_length else max_tokens_cap
        limit = min(max_tokens_cap, room)
        if limit < 1:
            raise ApiError(400, f"the prompt takes {prompt_tokens} tokens of the {engine.context_length}-token context "
                                "window: no room to answer; shorten the messages", param="messages",
                           code="context_length_exceeded")
        asked = request.max_completion_tokens or request.max_tokens
        if asked is not None and asked > limit:
            param = "max_completion_tokens" if request.max_completion_tokens else "max_tokens"
            raise ApiError(400, f"{param} {asked} is more than this server generates for this prompt: at most {limit} "
                                f"(server cap {max_tokens_cap}, scotd serve --max_tokens_cap N; the context window "
                                f"leaves {room} tokens after the {prompt_tokens}-token prompt)", param=param)
        return asked if asked is not None else min(default_max_tokens, limit)

    def prepare(engine: Engine, request: ChatRequest) -> tuple[str, SamplingParams, int]:
        if request.model != serving.model_id:
            raise ApiError(404, f"model '{request.model}' is not served here; use model='{serving.model_id}' "
                                "(see GET /v1/models)", param="model", code="model_not_found")
        for param, asked in (("logprobs", request.logprobs), ("top_logprobs", request.top_logprobs)):
            if asked:  # false, 0 and null ask for nothing
                raise ApiError(400, f"{param} is not supported: this server's engines ({engine.backend}) do not return "
                                    "token log probabilities; leave logprobs and top_logprobs out", param=param)
        for index, message in enumerate(request.messages):
            if message.role not in ROLES:
                raise ApiError(400, f"messages[{index}].role '{message.role}' is not one of {', '.join(ROLES)}",
                               param=f"messages.{index}.role")
        messages = [{"role": m.role, "content": m.text(index)} for index, m in enumerate(request.messages)]
        size = sum(len(m["content"]) for m in messages)
        if size > max_input_chars:
            raise ApiError(400, f"messages hold {size} characters; this server accepts at most {max_input_chars} "
                                "(scotd serve --api --max_input_chars N)", param="messages",
                           code="context_length_exceeded")
        prompt = engine.apply_chat_template(messages)
        prompt_tokens = engine.count_tokens(prompt)
        stop = [request.stop] if isinstance(request.stop, str) else list(request.stop or [])
        try:
            sampling = SamplingParams(n=request.n, max_new_tokens=token_budget(engine, request, prompt_tokens),
                                      temperature=request.temperature, top_p=request.top_p, stop=stop, seed=request.seed)
        except SamplingError as exc:
            param = {"max_new_tokens": "max_tokens"}.get(exc.param, exc.param)
            raise ApiError(400, str(exc).replace(f"sampling.{exc.param}", param), param=param) from None
        return prompt, sampling, prompt_tokens

    def split(request: ChatRequest) -> bool:
        return (request.reasoning_format or reasoning_format) == "split"

    def message(text: str, split_reasoning: bool) -> dict:
        if not split_reasoning:
            return {"role": "assistant", "content": text}
        reasoning, answer = split_answer_sentence(text)
        return {"role": "assistant", "content": answer, "reasoning_content": reasoning, "reasoning": reasoning}

    def usage(prompt_tokens: int, completion_tokens: int) -> dict:
        return {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens}

    @app.post("/v1/chat/completions")
    def chat_completions(request: ChatRequest, http: Request):
        arrived, engine = time.monotonic(), serving.engine
        prompt, sampling, prompt_tokens = prepare(engine, request)
        base = {"id": f"chatcmpl-{uuid.uuid4().hex}", "created": int(time.time()), "model": serving.model_id}
        if request.stream:
            slots.enter_queue()  # a 429 must be decided before the 200 of a stream is sent
            return StreamingResponse(stream_events(engine, request, prompt, sampling, base, prompt_tokens, arrived,
                                                   http.scope), media_type="text/event-stream")
        batcher = batcher_for(engine)
        with slots.hold():
            deadline = time.monotonic() + request_timeout_s
            try:  # the n samples of an engine that batches them decode together, cut together at the deadline
                replies = [Completion(text, cut) for text, cut in collect(batcher, batcher.submit(
                    Ticket(prompt, sampling, deadline, prompt_tokens)))] if batcher else \
                    engine.complete(prompt, sampling, deadline=deadline)
            except Exception as exc:  # noqa: BLE001 - reported to the client in OpenAI's shape
                raise ApiError(500, f"generation failed: {exc}", kind="server_error") from exc
        tokens = [engine.count_tokens(reply.text) for reply in replies]
        choices = [{"index": i, "message": message(reply.text, split(request)), "logprobs": None,
                    "finish_reason": finish_reason(reply.timed_out, used, sampling)}
                   for i, (reply, used) in enumerate(zip(replies, tokens))]
        completion_tokens = sum(tokens)
        metrics.tokens(prompt_tokens, completion_tokens)
        return dict(base, object="chat.completion", choices=choices, usage=usage(prompt_tokens, completion_tokens))

    async def stream_events(engine: Engine, request: ChatRequest, prompt: str, sampling: SamplingParams, base: dict,
                            prompt_tokens: int, arrived: float, scope: dict) -> AsyncIterator[str]:
        # An async generator: when the client disconnects, Starlette cancels it at its next await,
        # the finally below frees the slot, and the engine is not asked for another token.
        tally = Tally(arrived, metrics.first_token)
        await slots.acquire_queued()
        metrics.tokens(prompt=prompt_tokens)
        deadline = time.monotonic() + request_timeout_s
        batcher = batcher_for(engine)
        chunks = batched_chunks(batcher, Ticket(prompt, sampling, deadline, prompt_tokens), base, split(request), tally,
                                engine.count_tokens) if batcher else \
            sequential_chunks(engine, prompt, sampling, base, deadline, split(request), tally)
        try:
            async for event in chunks:
                yield event
        except Exception as exc:  # noqa: BLE001 - headers are sent: report in-band, then end
            scope[FAILED] = True
            yield f"data: {json.dumps({'error': {'message': f'generation failed: {exc}', 'type': 'server_error'}})}\n\n"
        finally:
            await chunks.aclose()
            slots.release()
            metrics.tokens(completion=tally.tokens)
        if (request.stream_options or {}).get("include_usage"):
            body = dict(base, object="chat.completion.chunk", choices=[], usage=usage(prompt_tokens, tally.tokens))
            yield f"data: {json.dumps(body)}\n\n"
        yield "data: [DONE]\n\n"

    return app


def serve_api(cfg) -> None:
    """Serve ``cfg.model`` (a ServeConfig) with uvicorn on ``cfg.host:cfg.port``. The server listens at
    once and loads the model in a thread: ``/health`` answers 503 until it is ready, ``/v1`` requests
    wait for it. A model that fails to load stops the server and its error is raised here."""
    import uvicorn

    from serve.apps.model_pick import model_label, resolve_serving_model
    from serve.engines.interface import load_engine

    app = create_api(None, None, max_input_chars=cfg.max_input_chars, concurrency=cfg.concurrency,
                     default_max_tokens=cfg.sampling.max_new_tokens, max_tokens_cap=cfg.max_tokens_cap,
                     request_timeout_s=cfg.request_timeout_s, max_queue=cfg.max_queue,
                     reasoning_format=cfg.reasoning_format, api_key=api_key_from(cfg.api_key), batch_rows=cfg.batch_rows)
    server = uvicorn.Server(uvicorn.Config(app, host=cfg.host, port=cfg.port, log_level="warning"))
    failure: list[BaseException] = []

    def load() -> None:
        try:
            model_dir = resolve_serving_model(cfg.model)
            engine = load_engine(model_dir, backend=cfg.backend)
            label = model_label(model_dir)
            model_id = cfg.served_name or (label.replace(" · ", "/") if label != str(model_dir) else model_dir.name)
        except BaseException as exc:  # noqa: BLE001 - raised again in the main thread once the server stops
            failure.append(exc)
            app.state.serving.failed(str(exc))
            server.should_exit = True
            return
        app.state.serving.ready(engine, model_id)
        print(f"[scotd] serving '{model_id}' ({engine.backend}) at http://{cfg.host}:{cfg.port}/v1", flush=True)

    print(f"[scotd] loading the model; http://{cfg.host}:{cfg.port}/health answers 503 until it is ready", flush=True)
    threading.Thread(target=load, name="scotd-load", daemon=True).start()
    server.run()
    if failure:
        raise failure[0]
