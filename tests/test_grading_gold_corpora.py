"""Acceptance: every benchmark gold is graded correct against itself in several surface forms and wrong
against a perturbed value, ≥ 99.5 % on both sides for each benchmark (figures printed with -s)."""

import pytest

from oneshot_rlvr.data.benchmarks import BENCHMARKS, load_benchmark
from oneshot_rlvr.grading import grade_many
from oneshot_rlvr.grading.corpus import perturbed, surface_forms

REQUIRED = 0.995


@pytest.mark.parametrize("name", list(BENCHMARKS))
def test_gold_answers_grade_correct_in_surface_forms_and_wrong_when_perturbed(name, benchmark_dir):
    problems = load_benchmark(name, benchmark_dir)
    assert problems, f"{name} has no rows"
    positives = [(form, p.answer) for p in problems for form in surface_forms(p.answer)]
    boxed_as_given = [(f"\\boxed{{{p.answer}}}", p.answer) for p in problems]
    negatives = [(f"\\boxed{{{perturbed(p.answer)}}}", p.answer) for p in problems]
    assert all(perturbed(p.answer) != p.answer for p in problems)

    positive_verdicts = grade_many(positives + boxed_as_given)
    negative_verdicts = grade_many(negatives)
    positive_rate = sum(v.correct for v in positive_verdicts) / len(positive_verdicts)
    negative_rate = sum(not v.correct for v in negative_verdicts) / len(negative_verdicts)
    strict_boxed = grade_many(boxed_as_given, mode="strict")
    strict_rate = sum(v.correct for v in strict_boxed) / len(strict_boxed)
    print(f"\n{name}: n={len(problems)} golds, {len(positive_verdicts)} positive pairs {positive_rate:.2%} "
          f"correct, strict boxed {strict_rate:.2%}, {len(negative_verdicts)} perturbed {negative_rate:.2%} wrong")
    failures = [(pair, v) for pair, v in zip(positives + boxed_as_given, positive_verdicts) if not v.correct]
    failures += [(pair, v) for pair, v in zip(negatives, negative_verdicts) if v.correct]
    assert positive_rate >= REQUIRED, failures[:5]
    assert strict_rate >= REQUIRED
    assert negative_rate >= REQUIRED, failures[:5]
