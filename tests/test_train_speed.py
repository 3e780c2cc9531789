"""The training-speed levers: same loss and same gradients as the plain path, on tiny models of four families."""

from __future__ import annotations

import json
import platform

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from distill.train import run as train_run
from distill.train_data import IGNORE_INDEX, PadCollator, StudentDataset, TrainItem
from distill.train_speed import SpeedOptions, apply_freezing, supports_target_logits, target_only_loss
from serve.core.config import build
from tiny_models import build_tiny_model
from train_fixtures import write_task


def _batch(vocab: int, seed: int = 0) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    ids = torch.randint(5, vocab, (3, 24), generator=generator)
    mask = torch.ones_like(ids)
    mask[1, 17:] = 0  # a padded row
    labels = ids.clone()
    labels[:, :9] = IGNORE_INDEX  # the prompt
    labels[2, :14] = IGNORE_INDEX  # a longer prompt
    labels[mask == 0] = IGNORE_INDEX
    return {"input_ids": ids, "attention_mask": mask, "labels": labels}


@pytest.mark.parametrize("arch", ["llama", "qwen2", "opt", "gpt2"])
def test_target_only_loss_and_gradients_match_the_full_forward(tmp_path, arch):
    model = AutoModelForCausalLM.from_pretrained(build_tiny_model(tmp_path, arch), dtype=torch.float32)
    assert supports_target_logits(model)
    batch = _batch(model.config.vocab_size)
    full = model(**batch).loss
    full.backward()
    reference = {name: p.grad.clone() for name, p in model.named_parameters() if p.grad is not None}
    model.zero_grad()
    fast = target_only_loss(model, batch)
    fast.backward()
    assert abs(full.item() - fast.item()) < 1e-5
    for name, parameter in model.named_parameters():
        torch.testing.assert_close(parameter.grad, reference[name], atol=1e-5, rtol=1e-4, msg=name)
    # Normalised by a count given from outside (gradient accumulation), as transformers does.
    items = int((batch["labels"][:, 1:] != IGNORE_INDEX).sum())
    summed = model(**batch, num_items_in_batch=2 * items).loss
    assert abs(target_only_loss(model, batch, 2 * items).item() - summed.item()) < 1e-5


def test_freezing_turns_off_the_embedding_and_the_lowest_blocks(tmp_path):
    model = AutoModelForCausalLM.from_pretrained(build_tiny_model(tmp_path, "llama"), dtype=torch.float32)
    blocks = model.get_decoder().layers
    counts = apply_freezing(model, SpeedOptions(freeze_embeddings=True, freeze_layers=1))
    assert not model.get_input_embeddings().weight.requires_grad
    assert not any(p.requires_grad for p in blocks[0].parameters())
    assert all(p.requires_grad for block in blocks[1:] for p in block.parameters())
    assert counts["trainable_parameters"] + counts["frozen_parameters"] == sum(p.numel() for p in model.parameters())
    loss = target_only_loss(model, _batch(model.config.vocab_size))
    loss.backward()
    assert blocks[0].self_attn.q_proj.weight.grad is None and blocks[1].self_attn.q_proj.weight.grad is not None


def test_lengths_follow_the_epoch_draw(tiny_llama_dir):
    tokenizer = AutoTokenizer.from_pretrained(tiny_llama_dir)
    items = [TrainItem(f"q{i}", "Q: a question?\nA:", ["short.", "a much longer rationale " * (i + 1)])
             for i in range(6)]
    dataset = StudentDataset(items, tokenizer, "sample_one", seed=3)
    for epoch in range(3):
        dataset.set_epoch(epoch)
        assert dataset.lengths() == [len(dataset[i]["input_ids"]) for i in range(len(dataset))]
    flat = StudentDataset(items, tokenizer, "all", seed=3)
    assert flat.lengths() == [len(flat[i]["input_ids"]) for i in range(len(flat))]
    batch = PadCollator(tokenizer.pad_token_id)([flat[i] for i in range(4)])
    assert batch["input_ids"].shape[1] == max(flat.lengths()[:4])


def test_default_levers_train_the_same_model_as_the_plain_path(tiny_llama_dir, tmp_path):
    """Same data order (grouping off), target-only logits on vs off: the same losses step by step."""
    examples, cots = write_task(tmp_path / "task")
    losses = {}
    plain = {"target_logits": False, "sparse_embedding_grad": False, "allocator": "default"}
    for name, speed in (("plain", plain), ("fast", {}), ("skip", {"prompt_backward": "skip"})):
        cfg = build(__import__("distill.train", fromlist=["TrainConfig"]).TrainConfig, {
            "model": str(tiny_llama_dir), "out": str(tmp_path / name), "max_steps": 4, "batch_size": 4,
            "lr": 1e-3, "log_every": 1, "eval_every": 0, "save_every": 100,
            "data": {"source": str(examples), "cots": str(cots), "dev_fraction": 0.0},
            "precision": "fp32", "speed": {"group_by_length": False, **speed}})
        train_run(cfg)
        rows = [json.loads(line) for line in (tmp_path / name / "metrics.jsonl").read_text().splitlines()]
        losses[name] = [row["loss"] for row in rows if "loss" in row]
    assert len(losses["plain"]) == 4
    assert losses["fast"] == pytest.approx(losses["plain"], abs=1e-4)  # the exact levers
    # the prompt's backward skipped: the same first loss, then other updates that still learn
    assert losses["skip"][0] == pytest.approx(losses["plain"][0], abs=1e-4)
    assert losses["skip"][1:] != pytest.approx(losses["plain"][1:], abs=1e-4)
    assert losses["skip"][-1] < losses["skip"][0]


