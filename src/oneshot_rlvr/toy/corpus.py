"""The toy world's pretraining corpus and its problem sets (held-out benchmarks, the training pool).

The corpus knobs (``CorpusKnobs``) set the base model's latent ability and its habits:
- ``route``: the first pass — ``direct`` (each operation at once) or ``estimate`` (rounded numbers; ``tasks``);
- ``slip_rate``: chance that a direct first-pass line carries a slip (a wrong result, carried forward);
- ``recheck_style``: ``columns`` (exact) or ``repeat`` (the direct pass again, with slips at ``slip_rate``);
- ``recheck_rate``: share of solutions with a column-arithmetic recheck (the skill RLVR can elicit);
- ``boxed_rate``: share of solutions whose final answer is ``\\boxed{}`` (the rest: "The answer is N.").
Like Qwen2.5-Math-1.5B before RLVR (MATH500 36 %, boxed in ~60 % of answers), a base pretrained on it is
partly right and inconsistent in format.

A document is ``PROMPT + solution``, where ``PROMPT = "Question: {question}\\nAnswer:"`` (the ``toy`` prompt
template, also used by training and evaluation). Problem sets are disjoint by question text: the
held-out benchmarks and the pool are drawn first, and the corpus skips their questions.
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass, replace

from .tasks import FAMILIES, LEVELS, RECHECKS, ROUTES, SolutionStyle, ToyProblem, make_problems, solution

PROMPT = "Question: {question}\nAnswer:"


@dataclass(frozen=True)
class CorpusKnobs:
    """What the base model sees in pretraining (defaults calibrated on the 2-core CPU: see the demo)."""

    documents: int = 60000
    slip_rate: float = 0.15  # per first-pass line
    recheck_rate: float = 0.3  # per solution
    boxed_rate: float = 0.5  # per solution
    route: str = "direct"  # the first pass: tasks.ROUTES
    recheck_style: str = "columns"  # the recheck: tasks.RECHECKS
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("slip_rate", "recheck_rate", "boxed_rate"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1, got {value}")
        if self.documents < 1:
            raise ValueError(f"documents must be at least 1, got {self.documents}")
        if self.route not in ROUTES:
            raise ValueError(f"route must be one of {', '.join(ROUTES)}, got {self.route!r}")
        if self.recheck_style not in RECHECKS:
            raise ValueError(f"recheck_style must be one of {', '.join(RECHECKS)}, got {self.recheck_style!r}")

    def to_dict(self) -> dict:
        return asdict(self)


def prompt_text(question: str) -> str:
    return PROMPT.format(question=question)


MAX_HELD_OUT_PER_LEVEL = 40  # held-out sets of up to this size stay disjoint from the pool and the corpus


def held_out_sets(per_level: int = 10, seed: int = 1_000) -> dict[str, list[ToyProblem]]:
    """One held-out benchmark per family (``per_level`` problems at each level), seeded apart from the
    pool and the corpus."""
    return {family: [p for level in LEVELS for p in make_problems(family, level, per_level, seed, prefix=f"{family}-test")]
            for family in FAMILIES}


def training_pool(per_family: int = 6, seed: int = 2_000, exclude: set[str] | None = None) -> list[ToyProblem]:
    """The RLVR example pool (the toy DSR-sub): ``per_family`` problems of each family, levels 2 and 3
    (where the base is unsure), none of whose questions is in ``exclude`` (default: the largest default
    held-out sets, so that π1 is never a test question); a smaller pool is a prefix of a larger one."""
    if exclude is None:
        exclude = {p.question for problems in held_out_sets(per_level=MAX_HELD_OUT_PER_LEVEL).values() for p in problems}
    pool = []
    for family in FAMILIES:
        candidates = [p for level in (2, 3) for p in make_problems(family, level, 40, seed, prefix=f"{family}-pool")]
        candidates = [p for p in candidates if p.question not in exclude]
        random.Random(f"pool/{family}/{seed}").shuffle(candidates)
        pool += candidates[:per_family]
    return pool


def _style(problem: ToyProblem, knobs: CorpusKnobs, rng: random.Random) -> SolutionStyle:
    operations = sum(len(chain) for chain in problem.chains)
    slips = frozenset(i for i in range(operations) if rng.random() < knobs.slip_rate)
    style = SolutionStyle(slips=slips, recheck=rng.random() < knobs.recheck_rate, boxed=rng.random() < knobs.boxed_rate,
                          route=knobs.route, recheck_style=knobs.recheck_style)
    if style.recheck and knobs.recheck_style == "repeat":  # drawn after the others: a columns corpus is unchanged
        style = replace(style, recheck_slips=frozenset(i for i in range(operations) if rng.random() < knobs.slip_rate))
    return style


def corpus(knobs: CorpusKnobs, exclude: set[str] = frozenset()) -> list[tuple[str, str]]:
    """``knobs.documents`` pretraining documents as ``(prompt, solution)`` pairs: each document draws its
    family and level uniformly, then the next problem of that cell (cycling through a cell when it has few
    distinct questions, as mul level 1); questions in ``exclude`` skipped."""
    rng = random.Random(f"corpus/{knobs.seed}")
    per_cell = knobs.documents // (len(FAMILIES) * len(LEVELS)) + 1
    cells = {}
    for family in FAMILIES:
        for level in LEVELS:
            problems = [p for p in make_problems(family, level, per_cell * 2, seed=knobs.seed + 10_000,
                                                 prefix=f"{family}-corpus") if p.question not in exclude]
            rng.shuffle(problems)
            cells[family, level] = problems
    used = {cell: 0 for cell in cells}
    documents = []
    for index in range(knobs.documents):
        cell = (rng.choice(FAMILIES), rng.choice(LEVELS))
        problems = cells[cell]
        problem = problems[used[cell] % len(problems)]
        used[cell] += 1
        text, _ = solution(problem, _style(problem, knobs, rng), seed=index)
        documents.append((prompt_text(problem.question), text))
    return documents
