"""``scotd train``: fine-tune a causal LM student on selected chain-of-thought rationales.

Recipe, top to bottom: load the questions and the kept CoTs -> build prompt/target items
in the student format (loss on the target only) -> hold out a dev slice for the eval
loss -> load the student (full fine-tune or LoRA) -> Hugging Face Trainer (bf16 where the GPU or
CPU computes it natively, else fp32; the speed levers of distill/train_speed.py; checkpoints, best-by-dev-loss, TensorBoard) -> save a plain HF folder to
``OUT/student`` (LoRA merged in) plus the run record (config, input hashes, versions).

The same command runs data-parallel with no change under ``torchrun`` or
``accelerate launch``: the Trainer reads the launcher's environment (gloo on CPU).
"""

from __future__ import annotations

import json
import math
import os
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal, Optional

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, Trainer, TrainerCallback, TrainingArguments
from transformers.integrations import TensorBoardCallback
from transformers.trainer_pt_utils import LengthGroupedSampler
from transformers.training_args import OptimizerNames

from distill import checkpoints as checkpoint_files
from distill.cot_record import CoTRecord
from serve.core.student_format import STUDENT_INFO  # written into the student folder; eval reads the mode from it
from distill.run_info import file_sha256, write_run_info
from distill.train_data import PadCollator, StudentDataset, build_items, split_dev
from distill.train_speed import (SpeedOptions, apply_freezing, configure_allocator, micro_batching, resolve_optim,
                                 supports_target_logits, target_only_loss, tie_sparse_embedding_grad)
from serve.core.config import option, parse_args, save_yaml
from serve.core.errors import UserError
from serve.core.provenance import cpu_has_native_bf16, cpu_kind, resident_mb
from serve.core.records import read_records
from serve.data.sources import QuestionSource
from serve.store.registry import DEFAULT_MODEL, resolve_model_dir


DEFAULT_OUT = "runs/train"


@dataclass
class TrainData(QuestionSource):
    """The training questions (a question source) and their kept rationales."""
    cots: str = option("", "selected CoT JSONL (CoTRecord lines, e.g. from scotd select); "
                           "may be empty for mode=label_only")
    only_correct: bool = option(True, "train only on rationales whose teacher answer was correct")
    dev_fraction: float = option(0.1, "fraction of instances held out for the eval loss (0 = no eval)")
    max_length: int = option(512, "longest training sequence in tokens (target tail is cut beyond it)")


@dataclass
class LoraOptions:
    """LoRA adapters (peft); merged into a plain folder at the end."""
    enabled: bool = option(False, "train LoRA adapters instead of all weights")
    r: int = option(16, "adapter rank")
    alpha: int = option(32, "adapter scaling alpha")
    dropout: float = option(0.05, "adapter dropout")
    target_modules: str = option("all-linear", "peft target_modules ('all-linear' or comma-separated names)")


@dataclass
class TrainConfig:
    model: str = option(DEFAULT_MODEL, "student: a models/ registry name, a folder, or a Hugging Face id")
    out: str = option("", f"run folder; the student is saved in OUT/student; '': {DEFAULT_OUT} (under run.dir in a "
                          "recipe)")
    mode: Literal["cot", "label_only"] = option("cot", "cot: rationale + answer; label_only: the answer alone")
    cot_policy: Literal["sample_one", "all"] = option(
        "sample_one", "sample_one: one kept rationale per instance, redrawn each epoch; all: every kept rationale")
    data: TrainData = option(default_factory=TrainData)
    lora: LoraOptions = option(default_factory=LoraOptions)
    speed: SpeedOptions = option(default_factory=SpeedOptions)
    epochs: float = option(3.0, "training epochs (ignored when max_steps > 0)")
    max_steps: int = option(-1, "optimizer steps; -1 = run for `epochs`")
    batch_size: int = option(8, "sequences per device per micro-batch")
    grad_accum: int = option(1, "micro-batches per optimizer step")
    lr: float = option(5e-5, "peak learning rate")
    scheduler: Literal["cosine", "linear", "constant_with_warmup"] = option("cosine", "learning-rate schedule")
    warmup: float = option(0.05, "learning-rate warmup: a step count (>= 1) or a fraction of all steps (< 1)")
    optim: str = option("auto", "optimizer, named as in transformers' TrainingArguments.optim: adamw_torch_fused "
                                "(AdamW), adafactor (factored second moments, no first moment: a fraction of AdamW's "
                                "memory), ...; auto: adafactor on a CPU training in fp32 (no native bf16), else "
                                "adamw_torch_fused")
    weight_decay: float = option(0.0, "weight decay")
    max_grad_norm: float = option(1.0, "gradient clipping norm")
    eval_every: int = option(50, "evaluate the dev loss every K steps (0 = never)")
    save_every: int = option(50, "checkpoint every K steps (a multiple of eval_every when eval is on)")
    save_total_limit: int = option(2, "checkpoints kept (the best one is always kept)")
    log_every: int = option(5, "log loss, lr, tokens/s every K steps")
    precision: Literal["auto", "bf16", "fp32"] = option(
        "auto", "auto: bf16 mixed precision on a GPU or CPU that computes bf16 natively (AMX, AVX512-BF16), else fp32")
    seed: int = option(42, "seed for initialisation, shuffling and the per-epoch CoT draw")
    resume: bool = option(False, "continue from the last checkpoint in OUT/checkpoints")
    trust_remote_code: bool = option(False, "allow model code from the model folder (off: safetensors + stock code)")
    log_batches: bool = option(False, "write OUT/batches.rankR.jsonl with the example ids each rank trains on")


