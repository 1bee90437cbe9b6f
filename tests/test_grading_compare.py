"""Equivalence: what the grader calls equal, and what it must not."""

from fractions import Fraction

import pytest

from oneshot_rlvr.grading import REASONS, Verdict, grade, warm_up
from oneshot_rlvr.grading.compare import parse_number


@pytest.fixture(scope="module", autouse=True)
def _workers():
    warm_up(2)


EQUAL = [
    ("\\frac{\\sqrt{3}}{2}", "\\frac{\\sqrt3}2"),
    ("\\sqrt{3}/2", "\\frac{\\sqrt{3}}{2}"),
    ("0.5", "\\frac{1}{2}"),
    ("1/2", "0.5"),
    ("\\pi \\cdot 2", "2\\pi"),
    ("x=5", "5"),
    ("2x+3", "y = 2x + 3"),
    ("[-2,7]", "x \\in [-2,7]"),
    ("(-\\infty,0]", "(-\\infty, 0]"),
    ("7,5,3", "3, 5, 7"),
    ("\\{3,5,7\\}", "3, 5, 7"),
    ("\\begin{bmatrix}1&2\\\\3&4\\end{bmatrix}", "\\begin{pmatrix}1&2\\\\3&4\\end{pmatrix}"),
    ("\\begin{pmatrix} -\\frac{1}{3} \\\\ \\frac23 \\end{pmatrix}", "\\begin{pmatrix} -1/3 \\\\ 2/3 \\end{pmatrix}"),
    ("10,080", "10080"),
    ("18.9", "\\$18.90"),
    ("30 degrees", "30^\\circ"),
    ("\\text{five}", "5"),
    ("0.25", "25\\%"),
    ("25\\%", "0.25"),
    ("25\\%", "25"),
    ("\\frac{9}{5}", "1\\frac{4}{5}"),
    ("-5i+6", "6-5i"),
    ("C", "\\text{(C)}"),
    ("East", "\\text{east}"),
    ("2^{10}", "1024"),
    ("3\\sqrt{13}", "\\sqrt{117}"),
    ("-q+p", "p - q"),
    ("ab+2a+5b+10", "(a+5)(b+2)"),
    ("1+\\sqrt{19}, 1-\\sqrt{19}", "1 \\pm \\sqrt{19}"),
    ("(0,9) \\cup (9,36)", "(0,9)\\cup(9,36)"),
    ("\\frac{\\cos x}{\\sin x}", "\\cot x"),
    ("6.72\\times10^{-5}", ".0000672"),
    ("4.5\\times 10^{33}", "4.5e33"),
    ("\\frac{64}{5}", "12.8"),
    ("12.80", "12.8"),
    ("12.8001", "12.8"),
    ("\\frac{-2023}{2024}", "-\\frac{2023}{2024}"),
    ("\\frac{1}{3}", "0.3333"),  # a decimal gold is a rounded value
    ("2x", "f(x)=2 x"),
    ("\\frac{1}{\\sqrt{2}}", "\\frac{\\sqrt{2}}{2}"),
    ("52_8", "52_{8}"),
]

DIFFERENT = [
    ("7550416", "7550415"),  # Qwen's relative 1e-4 calls these equal
    ("1000001", "1000000"),
    ("0.3333", "\\frac{1}{3}"),  # an exact gold needs the exact value
    ("1.33", "\\frac{4}{3}"),
    ("141.55", "141.54"),  # relative difference 7e-5, but a different value at the gold's precision
    ("25", "0.25"),  # no percent sign, no /100
    ("[2,7]", "x \\in [-2,7]"),
    ("(-\\infty,0)", "(-\\infty, 0]"),
    ("(3,4)", "(3,4]"),
    ("(31,6,-1)", "(6,31,-1)"),
    ("\\begin{pmatrix}1&2\\\\3&5\\end{pmatrix}", "\\begin{pmatrix}1&2\\\\3&4\\end{pmatrix}"),
    ("D", "\\text{(C)}"),
    ("west", "\\text{east}"),
    ("Nevyle", "\\text{Evelyn}"),  # a symbolic parser reads both as the product E*v*e*l*y*n
    ("1023", "2^{10}"),
    ("x^3+3x-5", "x^3+3x-6"),
    ("(0,9) \\cup (9,35)", "(0,9) \\cup (9,36)"),
    ("4.6\\times 10^{33}", "4.5e33"),
    ("3.22", "3.21"),
    ("52_9", "52_8"),
    ("42", "52_8"),
]


