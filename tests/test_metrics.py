"""Tests for oneshot_rlvr.metrics."""

from __future__ import annotations

import itertools
import math

import pytest

from oneshot_rlvr.metrics import (
    REFLECTION_WORDS,
    Proportion,
    avg_at_k,
    majority_at_k,
    mean_pass_at_k,
    pass_at_k,
    reflection_counts,
    reflection_rate,
    two_proportion_test,
    wilson_interval,
)

# ---------------------------------------------------------------- pass@k


def _brute_pass_at_k(n: int, c: int, k: int) -> float:
    samples = [True] * c + [False] * (n - c)
    subsets = list(itertools.combinations(range(n), k))
    return sum(any(samples[i] for i in s) for s in subsets) / len(subsets)


@pytest.mark.parametrize("n", range(1, 9))
def test_pass_at_k_matches_brute_force(n):
    for c in range(n + 1):
        for k in range(1, n + 1):
            assert pass_at_k(n, c, k) == pytest.approx(_brute_pass_at_k(n, c, k), abs=1e-12)


def test_pass_at_k_matches_binomial_formula_large_n():
    n, c, k = 200, 7, 16
    expected = 1 - math.comb(n - c, k) / math.comb(n, k)
    assert pass_at_k(n, c, k) == pytest.approx(expected, abs=1e-12)


def test_pass_at_k_edge_cases():
    assert pass_at_k(10, 0, 1) == 0.0
    assert pass_at_k(10, 0, 10) == 0.0
    assert pass_at_k(10, 10, 1) == 1.0
    assert pass_at_k(5, 1, 5) == 1.0  # n - c < k
    assert pass_at_k(10, 3, 1) == pytest.approx(0.3, abs=1e-12)  # pass@1 = c/n
    assert pass_at_k(1, 1, 1) == 1.0
    assert pass_at_k(1, 0, 1) == 0.0


@pytest.mark.parametrize(
    ("n", "c", "k"),
    [(5, 1, 0), (5, 1, -1), (3, 1, 4), (5, -1, 1), (5, 6, 1), (0, 0, 1)],
)
def test_pass_at_k_invalid_inputs_raise(n, c, k):
    with pytest.raises(ValueError, match="pass@k"):
        pass_at_k(n, c, k)


def test_mean_pass_at_k():
    counts = [(4, 0), (4, 4), (4, 2)]
    expected = (0.0 + 1.0 + (1 - math.comb(2, 2) / math.comb(4, 2))) / 3
    assert mean_pass_at_k(counts, 2) == pytest.approx(expected, abs=1e-12)
    with pytest.raises(ValueError):
        mean_pass_at_k([], 1)
    with pytest.raises(ValueError):
        mean_pass_at_k([(2, 1)], 3)


# ---------------------------------------------------------------- avg@k


def test_avg_at_k_weights_problems_equally():
    # Problem A: 1/2 correct, problem B: 1/4 correct.
    data = [[True, False], [True, False, False, False]]
    assert avg_at_k(data) == pytest.approx((0.5 + 0.25) / 2)
    # Pooling all samples would give 2/6; make sure we do not do that.
    assert avg_at_k(data) != pytest.approx(2 / 6)


def test_avg_at_k_basic_and_invalid():
    assert avg_at_k([[True, True], [False, False]]) == 0.5
    assert avg_at_k([[True]]) == 1.0
    with pytest.raises(ValueError):
        avg_at_k([])
    with pytest.raises(ValueError):
        avg_at_k([[True], []])


# ---------------------------------------------------------------- maj@k


def test_majority_at_k_simple_majority():
    answers = [["2", "3", "2", "2"], ["5", "7", "7", "5", "7"]]
    correct = [[True, False, True, True], [True, False, False, True, False]]
    # Problem 1: majority "2" correct; problem 2: majority "7" wrong.
    assert majority_at_k(answers, correct) == 0.5


def test_majority_at_k_tie_broken_by_first_occurrence():
    answers = [["b", "a", "a", "b"]]
    assert majority_at_k(answers, [[True, False, False, True]]) == 1.0  # "b" first
    assert majority_at_k(answers, [[False, True, True, False]]) == 0.0