DESCRIPTION = "Fine-tune a student on kept chain-of-thought rationales (loss on the target only)."


def run_folder(cfg: TrainConfig) -> Path:
    return Path(cfg.out or DEFAULT_OUT)


def resolve_student(name: str) -> str:
    """A local folder for registry names and paths; Hugging Face ids pass through to from_pretrained."""
    try:
        return str(resolve_model_dir(name))
    except UserError:
        if "/" in name and not Path(name).exists():
            return name
        raise


def load_training_items(cfg: TrainConfig, tokenizer) -> tuple[list, dict]:
    if not cfg.data.source:
        raise UserError("train needs data.source (the question source, e.g. gen:tracking_shuffled_objects/three_objects "
                        "or a .jsonl file); set it in the config or pass --data.source")

    cots = None
    if cfg.data.cots:
        cots = read_records(cfg.data.cots, CoTRecord)
    elif cfg.mode == "cot":
        raise UserError("mode=cot needs data.cots (a CoT JSONL from scotd sample/select); "
                        "pass --data.cots FILE or use --mode label_only")
    examples = cfg.data.load()
    if cots is not None and cfg.data.limit is None:
        wanted = {record.example_id for record in cots}
        if wanted - {example.id for example in examples}:
            # a source's default count (a generator's 1,000) fell short of the questions sampled from it
            more = replace(cfg.data, limit=len(wanted)).load()
            if len(more) > len(examples):  # a file's limit draws a subset: then the whole file stays
                examples = more
                print(f"[scotd train] data.limit unset: {len(examples)} questions loaded from '{cfg.data.source}' "
                      f"to cover the {len(wanted)} with rationales in '{cfg.data.cots}'")
    items, stats = build_items(examples, cots, cfg.mode, tokenizer, only_correct=cfg.data.only_correct)
    if not items:
        raise UserError(f"no training items: none of the {len(examples)} questions from '{cfg.data.source}' "
                        f"(split {cfg.data.split}) has a kept rationale in '{cfg.data.cots}'; check that both "
                        "come from the same task, or set data.only_correct false")
    return items, stats


class MetricsLog(TrainerCallback):
    """Appends every log dict (loss, lr, tokens/s, eval loss) to OUT/metrics.jsonl on rank 0."""

    def __init__(self, path: Path):
        self.path = path

    def on_log(self, args, state, control, logs=None, **kwargs):
        if state.is_world_process_zero and logs:
            with self.path.open("a") as handle:
                handle.write(json.dumps({"step": state.global_step, **logs}) + "\n")


class EpochDraw(TrainerCallback):
    """Tells the dataset which epoch starts, so sample_one redraws its rationales (also after resume)."""

    def __init__(self, dataset: StudentDataset):
        self.dataset = dataset

    def on_epoch_begin(self, args, state, control, **kwargs):
        self.dataset.set_epoch(int(math.floor((state.epoch or 0.0) + 1e-6)))


