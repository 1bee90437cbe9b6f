"""Grader qwen25-math (grading/qwen25.py, qwen25_rules.py): the Qwen2.5-Math evaluator's verdicts, quirks included.

Rows are (gold, response, expected) as that evaluator's code decides them (parser.py, grader.py), with the
quirk each row pins; where the project's grader decides differently, the last table says so.
"""

from __future__ import annotations

import time

import pytest

from oneshot_rlvr.grading import grade as project_grade
from oneshot_rlvr.grading import qwen25
from oneshot_rlvr.grading.graders import GRADERS, grade_batch, grade_both, get_grader
from oneshot_rlvr.grading.qwen25_rules import extract_raw, strip_string, word_to_num

VERDICTS = [
    # numbers: relative 1e-4, and gold/100 or gold*100 on every pair
    ("7550415", "\\boxed{7550416}", True),
    ("7550415", "\\boxed{7551416}", False),
    ("0.5", "\\boxed{50\\%}", True),
    ("0.5", "\\boxed{50}", True),
    ("50", "\\boxed{0.5}", True),
    ("1000.99", "\\boxed{1000,99}", True),  # commas deleted: 100099 = 100 × 1000.99
    ("12", "\\boxed{13}", False),
    # brackets: stripped when the gold does not open with the other kind
    ("(3,4)", "\\boxed{(3,4]}", True),
    ("[3,4]", "\\boxed{(3,4)}", True),
    ("(1,2)", "\\boxed{(2,1)}", False),
    ("1,2", "\\boxed{2,1}", False),  # lists in order only
    # units and words: ~340 unit words deleted, a final \text{} dropped, number words read
    ("5", "\\boxed{5 \\text{ cm}}", True),
    ("5", "\\boxed{5 cm}", True),
    ("7", "\\boxed{seven}", True),
    ("12", "The answer is 12 apples and more", True),
    # extraction: the last "boxed" to its brace (a truncated box takes the rest), "he answer is", last number
    ("3", "\\boxed{3", True),
    ("2", "\\boxed{2}\\boxed{}", False),  # the last box is empty: no answer
    ("1000", "The answer is 1,000.", True),
    ("150", "Answer: 150", True),  # no cue it knows: the last number
    ("10", "The final answer is $10$. I hope it is correct.", True),
    ("4, -6", "so $\\boxed{4}$ and $\\boxed{-6}$", False),  # the last box only
    ("x \\le -1", "Hence $x \\leq -1$ is the solution set.", False),  # the last number, -1
    ("42\\", "\\boxed{42}", False),  # the gold keeps its backslash
    # letters, x= prefixes, equations, symbolic
    ("C", "I think (C) is right", True),
    ("C", "the answer is B", False),
    ("5", "\\boxed{x=5}", True),
    ("x=5", "\\boxed{5}", True),
    ("3x-y-2=0", "\\boxed{3x-y-2=0}", True),
    ("(x+1)^2", "\\boxed{x^2+2x+1}", True),
    ("\\frac12", "\\boxed{0.5}", True),
    ("\\pi", "\\boxed{3.1416}", False),  # sympy's parse_latex reads \pi as a plain symbol
    ("", "\\boxed{1}", None),  # an empty gold is the caller's error
]


@pytest.mark.parametrize("gold, response, expected", [row for row in VERDICTS if row[2] is not None])
def test_qwen25_verdicts(gold, response, expected):
    verdict = qwen25.grade(response, gold)
    assert verdict.correct is expected, verdict


def test_qwen25_refuses_an_empty_gold():
    with pytest.raises(ValueError, match="gold answer is empty"):
        qwen25.grade("\\boxed{1}", " ")


# The two graders disagree, each on purpose (docs/grader.md "Which grader"): (gold, response, project, qwen25-math).
DISAGREEMENTS = [
    ("7550415", "\\boxed{7550416}", False, True),  # integers exact here
    ("0.5", "\\boxed{50}", False, True),  # a bare 50 is not 0.5 here
    ("(3,4)", "\\boxed{(3,4]}", False, True),  # an interval's brackets matter here
    ("4, -6", "so $\\boxed{4}$ and $\\boxed{-6}$", True, False),  # the final answer's boxes together here
    ("x \\le -1", "Hence $x \\leq -1$ is the solution set.", True, False),  # the last math span here
]


@pytest.mark.parametrize("gold, response, project, qwen", DISAGREEMENTS)
def test_the_graders_disagree_where_documented(gold, response, project, qwen):
    assert project_grade(response, gold).correct is project
    assert qwen25.grade(response, gold).correct is qwen


