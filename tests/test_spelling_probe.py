"""scripts/spelling_probe.py: the per-letter scoring, the probe words, and a real run on a tiny model."""

from __future__ import annotations

import sys

from tests.solver_checks import load_script


def test_letters_are_scored_by_position_and_the_whole_word_apart():
    probe = load_script("spelling_probe")
    assert probe.letters_right(list("harm"), "harm") == [True] * 5
    assert probe.letters_right(list("hram"), "harm") == [True, False, False, True, False]
    assert probe.letters_right(["h"], "harm") == [True, False, False, False, False]


def test_probe_words_are_plain_words_the_shots_do_not_spell():
    probe = load_script("spelling_probe")
    words = probe.probe_words(40, seed=0)
    assert len(set(words)) == 40 and all(w.isalpha() and 4 <= len(w) <= 10 for w in words)
    assert not {"harbor", "meadow", "clinic"} & set(words) and probe.probe_words(40, seed=1) != words


def test_the_probe_runs_on_a_model_and_prints_a_row_for_it(tiny_llama_dir, monkeypatch, capsys):
    probe = load_script("spelling_probe")
    monkeypatch.setattr(sys, "argv", ["spelling_probe.py", str(tiny_llama_dir), "--words", "3"])
    assert probe.main() == 0
    row = capsys.readouterr().out.strip().splitlines()[-1]
    assert row.startswith(f"| {tiny_llama_dir} (3 words) |") and row.count("%") == 5
