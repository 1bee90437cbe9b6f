"""The gates: what a toy base model does before any RL, measured — the world's premise, not assumed.

For each problem the model answers greedily, ``samples`` times at the training temperature, and once more
greedily with the skill *forced*: its greedy first pass cut before the closing ("The answer is"), then the
skill's marker (" Recheck:") appended and the rest decoded greedily. From these, per family and pooled:
greedy, sampled and pass@k accuracy; the format (strict, boxed); how often the skill is used; accuracy with
and without the skill (within problem); and accuracy with the skill forced (the gates one by one: docs/toy-world.md).

A world has a latent skill when greedy rarely uses it, sampling sometimes does, and forcing it is clearly
more accurate: ``TARGETS`` (the toy-world issue's gates) are checked on every measurement.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass

SKILL_MARKER = " Recheck:"  # the skill's first words in a solution (toy.tasks); "recheck" is a reflection word
CLOSING = " The answer is"  # every solution's last sentence: the skill is inserted before it


@dataclass(frozen=True)
class GateSettings:
    """How the gates are measured (defaults: the demo's held-out decoding and training temperature)."""

    samples: int = 8  # per problem: pass@8, the skill's sampled share, within-problem accuracy
    temperature: float = 0.6  # paper: the training rollouts' temperature
    max_tokens: int = 256  # the demo's response cap
    seed: int = 0
    batch_size: int = 64  # rows decoded together

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Target:
    """One gate's bound: ``key`` of the pooled row (or of every family's row) within ``low``..``high``."""

    key: str
    low: float | None
    high: float | None
    scope: str  # "pooled" or "every family"
    strict_low: bool = False  # low is exclusive (> 0)

    def holds(self, value: float | None) -> bool:
        if value is None:
            return False
        above = value > self.low if self.strict_low else value >= self.low if self.low is not None else True
        return above and (self.high is None or value <= self.high)

    def describe(self) -> str:
        low = "" if self.low is None else f"{'>' if self.strict_low else '≥'} {self.low:g}"
        high = "" if self.high is None else f"≤ {self.high:g}"
        return f"{self.key} {' and '.join(filter(None, (low, high)))} ({self.scope})"


TARGETS = (
    Target("skill_greedy", None, 0.02, "pooled"),
    Target("skill_sampled", 0.10, 0.30, "pooled"),
    Target("forced_minus_greedy", 0.15, None, "pooled"),
    Target("forced_minus_greedy", 0.0, None, "every family", strict_low=True),
)


def uses_skill(text: str) -> bool:
    return SKILL_MARKER.strip() in text


def forced_prefix(greedy_text: str) -> str | None:
    """The greedy first pass with the skill's marker appended, to continue from; None when greedy already used
    the skill (its own answer is then the forced one)."""
    if uses_skill(greedy_text):
        return None
    cut = greedy_text.find(CLOSING)
    return (greedy_text if cut < 0 else greedy_text[:cut]) + SKILL_MARKER


@dataclass(frozen=True)
class ProblemRecord:
    """One problem's answers: greedy, forced and sampled correctness (lenient), the skill's use, greedy strict."""

    id: str
    family: str
    greedy: bool
    greedy_strict: bool
    greedy_boxed: bool
    greedy_skill: bool
    forced: bool
    sampled: tuple[bool, ...]
    sampled_skill: tuple[bool, ...]

    def with_without(self) -> tuple[float, float] | None:
        """Accuracy of the samples that use the skill and of those that do not; None unless both kinds occur."""
        used = [c for c, s in zip(self.sampled, self.sampled_skill) if s]
        unused = [c for c, s in zip(self.sampled, self.sampled_skill) if not s]
        return (sum(used) / len(used), sum(unused) / len(unused)) if used and unused else None


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def summarize(records: Sequence[ProblemRecord]) -> dict:
    """One gate row (the table in docs/toy-world.md) over ``records``; rates in 0..1, None when undefined."""
    from ..metrics import mean_pass_at_k

    k = min(len(r.sampled) for r in records)
    pairs = [pair for r in records if (pair := r.with_without()) is not None]
    greedy = _mean([r.greedy for r in records])
    forced = _mean([r.forced for r in records])
    samples = [c for r in records for c in r.sampled]
    return {
        "n": len(records), "k": k, "greedy": greedy, "sampled": _mean(samples),
        f"pass@{k}": mean_pass_at_k([(len(r.sampled), sum(r.sampled)) for r in records], k),
        "strict_greedy": _mean([r.greedy_strict for r in records]),
        "boxed_greedy": _mean([r.greedy_boxed for r in records]),
        "skill_greedy": _mean([r.greedy_skill for r in records]),
        "skill_sampled": _mean([s for r in records for s in r.sampled_skill]),
        "with_skill": _mean([w for w, _ in pairs]), "without_skill": _mean([wo for _, wo in pairs]),
        "within_problem_n": len(pairs), "forced": forced,
        "forced_minus_greedy": None if forced is None or greedy is None else forced - greedy,
    }


def gate_table(records: Sequence[ProblemRecord]) -> dict:
    """``{"families": {family: row}, "all": row, "targets": [{"target", "value(s)", "met"}], "met": bool}``."""
    families = {}
    for record in records:
        families.setdefault(record.family, []).append(record)
    table = {"families": {name: summarize(rows) for name, rows in families.items()}, "all": summarize(records)}
    checks = []
    for target in TARGETS:
        if target.scope == "pooled":
            value = table["all"][target.key]
            checks.append({"target": target.describe(), "value": value, "met": target.holds(value)})
        else:
            values = {name: row[target.key] for name, row in table["families"].items()}
            checks.append({"target": target.describe(), "values": values,
                           "met": all(target.holds(v) for v in values.values())})
    table["targets"] = checks
    table["met"] = all(c["met"] for c in checks)
    return table


def measure_problems(model, tokenizer, problems: Sequence, settings: GateSettings = GateSettings()) -> list[ProblemRecord]:
    """Greedy, sampled and forced-skill answers of ``model`` to toy ``problems`` (``tasks.ToyProblem``), graded."""
    from ..generation import HFBackend, SamplingParams
    from ..grading import grade, has_boxed
    from .corpus import prompt_text

    backend = HFBackend(model, tokenizer, batch_size=settings.batch_size)
    was_training = model.training
    model.eval()
    try:
        prompts = [prompt_text(p.question) for p in problems]
        greedy_params = SamplingParams(n=1, temperature=0.0, max_tokens=settings.max_tokens, seed=settings.seed)
        greedy = [outs[0].text for outs in backend.generate(prompts, greedy_params, add_special_tokens=True)]
        sampled = backend.generate(prompts, SamplingParams(n=settings.samples, temperature=settings.temperature,
                                                           max_tokens=settings.max_tokens, seed=settings.seed),
                                   add_special_tokens=True)
        prefixes = [forced_prefix(text) for text in greedy]
        to_force = [i for i, prefix in enumerate(prefixes) if prefix is not None]
        continued = backend.generate([prompts[i] + prefixes[i] for i in to_force], greedy_params,
                                     add_special_tokens=True)
    finally:
        model.train(was_training)
    forced = list(greedy)
    for i, outs in zip(to_force, continued):
        forced[i] = prefixes[i] + outs[0].text

    def right(text: str, gold, mode: str = "lenient") -> bool:
        return grade(text, str(gold), mode=mode).correct

    return [ProblemRecord(
        id=p.id, family=p.family, greedy=right(greedy[i], p.answer), greedy_strict=right(greedy[i], p.answer, "strict"),
        greedy_boxed=has_boxed(greedy[i]), greedy_skill=uses_skill(greedy[i]), forced=right(forced[i], p.answer),
        sampled=tuple(right(o.text, p.answer) for o in sampled[i]),
        sampled_skill=tuple(uses_skill(o.text) for o in sampled[i]))
        for i, p in enumerate(problems)]


def measure_gates(model, tokenizer, held_out: Mapping[str, Sequence], settings: GateSettings = GateSettings()) -> dict:
    """The gate table of ``model`` on the held-out sets (``{family: problems}``), with the settings used."""
    records = measure_problems(model, tokenizer, [p for problems in held_out.values() for p in problems], settings)
    return {"settings": settings.to_dict(), **gate_table(records)}