@pytest.mark.parametrize("raw, expected", [
    ("\\dfrac{1}{2}", "\\frac{1}{2}"),
    ("\\frac12", "\\frac{1}{2}"),
    ("1/2", "\\frac{1}{2}"),
    ("5 \\text{ cm}", "5"),
    ("x = 3", "3"),
    ("\\left( 1, 2 \\right)", "(1,2)"),
    ("50\\%", "50"),
    ("3.0", "3"),
    ("band", "b"),  # "and" is deleted anywhere, as in the original
    ("twenty one", "21"),
    (".5", "0.5"),
    ("\\{1, 2\\}", "{1,2}"),
])
def test_strip_string(raw, expected):
    assert strip_string(raw) == expected


def test_strip_string_keeps_units_when_asked():
    assert strip_string("5 cm") == "5"
    assert strip_string("5 cm", skip_unit=True) == "5cm"


@pytest.mark.parametrize("words, number", [
    ("seven", 7), ("twenty one", 21), ("one hundred twenty", 120), ("two thousand five", 2005),
    ("no one", 1), ("three point five", 3.5),
])
def test_word_to_num(words, number):
    assert word_to_num(words) == number


@pytest.mark.parametrize("words", ["apples", "thousand thousand", ""])
def test_word_to_num_refuses(words):
    with pytest.raises(ValueError):
        word_to_num(words)


@pytest.mark.parametrize("response, raw", [
    ("so \\boxed{\\frac{1}{2}} done", "\\frac{1}{2}"),
    ("\\boxed{1} then \\boxed{2}", "2"),
    ("\\boxed 5$ and more", "5"),
    ("The answer is: 12.", " 12"),  # the colon goes, the space stays (strip_string drops it)
    ("the final answer is 7/", "7"),
    ("we have 1,234 and 5.5 left", "5.5"),
    ("The final answer is $x+1$. I hope it is correct.", "x+1"),
    ("nothing here", ""),
])
def test_extraction_order(response, raw):
    assert extract_raw(response) == raw


def test_minerva_keeps_units():
    assert qwen25.grade("\\boxed{5 \\text{ m/s}}", "5", benchmark="math500").extracted == "5"
    assert qwen25.grade("\\boxed{5 meters}", "5").extracted == "5"
    assert qwen25.grade("\\boxed{5 meters}", "5", benchmark="minerva_math").extracted == "5meters"


def test_strict_counts_the_verdict_only_for_a_boxed_response():
    assert qwen25.grade("The answer is 5", "5").correct
    strict = qwen25.grade("The answer is 5", "5", mode="strict")
    assert not strict.correct and strict.reason == "no-answer"
    assert qwen25.grade("\\boxed{5}", "5", mode="strict").correct


@pytest.mark.parametrize("response", [
    "\\boxed{" + "{" * 100_000 + "1",
    "\\boxed{" + "x^" * 50_000 + "2}",
    "1," * 300_000,
    "\\boxed{" + "\\frac{1}{" * 2_000 + "2" + "}" * 2_000 + "}",
    "\\boxed{9^{9^{9^{9}}}}",
    "a " * 500_000,
])
def test_qwen25_verdicts_stay_within_the_time_limit(response):
    start = time.monotonic()
    verdict = qwen25.grade(response, "2", timeout=2.0)
    assert time.monotonic() - start < 2.5, verdict
    assert verdict.correct in (True, False)


# --- the registry ------------------------------------------------------------------------------------

def test_registry_names_and_unknown_grader():
    assert set(GRADERS) == {"oneshot-rlvr", "qwen25-math"}
    with pytest.raises(ValueError, match="unknown grader 'qwen'; choose one of oneshot-rlvr, qwen25-math"):
        get_grader("qwen")


def test_grade_batch_keeps_order_and_uses_the_named_grader():
    pairs = [("\\boxed{7550416}", "7550415"), ("\\boxed{3}", "3"), ("\\boxed{4}", "5")]
    assert [v.correct for v in grade_batch("oneshot-rlvr", pairs, workers=1)] == [False, True, False]
    assert [v.correct for v in grade_batch("qwen25-math", pairs, workers=1)] == [True, True, False]


@pytest.mark.parametrize("name", list(GRADERS))
def test_grade_both_strict_needs_a_box(name):
    pairs = [("The answer is 3", "3"), ("\\boxed{3}", "3")]
    lenient, strict = grade_both(name, pairs, workers=1)
    assert [v.correct for v in lenient] == [True, True]
    assert [v.correct for v in strict] == [False, True]
