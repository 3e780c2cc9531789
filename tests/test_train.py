"""scotd train on tiny random models: the label mask, the CoT policies, loss, save/reload, LoRA, resume."""

from __future__ import annotations

import json
import platform
import re
from collections import Counter

import pytest
import torch
from safetensors.torch import load_file
from transformers import AutoModelForCausalLM, AutoTokenizer

from distill.cot_record import CoTRecord
from distill.train import TrainConfig, main as train_main, run as train_run
from distill.train_data import IGNORE_INDEX, PadCollator, StudentDataset, build_items, encode, split_dev
from serve.cli.verbs import main as cli_main
from serve.core.config import parse_args
from serve.core.errors import UserError
from serve.core.records import read_records
from serve.core.student_format import render_prompt, target_text
from serve.data.sources import load_examples
from serve.engines.interface import SamplingParams, load_engine
from train_fixtures import train_argv, write_task


@pytest.fixture(scope="module")
def task(tmp_path_factory):
    return write_task(tmp_path_factory.mktemp("task"))


def _items(tokenizer, task, mode="cot"):
    examples_file, cots_file = task
    examples = load_examples(str(examples_file), "train")
    return build_items(examples, read_records(cots_file, CoTRecord), mode, tokenizer)


@pytest.mark.parametrize("chat", [True, False], ids=["chat-template", "plain-prompt"])
def test_label_mask_covers_exactly_the_target(tiny_llama_dir, task, chat):
    tokenizer = AutoTokenizer.from_pretrained(tiny_llama_dir)
    if not chat:
        tokenizer.chat_template = None
    items, stats = _items(tokenizer, task)
    assert stats == {"instances": 16, "without_kept_cot": 0, "targets": 32}  # the wrong rationale is dropped
    for item in items:
        assert item.prompt.startswith("<|im_start|>user") == chat
        assert item.prompt.startswith("Q: ") != chat
        for target in item.targets:
            encoded = encode(tokenizer, item.prompt, target, max_length=512)
            ids, labels = encoded["input_ids"], encoded["labels"]
            prompt_ids = tokenizer(item.prompt, add_special_tokens=False)["input_ids"]
            n = len(prompt_ids)
            assert ids[:n] == prompt_ids  # the prompt is tokenized as an engine tokenizes it
            for position, (token, label) in enumerate(zip(ids, labels)):
                assert label == (IGNORE_INDEX if position < n else token), position
            assert ids[-1] == tokenizer.eos_token_id
            learned = tokenizer.decode(ids[n:-1])
            assert learned == (target if chat else " " + target)
            assert learned.strip().endswith("So the answer is (a).") or learned.strip().endswith("(b).")


def test_label_only_targets_and_truncation(tiny_llama_dir, task):
    tokenizer = AutoTokenizer.from_pretrained(tiny_llama_dir)
    items, stats = _items(tokenizer, task, mode="label_only")
    assert stats["targets"] == 16 and all(len(i.targets) == 1 for i in items)
    examples = {e.id: e for e in load_examples(str(task[0]), "train")}
    assert all(i.targets == [target_text(examples[i.example_id].answer, mode="label_only")] for i in items)
    prompt_len = len(tokenizer(items[0].prompt, add_special_tokens=False)["input_ids"])
    cut = encode(tokenizer, items[0].prompt, "a long target " * 20, max_length=prompt_len + 3)
    assert len(cut["input_ids"]) == prompt_len + 3 and cut["labels"][:prompt_len] == [IGNORE_INDEX] * prompt_len
    assert encode(tokenizer, items[0].prompt, "x", max_length=prompt_len) is None


def test_collator_pads_without_loss_or_attention(tiny_llama_dir, task):
    tokenizer = AutoTokenizer.from_pretrained(tiny_llama_dir)
    items, _ = _items(tokenizer, task)
    dataset = StudentDataset(items, tokenizer, "all")
    rows = [dataset[0], dataset[5]]
    batch = PadCollator(tokenizer.pad_token_id)(rows)
    for row, ids, labels, mask in zip(rows, batch["input_ids"], batch["labels"], batch["attention_mask"]):
        n = len(row["input_ids"])
        assert ids[:n].tolist() == row["input_ids"] and labels[:n].tolist() == row["labels"]
        assert mask[:n].all() and not mask[n:].any() and (labels[n:] == IGNORE_INDEX).all()


def test_cot_policies_sample_one_redraws_each_epoch_all_expands(tiny_llama_dir, task):
    tokenizer = AutoTokenizer.from_pretrained(tiny_llama_dir)
    items, _ = _items(tokenizer, task)
    one = StudentDataset(items, tokenizer, "sample_one", seed=3)
    assert len(one) == 16
    draws = []
    for epoch in range(6):
        one.set_epoch(epoch)
        draws.append(tuple(tuple(one[i]["input_ids"]) for i in range(len(one))))
    assert len(set(draws)) > 1  # a different rationale is drawn in some epoch
    one.set_epoch(2)
    assert tuple(tuple(one[i]["input_ids"]) for i in range(len(one))) == draws[2]  # and deterministically
    per_instance = Counter(d[0] for d in draws)
    assert len(per_instance) == 2  # instance 0 has two kept rationales and both get drawn over 6 epochs
    everything = StudentDataset(items, tokenizer, "all")
    assert len(everything) == 32
    assert {tuple(everything[i]["input_ids"]) for i in range(2)} == set(per_instance)