class EpochLengthGroupedSampler(LengthGroupedSampler):
    """Length-grouped batches, reshuffled per epoch from (seed, epoch) alone, so a resumed run sees
    the same order as an uninterrupted one; lengths follow each epoch's sample_one draw."""

    def __init__(self, dataset: StudentDataset, batch_size: int, seed: int):
        super().__init__(batch_size, lengths=dataset.lengths(0))
        self.dataset, self.seed, self.epoch = dataset, seed, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self):
        self.lengths = self.dataset.lengths(self.epoch)
        self.generator = torch.Generator().manual_seed(self.seed + self.epoch)
        return super().__iter__()


class StudentTrainer(Trainer):
    """Adds training tokens/s and resident memory to the logs; computes the loss from target positions only when
    asked."""

    _last_tokens = 0
    _last_time: Optional[float] = None
    target_logits = False
    skip_prompt_backward = False

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        if not self.target_logits or return_outputs or model is not self.model:  # wrapped (DDP, DataParallel, ...)
            return super().compute_loss(model, inputs, return_outputs, num_items_in_batch)
        if not self.model_accepts_loss_kwargs:
            num_items_in_batch = None  # the Trainer will then average over accumulation steps itself
        with self.accelerator.autocast():  # the model's own forward is wrapped in it; these calls bypass that
            loss = target_only_loss(model, inputs, num_items_in_batch, self.skip_prompt_backward)
        if self.args.average_tokens_across_devices and num_items_in_batch is not None:
            loss = loss * self.accelerator.num_processes  # as Trainer.compute_loss does for a model's own loss
        return loss

    def _get_train_sampler(self, train_dataset=None):
        if self.args.train_sampling_strategy == "group_by_length":
            return EpochLengthGroupedSampler(self.train_dataset, self.args.train_batch_size *
                                             self.args.gradient_accumulation_steps, self.args.data_seed)
        return super()._get_train_sampler(train_dataset)

    def log(self, logs: dict[str, float], start_time: Optional[float] = None) -> None:
        if "loss" in logs:
            now, seen = time.perf_counter(), self.state.num_input_tokens_seen
            if self._last_time is not None and now > self._last_time:
                logs["tokens_per_second"] = round((seen - self._last_tokens) / (now - self._last_time), 1)
            self._last_time, self._last_tokens = now, seen
            resident = resident_mb()
            if resident is not None:
                logs["rss_mb"] = round(resident, 1)
        super().log(logs, start_time)


def training_arguments(cfg: TrainConfig, out: Path, has_dev: bool) -> TrainingArguments:
    on_gpu = torch.cuda.is_available()
    native_bf16 = torch.cuda.is_bf16_supported() if on_gpu else cpu_has_native_bf16()
    bf16 = cfg.precision == "bf16" or (cfg.precision == "auto" and native_bf16)
    if bf16 and not native_bf16:
        raise UserError("precision=bf16 needs a GPU or a CPU with AMX/AVX512-BF16 (this one would emulate it, "
                        "slower than fp32); use --precision fp32 (or auto)")
    evaluating = has_dev and cfg.eval_every > 0
    if evaluating and cfg.save_every % cfg.eval_every:
        raise UserError(f"save_every ({cfg.save_every}) must be a multiple of eval_every ({cfg.eval_every}) so "
                        "the best checkpoint can be kept; set --save_every to a multiple or --eval_every 0")
    distributed = int(os.environ.get("WORLD_SIZE", "1")) > 1
    if cfg.speed.prompt_backward == "skip" and (cfg.speed.activation_checkpointing or not cfg.speed.target_logits):
        raise UserError("speed.prompt_backward skip runs through the target-only loss without activation "
                        "checkpointing; set --speed.target_logits true and --speed.activation_checkpointing false, "
                        "or --speed.prompt_backward full")
    known = {name.value for name in OptimizerNames}
    if cfg.optim != "auto" and cfg.optim not in known:
        raise UserError(f"optim '{cfg.optim}' is not an optimizer transformers knows; use auto, adamw_torch_fused, "
                        f"adafactor or another TrainingArguments.optim name ({len(known)} in all)")
    per_pass, accumulation = micro_batching(cfg.batch_size, cfg.grad_accum, cfg.speed.micro_batch, on_gpu, bf16)
    return TrainingArguments(
        output_dir=str(out / "checkpoints"),
        per_device_train_batch_size=per_pass, per_device_eval_batch_size=cfg.batch_size,
        gradient_accumulation_steps=accumulation,
        learning_rate=cfg.lr, lr_scheduler_type=cfg.scheduler, warmup_steps=cfg.warmup,
        optim=resolve_optim(cfg.optim, on_gpu, bf16), weight_decay=cfg.weight_decay, max_grad_norm=cfg.max_grad_norm,
        num_train_epochs=cfg.epochs, max_steps=cfg.max_steps,
        eval_strategy="steps" if evaluating else "no", eval_steps=cfg.eval_every or None,
        save_strategy="steps", save_steps=cfg.save_every, save_total_limit=cfg.save_total_limit,
        load_best_model_at_end=evaluating, metric_for_best_model="eval_loss" if evaluating else None,
        logging_steps=cfg.log_every, report_to="none",
        include_num_input_tokens_seen="non_padding",
        train_sampling_strategy="group_by_length" if cfg.speed.group_by_length else "random",
        bf16=bf16, use_cpu=not on_gpu, seed=cfg.seed, data_seed=cfg.seed,
        ddp_backend=("gloo" if distributed and not on_gpu else None),
        activation_checkpointing=cfg.speed.activation_checkpointing,
        dataloader_num_workers=0, remove_unused_columns=False, ddp_find_unused_parameters=False,
    )


