"""``scotd serve``: a Gradio reasoning chat (or, with ``--api``, an OpenAI-compatible HTTP API).

The chat tab streams the model's rationale into a collapsible "Thinking" block and
shows the parsed answer on its own; a multiple-choice helper, sampling controls,
optional self-consistency voting and per-reply speed sit beside it. The compare
tab asks two models the same question. Binds 127.0.0.1 unless ``--host`` says otherwise.
"""

from __future__ import annotations

import functools
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Optional

from serve.apps.model_pick import EngineCache, model_label, resolve_serving_model, servable_models
from serve.core.config import option, parse_args
from serve.engines.interface import SamplingParams

CSS = """
#answer h3 { background: var(--color-accent-soft); border-left: 4px solid var(--color-accent);
             padding: 0.4em 0.8em; border-radius: 4px; margin: 0; }
"""


DEFAULT_EXAMPLES = "gen:tracking_shuffled_objects/three_objects + gen:arithmetic/2_digit_addition + gen:navigate"


@dataclass
class ServeConfig:
    model: Optional[str] = option(None, "registry name or folder of the model to serve; default: the distilled "
                                        "reasoner (scotd run recipes/reasoner-one-phase-fifth.yaml builds it), else the "
                                        "int8 ONNX export of smollm2-135m-instruct, else its PyTorch folder",
                                  positional=True)
    compare_with: Optional[str] = option(None, "second model preselected in the compare tab (name or folder)")
    models: list[str] = option(help="more model folders for the picker (models/*/* are listed anyway)",
                               default_factory=list)
    backend: Literal["auto", "torch", "onnx"] = option("auto", "engine backend: auto (from the folder), torch or onnx")
    host: str = option("127.0.0.1", "interface to bind; 0.0.0.0 exposes the server to the network")
    port: int = option(7860, "port to listen on (0: a free one)")
    api: bool = option(False, "serve the OpenAI-compatible API (/v1/chat/completions, /v1/models) instead of the UI")
    served_name: Optional[str] = option(None, "model id the API reports (default: the model's folder label)")
    max_input_chars: int = option(2000, "longest question (with options) accepted; longer ones get a message")
    sampling: SamplingParams = option(default_factory=SamplingParams,
                                      help="default decoding: the UI's sliders start here (max tokens up to 4x "
                                           "sampling.max_new_tokens); the API's default max_tokens")
    concurrency: int = option(1, "requests generated at once (more share the same CPU cores); others queue")
    batch_rows: int = option(8, "API: requests (x n) that arrive together decode as one batch of at most this many "
                                "rows, on an ONNX genai export; 1: one request at a time")
    max_queue: int = option(32, "requests waiting at most; beyond this the UI asks users to retry, the API answers 429")
    max_tokens_cap: int = option(2048, "API: the most tokens one reply may ask for (max_tokens above it: 400)")
    reasoning_format: Literal["none", "split"] = option(
        "none", "API: 'split' returns the rationale in reasoning_content and reasoning (the fields llama.cpp, DeepSeek "
                "and vLLM clients read) and the answer sentence in content; 'none' keeps the whole text in content "
                "(what scotd's openai teacher expects); a request's reasoning_format overrides it")
    request_timeout_s: float = option(300.0, "API: wall-clock limit of one request's generation; a reply cut by it "
                                             "ends with finish_reason 'length'")
    api_key: Optional[str] = option(None, "API: require 'Authorization: Bearer KEY' on every route but /health "
                                          "(default: $SCOTD_API_KEY; neither: no key)")
    engines_loaded: int = option(2, "models kept in memory at once (the compare tab needs 2)")
    examples: str = option("auto", "source of example questions, test split (any scotd data source, e.g. bbh:TASK; "
                                    "A + B: a few from each; auto: the served student's own training tasks, else "
                                    f"{DEFAULT_EXAMPLES}; empty: built-in ones)")
    examples_count: int = option(2, "example questions shown per source")


