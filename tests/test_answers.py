from __future__ import annotations

import pytest

from serve.core.answers import answers_match, infer_answer_type, parse_answer

CHOICES = ["red ball", "blue ball", "a green ball"]


@pytest.mark.parametrize("text, expected", [
    ("Alice swapped twice. So the answer is (b).", "(b)"),
    ("So the answer is (B)", "(b)"),
    ("So the answer is **(c)**.", "(c)"),
    ("The answer is: B", "(b)"),
    ("Answer: c)", "(c)"),
    ("So the answer is option A.", "(a)"),
    ("So the answer is a red ball.", "(a)"),  # the article "a" is not option (a)'s letter here by accident
    ("So the answer is the blue ball.", "(b)"),
    ("So the answer is a green ball.", "(c)"),  # longest matching choice wins over "a ..."
    ("We compare options.\nB) blue ball", "(b)"),
    ("So the answer is (e).", None),  # a letter beyond the choices
    ("A brick is heavy and so on", None),
    ("", None),
    ("So the answer is", None),
])
def test_multiple_choice_phrasings(text, expected):
    assert parse_answer(text, CHOICES) == expected


@pytest.mark.parametrize("text, expected", [
    ("Frost is common in December. So the answer is yes.", "yes"),
    ("So the answer is No.", "no"),
    ("No, because the Spice Girls had five members.", "no"),
    ("The answer is: Yes", "yes"),
    ("Thus, it is not possible.", "no"),
    ("Hmm, let me think about cats.", None),
])
def test_yes_no_phrasings(text, expected):
    assert parse_answer(text, None, "yes_no") == expected


@pytest.mark.parametrize("text, expected", [
    ("4 x 6 = 24 and 24 - 9 = 15. So the answer is 15.", "15"),
    ("So the answer is $1,234.", "1234"),
    ("So the answer is 3.50 dollars", "3.5"),
    ("So the answer is twelve.", "12"),
    ("So the answer is twenty-one.", "21"),
    ("So the answer is forty.", "40"),
    ("There are 3 cats and 4 dogs, 7 animals", "7"),
    ("So the answer is unknown.", None),
])
def test_number_phrasings(text, expected):
    assert parse_answer(text, None, "number") == expected


@pytest.mark.parametrize("junk", ["\x00\x01", "(((", "So the answer is ((((", "answer:" * 50, "🙂" * 10])
def test_junk_never_raises(junk):
    for kind in ("multiple_choice", "yes_no", "number", "text"):
        result = parse_answer(junk, CHOICES if kind == "multiple_choice" else None, kind)
        assert result is None or isinstance(result, str)


def test_match_and_type_inference():
    assert answers_match("12", "12.0") and answers_match("Mercury", "mercury") and not answers_match(None, "x")
    assert infer_answer_type(["a", "b"]) == "multiple_choice"
    assert infer_answer_type(None, "yes") == "yes_no" and infer_answer_type(None, "3") == "number"
