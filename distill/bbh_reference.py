"""Published BIG-Bench Hard numbers a scotd student is compared with.

Codex (code-davinci-002, 175B) with the BBH paper's 3-shot prompts, accuracy in % on the same
files ``bbh:TASK`` reads (Suzgun et al., 2022; the BBH repository's
``code-davinci-002-outputs/*_eval_metrics.jsonl``): (answer-only, chain-of-thought).
The first 15 are the algorithmic files (``serve.data.bbh.GROUPS``), the other 12 need world knowledge.
"""

from __future__ import annotations

CODEX: dict[str, tuple[float | None, float]] = {
    "boolean_expressions": (88.4, 92.8),
    "dyck_languages": (46.8, 56.8),
    "geometric_shapes": (32.0, 54.4),
    "logical_deduction_three_objects": (52.8, 87.6),
    "logical_deduction_five_objects": (32.4, 54.8),
    "logical_deduction_seven_objects": (26.0, 38.8),
    "multistep_arithmetic_two": (1.2, 47.6),
    "navigate": (50.4, 96.4),
    "object_counting": (45.2, 93.2),
    "temporal_sequences": (77.6, 96.8),
    "tracking_shuffled_objects_three_objects": (37.6, 78.4),
    "tracking_shuffled_objects_five_objects": (20.4, 89.6),
    "tracking_shuffled_objects_seven_objects": (14.4, 85.6),
    "web_of_lies": (51.6, 95.2),
    "word_sorting": (50.4, 40.4),
    # the other twelve: chain-of-thought only
    "date_understanding": (None, 87.2),
    "penguins_in_a_table": (None, 79.5),
    "reasoning_about_colored_objects": (None, 91.6),
    "sports_understanding": (None, 97.6),
    "movie_recommendation": (None, 90.4),
    "causal_judgement": (None, 54.0),
    "disambiguation_qa": (None, 76.0),
    "formal_fallacies": (None, 50.4),
    "hyperbaton": (None, 66.4),
    "ruin_names": (None, 68.4),
    "salient_translation_error_detection": (None, 60.8),
    "snarks": (None, 59.6),
}