def build_app(cfg: ServeConfig, engines: EngineCache | None = None):
    import gradio as gr

    from serve.apps import gradio_handlers as handlers

    main_dir = resolve_serving_model(cfg.model)
    models = {model_label(main_dir): main_dir}
    if cfg.compare_with:
        compare_dir = resolve_serving_model(cfg.compare_with)
        models[model_label(compare_dir)] = compare_dir
    for label, path in servable_models([Path(p) for p in cfg.models]).items():
        models.setdefault(label, path)
    labels = list(models)
    second = labels[1] if len(labels) > 1 else labels[0]
    engines = engines or EngineCache(capacity=cfg.engines_loaded, backend=cfg.backend)
    limits = handlers.Limits(max_input_chars=cfg.max_input_chars)
    source = handlers.examples_source(main_dir, DEFAULT_EXAMPLES) if cfg.examples == "auto" else cfg.examples
    examples, examples_note = handlers.load_example_questions(source, cfg.examples_count)

    with gr.Blocks(title="scotd · reasoning chat") as demo:
        gr.Markdown("## scotd · a small model that thinks step by step\nEach question is answered on its own; "
                    "the model's reasoning appears in the collapsible *Thinking* block, the parsed answer below it.")
        with gr.Row():
            model = gr.Dropdown(labels, value=labels[0], label="Model", scale=3)
            temperature = gr.Slider(0.0, 1.5, value=cfg.sampling.temperature, step=0.05, label="Temperature (0 = greedy)")
            top_p = gr.Slider(0.05, 1.0, value=cfg.sampling.top_p, step=0.05, label="Top-p")
            max_tokens = gr.Slider(16, max(64, 4 * cfg.sampling.max_new_tokens), value=cfg.sampling.max_new_tokens, step=16,
                                   label="Max new tokens")
        with gr.Tab("Chat"):
            with gr.Row():
                with gr.Column(scale=3):
                    chat = gr.Chatbot(label="Conversation", height=460, elem_id="chat")
                    answer = gr.Markdown(elem_id="answer")
                    stats = gr.Markdown(elem_id="stats")
                with gr.Column(scale=2):
                    question = gr.Textbox(label="Question", lines=3, elem_id="question",
                                          placeholder="Ask something that needs a few steps of reasoning")
                    options = gr.Textbox(label="Answer options (optional, one per line)", lines=4,
                                         elem_id="options")
                    n = gr.Slider(1, 9, value=1, step=1, label="Self-consistency samples (1 = off)")
                    with gr.Row():
                        send = gr.Button("Ask", variant="primary", elem_id="ask")
                        clear = gr.Button("Clear")
                    votes = gr.Markdown(elem_id="votes")
                    gr.Examples(examples, [question, options], label=f"Examples — {examples_note}")
        with gr.Tab("Compare"):
            with gr.Row():
                model_a = gr.Dropdown(labels, value=labels[0], label="Model A")
                model_b = gr.Dropdown(labels, value=second, label="Model B")
            c_question = gr.Textbox(label="Question", lines=2)
            c_options = gr.Textbox(label="Answer options (optional, one per line)", lines=3)
            c_go = gr.Button("Ask both", variant="primary")
            with gr.Row():
                card_a = gr.Markdown()
                card_b = gr.Markdown()
            gr.Examples(examples, [c_question, c_options])

        ask = functools.partial(handlers.ask, engines, models, limits)
        ask_inputs = [chat, question, options, model, temperature, top_p, max_tokens, n]
        send.click(ask, ask_inputs, [chat, answer, stats, votes], api_name="ask")
        question.submit(ask, ask_inputs, [chat, answer, stats, votes], api_name=False)
        clear.click(lambda: ([], "", "", ""), None, [chat, answer, stats, votes], api_name=False)
        c_go.click(functools.partial(handlers.compare, engines, models, limits),
                   [c_question, c_options, model_a, model_b, temperature, top_p, max_tokens], [card_a, card_b],
                   api_name="compare")
    demo.queue(max_size=cfg.max_queue, default_concurrency_limit=cfg.concurrency)
    return demo


def free_port(host: str) -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def launch(cfg: ServeConfig, block: bool = True):
    demo = build_app(cfg)
    demo.launch(server_name=cfg.host, server_port=cfg.port or free_port(cfg.host), share=False, show_error=True,
                prevent_thread_lock=not block, css=CSS, footer_links=["api"])
    return demo


def main(argv: list[str]) -> int:
    cfg = parse_args(ServeConfig, argv, prog="scotd serve",
                     description="Serve a model: a Gradio reasoning chat, or with --api an OpenAI-compatible API.")
    if cfg.api:
        from serve.apps.api import serve_api
        serve_api(cfg)
        return 0
    launch(cfg)
    return 0
