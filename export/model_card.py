"""The README.md (model card) of an export folder, written from its export report."""

from __future__ import annotations

from pathlib import Path

from serve.store.export_folder import REPORT_FILE

BACKEND_TEXT = {
    "genai": "onnxruntime-genai's model builder (fused decoder; runs with onnxruntime-genai + numpy, no torch)",
    "optimum": "optimum-onnx `text-generation-with-past` plus onnxruntime weight-only MatMulNBits quantization "
               "(runs with onnxruntime + numpy, no torch)",
}
PRECISION_TEXT = {
    "fp32": "fp32 weights (the reference export)",
    "int8": "int8 weight-only quantization (activations stay fp32 outside the fused kernels)",
    "int4": "int4 weight-only quantization, block 32, LM head at int8",
}


def _gate_lines(report: dict) -> list[str]:
    lines = []
    parity = report["gates"].get("parity")
    if parity:
        lines.append(f"- Greedy-token parity with PyTorch fp32: {parity['tokens_matched']}/{parity['tokens_compared']} "
                     f"tokens over {parity['prompts']} prompts x {parity['tokens_per_prompt']} tokens "
                     f"({parity['exact_prompts']} prompts exact, {parity['near_tie_prompts']} part at a near-tie of "
                     f"<= {parity['tie_margin']} logits in PyTorch; required: {parity['required_exact']}).")
    speculation = report["gates"].get("speculation")
    if speculation:
        gaps = [r["fp32_gap"] for r in speculation["per_prompt"] if r["fp32_gap"] is not None]
        store = report.get("draft_store") if speculation.get("draft_store") else None
        source = (f"up to {speculation['draft_tokens']} tokens drafted from the n-grams of {store['rationales']} "
                  "training rationales in `draft_store.json`, prompt lookup where they have no confident "
                  "continuation" if store else f"prompt lookup, {speculation['draft_tokens']} drafted tokens")
        lines.append(f"- The engine's default greedy speculates ({source}); it keeps plain greedy's tokens on {speculation['same_prompts']}/{speculation['prompts']} "
                     "parity prompts" + (f" and parts where PyTorch fp32 scores the two tokens {min(map(abs, gaps))}-"
                                         f"{max(map(abs, gaps))} logits apart" if gaps else "") + ".")
    accuracy = report["gates"].get("accuracy")
    if accuracy and accuracy["reference_accuracy"] is None:
        lines.append(f"- Task accuracy on `{accuracy['task']}` ({accuracy['split']}, {accuracy['examples']} examples, "
                     f"greedy): this export {accuracy['export_accuracy']}%; the PyTorch fp32 reference was not "
                     f"decoded: {accuracy['reference_skipped']}.")
    elif accuracy:
        lines.append(f"- Task accuracy on `{accuracy['task']}` ({accuracy['split']}, {accuracy['examples']} examples, "
                     f"greedy): PyTorch fp32 {accuracy['reference_accuracy']}%, this export "
                     f"{accuracy['export_accuracy']}% (drop {accuracy['drop_points']} points; limit "
                     f"{accuracy['max_drop_points']}); answers agree on {accuracy['answer_agreement']}% of examples"
                     + (f"; {accuracy['answers_lost']} lost and {accuracy['answers_gained']} gained (sign test "
                        f"p={accuracy['sign_test_p']}, a loss counts at p <= {accuracy['significance']})."
                        if "sign_test_p" in accuracy else "."))
    return lines or ["- Gates were disabled for this export."]


def write_model_card(out: Path, report: dict) -> Path:
    status = "passed its gates" if report.get("passed") else f"FAILED its gates: {'; '.join(report.get('failures', []))}"
    sizes = report["size_mb"]
    eval_source = (report["gates"].get("accuracy") or {}).get("task") or "gen:navigate"
    text = "\n".join([
        f"# {report['model']} — ONNX {report['precision']}",
        "",
        f"An ONNX export of `{report['model']}` ({report['architecture']}), a small causal LM made or served by "
        "[scotd](https://github.com/) (symbolic chain-of-thought distillation: a student that answers with a short "
        "rationale followed by `So the answer is ...`).",
        "",
        "## How it was made",
        f"- Source: `{report['source_dir']}`",
        f"- Exporter: {BACKEND_TEXT.get(report['backend'], report['backend'])}",
        f"- Precision: {PRECISION_TEXT.get(report['precision'], report['precision'])}",
        f"- Size: {sizes['export']} MB on disk ({sizes['ratio']:.0%} of the {sizes['source_safetensors']} MB "
        f"fp32 safetensors); export took {report['export_seconds']} s",
        f"- Made on {report.get('created', '?')} with " + ", ".join(f"{k} {v}" for k, v in report["versions"].items()),
        "",
        f"## Checks (this export {status})",
        *_gate_lines(report),
        "",
        "## How to run it",
        "```bash",
        f"scotd chat {out}            # terminal chat",
        f"scotd serve {out}           # Gradio app on 127.0.0.1 (--api: OpenAI-compatible HTTP API)",
        f"scotd eval {out} --data.source {eval_source}   # or bbh:TASK, a BIG-Bench Hard file",
        "```",
        "From Python, with no torch installed (`pip install 'scotd[serve]'`):",
        "```python",
        "from serve.engines.interface import load_engine, SamplingParams",
        f"engine = load_engine('{out}')",
        "for chunk in engine.stream([{'role': 'user', 'content': 'Is the sun a star?'}], SamplingParams(max_new_tokens=64)):",
        "    print(chunk, end='', flush=True)",
        "```",
        f"The tokenizer, chat template and generation config are in this folder; `{REPORT_FILE}` holds the "
        "full numbers.",
        "",
    ])
    path = out / "README.md"
    path.write_text(text)
    return path
