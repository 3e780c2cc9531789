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


BALLS = ["pink ball", "white ball", "red ball"]
# the chat's default model once answered "(b) white ball" under this kind of closing
CONTRADICTING = ("1. Alice and Bob swap balls. So the answer is (b) white ball. "
                 "2. Therefore, the correct answer is (c) red ball.")


def test_last_named_option_reads_letters_and_option_words():
    from serve.core.answers import last_named_option
    assert last_named_option(CONTRADICTING, BALLS) == "(c)"
    assert last_named_option("Bob ends with the pink ball.", BALLS) == "(a)"
    assert last_named_option("(a) first, then the white ball", BALLS) == "(b)"
    assert last_named_option("nothing here", BALLS) is None
    assert last_named_option("the dark red ball", ["red ball", "dark red ball"]) == "(b)"


def test_the_app_does_not_highlight_an_answer_its_text_contradicts():
    from serve.apps.gradio_handlers import answer_markdown
    from serve.apps.reply import Reply, finish

    class CountsNothing:  # finish() only asks the engine to count tokens
        def count_tokens(self, text):
            raise NotImplementedError

    shown = answer_markdown(finish(Reply(text=CONTRADICTING), CountsNothing(), BALLS, None, 1), BALLS)
    assert "unclear" in shown and "(b) white ball" in shown and "(c) red ball" in shown
    assert not shown.startswith("### Answer: (b)")
    agreed = ("Bob has the white ball. The options: pink ball is (a), white ball is (b), red ball is (c). "
              "So the answer is (b) white ball.")
    assert answer_markdown(finish(Reply(text=agreed), CountsNothing(), BALLS, None, 1), BALLS) == \
        "### Answer: (b) white ball"
    fallback = answer_markdown(finish(Reply(text="Bob ends with\n(c)"), CountsNothing(), BALLS, None, 1), BALLS)
    assert fallback.startswith("### Answer: (c) red ball") and "no \"So the answer is\" line" in fallback


def test_chat_examples_come_from_what_the_served_student_learned(tmp_path):
    import json

    from serve.apps.gradio_handlers import MAX_EXAMPLE_SOURCES, examples_source, load_example_questions
    from serve.core.student_format import STUDENT_INFO

    assert examples_source(tmp_path, "gen:navigate") == "gen:navigate"  # the base: no student record
    (tmp_path / STUDENT_INFO).write_text(json.dumps({"mode": "cot", "examples": "gen:web_of_lies"}))
    assert examples_source(tmp_path, "gen:navigate") == "gen:web_of_lies"
    questions, note = load_example_questions(examples_source(tmp_path, "gen:navigate"), 2)
    assert len(questions) == 2 and all("tell the truth" in q for q, _ in questions) and "test split" in note
    many = " + ".join(f"gen:arithmetic/{n}_digit_addition" for n in range(1, 9))
    (tmp_path / STUDENT_INFO).write_text(json.dumps({"examples": many}))
    assert examples_source(tmp_path, "x").count("gen:") == MAX_EXAMPLE_SOURCES