def test_dev_split_is_held_out_and_seeded(tiny_llama_dir, task):
    tokenizer = AutoTokenizer.from_pretrained(tiny_llama_dir)
    items, _ = _items(tokenizer, task)
    train, dev = split_dev(items, 0.25, seed=1)
    assert len(dev) == 4 and len(train) == 12
    assert not {i.example_id for i in train} & {i.example_id for i in dev}
    assert [i.example_id for i in split_dev(items, 0.25, seed=1)[1]] == [i.example_id for i in dev]


def test_training_lowers_loss_and_the_student_reloads_and_generates(tiny_llama_dir, task, tmp_path):
    out = tmp_path / "run"
    code = cli_main(["train", *train_argv(tiny_llama_dir, *task, out, "--max_steps", "30", "--batch_size", "4",
                                         "--lr", "3e-3", "--eval_every", "10", "--save_every", "10",
                                         "--log_every", "2", "--data.dev_fraction", "0.25")])
    assert code == 0
    metrics = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    losses = [m["loss"] for m in metrics if "loss" in m]
    dev_losses = [m["eval_loss"] for m in metrics if "eval_loss" in m]
    assert len(losses) == 15 and len(dev_losses) == 3
    assert sum(losses[-3:]) / 3 < 0.6 * sum(losses[:3]) / 3
    assert dev_losses[-1] < dev_losses[0]
    assert all(m.get("tokens_per_second", 1) > 0 for m in metrics)
    assert "learning_rate" in metrics[0]
    if platform.libc_ver()[0] == "glibc":  # resident memory, and the heap ceiling's trims (on by default)
        assert all(m["rss_mb"] > 50 and m["heap_trims"] >= 0 for m in metrics if "loss" in m)
    summary = json.loads((out / "train_summary.json").read_text())
    assert summary["global_step"] == 30 and summary["best_checkpoint"].endswith(
        f"checkpoint-{10 * (1 + dev_losses.index(min(dev_losses)))}")
    assert list((out / "tensorboard").glob("events.out.tfevents.*"))
    run_info = json.loads((out / "run_info.json").read_text())
    assert run_info["inputs"]["cots"]["sha256"] and run_info["versions"]["torch"] == torch.__version__

    student = out / "student"
    assert json.loads((student / "scotd_student.json").read_text())["mode"] == "cot"
    assert (student / "chat_template.jinja").is_file() or "chat_template" in (student / "tokenizer_config.json").read_text()
    before, after = load_file(tiny_llama_dir / "model.safetensors"), load_file(student / "model.safetensors")
    assert any(not torch.equal(before[k], after[k]) for k in before)
    engine = load_engine(student, backend="torch")
    examples = load_examples(str(task[0]), "test")
    prompts = [render_prompt(e.question, e.choices, tokenizer=engine) for e in examples[:2]]
    outputs = engine.generate(prompts, SamplingParams(max_new_tokens=24))
    assert all(o[0].strip() for o in outputs)
    # It learned the targets' form: a held-out question's rationale in the trained wording is likelier under the
    # student than under the base (greedy words after 30 tiny steps differ by CPU kind; this does not).
    tokenizer = AutoTokenizer.from_pretrained(student)
    held_out = examples[0]
    winner = held_out.choices[0] if held_out.answer == "(a)" else held_out.choices[1]
    rationale = f"{winner} has {max(int(n) for n in re.findall(r'[0-9]+', held_out.question))} balls, which is more."
    pair = encode(tokenizer, render_prompt(held_out.question, held_out.choices, tokenizer=tokenizer),
                  target_text(held_out.answer, rationale, "cot"), 512)
    batch = {key: torch.tensor([value]) for key, value in pair.items()}

    def target_loss(folder) -> float:
        with torch.no_grad():
            return AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32)(**batch).loss.item()

    assert target_loss(student) < 0.8 * target_loss(tiny_llama_dir)


def test_lora_is_merged_into_a_plain_folder(tiny_llama_dir, task, tmp_path):
    student = train_run(parse_args(TrainConfig, train_argv(
        tiny_llama_dir, *task, tmp_path / "lora", "--lora.enabled", "--lora.r", "4", "--max_steps", "4",
        "--batch_size", "4", "--lr", "1e-2", "--eval_every", "0", "--save_every", "100")))
    assert not (student / "adapter_config.json").exists()
    model = AutoModelForCausalLM.from_pretrained(student)
    assert not any("lora" in name for name, _ in model.named_parameters())
    before, after = load_file(tiny_llama_dir / "model.safetensors"), load_file(student / "model.safetensors")
    assert set(before) == set(after)
    assert any(not torch.equal(before[k], after[k]) for k in before if "proj" in k)


