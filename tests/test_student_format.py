from __future__ import annotations

from serve.core.answers import parse_answer
from serve.core.student_format import (join_prompt_target, reasoning_steps, render_prompt, split_reasoning,
                                  strip_final_answer, target_text)


def test_cot_target_round_trips_through_the_parser():
    choices = ["a brick", "a feather"]
    target = target_text("(a)", "Bricks are dense. Feathers are light.", mode="cot")
    assert target == "Bricks are dense. Feathers are light. So the answer is (a)."
    assert parse_answer(target, choices) == "(a)"


def test_teacher_final_answer_is_not_duplicated():
    assert strip_final_answer("Birds fly. So the answer is (b).") == "Birds fly."
    assert target_text("(b)", "Birds fly. So the answer is (b).").count("answer is") == 1


def test_label_only_target_is_the_answer():
    assert target_text("yes", mode="label_only") == "yes."


def test_prompt_uses_chat_template_when_present(tiny_llama_dir):
    from transformers import AutoTokenizer
    tokenizer = AutoTokenizer.from_pretrained(tiny_llama_dir)
    prompt = render_prompt("Which is heavier?", ["a brick", "a feather"], tokenizer)
    assert prompt.startswith("<|im_start|>user\nWhich is heavier?\nAnswer choices:\n(a) a brick\n(b) a feather")
    assert prompt.endswith("<|im_start|>assistant\n")
    plain = render_prompt("Which is heavier?", None, tokenizer, chat_template=False)
    assert plain == "Q: Which is heavier?\nA:"
    assert join_prompt_target(plain, "x") == "Q: Which is heavier?\nA: x"
    assert join_prompt_target(prompt, "x") == prompt + "x"


def test_split_reasoning_for_display():
    reasoning, answer = split_reasoning("Alice has the red ball. Then she swaps. So the answer is (b).")
    assert reasoning == "Alice has the red ball. Then she swaps."
    assert answer == "(b)"
    assert reasoning_steps(reasoning) == ["Alice has the red ball.", "Then she swaps."]
    assert split_reasoning("no final answer here") == ("no final answer here", None)