def load_student(cfg: TrainConfig, source: str):
    model = AutoModelForCausalLM.from_pretrained(source, dtype=torch.float32, use_safetensors=True,
                                                 trust_remote_code=cfg.trust_remote_code)
    if cfg.speed.compile:
        model.get_decoder().compile(dynamic=True)
    if not cfg.lora.enabled:
        apply_freezing(model, cfg.speed)
        if int(os.environ.get("WORLD_SIZE", "1")) == 1:  # DDP's bucketing expects dense gradients throughout
            tie_sparse_embedding_grad(model, cfg.speed)
        return model
    if cfg.speed.freeze_embeddings or cfg.speed.freeze_layers:
        raise UserError("speed.freeze_embeddings / speed.freeze_layers apply to full fine-tuning; LoRA already "
                        "freezes the base weights: set them to false / 0 with --lora.enabled")
    from peft import LoraConfig, get_peft_model

    targets = cfg.lora.target_modules
    lora = LoraConfig(r=cfg.lora.r, lora_alpha=cfg.lora.alpha, lora_dropout=cfg.lora.dropout, task_type="CAUSAL_LM",
                      target_modules=targets if targets == "all-linear" else [t.strip() for t in targets.split(",")])
    return get_peft_model(model, lora)


def build_trainer(cfg: TrainConfig, extra_callbacks: tuple = ()) -> tuple[StudentTrainer, Any, bool]:
    """The Trainer of a run, ready to train; also the tokenizer and whether it resumes."""
    out = run_folder(cfg)
    source = resolve_student(cfg.model)
    tokenizer = AutoTokenizer.from_pretrained(source, trust_remote_code=cfg.trust_remote_code)
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    items, stats = load_training_items(cfg, tokenizer)
    train_items, dev_items = split_dev(items, cfg.data.dev_fraction, cfg.seed)
    rank = int(os.environ.get("RANK", "0"))
    out.mkdir(parents=True, exist_ok=True)
    fetch_log = out / f"batches.rank{rank}.jsonl" if cfg.log_batches else None
    if fetch_log is not None and not cfg.resume:
        fetch_log.unlink(missing_ok=True)
    train_set = StudentDataset(train_items, tokenizer, cfg.cot_policy, cfg.seed, cfg.data.max_length, fetch_log)
    dev_set = StudentDataset(dev_items, tokenizer, "sample_one", cfg.seed, cfg.data.max_length) if dev_items else None

    checkpoints = checkpoint_files.listed(out)
    resumed = cfg  # train_config.yaml keeps the config as given; auto may resolve to the checkpoints' optimizer
    if cfg.resume and checkpoints:
        resumed = replace(cfg, optim=checkpoint_files.optimizer_for_resume(cfg.optim, checkpoints))
    args = training_arguments(resumed, out, has_dev=dev_set is not None)
    if args.process_index == 0 and not cfg.resume:
        # A fresh run must not pick an older run's checkpoint as its "best" or resume point.
        moved = checkpoint_files.set_aside(out)
        if moved:
            print(f"[scotd train] moved {len(checkpoints)} checkpoint(s) of an earlier run to {moved} (delete it "
                  "when you do not need them; pass --resume to continue from them instead)")
        (out / "metrics.jsonl").unlink(missing_ok=True)
    if args.process_index == 0:
        save_yaml(cfg, out / "train_config.yaml")
        write_run_info(out / "run_info.json", inputs={"cots": cfg.data.cots, "model": source},
                       extra={"data": stats, "train_items": len(train_set), "dev_items": len(dev_items),
                              "train_tokens_per_epoch": train_set.token_count(),
                              "prompts_too_long": train_set.truncated_prompts})
        print(f"[scotd train] {stats['instances']} instances ({stats['targets']} targets, "
              f"{stats['without_kept_cot']} without a kept CoT) -> {len(train_set)} training sequences per epoch, "
              f"{len(dev_items)} dev; mode={cfg.mode} policy={cfg.cot_policy} lora={cfg.lora.enabled}")
        device = "GPU" if torch.cuda.is_available() else f"CPU: {cpu_kind()}"
        print(f"[scotd train] {device}; {'bf16 autocast' if args.bf16 else 'fp32'}")

    heap = configure_allocator(cfg.speed)  # before MetricsLog: it adds its trim count to the logs MetricsLog writes
    callbacks = [*([heap] if heap else []), MetricsLog(out / "metrics.jsonl"), EpochDraw(train_set), *extra_callbacks]
    if args.process_index == 0:
        from torch.utils.tensorboard import SummaryWriter

        callbacks.append(TensorBoardCallback(SummaryWriter(log_dir=str(out / "tensorboard"))))
    if cfg.speed.threads > 0:
        torch.set_num_threads(cfg.speed.threads)
    model = load_student(cfg, source)
    # processing_class: every checkpoint gets the tokenizer, so `scotd eval OUT/checkpoints/checkpoint-K` works
    trainer = StudentTrainer(model=model, args=args, train_dataset=train_set, eval_dataset=dev_set,
                             data_collator=PadCollator(tokenizer.pad_token_id), callbacks=callbacks,
                             processing_class=tokenizer)
    trainer.target_logits = cfg.speed.target_logits and supports_target_logits(model)
    trainer.skip_prompt_backward = cfg.speed.prompt_backward == "skip"
    return trainer, tokenizer, bool(cfg.resume and checkpoints)