def test_resume_from_a_checkpoint_reproduces_the_uninterrupted_run(tiny_llama_dir, task, tmp_path):
    args = ["--max_steps", "6", "--batch_size", "4", "--lr", "3e-3", "--eval_every", "0", "--save_every", "3",
            "--save_total_limit", "3", "--log_every", "1", "--data.dev_fraction", "0"]
    out = tmp_path / "run"
    assert train_main(train_argv(tiny_llama_dir, *task, out, *args)) == 0
    full = load_file(out / "student" / "model.safetensors")
    full_losses = [json.loads(line)["loss"] for line in (out / "metrics.jsonl").read_text().splitlines()
                   if '"loss"' in line]
    # Simulate a run killed after step 3: drop what came later, then resume.
    import shutil
    shutil.rmtree(out / "checkpoints" / "checkpoint-6")
    shutil.rmtree(out / "student")
    assert train_main(train_argv(tiny_llama_dir, *task, out, *args, "--resume")) == 0
    resumed = load_file(out / "student" / "model.safetensors")
    assert max((full[k] - resumed[k]).abs().max().item() for k in full) < 1e-5
    losses = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines() if '"loss"' in line]
    assert [m["step"] for m in losses][-3:] == [4, 5, 6]
    assert losses[-1]["loss"] == pytest.approx(full_losses[-1], rel=1e-4)


def test_resume_in_a_later_epoch_keeps_the_length_grouped_order(tiny_llama_dir, task, tmp_path):
    """Killed in epoch 2 (4 steps an epoch): the resumed run trains the same batches as the uninterrupted one."""
    args = ["--max_steps", "11", "--batch_size", "4", "--lr", "3e-3", "--eval_every", "0", "--save_every", "9",
            "--save_total_limit", "3", "--log_every", "1", "--data.dev_fraction", "0", "--log_batches",
            "--precision", "fp32", "--speed.group_by_length", "true"]
    out = tmp_path / "run"
    assert train_main(train_argv(tiny_llama_dir, *task, out, *args)) == 0
    full = load_file(out / "student" / "model.safetensors")
    fetched = [json.loads(line) for line in (out / "batches.rank0.jsonl").read_text().splitlines()]
    epochs = [[(r["example_id"], r["target"]) for r in fetched if r["epoch"] == e] for e in range(3)]
    assert epochs[0] != epochs[1]  # reshuffled per epoch
    import shutil
    shutil.rmtree(out / "checkpoints" / "checkpoint-11")
    shutil.rmtree(out / "student")
    (out / "batches.rank0.jsonl").unlink()
    assert train_main(train_argv(tiny_llama_dir, *task, out, *args, "--resume")) == 0
    resumed = [(r["example_id"], r["target"]) for r in
               (json.loads(line) for line in (out / "batches.rank0.jsonl").read_text().splitlines())]
    assert resumed[-8:] == epochs[2][-8:]  # steps 10-11 of the resumed run are the uninterrupted ones
    after = load_file(out / "student" / "model.safetensors")
    assert max((full[k] - after[k]).abs().max().item() for k in full) < 1e-5


def test_bad_inputs_are_one_line_errors(tiny_llama_dir, task, tmp_path, capsys):
    examples_file, cots_file = task
    assert cli_main(["train", "--model", str(tiny_llama_dir), "--data.source", str(examples_file),
                     "--out", str(tmp_path)]) == 2
    assert "mode=cot needs data.cots" in capsys.readouterr().err
    assert cli_main(["train", *train_argv(tiny_llama_dir, *task, tmp_path, "--eval_every", "4",
                                          "--save_every", "6")]) == 2
    assert "must be a multiple of eval_every" in capsys.readouterr().err
    other = tmp_path / "other.jsonl"
    other.write_text(json.dumps({"id": "x", "question": "q?", "answer": "yes", "split": "train"}) + "\n")
    assert cli_main(["train", *train_argv(tiny_llama_dir, other, cots_file, tmp_path)]) == 2
    assert "no training items" in capsys.readouterr().err
    with pytest.raises(UserError, match="unknown config key"):
        parse_args(TrainConfig, ["--config", str(_yaml(tmp_path, "lr_typo: 1"))])


def _yaml(folder, text):
    path = folder / "bad.yaml"
    path.write_text(text + "\n")
    return path


def test_every_sampled_question_is_trained_when_the_sample_passed_the_generator_s_default_count(tiny_llama_dir,
                                                                                                 tmp_path):
    from transformers import AutoTokenizer

    from distill.sample import SampleConfig, run as sample_run
    from distill.train import TrainConfig, load_training_items
    from serve.core.config import build
    from serve.data.generated import DEFAULT_COUNT

    cots = tmp_path / "cots.jsonl"
    sampled = DEFAULT_COUNT + 40
    sample_run(build(SampleConfig, {"data": {"source": "gen:boolean_expressions", "limit": sampled},
                                    "teacher": {"backend": "program"}, "sampling": {"n": 1}, "out": str(cots)}))
    cfg = build(TrainConfig, {"model": str(tiny_llama_dir), "data": {"source": "gen:boolean_expressions",
                                                                     "cots": str(cots)}})
    items, _ = load_training_items(cfg, AutoTokenizer.from_pretrained(tiny_llama_dir))
    assert len({item.example_id for item in items}) == sampled