def test_micro_batches_keep_the_sequences_a_step():
    from distill.train_speed import micro_batching
    from serve.core.errors import UserError

    assert micro_batching(8, 1, -1, on_gpu=False, bf16=False) == (1, 8)  # a CPU in fp32: one sequence a pass
    assert micro_batching(8, 1, -1, on_gpu=False, bf16=True) == (2, 4)  # bf16 autocast: two
    assert micro_batching(8, 1, -1, on_gpu=True, bf16=True) == (8, 1)
    assert micro_batching(8, 2, 4, on_gpu=False, bf16=False) == (4, 4)
    assert micro_batching(8, 1, 0, on_gpu=False, bf16=False) == (8, 1)
    assert micro_batching(2, 1, 4, on_gpu=False, bf16=False) == (2, 1)
    with pytest.raises(UserError, match="does not divide batch_size 8"):
        micro_batching(8, 1, 3, on_gpu=False, bf16=False)


def test_auto_optimizer_is_adafactor_only_for_fp32_cpu_training():
    from distill.train_speed import resolve_optim

    assert resolve_optim("auto", on_gpu=False, bf16=False) == "adafactor"
    assert resolve_optim("auto", on_gpu=False, bf16=True) == "adamw_torch_fused"
    assert resolve_optim("auto", on_gpu=True, bf16=True) == "adamw_torch_fused"
    assert resolve_optim("sgd", on_gpu=False, bf16=False) == "sgd"


def test_a_resume_keeps_the_checkpoints_optimizer(tiny_llama_dir, tmp_path):
    """AdamW's saved moments fit only AdamW: optim auto resumes with the checkpoints' optimizer (whatever this
    CPU would pick fresh), an explicit other one is refused in one line."""
    from distill.train import TrainConfig, run
    from serve.core.config import build
    from serve.core.errors import UserError
    from train_fixtures import write_task

    examples, cots = write_task(tmp_path / "task", n_train=8, n_test=2)
    base = {"model": str(tiny_llama_dir), "out": str(tmp_path / "run"), "max_steps": 2, "batch_size": 2,
            "save_every": 1, "save_total_limit": 3, "eval_every": 0, "precision": "fp32",
            "optim": "adamw_torch_fused", "data": {"source": str(examples), "cots": str(cots), "dev_fraction": 0}}
    run(build(TrainConfig, base))
    with pytest.raises(UserError, match="trained with optimizer adamw_torch_fused and optim is set to adafactor"):
        run(build(TrainConfig, {**base, "optim": "adafactor", "max_steps": 3, "resume": True}))
    run(build(TrainConfig, {**base, "optim": "auto", "max_steps": 3, "resume": True}))
    from distill.checkpoints import listed, saved_optimizer

    assert saved_optimizer(listed(tmp_path / "run")) == "adamw_torch_fused"  # not this CPU's fresh pick
    # a fresh run sets the earlier checkpoints aside instead of deleting them
    run(build(TrainConfig, {**base, "max_steps": 1}))
    assert sorted(p.name for p in (tmp_path / "run" / "checkpoints-superseded").iterdir())[-1] == "checkpoint-3"


def test_an_unknown_optimizer_is_one_line(tiny_llama_dir, tmp_path):
    from distill.train import TrainConfig, run
    from serve.core.config import build
    from serve.core.errors import UserError
    from train_fixtures import write_task

    examples, cots = write_task(tmp_path / "task", n_train=4, n_test=2)
    with pytest.raises(UserError, match="optim 'adamw' is not an optimizer transformers knows"):
        run(build(TrainConfig, {"model": str(tiny_llama_dir), "out": str(tmp_path / "run"), "optim": "adamw",
                                "data": {"source": str(examples), "cots": str(cots)}}))


@pytest.mark.parametrize("arch", ["llama", "qwen2", "opt", "gpt2"])
def test_sparse_embedding_gradient_sums_to_the_dense_one(tmp_path, arch):
    from distill.train_speed import tie_sparse_embedding_grad

    model = AutoModelForCausalLM.from_pretrained(build_tiny_model(tmp_path, arch), dtype=torch.float32)
    batch = _batch(model.config.vocab_size)
    target_only_loss(model, batch).backward()
    dense = {name: p.grad.clone() for name, p in model.named_parameters()}
    model.zero_grad(set_to_none=True)
    assert tie_sparse_embedding_grad(model, SpeedOptions())
    for _ in range(2):  # accumulated over two micro-batches, as the Trainer does
        target_only_loss(model, batch).backward()
    for name, parameter in model.named_parameters():
        assert parameter.grad.layout == torch.strided, name  # what every optimizer expects
        torch.testing.assert_close(parameter.grad, 2 * dense[name], atol=1e-5, rtol=1e-4, msg=name)


