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


# --- issue 17: answer families, as (gold, response, expected) rows ---------------------------------

SEVERAL_BOXES = [
    ("4, -6", "so $\\boxed{4}$ and $\\boxed{-6}$", True),
    ("4, -6", "$x = \\boxed{-6}$ or $x = \\boxed{4}$", True),
    ("4, -6", "\\boxed{4, -6}", True),
    ("4, -6", "\\boxed{4}", False),
    ("4, -6", "\\boxed{4}, \\boxed{-6}, \\boxed{5}", False),
    ("-6", "so $\\boxed{4}$ and $\\boxed{-6}$", False),  # lenient: both boxes are the answer
    ("\\boxed{3} and \\boxed{7}", "\\boxed{7}", False),  # the gold is both its boxes
    ("\\boxed{3} and \\boxed{7}", "\\boxed{3}, \\boxed{7}", True),
    ("\\boxed{3} and \\boxed{7}", "\\boxed{7 \\text{ and } 3}", True),
    ("\\{1, 2\\}", "$x = \\boxed{1}$ or $x = \\boxed{2}$", True),
]

SEVERAL_BOXES_STRICT = [
    ("-6", "so $\\boxed{4}$ and $\\boxed{-6}$", True),  # one gold answer: the last box, as the reward reads
    ("4", "so $\\boxed{4}$ and $\\boxed{-6}$", False),
    ("4, -6", "so $\\boxed{4}$ and $\\boxed{-6}$", True),
    ("4, -6", "\\boxed{4}", False),
    ("4, -6", "\\boxed{4} is one root; the other is \\boxed{-6}", False),
    ("\\{1, 2\\}", "$x = \\boxed{1}$ or $x = \\boxed{2}$", True),
    ("\\boxed{3} and \\boxed{7}", "\\boxed{7}", False),
    ("\\boxed{3} and \\boxed{7}", "\\boxed{3} and \\boxed{7}", True),
    ("4, -6", "The answer is 4, -6", False),  # strict reads boxes only
]

LIST_WORDS = [
    ("$3,8$ or $10$", "\\boxed{3,8,10}", True),
    ("$3,8$ or $10$", "\\boxed{10, 8, 3}", True),
    ("$3,8$ or $10$", "\\boxed{3,8}", False),
    ("$3,8$ or $10$", "\\boxed{3.8, 10}", False),
    ("2 and 5", "\\boxed{2, 5}", True),
    ("2 and 5", "\\boxed{25}", False),
    ("1,000 or 2,000", "\\boxed{1000, 2000}", True),
    ("1000.99", "\\boxed{1000,99}", False),  # a comma is not a decimal point without context
    ("1000,99", "\\boxed{1000.99}", False),
]

ANSWER_CUES = [
    ("150", "Answer: 150", True),
    ("150", "Final answer: 150", True),
    ("150", "**Answer:** 150", True),
    ("150", "**Final Answer**\n\nAnswer: $150$", True),
    ("150", "Answer: 151", False),
    ("150", "Answer: 15. We check it with 150 steps.", False),  # the cue's sentence ends at its period
]

LATEX_SPANS = [
    ("x \\le -1", "Hence $x \\leq -1$ is the solution set.", True),
    ("x \\le -1", "Hence $x \\leq -2$ is the solution set.", False),
    ("7", "Then $x=2$ gives 7 apples.", True),
    ("2", "Then $x=2$ gives 7 apples.", False),
    ("\\frac{3}{4}", "The ratio is \\(\\frac{3}{4}\\).", True),
    ("12", "so the total is 5 + 7 = 12.", True),
    ("12", "There are 12 ways, since $n$ is even.", True),
    ("(-\\infty, 2)", "The solution set is $$(-\\infty, 2)$$ as claimed", True),
    ("28800", "the total is $2\\cdot5!\\cdot5!=2\\cdot120\\cdot120=28800$.", True),
    ("28800", "the total is $2\\cdot5!\\cdot5!=2\\cdot120\\cdot120=28801$.", False),
]

