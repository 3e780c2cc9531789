from __future__ import annotations

import json

import pytest

from distill.cot_record import CoTRecord, cot_key
from serve.core.errors import UserError
from serve.core.records import Example, JsonlStore, from_dict, read_records, to_dict


def record(example_id: str, index: int) -> dict:
    return to_dict(CoTRecord(example_id=example_id, sample_index=index, teacher="t", prompt_sha="p",
                             rationale="r", prediction="(a)", gold="(a)", correct=True))


def test_store_skips_known_keys_across_reopen(tmp_path):
    path = tmp_path / "cots.jsonl"
    with JsonlStore(path, cot_key) as store:
        assert store.append([record("q1", 0), record("q1", 1)]) == 2
    with JsonlStore(path, cot_key) as store:
        assert ("q1", 1) in store and len(store) == 2
        assert store.append([record("q1", 1), record("q2", 0)]) == 1
    keys = [cot_key(json.loads(line)) for line in path.read_text().splitlines()]
    assert keys == [("q1", 0), ("q1", 1), ("q2", 0)]


def test_torn_last_line_is_repaired(tmp_path):
    path = tmp_path / "cots.jsonl"
    with JsonlStore(path, cot_key) as store:
        store.append([record("q1", 0), record("q1", 1)])
    whole = path.read_text()
    path.write_text(whole + json.dumps(record("q1", 2))[:25])  # killed mid-write
    store = JsonlStore(path, cot_key)
    assert store.repaired and len(store) == 2
    store.append([record("q1", 2)])
    store.close()
    assert [cot_key(r.__dict__) for r in read_records(path, CoTRecord)] == [("q1", 0), ("q1", 1), ("q1", 2)]


def test_corruption_in_the_middle_is_an_error_with_line(tmp_path):
    path = tmp_path / "cots.jsonl"
    path.write_text(json.dumps(record("q1", 0)) + "\n{broken\n" + json.dumps(record("q1", 1)) + "\n")
    with pytest.raises(UserError, match=r"cots.jsonl:2: not valid JSON"):
        JsonlStore(path, cot_key)


def test_validation_names_file_line_and_field(tmp_path):
    with pytest.raises(UserError, match=r"data.jsonl:3: missing field\(s\) \['answer'\]"):
        from_dict(Example, {"id": "1", "task": "t", "question": "q"}, "data.jsonl:3")
    with pytest.raises(UserError, match=r"unknown field\(s\) \['colour'\]"):
        from_dict(Example, {"id": "1", "task": "t", "question": "q", "answer": "a", "colour": 1}, "x:1")
    with pytest.raises(UserError, match="schema 'scotd.example/9'"):
        from_dict(Example, {"id": "1", "task": "t", "question": "q", "answer": "a", "schema": "scotd.example/9"}, "x:1")
