"""Teacher from a local transformers causal LM, sampled in batches.

One ``generate`` call covers several prompts (left-padded) times ``n`` samples each,
up to ``batch_size`` sequences; each prompt is run through the model once and its
KV cache copied to its ``n`` samples (``share_prefill``). Jobs are grouped by how many samples
they still need so a batch never generates samples that would be thrown away.
Each sample's log-probability is the sum of ``log_softmax`` of the model's raw
logits (before temperature and top-p) at the sampled tokens, up to and including EOS.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Iterator

from distill.prompting import TEXT_STOP, clean_rationale
from distill.teachers.base import Job, Sample, Teacher
from export.hf_translate import cache_keyword, returned_cache
from serve.core.errors import UserError
from serve.engines.special_tokens import adds_special_tokens, eos_ids


def _pick_device_dtype(device: str, dtype: str):
    """The serving engine's rule (bf16 on a GPU that has it, fp32 on CPU), with errors naming the teacher keys."""
    from serve.engines.torch_engine import pick_device, pick_dtype

    try:
        chosen = pick_device(device)
        return chosen, pick_dtype(dtype, chosen)
    except UserError as exc:
        raise UserError(f"teacher.dtype '{dtype}': {exc}") from None


class HFTeacher(Teacher):
    def __init__(self, config, sampling):
        super().__init__(config, sampling)
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        from serve.store.registry import resolve_model_dir

        if not config.model:
            raise UserError("teacher.model is empty; give a registry name (scotd models) or a model folder")
        model_dir = resolve_model_dir(config.model)
        self.device, self.dtype = _pick_device_dtype(config.device, config.dtype)
        self.tokenizer = AutoTokenizer.from_pretrained(model_dir, trust_remote_code=config.trust_remote_code)
        self.tokenizer.padding_side = "left"
        if self.tokenizer.pad_token_id is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.model = AutoModelForCausalLM.from_pretrained(
            model_dir, dtype=self.dtype, use_safetensors=True, trust_remote_code=config.trust_remote_code,
        ).to(self.device).eval()
        has_template = bool(getattr(self.tokenizer, "chat_template", None))
        self.use_chat = has_template if config.prompt_style == "auto" else config.prompt_style == "chat"
        if self.use_chat and not has_template:
            raise UserError(f"teacher.prompt_style is chat but '{model_dir}' has no chat template; use text or auto")
        self.name = f"hf:{model_dir.parent.name}/{model_dir.name}" if model_dir.name == "hf" else f"hf:{model_dir.name}"
        self.eos_ids = self._eos_ids()
        self._torch = torch
        self._calls = 0
        self.share_prefill = config.share_prefill

    def _eos_ids(self) -> set[int]:
        # the pad id too: generate pads a finished sequence's tail
        return eos_ids(self.model.generation_config.eos_token_id, self.tokenizer.eos_token_id,
                       self.tokenizer.pad_token_id)

    def render(self, job: Job) -> str:
        if self.use_chat:
            return self.tokenizer.apply_chat_template(list(job.prompt.messages), tokenize=False,
                                                      add_generation_prompt=True)
        return job.prompt.text

    def _batches(self, jobs: list[Job]) -> Iterator[tuple[list[Job], int]]:
        """(jobs, samples each) so that len(jobs) * samples <= batch_size."""
        cap = max(1, self.config.batch_size)
        by_need: dict[int, list[Job]] = defaultdict(list)
        for job in jobs:
            by_need[job.n].append(job)
        for need, group in by_need.items():
            per_call = min(need, cap)
            rounds = -(-need // per_call)
            prompts_per_call = max(1, cap // per_call)
            for start in range(0, len(group), prompts_per_call):
                chunk = group[start:start + prompts_per_call]
                for r in range(rounds):
                    yield chunk, min(per_call, need - r * per_call)

    def generate(self, prompts: list[str], n: int) -> list[list[Sample]]:
        """``n`` samples for each prompt in one generate call."""
        torch = self._torch
        s = self.sampling
        add = adds_special_tokens(prompts[0], self.tokenizer.bos_token)  # the first prompt's: all are rendered alike
        encoded = self.tokenizer(prompts, return_tensors="pt", padding=True, add_special_tokens=add).to(self.device)
        if s.seed is not None:
            torch.manual_seed(s.seed + self._calls)
        self._calls += 1
        kwargs = dict(do_sample=not s.greedy, max_new_tokens=s.max_new_tokens,
                      return_dict_in_generate=True, output_logits=True,
                      pad_token_id=self.tokenizer.pad_token_id, stop_strings=TEXT_STOP, tokenizer=self.tokenizer)
        if not s.greedy:
            kwargs.update(temperature=s.temperature, top_p=s.top_p, top_k=s.top_k or None)
        with torch.inference_mode():
            if n > 1 and self.share_prefill:
                out = self._generate_shared_prefill(encoded, n, kwargs)
            else:  # the prompt is repeated n times, as num_return_sequences would (which greedy refuses)
                out = self.model.generate(input_ids=encoded["input_ids"].repeat_interleave(n, dim=0),
                                          attention_mask=encoded["attention_mask"].repeat_interleave(n, dim=0),
                                          **kwargs)
        prompt_len = encoded["input_ids"].shape[1]
        new_tokens = out.sequences[:, prompt_len:]
        logits = torch.stack(out.logits, dim=1).float()  # (sequences, steps, vocab)
        token_logprobs = torch.log_softmax(logits, dim=-1).gather(-1, new_tokens.unsqueeze(-1)).squeeze(-1)
        self.usage.requests += 1
        self.usage.prompt_tokens += int(encoded["attention_mask"].sum()) * n
        results: list[list[Sample]] = [[] for _ in prompts]
        for row in range(new_tokens.shape[0]):
            ids = new_tokens[row].tolist()
            length, finish = len(ids), "length"
            for position, token in enumerate(ids):
                if token in self.eos_ids:
                    length, finish = position + 1, "stop"
                    break
            text = self.tokenizer.decode(ids[:length], skip_special_tokens=True)
            if finish == "length" and any(stop in text for stop in TEXT_STOP):
                finish = "stop"
            self.usage.completion_tokens += length
            results[row // n].append(Sample(clean_rationale(text), float(token_logprobs[row, :length].sum()),
                                            length, finish))
        return results

    def _generate_shared_prefill(self, encoded, n: int, kwargs: dict):
        """Run each prompt through the model once, copy its KV cache to the ``n`` samples, then decode.

        ``generate(num_return_sequences=n)`` would repeat every prompt ``n`` times before the
        prefill; with few-shot prompts of ~600 tokens that prefill is most of the work on a CPU.
        """
        ids, mask = encoded["input_ids"], encoded["attention_mask"]
        positions = (mask.cumsum(-1) - 1).clamp(min=0)  # left padding: real tokens start at position 0
        prefix = self.model(input_ids=ids[:, :-1], attention_mask=mask[:, :-1], position_ids=positions[:, :-1],
                            use_cache=True)
        cache = returned_cache(prefix)
        cache.batch_repeat_interleave(n)
        return self.model.generate(input_ids=ids.repeat_interleave(n, dim=0),
                                   attention_mask=mask.repeat_interleave(n, dim=0),
                                   **{cache_keyword(self.model): cache}, **kwargs)

    def sample(self, jobs: list[Job]) -> Iterator[tuple[Job, list[Sample]]]:
        for chunk, n in self._batches(jobs):
            for job, samples in zip(chunk, self.generate([self.render(j) for j in chunk], n)):
                yield job, samples