UNIT_WORDS = [
    ("60", "\\boxed{60\\textnormal{ minutes}}", True),
    ("60", "\\boxed{60 \\textbf{ minutes}}", True),
    ("60", "\\boxed{60\\mathrm{~min}}", True),
    ("60", "\\boxed{61\\textnormal{ minutes}}", False),
    ("\\text{B}", "\\boxed{\\text{A}, \\text{B}}", False),
]

TRAILING_BACKSLASH = [
    ("42\\", "\\boxed{42}", True),
    ("42\\", "\\boxed{43}", False),
]

LABELS = [
    ("S_{ABC}=12", "\\boxed{12}", True),
    ("S_{ABC}=12", "\\boxed{13}", False),
    ("AB = 5", "\\boxed{5}", True),
    ("a=3,b=1;a=6,b=2", "\\boxed{(3,1),(6,2)}", True),
    ("a=3,b=1;a=6,b=2", "\\boxed{(6,2),(3,1)}", True),
    ("a=3,b=1;a=6,b=2", "\\boxed{a=6,b=2;a=3,b=1}", True),
    ("a=3,b=1;a=6,b=2", "\\boxed{(1,3),(2,6)}", False),
    ("a=3,b=1;a=6,b=2", "\\boxed{(3,1)}", False),
    ("x=4, x=-6", "\\boxed{-6, 4}", True),
    ("3x - y - 2 = 0", "\\boxed{y = 3x - 2}", True),
    ("3x - y - 2 = 0", "\\boxed{6x - 2y = 4}", True),
    ("y = 3x - 2", "\\boxed{3x - y - 2 = 0}", True),
    ("y = 3x - 2", "\\boxed{x = \\frac{y+2}{3}}", True),
    ("3x - y - 2 = 0", "\\boxed{y = 3x + 2}", False),
    ("3x - y - 2 = 0", "\\boxed{3x - 2}", False),  # an expression is not the equation
    ("3x - y - 2 = 0", "\\boxed{(3x - y - 2)^2 = 0}", False),  # not a constant factor
    ("3x - y - 2 = 0", "\\boxed{0 = 0}", False),
    ("x = 5", "\\boxed{2x - 10 = 0}", False),  # a value is asked for, not an equation
    ("N=n", "\\boxed{N=n+1}", False),
]

SETS = [
    ("\\{1, 2\\}", "\\boxed{\\{1, 1, 2\\}}", True),
    ("\\{1, 2\\}", "\\boxed{\\{2, 1, 2\\}}", True),
    ("\\{1, 1, 2\\}", "\\boxed{\\{1, 2\\}}", True),
    ("1, 2", "\\boxed{\\{1, 1, 2\\}}", True),  # written as a set on one side: compared as sets
    ("\\{1, 2\\}", "\\boxed{1, 1, 2}", True),
    ("\\{1, 2\\}", "\\boxed{\\{1, 1\\}}", False),
    ("\\{1, 2\\}", "\\boxed{\\{1, 2, 3\\}}", False),
    ("1, 2", "\\boxed{1, 1, 2}", False),  # a bare list stays a multiset: a repeated answer may be meant
    ("2, 2", "\\boxed{2}", False),
]

FAMILIES = {"several-boxes": SEVERAL_BOXES, "list-words": LIST_WORDS, "answer-cues": ANSWER_CUES,
            "latex-spans": LATEX_SPANS, "unit-words": UNIT_WORDS, "trailing-backslash": TRAILING_BACKSLASH,
            "labels": LABELS, "sets": SETS}


@pytest.mark.parametrize("gold, response, expected",
                         [pytest.param(*row, id=f"{name}-{i}") for name, rows in FAMILIES.items()
                          for i, row in enumerate(rows)])
def test_answer_families_lenient(gold, response, expected):
    verdict = grade(response, gold)
    assert verdict.correct is expected, verdict


@pytest.mark.parametrize("gold, response, expected", SEVERAL_BOXES_STRICT)
def test_answer_families_strict(gold, response, expected):
    verdict = grade(response, gold, mode="strict")
    assert verdict.correct is expected, verdict
