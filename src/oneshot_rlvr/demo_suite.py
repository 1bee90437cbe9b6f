"""``oneshot-rlvr demo --suite spurious``: π1 under every reward the follow-ups asked about, over the same seeds.

"Spurious Rewards" (Shao et al. 2025) lifted Qwen2.5-Math with format, random and incorrect rewards; TTRL
(majority vote) and Intuitor (self-certainty) need no gold; One-shot EM minimises entropy alone. The suite runs
the demo's own stages (base, gates, pool run, selection of π1: the same π1 the default demo selects) and then,
in place of the controls, 1-shot RLVR on π1 once per seed under each reward of ``SUITE_ROLES``, on the toy
recipe (``demo_plan.TOY_RECIPE``): only the fields a role names change. The report keeps the demo's sections
and adds one table and one chart of held-out accuracy per reward (``suite_section``).

Roles the default demo also runs keep its names (one-shot, format-only, random-reward, entropy-only), so the
findings (a)–(g) read the suite's runs as they read the demo's. Entropy minimisation takes One-shot EM's loss
from ``recipes/entropy-min.yaml`` (reward none, ``entropy_coef: -1.0``, no KL) and keeps the toy schedule;
majority takes TTRL's lenient answer parser from ``recipes/ttrl-majority.yaml``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .demo_plan import ROLES, DemoPlan, run_name

SUITE_ROLES = {  # role: (reward, trained on, label), the recipe fields it sets beyond its reward
    "one-shot": (ROLES["one-shot"], {}),
    "format-only": (ROLES["format-only"], {}),
    "random-reward": (ROLES["random-reward"], {}),
    "incorrect": (("incorrect", "pi1", "incorrect label: a seeded perturbation of the gold (π1)"), {}),
    "majority": (("majority", "pi1", "majority vote of the group, no gold (TTRL; π1)"), {"reward_mode": "lenient"}),
    "self-certainty": (("self-certainty", "pi1", "self-certainty, no gold (Intuitor; π1)"), {}),
    "entropy-min": (("none", "pi1", "entropy minimisation, no reward (One-shot EM; π1)"),
                    {"entropy_coef": -1.0, "kl_coef": 0.0}),
    "entropy-only": (ROLES["entropy-only"], {}),
}
SUITE_NAMES = {"one-shot": "outcome", "format-only": "format", "random-reward": "random", "incorrect": "incorrect",
               "majority": "majority", "self-certainty": "self-certainty", "entropy-min": "entropy-min",
               "entropy-only": "entropy-bonus"}  # the table's and the chart's name of each role's reward
SUITES = {"spurious": tuple(SUITE_ROLES)}
SUITE_RULE = ("per reward and seed, π1's pooled lenient held-out accuracy at the run's last evaluation against its "
              "first (step 0, the base); the reward lifts held-out accuracy when the test on correct answers and n "
              "summed over the seeds gives one-sided p < 0.05 and the change is positive on every seed")
CHART = "suite_heldout.png"


@dataclass(frozen=True)
class SuitePlan(DemoPlan):
    """The demo's plan with the suite's roles, each once per seed, in place of the controls (no extras)."""

    suite: str = "spurious"
    extras: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.suite not in SUITES:
            raise ValueError(f"unknown suite {self.suite!r}; choose from {', '.join(SUITES)}")
        if self.extras:
            raise ValueError("a suite runs every role once per seed; it has no extra runs")

    def runs(self) -> list[tuple[str, str, int]]:
        return [(run_name(role, seed), role, seed) for seed in self.seeds for role in SUITES[self.suite]]

    def role(self, name: str) -> tuple[str, str, str]:
        return SUITE_ROLES[name][0]

    def role_recipe(self, name: str) -> dict:
        return {"reward": self.role(name)[0], **SUITE_ROLES[name][1]}

    def rules(self) -> dict:
        return {**super().rules(), "suite": SUITE_RULE}

    def to_dict(self) -> dict:
        return {**super().to_dict(), "suite": self.suite, "roles": list(SUITES[self.suite]), "extras": []}


# --- the report's table and chart --------------------------------------------------------------------------

def _final_and_base(runs) -> list[tuple]:
    """(seed, step-0 evaluation, final evaluation) of each run with two held-out evaluations."""
    return [(r.seed, r.log.evaluations[0], r.log.evaluations[-1]) for r in runs
            if r.log is not None and len(r.log.evaluations) >= 2]


def _bar(shares) -> tuple[float, float, float, int] | None:
    """Mean over the seeds with the min–max range (one seed: a zero-width range), n per seed."""
    if not shares:
        return None
    rates = [p.rate for p in shares]
    return sum(rates) / len(rates), min(rates), max(rates), shares[0].n


def suite_rows(demo) -> tuple[list[list], dict[str, dict[str, list]]]:
    """The table's rows (base first) and, per reward name, the per-seed pooled shares {"lenient": [...],
    "strict": [...]} the chart draws."""
    from .demo_findings import OverSeeds, _changes
    from .demo_report import _spread  # imported here: demo_report imports this module
    from .findings import NOT_MEASURED, REPRODUCED, first_to_last

    roles = [role for role in demo.plan.get("roles") or SUITE_ROLES if role in SUITE_ROLES]
    shares, rows, bases = {}, [], []
    for role in roles:
        runs = demo.runs_of(role)
        measured = _final_and_base(runs)
        bases += [base for _, base, _ in measured]
        name = SUITE_NAMES[role]
        shares[name] = {key: [p for _, _, final in measured if (p := final.pooled(key)) is not None]
                        for key in ("lenient", "strict")}
        changes, whys = _changes(runs, first_to_last)
        if changes:
            over = OverSeeds(tuple(s for s, _ in changes), tuple(c.test for _, c in changes))
            verdict = "lifts" if over.verdict() == REPRODUCED else "does not lift"
            deltas = ", ".join(f"s{seed} {c.test.points:+.1f}" for seed, c in changes)
            verdict += f" ({over.summary()})"
        else:
            verdict, deltas = NOT_MEASURED, "–"
        sizes = ", ".join(dict.fromkeys(str(p.n) for p in shares[name]["lenient"])) or "–"
        rows.append([name, role, ", ".join(str(s) for s, _, _ in measured) or "–",
                     *(_spread([p.rate for p in shares[name][key]]) for key in ("lenient", "strict")),
                     deltas, sizes, verdict + (f"; not measured: {'; '.join(dict.fromkeys(whys))}" if whys else "")])
    base = {key: [p for e in bases if (p := e.pooled(key)) is not None] for key in ("lenient", "strict")}
    base_row = ["base (step 0)", "–", f"{len(bases)} runs", *(_spread([p.rate for p in base[key]])
                                                               for key in ("lenient", "strict")),
                "–", ", ".join(dict.fromkeys(str(p.n) for p in base["lenient"])) or "–", "reference"]
    return [base_row, *rows], {"base (step 0)": base, **shares}


def suite_section(demo, plots_dir: Path) -> list[str]:
    """The suite's table and chart; nothing for a demo without a suite."""
    from . import plots
    from .report_text import table

    suite = demo.plan.get("suite")
    if not suite:
        return []
    rows, shares = suite_rows(demo)
    rule = demo.rules.get("suite", SUITE_RULE).strip().rstrip(".")
    lines = [f"## Suite `{suite}`: held-out accuracy per reward (final evaluation, pooled)", "",
             f"π1 under each reward on the same seeds ({', '.join(map(str, demo.seeds))}); a cell is the mean over "
             "the seeds with the min–max range; n: graded held-out responses per seed. Base: the runs' step-0 "
             f"evaluation (the same base model). Rule, stated before the runs: {rule}.",
             "", *table(["reward", "role", "seeds", "lenient", "strict", "Δ lenient vs step 0 per seed (points)",
                         "n per seed", "rule"], rows)]
    groups = [name for name, by_key in shares.items() if by_key["lenient"]]
    if groups:
        plots.interval_bars(plots_dir / CHART, groups=groups, ylabel="held-out accuracy (pooled)",
                            series={key: [_bar(shares[name][key]) for name in groups] for key in ("lenient", "strict")},
                            title=f"suite {suite}: held-out accuracy per reward, mean over the seeds (min–max)")
        lines += [f"![suite heldout](plots/{CHART})", "",
                  "*held-out accuracy per reward at each run's final evaluation, lenient and strict: the mean over "
                  "the seeds, the bars' whiskers the min–max over the seeds; base: the runs' step 0*", ""]
    return lines
