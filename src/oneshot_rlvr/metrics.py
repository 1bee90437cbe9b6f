"""Evaluation metrics for sampled model responses: pure Python (``math`` only) and deterministic.

- pass@k (:func:`pass_at_k`, :func:`mean_pass_at_k`): Chen et al. 2021's unbiased estimator, in its numerically
  stable product form; the benchmark score is the mean over problems.
- avg@k (:func:`avg_at_k`): each problem weighs the same (mean over problems of the per-problem mean).
- maj@k (:func:`majority_at_k`): self-consistency (Wang et al. 2022). ``None`` never wins unless every sample is
  ``None``; ties go to the answer that occurs first; answers are compared as given (pass normalised strings).
- :func:`wilson_interval`: Wilson's score interval (``z = 1.96``: 95%).
- :func:`reflection_rate`, :func:`reflection_counts`: responses containing any of :data:`REFLECTION_WORDS`
  (the 1-shot RLVR paper's self-reflection words), matched case-insensitively by substring ("Rechecking" counts).
- :func:`two_proportion_test`, :class:`Proportion`: pooled two-proportion z-test (one- and two-sided p-values).

Formulas and definitions: docs/evaluation.md.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = [
    "REFLECTION_WORDS",
    "Proportion",
    "ProportionTest",
    "avg_at_k",
    "majority_at_k",
    "mean_pass_at_k",
    "pass_at_k",
    "reflection_counts",
    "reflection_rate",
    "two_proportion_test",
    "wilson_interval",
]

REFLECTION_WORDS: tuple[str, ...] = ("rethink", "recheck", "recalculate")


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k for one problem with ``n`` samples, ``c`` of them correct."""
    if k < 1:
        raise ValueError(f"pass@k needs k >= 1, got k={k}")
    if n < k:
        raise ValueError(f"pass@k needs n >= k, got n={n}, k={k}")
    if not 0 <= c <= n:
        raise ValueError(f"pass@k needs 0 <= c <= n, got c={c}, n={n}")
    if n - c < k:  # every k-subset contains a correct sample
        return 1.0
    return 1.0 - math.prod(1.0 - k / i for i in range(n - c + 1, n + 1))


def mean_pass_at_k(counts: Sequence[tuple[int, int]], k: int) -> float:
    """Mean of :func:`pass_at_k` over problems given as ``(n_i, c_i)`` pairs."""
    if not counts:
        raise ValueError("mean_pass_at_k needs at least one problem")
    return sum(pass_at_k(n, c, k) for n, c in counts) / len(counts)


def avg_at_k(correct_per_problem: Sequence[Sequence[bool]]) -> float:
    """avg@k: mean over problems of each problem's sample accuracy.

    Each problem is weighted equally regardless of its number of samples.
    """
    if not correct_per_problem:
        raise ValueError("avg_at_k needs at least one problem")
    total = 0.0
    for idx, samples in enumerate(correct_per_problem):
        if not samples:
            raise ValueError(f"avg_at_k: problem {idx} has no samples")
        total += sum(bool(s) for s in samples) / len(samples)
    return total / len(correct_per_problem)


def _majority_answer(answers: Sequence[str | None]) -> str | None:
    """Most frequent non-None answer (first occurrence wins ties); None if all None."""
    counts: dict[str, int] = {}  # insertion order = first occurrence
    for answer in answers:
        if answer is not None:
            counts[answer] = counts.get(answer, 0) + 1
    if not counts:
        return None
    best = max(counts.values())
    return next(answer for answer, count in counts.items() if count == best)


def majority_at_k(
    answers_per_problem: Sequence[Sequence[str | None]],
    correct_per_problem: Sequence[Sequence[bool]],
) -> float:
    """maj@k: share of problems whose majority-voted answer is graded correct."""
    if len(answers_per_problem) != len(correct_per_problem):
        raise ValueError(
            f"majority_at_k: {len(answers_per_problem)} answer lists but "
            f"{len(correct_per_problem)} correctness lists"
        )
    if not answers_per_problem:
        raise ValueError("majority_at_k needs at least one problem")
    hits = 0
    for idx, (answers, correct) in enumerate(zip(answers_per_problem, correct_per_problem)):
        if len(answers) != len(correct):
            raise ValueError(
                f"majority_at_k: problem {idx} has {len(answers)} answers "
                f"but {len(correct)} correctness flags"
            )
        if not answers:
            raise ValueError(f"majority_at_k: problem {idx} has no samples")
        winner = _majority_answer(answers)
        if any(a == winner and ok for a, ok in zip(answers, correct)):
            hits += 1
    return hits / len(answers_per_problem)


def wilson_interval(successes: int, total: int, z: float = 1.96) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion (95% for z=1.96)."""
    if total <= 0:
        raise ValueError(f"wilson_interval needs total > 0, got total={total}")
    if not 0 <= successes <= total:
        raise ValueError(
            f"wilson_interval needs 0 <= successes <= total, got {successes}/{total}"
        )
    p = successes / total
    z2 = z * z
    denom = 1.0 + z2 / total
    center = (p + z2 / (2 * total)) / denom
    half = z * math.sqrt(p * (1 - p) / total + z2 / (4 * total * total)) / denom
    return max(0.0, center - half), min(1.0, center + half)


def reflection_counts(responses: Sequence[str]) -> dict[str, int]:
    """Per reflection word, the number of responses containing it (case-insensitive)."""
    lowered = [r.lower() for r in responses]
    return {word: sum(word in r for r in lowered) for word in REFLECTION_WORDS}


def reflection_rate(responses: Sequence[str]) -> float:
    """Share of responses containing any reflection word (case-insensitive substring)."""
    if not responses:
        raise ValueError("reflection_rate needs at least one response")
    hits = sum(any(w in r.lower() for w in REFLECTION_WORDS) for r in responses)
    return hits / len(responses)


@dataclass(frozen=True)
class Proportion:
    """``successes`` out of ``n`` graded responses."""

    successes: int
    n: int

    @property
    def rate(self) -> float:
        return self.successes / self.n

    def interval(self) -> tuple[float, float]:
        return wilson_interval(self.successes, self.n)

    def __str__(self) -> str:
        return f"{self.successes}/{self.n} = {self.rate:.1%}"

    def cell(self) -> str:
        low, high = self.interval()
        return f"{self.rate:.1%} ({self.successes}/{self.n}) [{low:.1%}, {high:.1%}]"


@dataclass(frozen=True)
class ProportionTest:
    """Two-proportion z-test of ``after`` against ``before`` (pooled standard error)."""

    before: Proportion
    after: Proportion
    z: float
    p_greater: float  # one-sided: after > before
    p_two_sided: float

    @property
    def points(self) -> float:
        return 100 * (self.after.rate - self.before.rate)


def two_proportion_test(before: Proportion, after: Proportion) -> ProportionTest:
    """z = (p_after − p_before) / sqrt(p(1−p)(1/n_before + 1/n_after)), p the pooled share; normal tails
    from ``math.erfc`` (1 − erf, exact in the far tail). Equal shares of 0 or 1 give z = 0."""
    pooled = (before.successes + after.successes) / (before.n + after.n)
    error = math.sqrt(pooled * (1 - pooled) * (1 / before.n + 1 / after.n))
    z = (after.rate - before.rate) / error if error > 0 else 0.0
    upper_tail = 0.5 * math.erfc(z / math.sqrt(2))
    return ProportionTest(before, after, z, upper_tail, min(1.0, math.erfc(abs(z) / math.sqrt(2))))