def test_sparse_embedding_gradient_is_left_off_where_the_head_is_not_tied(tmp_path):
    from distill.train_speed import tie_sparse_embedding_grad

    model = AutoModelForCausalLM.from_pretrained(build_tiny_model(tmp_path, "llama"), dtype=torch.float32)
    apply_freezing(model, SpeedOptions(freeze_embeddings=True))
    assert not tie_sparse_embedding_grad(model, SpeedOptions())  # frozen: no gradient to make sparse
    assert not model.get_input_embeddings().sparse
    model.lm_head.weight = torch.nn.Parameter(model.lm_head.weight.detach().clone())  # untied
    model.get_input_embeddings().weight.requires_grad_(True)
    assert not tie_sparse_embedding_grad(model, SpeedOptions())


@pytest.mark.parametrize("arch", ["llama", "qwen2", "opt", "gpt2"])
def test_prompt_without_gradient_gives_the_same_loss_and_drops_only_the_prompt_paths(tmp_path, arch):
    model = AutoModelForCausalLM.from_pretrained(build_tiny_model(tmp_path, arch), dtype=torch.float32)
    batch = _batch(model.config.vocab_size)
    full = target_only_loss(model, batch)
    full.backward()
    reference = {name: p.grad.clone() for name, p in model.named_parameters()}
    model.zero_grad(set_to_none=True)
    fast = target_only_loss(model, batch, skip_prompt_backward=True)
    fast.backward()
    assert abs(full.item() - fast.item()) < 1e-5  # the same forward: the prompt became a cache
    # The top block's feed-forward sees only its own position, so it gets the same gradient; a lower block's
    # weights lose what reached them through the prompt's hidden states.
    blocks = list(model.named_modules())
    mlp_names = [name for name, module in blocks if name.endswith(("mlp.down_proj", "mlp.c_proj", ".fc2"))]
    top, bottom = mlp_names[-1], mlp_names[0]
    grads = dict(model.named_parameters())
    torch.testing.assert_close(grads[f"{top}.weight"].grad, reference[f"{top}.weight"], atol=1e-5, rtol=1e-4)
    assert not torch.allclose(grads[f"{bottom}.weight"].grad, reference[f"{bottom}.weight"], atol=1e-5)


def test_prompt_without_gradient_needs_the_target_only_loss(tiny_llama_dir, tmp_path):
    from distill.train import TrainConfig, run
    from serve.core.errors import UserError

    examples, cots = write_task(tmp_path / "task", n_train=4, n_test=2)
    with pytest.raises(UserError, match="speed.prompt_backward skip runs through the target-only loss"):
        run(build(TrainConfig, {"model": str(tiny_llama_dir), "out": str(tmp_path / "run"),
                                "speed": {"prompt_backward": "skip", "activation_checkpointing": True},
                                "data": {"source": str(examples), "cots": str(cots)}}))


_HEAP_PROBE = """
import torch
from distill.train_speed import SpeedOptions, configure_allocator
from serve.core.provenance import resident_mb
heap = configure_allocator(SpeedOptions(allocator="{allocator}", heap_ceiling={ceiling}))
if heap is not None:
    heap.on_step_end(None, None, None)                       # the first step sets the limit
blocks = [torch.ones(4 * 2**20) for _ in range(48)]          # 768 MB, touched, then freed
del blocks
kept = resident_mb()
if heap is not None:
    heap.on_step_end(None, None, None)
print(kept, resident_mb(), heap.trims if heap is not None else "none")
"""


def _heap_probe(allocator: str, ceiling: float) -> tuple[float, float, str]:
    import subprocess
    import sys

    code = _HEAP_PROBE.format(allocator=allocator, ceiling=ceiling)
    kept, after, trims = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                        check=True).stdout.split()
    return float(kept), float(after), trims


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="the allocator settings are glibc's")
def test_the_kept_heap_is_handed_back_above_its_ceiling():
    """In child processes (the settings are process-wide): under `keep` glibc keeps the freed blocks resident,
    and the step-end callback hands them back once the resident size passes the ceiling; with a ceiling of 0 there
    is no callback and the heap stays; as is, glibc unmaps such blocks itself."""
    kept, after, trims = _heap_probe("keep", 1.25)
    assert kept - after > 500 and trims == "1"
    kept, after, trims = _heap_probe("keep", 0)
    assert kept - after < 50 and trims == "none"
    kept, after, trims = _heap_probe("default", 1.25)
    assert trims in ("0", "1") and after < kept + 50
