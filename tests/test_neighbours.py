"""The training questions as a neighbour memory: votes, the writer left out in cross-validation,
the cache, and what it adds on wording from none of the question sets."""

from __future__ import annotations

import json

import numpy as np
import pytest

from assistant.neighbours import Neighbours, load_or_build


def _unit(*xs):
    v = np.asarray(xs, dtype=np.float32)
    return v / np.linalg.norm(v)


@pytest.fixture
def memory():
    matrix = np.stack([_unit(1, 0, 0), _unit(0.9, 0.1, 0), _unit(0, 1, 0), _unit(0, 0, 1)])
    labels = [("清单-96",), ("清单-96", "章节-三（十）"), ("清单-48",), ()]
    return Neighbours(matrix, labels, [1, 1, 1, 0], ["a.jsonl", "b.jsonl", "b.jsonl", "c.jsonl"])


def test_the_nearest_questions_vote_for_what_they_cite(memory):
    v = memory.votes(_unit(1, 0.05, 0))
    assert max(v.records, key=v.records.get) == "清单-96"
    assert v.records["清单-96"] > 0.9 and v.records["清单-96"] <= 1.0 + 1e-6
    assert v.answerable > 0.9 and v.top_sim > 0.99


def test_a_question_near_traps_has_a_low_answerable_share(memory):
    v = memory.votes(_unit(0, 0, 1))
    assert v.answerable < 0.1 and v.records.get("清单-48", 0.0) < 0.01


def test_the_asking_writers_file_is_left_out(memory):
    v = memory.votes(_unit(1, 0.05, 0), exclude_file="a.jsonl")
    assert v.top_sim < 0.999  # the identical question of file a is not seen
    v = memory.votes(_unit(1, 0.05, 0), exclude_file="b.jsonl")
    assert v.records.get("章节-三（十）", 0.0) < 0.01 and v.records["清单-96"] > 0.99


def test_no_vector_no_votes(memory):
    assert memory.votes(None).records == {} and memory.votes(None).answerable == 0.0


def test_vectors_are_cached_for_the_same_training_files(tmp_path):
    train = tmp_path / "train"
    train.mkdir()
    rows = [
        {"id": "t1", "question": "孤儿生活费", "answerable": True, "citations": ["清单-56"]},
        {"id": "t2", "question": "天气", "answerable": False, "citations": []},
        {
            "id": "t3",
            "question": "那机构的呢",
            "answerable": True,
            "citations": ["清单-56"],
            "history": [{"role": "user", "content": "孤儿生活费"}],
        },
    ]
    (train / "x.jsonl").write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows))
    calls = []

    def embed(text):
        calls.append(text)
        return list(_unit(len(text), 1, 0))

    def build():
        return load_or_build(
            train, tmp_path / "aliases.toml", tmp_path / "cache", "m", str.upper, embed
        )

    first = build()
    assert len(first) == 2  # a follow-up's words mean little without its history
    assert len(calls) == 2
    second = build()
    assert len(calls) == 2 and np.allclose(first.matrix, second.matrix)
    (train / "x.jsonl").write_text(
        (train / "x.jsonl").read_text() + "\n" + json.dumps(rows[0] | {"id": "t4"})
    )
    assert len(build()) == 3 and len(calls) == 5  # changed files: embedded anew


def test_no_training_files_no_memory(tmp_path):
    assert load_or_build(tmp_path / "none", tmp_path / "a", tmp_path, "m", str, list) is None


@pytest.mark.slow
@pytest.mark.parametrize(
    ("question", "record"),
    [
        ("俺孙子生下来耳朵就听不见，做训练恢复要自己掏钱不", "清单-96"),
        ("俺娘瘫在床上好些年了，家里有个重度残疾的，每个月能有点护理的钱不", "清单-91"),
    ],
)
def test_neighbour_votes_point_at_the_asked_record(service, question, record):
    result = service.retriever.search(question, None, k=5)
    assert result.votes.top_sim > 0.8
    voted = sorted(result.votes.records, key=result.votes.records.get, reverse=True)
    assert record in voted[:2]
    assert record in [h.id for h in result.hits[:2]]  # 章节-三（十） speaks of it too


def test_the_answerable_share_among_questions_asking_the_same_kind_of_thing():
    # two near questions on one topic: "有没有减免" was answered, "减免多少元" was a trap
    matrix = np.stack([_unit(1, 0.02, 0), _unit(1, 0, 0.02)])
    memory = Neighbours(matrix, [("清单-54",), ()], [1, 0], ["a.jsonl", "b.jsonl"], kinds=[0, 1])
    asking_whether = memory.votes(_unit(1, 0.01, 0.01), kind=0)
    asking_amount = memory.votes(_unit(1, 0.01, 0.01), kind=1)
    assert asking_whether.answerable_same_ask == pytest.approx(1.0)
    assert asking_amount.answerable_same_ask == pytest.approx(0.0)
    assert asking_whether.answerable == pytest.approx(asking_amount.answerable)


def test_neighbours_of_the_same_kind_far_below_the_nearest_give_no_nan():
    # the one of the question's kind is so far below the nearest that its softmax weight is 0
    matrix = np.stack([_unit(1, 0, 0), _unit(0, 1, 0)])
    memory = Neighbours(matrix, [("清单-54",), ()], [1, 0], ["a.jsonl", "b.jsonl"], kinds=[0, 3])
    votes = memory.votes(_unit(1, 0, 0), kind=3)
    assert votes.answerable_same_ask == pytest.approx(votes.answerable)
    assert not np.isnan(votes.answerable_same_ask)
