"""The toy world's pretraining corpus and problem sets (``oneshot_rlvr.toy.corpus``), and the pieces the
toy world adds around them: local benchmark folders, the ``toy`` prompt template, the ``random`` reward.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from dataclasses import replace

import pytest
from toy_arithmetic import evaluate_expression

from oneshot_rlvr.data.benchmarks import BENCHMARKS, BenchmarkError, load_benchmark
from oneshot_rlvr.data.prompts import get_template, render_prompt, uses_chat_template
from oneshot_rlvr.rewards import make_reward
from oneshot_rlvr.toy.corpus import (
    MAX_HELD_OUT_PER_LEVEL, PROMPT, CorpusKnobs, corpus, held_out_sets, prompt_text, training_pool,
)
from oneshot_rlvr.toy.model import MAX_POOL_PER_FAMILY
from oneshot_rlvr.toy.tasks import FAMILIES, LEVELS

DOCUMENTS = 3000
KNOBS = CorpusKnobs(documents=DOCUMENTS, slip_rate=0.15, recheck_rate=0.3, boxed_rate=0.6, seed=4)

LINE = re.compile(r"(-?\d+) ([+\-*]) (\d+) = (-?\d+)\.")  # a first-pass line
EQUATION = re.compile(r"(?:so )?(\d+(?: [+\-*] \d+)+) = (-?\d+)")  # a recheck equation, "4 + 3 + 1 = 8"


def _calc(symbol: str, left: int, right: int) -> int:
    return {"+": left + right, "-": left - right, "*": left * right}[symbol]


_evaluate = evaluate_expression


def _question(prompt: str) -> str:
    match = re.fullmatch(r"Question: (.+)\nAnswer:", prompt, flags=re.S)
    assert match, prompt
    return match[1]


def _cell(question: str) -> tuple[str, int]:
    """Family and level read off the question text (independently of the generator)."""
    if question.startswith("Which is larger: "):
        first = question[len("Which is larger: "):].split(" or ")[0].split(" ")
        digits = (len(first[0]), len(first[2]))
        return "compare", {(1, 1): 1, (2, 1): 2, (2, 2): 3}[digits]
    if " How many " in question:
        story = question.split(". ", 1)[1].split(" How many ")[0]
        return "word", story.count(", ") + 1
    tokens = question[len("What is "):-1].split(" ")
    if tokens[1] == "*":
        return "mul", len(tokens[0])
    if len(tokens) == 3:
        return "addsub", {(2, 1): 1, (2, 2): 2, (3, 2): 3}[(len(tokens[0]), len(tokens[2]))]
    return "chain", len(tokens) // 2 - 1


def _binomial_tolerance(p: float, n: int, sds: float = 5.0) -> float:
    """``sds`` standard deviations of a share measured over ``n`` independent draws with probability ``p``.

    The corpus draws each knob independently per solution (per line for slips), so a measured share is a
    binomial proportion; 5 sd keeps a correct generator from failing for any seed (p ≈ 6e-7 per check),
    while a knob that is ignored or misapplied (off by ≥ 0.05) is far outside it at these sizes."""
    return sds * math.sqrt(p * (1 - p) / n)


@pytest.fixture(scope="module")
def documents() -> list[tuple[str, str]]:
    return corpus(KNOBS)


# --- knobs --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("field, value", [
    ("slip_rate", -0.01), ("slip_rate", 1.01), ("recheck_rate", -1.0), ("recheck_rate", 1.5),
    ("boxed_rate", -0.1), ("boxed_rate", 2.0), ("documents", 0), ("documents", -5), ("route", "guess"),
    ("recheck_style", "twice"),
])
def test_knobs_out_of_range_are_value_errors(field, value):
    with pytest.raises(ValueError, match=field):
        CorpusKnobs(**{field: value})


def test_knob_bounds_are_allowed_and_to_dict_round_trips():
    for rate in (0.0, 1.0):
        CorpusKnobs(documents=1, slip_rate=rate, recheck_rate=rate, boxed_rate=rate)
    assert CorpusKnobs(**KNOBS.to_dict()) == KNOBS
    assert json.loads(json.dumps(KNOBS.to_dict())) == KNOBS.to_dict()


# --- the corpus ---------------------------------------------------------------------------------------

def test_documents_are_prompt_plus_solution(documents):
    assert len(documents) == DOCUMENTS
    for prompt, text in documents:
        assert prompt == prompt_text(_question(prompt)) == PROMPT.format(question=_question(prompt))
        assert text.startswith(" ") and re.search(r" The answer is (\\boxed\{-?\d+\}|-?\d+)\.$", text), text


def test_measured_shares_are_near_the_knobs(documents):
    n = len(documents)
    recheck = sum("Recheck:" in text for _, text in documents) / n
    boxed = sum("\\boxed{" in text for _, text in documents) / n
    lines = [(int(a), s, int(b), int(c)) for _, text in documents
             for a, s, b, c in LINE.findall(text.split(" Recheck:")[0])]
    slipped = sum(_calc(s, a, b) != c for a, s, b, c in lines) / len(lines)
    assert abs(recheck - KNOBS.recheck_rate) < _binomial_tolerance(KNOBS.recheck_rate, n), recheck
    assert abs(boxed - KNOBS.boxed_rate) < _binomial_tolerance(KNOBS.boxed_rate, n), boxed
    # A line is wrong exactly when it slipped (later lines compute correctly from the carried value);
    # the only exception, a slip hidden on a zero result, is ~0.1 % of slips — far inside the tolerance.
    assert abs(slipped - KNOBS.slip_rate) < _binomial_tolerance(KNOBS.slip_rate, len(lines)), slipped


def test_extreme_knobs_are_exact():
    never = corpus(CorpusKnobs(documents=300, slip_rate=0.0, recheck_rate=1.0, boxed_rate=0.0, seed=1))
    assert all("Recheck:" in text and "\\boxed" not in text for _, text in never)
    assert all(_calc(s, int(a), int(b)) == int(c) for _, text in never
               for a, s, b, c in LINE.findall(text.split(" Recheck:")[0]))
    always = corpus(CorpusKnobs(documents=300, slip_rate=1.0, recheck_rate=0.0, boxed_rate=1.0, seed=1))
    assert all("Recheck" not in text and text.endswith("}.") for _, text in always)
    lines = [(int(a), s, int(b), int(c)) for _, text in always for a, s, b, c in LINE.findall(text)]
    assert sum(_calc(s, a, b) != c for a, s, b, c in lines) / len(lines) > 0.99


def test_estimate_route_corpus_starts_every_solution_with_an_estimate():
    documents = corpus(CorpusKnobs(documents=400, route="estimate", slip_rate=0.0, recheck_rate=0.3, boxed_rate=0.6,
                                   seed=2))
    assert all(text.startswith(" Estimate: ") for _, text in documents)
    rechecked = [text for _, text in documents if " Recheck: " in text]
    assert abs(len(rechecked) / len(documents) - 0.3) < _binomial_tolerance(0.3, len(documents))
    answers = {prompt: text for prompt, text in documents}
    assert len(answers) > 300  # many distinct questions, not one repeated


def test_recheck_steps_in_the_corpus_are_right(documents):
    rechecked = [text for _, text in documents if "Recheck:" in text]
    assert rechecked
    for text in rechecked:
        recheck = text.split(" Recheck: ")[1].rsplit(" The answer is ", 1)[0]
        equations = [EQUATION.fullmatch(clause) for clause in re.split(r"[,.] ", recheck.rstrip("."))]
        equations = [match for match in equations if match]
        assert equations and all(_evaluate(m[1]) == int(m[2]) for m in equations), text


def test_same_knobs_same_corpus_other_seed_other_corpus(documents):
    assert corpus(KNOBS) == documents
    assert corpus(replace(KNOBS, seed=5)) != documents
    assert corpus(replace(KNOBS, documents=10)) == corpus(replace(KNOBS, documents=10))


def test_every_family_and_level_is_in_the_corpus(documents):
    cells = Counter(_cell(_question(prompt)) for prompt, _ in documents)
    assert set(cells) == {(family, level) for family in FAMILIES for level in LEVELS}


def test_families_and_levels_are_equally_likely(documents):
    cells = Counter(_cell(_question(prompt)) for prompt, _ in documents)
    expected = len(documents) / (len(FAMILIES) * len(LEVELS))
    for cell, count in cells.items():
        assert abs(count - expected) < 5 * math.sqrt(expected), (cell, count, expected)


# --- problem sets -------------------------------------------------------------------------------------

def test_held_out_sets_shape_and_ids():
    held = held_out_sets(per_level=20)
    assert list(held) == list(FAMILIES)
    ids = [p.id for problems in held.values() for p in problems]
    assert len(ids) == len(set(ids))
    for family, problems in held.items():
        assert Counter(p.level for p in problems) == {level: 20 for level in LEVELS}
        assert all(p.family == family and p.id.startswith(f"{family}-test-") for p in problems)
    assert held_out_sets(per_level=20) == held


def test_training_pool_shape():
    held = {p.question for problems in held_out_sets().values() for p in problems}
    pool = training_pool(per_family=12, exclude=held)
    assert Counter(p.family for p in pool) == {family: 12 for family in FAMILIES}
    assert {p.level for p in pool} <= {2, 3}
    assert len({p.id for p in pool}) == len(pool) and len({p.question for p in pool}) == len(pool)
    assert training_pool(per_family=12, exclude=held) == pool


def test_held_out_pool_and_corpus_are_disjoint():
    held = {p.question for problems in held_out_sets().values() for p in problems}
    pool = {p.question for p in training_pool(exclude=held)}
    assert not held & pool
    questions = {_question(prompt) for prompt, _ in corpus(replace(KNOBS, documents=2000), exclude=held | pool)}
    assert not questions & held and not questions & pool


def test_default_pool_is_disjoint_from_default_held_out_sets():
    held = {p.question for problems in held_out_sets(MAX_HELD_OUT_PER_LEVEL).values() for p in problems}
    assert not held & {p.question for p in training_pool(MAX_POOL_PER_FAMILY)}
    assert set(training_pool(3)) <= set(training_pool(MAX_POOL_PER_FAMILY))  # a smaller pool is a prefix


# --- local benchmark folders (how the held-out sets reach evaluation) ----------------------------------

def _write_rows(folder, rows) -> None:
    folder.mkdir(parents=True)
    (folder / "test.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))


def test_held_out_set_loads_as_a_local_benchmark(tmp_path):
    problems = held_out_sets(per_level=3)["word"]
    assert "word" not in BENCHMARKS
    _write_rows(tmp_path / "word", [{"id": p.id, "question": p.question, "answer": p.answer, "category": p.family,
                                     "level": p.level} for p in problems])
    loaded = load_benchmark("word", tmp_path)
    assert [(b.benchmark, b.id, b.question, b.answer) for b in loaded] == [
        ("word", p.id, p.question, str(p.answer)) for p in problems]
    assert [b.meta for b in loaded] == [{"category": "word", "level": p.level} for p in problems]


def test_local_benchmark_accepts_problem_field_and_string_answers(tmp_path):
    _write_rows(tmp_path / "mine", [{"problem": "What is 2 + 2?", "answer": "4"}, {"problem": "Q", "answer": 27.0}])
    loaded = load_benchmark("mine", tmp_path)
    assert [(b.id, b.question, b.answer, b.meta) for b in loaded] == [
        ("0", "What is 2 + 2?", "4", {}), ("1", "Q", "27", {})]


@pytest.mark.parametrize("row", [
    {"id": "a", "question": "What is 1 + 1?"},
    {"id": "a", "question": "What is 1 + 1?", "answer": ""},
    {"id": "a", "question": "What is 1 + 1?", "answer": None},
    {"id": "a", "answer": "2"},
])
def test_local_benchmark_row_without_answer_or_question_is_an_error(tmp_path, row):
    _write_rows(tmp_path / "toyset", [{"id": "ok", "question": "q", "answer": "1"}, row])
    with pytest.raises(BenchmarkError, match="row 2"):
        load_benchmark("toyset", tmp_path)


def test_unknown_benchmark_without_folder_is_an_error(tmp_path):
    with pytest.raises(BenchmarkError, match="unknown benchmark"):
        load_benchmark("nothing-here", tmp_path)
    with pytest.raises(BenchmarkError, match="unknown benchmark"):
        load_benchmark("nothing-here", None)
    (tmp_path / "empty").mkdir()
    with pytest.raises(BenchmarkError, match="no test.jsonl"):
        load_benchmark("empty", tmp_path)


# --- the toy prompt template --------------------------------------------------------------------------

def test_toy_template_renders_the_corpus_prompt():
    template = get_template("toy")
    question = held_out_sets(per_level=1)["compare"][0].question
    assert render_prompt(None, template, question) == prompt_text(question)
    assert not uses_chat_template(None, template)


# --- the random reward (a control) --------------------------------------------------------------------

def test_random_reward_is_a_seeded_fair_coin():
    completions = [f"The answer is \\boxed{{{i}}}." for i in range(2000)]
    rewards = make_reward("random", seed=3)(prompts=None, completions=completions)
    assert len(rewards) == 2000 and all(type(r) is float and r in (0.0, 1.0) for r in rewards)
    # a fair coin over 2000 draws: sd 0.011, so 0.05 is ~4.5 sd
    assert abs(sum(rewards) / 2000 - 0.5) < 0.05
    assert make_reward("random", seed=3)(prompts=None, completions=completions) == rewards
    assert make_reward("random", seed=3)(prompts=None, completions=["x"] * 2000) == rewards  # content ignored
    assert make_reward("random", seed=4)(prompts=None, completions=completions) != rewards
    assert make_reward("random", seed=3).__name__ == "random_reward"


def test_random_reward_continues_its_sequence_across_calls():
    whole = make_reward("random", seed=9)(completions=["a"] * 100)
    reward = make_reward("random", seed=9)
    assert reward(completions=["a"] * 40) + reward(completions=["a"] * 60) == whole
