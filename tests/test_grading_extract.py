import time

import pytest

from oneshot_rlvr.grading import extract_answer, has_boxed, last_boxed
from oneshot_rlvr.grading.extract import extract_for_gold, final_boxes, gold_answer


@pytest.mark.parametrize(
    "response, expected",
    [
        ("so \\boxed{12}", "12"),
        ("first \\boxed{1} then \\boxed{2}", "2"),
        ("nested \\boxed{\\frac{1}{2}}", "\\frac{1}{2}"),
        ("\\fbox{7}", "7"),
        ("\\boxed {3}", "3"),
        ("set \\boxed{\\{1,2\\}}", "\\{1,2\\}"),
        ("complete \\boxed{4} then truncated \\boxed{5", "4"),
        ("only truncated \\boxed{5", None),
        ("no box, the answer is 7", None),
        ("\\boxed 5$", None),  # brace-less form is lenient only
    ],
)
def test_strict_takes_only_the_last_complete_box(response, expected):
    assert extract_answer(response, "strict") == expected


@pytest.mark.parametrize(
    "response, expected",
    [
        ("x \\boxed{9} and the answer is 3", "9"),  # boxed first
        ("so $\\boxed 5$.", "5"),
        ("The final answer is $\\frac{3}{4}$. I hope it is correct.", "\\frac{3}{4}"),
        ("The final answer is $\\$18.90$. I hope it is correct.", "\\$18.90"),
        ("Thus the answer is $42$. Next we check.", "42"),
        ("Therefore, the answer is 3.5.", "3.5"),
        ("The answer is: 12 apples\nmore text 99", "12 apples"),
        ("THE ANSWER IS \\(x+1\\)", "x+1"),
        ("we have 3 cats and 1,234 dogs", "1,234"),
        ("values 1, 2", "2"),  # commas do not glue a list into one number
        ("ratio 3/4", "3/4"),
        ("temperature -5.5 degrees", "-5.5"),
        ("no numbers at all", None),
    ],
)
def test_lenient_follows_the_qwen_order(response, expected):
    assert extract_answer(response, "lenient") == expected


def test_unknown_mode_is_rejected():
    with pytest.raises(ValueError, match="strict"):
        extract_answer("\\boxed{1}", "loose")


def test_last_boxed_and_has_boxed_agree():
    assert last_boxed("a \\boxed{x^{2}} b") == "x^{2}"
    assert has_boxed("a \\boxed{x} b")
    assert not has_boxed("a \\boxed{x b")
    assert not has_boxed("the answer is 3")


def test_extraction_is_linear_on_huge_inputs():
    import time

    start = time.monotonic()
    assert extract_answer("\\boxed{" * 200_000, "strict") is None
    assert extract_answer("{" * 500_000 + "\\boxed{3}", "lenient") == "3"
    assert time.monotonic() - start < 3


# --- issue 17: answer families ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "response, expected",
    [
        ("so $\\boxed{4}$ and $\\boxed{-6}$", "4, -6"),
        ("\\boxed{1}, \\boxed{2}, \\boxed{3}", "1, 2, 3"),
        ("$x = \\boxed{4}$ or $x = \\boxed{-6}$.", "4, -6"),
        ("\\(x_1 = \\boxed{2}\\), \\(x_2 = \\boxed{5}\\)", "2, 5"),
        ("\\boxed{3} \\quad \\boxed{7}", "3, 7"),
        ("first \\boxed{1} then \\boxed{2}", "2"),  # prose between: separate answers
        ("We get \\boxed{5}.\n\nSo the final answer is \\boxed{5}", "5"),
        ("\\boxed{4}\n\\boxed{-6}", "-6"),  # no connector: not one answer
        ("\\boxed{4} is one root; the other is \\boxed{-6}", "-6"),
        ("\\boxed{x = \\boxed{3}}", "3"),  # a box inside a box is not a list
        ("\\boxed{4}, \\boxed{ }, \\boxed{-6}", "-6"),  # an empty box ends the run
    ],
)
def test_lenient_reads_the_boxes_of_the_final_answer_together(response, expected):
    assert extract_answer(response, "lenient") == expected