def run(cfg: TrainConfig) -> Path:
    out = run_folder(cfg)
    trainer, tokenizer, resume = build_trainer(cfg)
    args = trainer.args
    result = trainer.train(resume_from_checkpoint=True if resume else None)

    student_dir = out / "student"
    final = trainer.model
    if cfg.lora.enabled:
        final = final.merge_and_unload()
    if trainer.is_world_process_zero():
        final.save_pretrained(student_dir, safe_serialization=True)
        tokenizer.save_pretrained(student_dir)
        info = {"mode": cfg.mode, "cot_policy": cfg.cot_policy, "base_model": cfg.model,
                "examples": cfg.data.source, "cots": cfg.data.cots, "lora": cfg.lora.enabled}
        (student_dir / STUDENT_INFO).write_text(json.dumps(info, indent=2) + "\n")
        summary = {"student": str(student_dir), "global_step": trainer.state.global_step,
                   "train_loss": result.training_loss, "best_checkpoint": trainer.state.best_model_checkpoint,
                   "best_eval_loss": trainer.state.best_metric, **result.metrics,
                   "student_sha256": file_sha256(student_dir / "model.safetensors"),
                   "world_size": args.world_size, "distributed_backend": _backend_name(),
                   "precision": "bf16" if args.bf16 else "fp32", "target_logits": trainer.target_logits}
        (out / "train_summary.json").write_text(json.dumps(summary, indent=2) + "\n")
        print(f"[scotd train] student saved to {student_dir} (train loss {result.training_loss:.4f})")
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        torch.distributed.barrier()
        # gloo's worker threads outlive an undestroyed group and can abort a rank at interpreter exit
        torch.distributed.destroy_process_group()
    return student_dir


def _backend_name() -> Optional[str]:
    distributed = torch.distributed.is_available() and torch.distributed.is_initialized()
    return torch.distributed.get_backend() if distributed else None


def main(argv: list[str] | None = None) -> int:
    cfg = parse_args(TrainConfig, argv, prog="scotd train", description=DESCRIPTION)
    run(cfg)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
