"""A tiny "distilled student": the tiny llama overfitted on a few student-format targets.

A random model never writes "So the answer is …", so it cannot show that the app,
the API and ``scotd infer`` split reasoning from the answer. This one has memorised
``render_prompt(question, choices) + target_text(answer, rationale)`` for QUESTIONS
through the same student format the real pipeline uses; if serving built prompts
another way, it would answer with noise and the tests would fail. Built once per
machine (10-60 s on 2 busy cores) into the temp folder, keyed by a hash of the
files that define it, so every test module and process reuses it.
"""

from __future__ import annotations

import functools
import hashlib
import os
import shutil
import tempfile
from pathlib import Path

QUESTIONS = [
    {"question": "Which is heavier, a brick or a feather?", "choices": ["a brick", "a feather"], "answer": "(a)",
     "rationale": "A brick is dense. A feather is light."},
    {"question": "Is the sky blue on a clear day?", "choices": None, "answer": "yes",
     "rationale": "Sunlight scatters in the air. Blue light scatters most."},
    {"question": "How many legs do two dogs have?", "choices": None, "answer": "8",
     "rationale": "Each dog has 4 legs. 2 x 4 = 8."},
]


def _fingerprint() -> str:
    import transformers

    here = Path(__file__).resolve().parent
    digest = hashlib.sha256(transformers.__version__.encode())
    for path in (here / "tiny_student.py", here / "tiny_models.py", here.parent / "serve" / "core" / "student_format.py"):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


@functools.lru_cache(maxsize=None)
def build_tiny_student() -> Path:
    """The student folder, trained on first use and then reused."""
    final = Path(tempfile.gettempdir()) / f"scotd-tiny-student-{_fingerprint()}"
    if (final / "model.safetensors").is_file():
        return final
    staging = Path(tempfile.mkdtemp(prefix="tiny-student-"))
    train_tiny_student(staging)
    try:
        os.rename(staging, final)  # atomic: a concurrent builder either wins or finds it done
    except OSError:
        shutil.rmtree(staging, ignore_errors=True)
    return final


def train_tiny_student(out: Path, max_steps: int = 200, target_loss: float = 0.03) -> Path:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from serve.core.student_format import join_prompt_target, render_prompt, target_text
    from tiny_models import build_tiny_model

    build_tiny_model(out, "llama")
    tokenizer = AutoTokenizer.from_pretrained(out)
    model = AutoModelForCausalLM.from_pretrained(out, dtype=torch.float32)
    texts = [join_prompt_target(render_prompt(q["question"], q["choices"], tokenizer=tokenizer),
                                target_text(q["answer"], q["rationale"])) + tokenizer.eos_token for q in QUESTIONS]
    batch = tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False)
    labels = batch["input_ids"].masked_fill(batch["attention_mask"] == 0, -100)
    torch.manual_seed(0)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    model.train()
    for _ in range(max_steps):
        loss = model(**batch, labels=labels).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if loss.item() < target_loss:
            break
    model.eval()
    model.save_pretrained(out, safe_serialization=True)
    return out