def test_majority_at_k_none_never_wins_unless_all_none():
    # None is the most frequent value but must lose to the only real answer.
    answers = [[None, None, None, "4"]]
    assert majority_at_k(answers, [[False, False, False, True]]) == 1.0
    assert majority_at_k(answers, [[False, False, False, False]]) == 0.0
    # All None: no answer, never correct.
    assert majority_at_k([[None, None]], [[False, False]]) == 0.0


def test_majority_at_k_correct_if_majority_sample_correct():
    # The majority answer counts as correct if a sample carrying it is graded
    # correct, even when a minority answer is also correct.
    answers = [["x", "x", "y"]]
    assert majority_at_k(answers, [[False, True, False]]) == 1.0
    assert majority_at_k(answers, [[False, False, True]]) == 0.0


def test_majority_at_k_invalid_inputs():
    with pytest.raises(ValueError):
        majority_at_k([["a"]], [])
    with pytest.raises(ValueError):
        majority_at_k([["a", "b"]], [[True]])
    with pytest.raises(ValueError):
        majority_at_k([], [])
    with pytest.raises(ValueError):
        majority_at_k([[]], [[]])


# ---------------------------------------------------------------- Wilson


def test_wilson_interval_hand_computed():
    lo, hi = wilson_interval(8, 10)
    assert round(lo, 4) == 0.4902
    assert round(hi, 4) == 0.9433


@pytest.mark.parametrize(("s", "n"), [(0, 1), (1, 1), (0, 10), (3, 10), (10, 10), (17, 40)])
def test_wilson_interval_contains_point_estimate(s, n):
    lo, hi = wilson_interval(s, n)
    assert 0.0 <= lo <= s / n <= hi <= 1.0
    assert lo < hi


def test_wilson_interval_narrows_with_more_data_and_lower_z():
    w_small = wilson_interval(5, 10)
    w_big = wilson_interval(500, 1000)
    assert w_big[1] - w_big[0] < w_small[1] - w_small[0]
    w90 = wilson_interval(5, 10, z=1.645)
    assert w90[1] - w90[0] < w_small[1] - w_small[0]


@pytest.mark.parametrize(("s", "n"), [(0, 0), (1, 0), (-1, 5), (6, 5)])
def test_wilson_interval_invalid(s, n):
    with pytest.raises(ValueError):
        wilson_interval(s, n)


# ---------------------------------------------------------------- reflection


def test_reflection_words():
    assert REFLECTION_WORDS == ("rethink", "recheck", "recalculate")


def test_reflection_rate_case_insensitive_and_word_forms():
    responses = [
        "Let me RETHINK this.",
        "Rechecking the arithmetic gives 4.",
        "We recalculated the sum.",
        "The answer is 4.",
    ]
    assert reflection_rate(responses) == 0.75
    assert reflection_rate(["nothing here", "re-check is hyphenated"]) == 0.0
    with pytest.raises(ValueError):
        reflection_rate([])


def test_reflection_counts_per_response_not_per_occurrence():
    responses = [
        "Recheck, recheck, and RECHECK again; then rethink.",
        "Let me recalculate. Rethinking...",
        "plain",
    ]
    assert reflection_counts(responses) == {"rethink": 2, "recheck": 1, "recalculate": 1}
    assert reflection_counts([]) == {"rethink": 0, "recheck": 0, "recalculate": 0}


def test_two_proportion_test_matches_a_hand_computed_value():
    # 50/100 against 60/100: pooled p = 0.55, se = sqrt(0.55 * 0.45 * (1/100 + 1/100)) = 0.0703562,
    # z = 0.10 / 0.0703562 = 1.42134; normal tail P(Z > 1.42134) = 0.077610 (two-sided 0.155220)
    test = two_proportion_test(Proportion(50, 100), Proportion(60, 100))
    assert test.z == pytest.approx(1.42134, abs=1e-5)
    assert test.p_greater == pytest.approx(0.077610, abs=1e-5)
    assert test.p_two_sided == pytest.approx(0.155220, abs=1e-5)
    assert test.points == pytest.approx(10.0)
    reverse = two_proportion_test(Proportion(60, 100), Proportion(50, 100))
    assert reverse.p_greater == pytest.approx(1 - 0.077610, abs=1e-5)
    assert two_proportion_test(Proportion(0, 10), Proportion(0, 30)).p_two_sided == 1.0  # no variance, no difference
