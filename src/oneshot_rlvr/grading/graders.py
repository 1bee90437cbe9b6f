"""The graders by name, for evaluation and ``oneshot-rlvr grade``:

    GRADERS = {"oneshot-rlvr": ..., "qwen25-math": ...}
    grade_batch("qwen25-math", [(response, gold), ...], mode="lenient", benchmark="math500") -> [Verdict, ...]

``oneshot-rlvr`` (the default) is the project's grader, the one the training reward uses (``grading.grade``);
``qwen25-math`` reproduces the Qwen2.5-Math evaluator the paper reported with, quirks included
(``qwen25.py``). Both return ``Verdict``s under the same hard time limit per verdict. ``mode``: ``lenient``
is each grader's own extraction; ``strict`` needs a complete ``\\boxed{}`` — for oneshot-rlvr the last one is
the answer, for qwen25-math (whose evaluator has one mode) its verdict counts only when the response holds one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable, Sequence

from . import DEFAULT_TIMEOUT_SECONDS, Verdict, has_boxed

DEFAULT_GRADER = "oneshot-rlvr"


@dataclass(frozen=True)
class Grader:
    """A grader: ``grade_many(pairs, mode=, workers=, timeout=, benchmark=)`` → Verdicts in input order.

    ``strict_from_lenient``: its strict verdict is its lenient one limited to boxed responses, so a run
    needs to grade only once.
    """

    name: str
    summary: str
    grade_many: Callable[..., list[Verdict]]
    strict_from_lenient: bool


def _project(pairs, *, mode, workers, timeout, benchmark=None) -> list[Verdict]:
    from . import grade_many  # looked up at call time (tests replace it)

    return grade_many(pairs, mode=mode, workers=workers, timeout=timeout)


def _qwen25(pairs, *, mode, workers, timeout, benchmark=None) -> list[Verdict]:
    from . import qwen25

    return qwen25.grade_many(pairs, mode=mode, workers=workers, timeout=timeout, benchmark=benchmark)


GRADERS: dict[str, Grader] = {
    "oneshot-rlvr": Grader("oneshot-rlvr", "the project's grader (the training reward's): exact where the gold is "
                           "exact, no unit or tolerance quirks", _project, strict_from_lenient=False),
    "qwen25-math": Grader("qwen25-math", "the Qwen2.5-Math evaluator the paper reported with, quirks included",
                          _qwen25, strict_from_lenient=True),
}


def get_grader(name: str) -> Grader:
    """The grader called ``name``; ValueError naming the choices otherwise."""
    if name not in GRADERS:
        raise ValueError(f"unknown grader {name!r}; choose one of {', '.join(GRADERS)}")
    return GRADERS[name]


def grade_batch(name: str, pairs: Iterable[tuple[str, object]], *, mode: str = "lenient", workers: int = 2,
                timeout: float = DEFAULT_TIMEOUT_SECONDS, benchmark: str | None = None) -> list[Verdict]:
    """Grade (response, gold) pairs with grader ``name``; ``benchmark`` matters to qwen25-math only
    (minerva_math keeps its units there)."""
    return get_grader(name).grade_many(list(pairs), mode=mode, workers=workers, timeout=timeout, benchmark=benchmark)


def grade_both(name: str, pairs: Sequence[tuple[str, object]], *, workers: int = 2,
               timeout: float = DEFAULT_TIMEOUT_SECONDS,
               benchmark: str | None = None) -> tuple[list[Verdict], list[Verdict]]:
    """(lenient, strict) verdicts of grader ``name`` on ``pairs``, grading once where strict follows from lenient."""
    grader = get_grader(name)
    lenient = grader.grade_many(list(pairs), mode="lenient", workers=workers, timeout=timeout, benchmark=benchmark)
    if not grader.strict_from_lenient:
        return lenient, grader.grade_many(list(pairs), mode="strict", workers=workers, timeout=timeout,
                                          benchmark=benchmark)
    unboxed = Verdict(False, None, "no-answer", "strict: no complete \\boxed{}")
    return lenient, [verdict if has_boxed(str(response)) else unboxed
                     for verdict, (response, _) in zip(lenient, pairs)]
