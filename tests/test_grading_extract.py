import pytest

from oneshot_rlvr.grading import extract_answer, has_boxed, last_boxed


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