@pytest.mark.parametrize(
    "response, several, expected",
    [
        ("so $\\boxed{4}$ and $\\boxed{-6}$", False, "-6"),  # one gold answer: the reward reads the last box
        ("so $\\boxed{4}$ and $\\boxed{-6}$", True, "4, -6"),
        ("\\boxed{4}", True, "4"),
        ("\\boxed{4} is one root; the other is \\boxed{-6}", True, "-6"),
        ("the answer is 4, -6", True, None),  # strict reads boxes only
    ],
)
def test_strict_reads_several_boxes_only_for_a_gold_with_several_answers(response, several, expected):
    assert extract_for_gold(response, "strict", several) == expected
    if not several:
        assert extract_answer(response, "strict") == expected


def test_final_boxes_stop_at_the_cap():
    assert len(final_boxes("\\boxed{1}, " * 100)) == 32


@pytest.mark.parametrize(
    "gold, expected",
    [
        ("\\boxed{3} and \\boxed{7}", "3, 7"),
        ("so \\boxed{4}", "4"),
        ("\\boxed{\\boxed{2}}", "\\boxed{2}"),  # outermost boxes only
        ("\\boxed{ } and \\boxed{5}", "5"),
        ("42", "42"),
    ],
)
def test_a_gold_holding_boxes_is_all_its_boxes(gold, expected):
    assert gold_answer(gold) == expected


@pytest.mark.parametrize(
    "response, expected",
    [
        ("Answer: 150", "150"),
        ("Final answer: 150", "150"),
        ("**Answer:** 150", "150"),
        ("**Final Answer**: $150$", "150"),
        ("Answer:\n\n$x = 3$", "x = 3"),
        ("The answer is 3. Let me check. Answer: 5", "5"),  # the last cue
        ("Answer: 150.\nCheck: 3 + 147 = 150", "150"),
        ("\\boxed{9}\nAnswer: 150", "9"),  # boxes first
        ("The answer is $2 \\cdot 3 = 6$.", "6"),  # a computed span states its result
    ],
)
def test_lenient_answer_cues(response, expected):
    assert extract_answer(response, "lenient") == expected


@pytest.mark.parametrize(
    "response, expected",
    [
        ("Hence $x \\leq -1$ is the solution set.", "x \\leq -1"),
        ("So \\(y = 2\\) works.", "y = 2"),
        ("We get \\[ \\frac{3}{4} \\] as the ratio.", "\\frac{3}{4}"),
        ("$$a+b = 10$$ and we stop", "a+b = 10"),  # variables: the equation stays whole
        ("The plane is $5x - 7y + 11z + 4 = 0.$", "5x - 7y + 11z + 4 = 0"),
        ("the total is $3 + 4 = 7$", "7"),  # no variables: the right side
        ("so $\\frac{1}{2} \\cdot 6 = 3 = x$.", "3"),  # chain: last value, not the trailing name
        ("the roots are $f(x)=x, g(x)=1$", "f(x)=x, g(x)=1"),  # a list is not a chain
        ("the count is $26\\times 25={650}$.", "650"),
        ("Then $x=2$ gives 7 apples.", "7"),  # a number after the span wins
        ("so the total is 5 + 7 = 12.", "12"),
        ("There are 12 ways, since $n$ is even.", "12"),  # a name is not an answer
        ("Thus there are ${6}$ values of $x.$", "6"),
        ("It costs $5 on Monday.\n\nSo $x = 3$ works", "x = 3"),  # a currency $ does not pair
        ("The price is \\$5.", "5"),
    ],
)
def test_lenient_reads_the_last_math_span_before_the_last_number(response, expected):
    assert extract_answer(response, "lenient") == expected


@pytest.mark.parametrize(
    "response",
    [
        "$" * 1_000_000,
        "$a$ " * 250_000,
        "\\(" * 500_000,
        "Answer: " * 125_000,
        "answer **" + " " * 1_000_000,
        "\\boxed{1}, " * 90_000,
        "\\boxed{ } " * 100_000,
        "\\boxed{1}" + " " * 1_000_000 + "and \\boxed{2}",
        "$" + "1=" * 500_000 + "$",
        "The answer is $" + "x=" * 500_000 + "$",
        "$5\n\n" * 300_000,
    ],
)
def test_new_rules_stay_linear_on_1mb_adversarial_responses(response):
    start = time.monotonic()
    for mode in ("lenient", "strict"):
        extract_answer(response, mode)
    extract_for_gold(response, "strict", True)
    gold_answer(response)
    assert time.monotonic() - start < 3