@pytest.mark.parametrize("answer, gold", EQUAL)
def test_equal_answers(answer, gold):
    verdict = grade(f"so \\boxed{{{answer}}}", gold)
    assert verdict.correct, verdict


@pytest.mark.parametrize("answer, gold", DIFFERENT)
def test_different_answers(answer, gold):
    verdict = grade(f"so \\boxed{{{answer}}}", gold)
    assert not verdict.correct, verdict
    assert verdict.reason == "mismatch"


def test_reasons_name_the_deciding_stage():
    assert grade("\\boxed{\\dfrac{1}{2}}", "\\frac12").reason == "match"
    assert grade("\\boxed{0.5}", "\\frac12").reason == "numeric"
    assert grade("\\boxed{(1, 0.5)}", "(1,\\frac12)").reason == "structure"
    assert grade("\\boxed{x^4(x-1)}", "x^5-x^4").reason == "symbolic"
    assert grade("no answer here", "5", mode="strict").reason == "no-answer"
    assert all(grade(r, g).reason in REASONS for r, g in [("\\boxed{1}", "1"), ("x", "2"), ("\\boxed{3}", "2")])


def test_strict_and_lenient_differ_on_unboxed_answers():
    assert grade("The answer is 5.", "5", mode="lenient").correct
    strict = grade("The answer is 5.", "5", mode="strict")
    assert not strict.correct and strict.reason == "no-answer" and strict.extracted is None


def test_gold_may_itself_be_boxed():
    assert grade("\\boxed{4}", "so \\boxed{4}").correct


def test_verdict_is_a_small_immutable_record():
    verdict = grade("\\boxed{1}", "1")
    assert isinstance(verdict, Verdict)
    assert verdict.to_dict() == {"correct": True, "extracted": "1", "reason": "match", "detail": None}
    with pytest.raises(AttributeError):
        verdict.correct = False  # type: ignore[misc]


@pytest.mark.parametrize(
    "text, value, decimal",
    [("12", Fraction(12), False), ("-0.5", Fraction(-1, 2), True), ("1.5e3", Fraction(1500), True),
     ("2\\times10^{-2}", Fraction(1, 50), False), ("\\frac{3}{4}", Fraction(3, 4), False),
     ("-1\\frac{1}{2}", Fraction(-3, 2), False), ("3/4", Fraction(3, 4), False), ("10^{3}", Fraction(1000), False)],
)
def test_parse_number_is_exact(text, value, decimal):
    parsed = parse_number(text)
    assert parsed is not None and parsed[0] == value and (parsed[1] is not None) == decimal


@pytest.mark.parametrize("text", ["x", "1,2", "\\frac{1}{0}", "1e99999", "9" * 500, "2^{3}"])
def test_parse_number_refuses_non_literals(text):
    assert parse_number(text) is None


def test_an_empty_box_is_no_answer():
    assert grade("\\boxed{ }", "5", mode="strict").reason == "no-answer"
    assert grade("\\boxed{5} then \\boxed{}", "5", mode="strict").correct


@pytest.mark.parametrize("kwargs", [{"mode": "loose"}, {"timeout": 0}, {"timeout": float("inf")},
                                    {"timeout": float("nan")}])
def test_caller_errors_raise(kwargs):
    with pytest.raises(ValueError):
        grade("\\boxed{1}", "1", **kwargs)


@pytest.mark.parametrize("gold", [None, "", "  "])
def test_empty_gold_raises(gold):
    with pytest.raises(ValueError, match="gold answer is empty"):
        grade("\\boxed{1}", gold)
