"""A demo's report (``report.build_report`` on a folder with demo.json), in this order: what was run, the base
model's gates, the selection of π1, the findings decided over the seeds, the plots, each role over its seeds,
base → 1-shot → full-set per category, and every run.

Every number comes from demo.json or the runs' logs, with its n. Where a role ran on several seeds, a cell is
the mean over the seeds with the min–max range (n per seed beside it); a role with one seed shows its rate.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from .demo_findings import findings, seed_count
from .demo_suite import suite_section
from .findings import missing_evaluations
from .metrics import Proportion
from .report_text import NOTE, findings_section, plots_section, share_of, table
from .runlogs import RATE_KEYS, Demo, DemoRun, Evaluation

GAP_MARGIN = 0.2  # π1's skill gap this far below the best example's: the paper's score did not find that example
SEEDS_NOTE = ("Each claim is decided over the seeds: its value on each seed, a test on the counts summed over the "
              "seeds, and the sign on every seed; its rule was stated before the runs.")


def _percent(value) -> str:
    return "–" if value is None else f"{value:.1%}"


def _whole(value) -> str:
    return "–" if value is None else str(int(value))


def _seed(seed: int | None) -> str:
    return "–" if seed is None else str(seed)


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values)


def _spread(rates: Sequence[float]) -> str:
    """One seed's rate, or the mean over the seeds with the min–max range."""
    if len(rates) < 2:
        return _percent(rates[0] if rates else None)
    if min(rates) == max(rates):
        return f"{rates[0]:.1%} on every seed"
    return f"{_mean(rates):.1%} ({min(rates):.1%}–{max(rates):.1%})"


def _seeds_cell(shares: Sequence[Proportion]) -> str:
    """One seed: rate (correct/n) [95% Wilson]; several: their mean, min–max range and n per seed."""
    if not shares:
        return "–"
    if len(set(shares)) == 1:
        return shares[0].cell() + (f", same on {len(shares)} seeds" if len(shares) > 1 else "")
    sizes = "/".join(dict.fromkeys(str(p.n) for p in shares))
    return f"{_spread([p.rate for p in shares])}; {len(shares)} seeds, n={sizes} each"


def _evaluated(runs: Sequence[DemoRun]) -> list[DemoRun]:
    return [r for r in runs if r.log is not None and r.log.evaluations]


# --- what was run -----------------------------------------------------------------------------------------

def what_was_run(demo: Demo) -> list[str]:
    m, plan = demo.manifest, demo.plan
    state = "all stages finished" if m.get("complete") else "**the demo did not finish** (complete: false)"
    lines = [f"- {f'world `{demo.world}`; ' if demo.world else ''}demo seed {m.get('seed', '–')}, budget "
             f"{m.get('budget_minutes', '–')} minutes; {state}"]
    if demo.format == 1:
        lines.append("- seeds: one run per role, without a seed (a format-1 manifest: read as one seed, shown as –)")
    else:
        seeds = demo.seeds
        lines.append(f"- seeds: {', '.join(map(str, seeds)) or '–'}; once per seed: "
                     f"{', '.join(plan.get('roles') or []) or '–'}"
                     + (f"; once, with seed {seeds[0]}: {', '.join(plan['extras'])}" if plan.get("extras") and seeds
                        else ""))
    parts = [f"{plan['steps']} steps per run" if plan.get("steps") is not None else "",
             f"the pool run {plan['pool_steps']} steps" if plan.get("pool_steps") is not None else "",
             f"a held-out evaluation every {plan['eval_every']} steps" if plan.get("eval_every") is not None else "",
             f"{plan['held_out_n']} held-out problems" if plan.get("held_out_n") is not None else "",
             f"{plan['pool_n']} pool problems" if plan.get("pool_n") is not None else "",
             "quick (a shortened plan)" if plan.get("quick") else ""]
    if any(parts):
        lines.append("- plan: " + "; ".join(filter(None, parts)))
    lines += _time_lines(m)
    base = demo.base
    if base:
        size = base.get("parameters")
        digests = _digests(base.get("sha256") or {})
        knobs = ", ".join(f"{k}={v}" for k, v in (base.get("corpus") or {}).items())
        lines.append(f"- base model: `{base.get('dir')}`" + (f" ({base['source']})" if base.get("source") else "")
                     + (f", {int(size):,} parameters" if size is not None else "")
                     + (f"; sha256 {digests}" if digests else "") + (f"; corpus: {knobs}" if knobs else ""))
    lines.append(f"- held-out categories: {', '.join(demo.categories) or '–'}")
    return lines + [""]


def _digests(sha256: Mapping[str, str]) -> str:
    """The weights' sha256 (its first 12 hex digits), and how many files were hashed in all."""
    weights = {name: digest for name, digest in sha256.items() if name.endswith((".safetensors", ".bin"))} or sha256
    shown = ", ".join(f"{name} {digest[:12]}…" for name, digest in weights.items())
    return shown + (f" ({len(sha256)} files hashed in all)" if len(weights) < len(sha256) else "")


def _time_lines(manifest: Mapping) -> list[str]:
    seconds = manifest.get("seconds") or {}
    stages = {k: v for k, v in seconds.items() if k != "total"}  # the demo records its own total
    total = seconds.get("total", sum(stages.values()) if stages else None)
    estimate = manifest.get("estimate_seconds")
    lines = []
    if estimate is not None or total is not None:
        took = "" if total is None else f"took {total:.1f} s"
        if estimate is not None and total is not None and estimate > 0:
            took += f" ({total / estimate - 1:+.0%} against the estimate)"
        lines.append("- time: " + ", ".join(filter(None, [
            "" if estimate is None else f"estimated {estimate:.0f} s up front", took])))
    if stages:
        lines.append("- wall time per stage: " + ", ".join(f"{k} {v:.1f} s" for k, v in stages.items()))
    return lines


# --- the base model's gates and the selection --------------------------------------------------------------

def gates_section(demo: Demo) -> list[str]:
    """The gate table (families, then pooled) and each target; nothing when the demo measured no gates."""
    gates = demo.gates
    if not gates:
        return []
    settings, pooled = gates.get("settings") or {}, gates.get("all") or {}
    k = pooled.get("k", settings.get("samples"))
    lines = ["## Base model gates (before any RL)", "",
             f"The base model on the held-out sets: greedy, {_whole(settings.get('samples'))} samples per problem at "
             f"temperature {settings.get('temperature', '–')}, and greedy with the skill forced (at most "
             f"{_whole(settings.get('max_tokens'))} tokens). Rates over n problems (sampled: n × k responses); with "
             f"/ without skill: within problem, over the problems whose samples hold both kinds (their n).", ""]
    rows = [_gate_row(name, row, k) for name, row in (gates.get("families") or {}).items()]
    lines += table(["family", "n", "greedy", "sampled", f"pass@{_whole(k)}", "strict greedy", "boxed greedy",
                    "skill greedy", "skill sampled", "with / without skill", "forced", "forced − greedy"],
                   [*rows, _gate_row("all (pooled)", pooled, k)])
    for target in gates.get("targets") or []:
        values = target.get("values")
        shown = (", ".join(f"{name} {_number(v)}" for name, v in values.items()) if values is not None
                 else _number(target.get("value")))
        lines.append(f"- {target.get('target')}: {shown} — {'met' if target.get('met') else '**not met**'}")
    if gates.get("met") is not None:
        lines += ["", "All gates met: the base model has a latent skill (greedy rarely uses it, sampling sometimes "
                  "does, forcing it is more accurate)." if gates["met"] else "**Not every gate is met**: the world's "
                  "premise (a latent skill) does not fully hold for this base model; read the findings with that."]
    return lines + [""]


def _number(value) -> str:
    return "–" if value is None else f"{value:.3f}"


def _gate_row(name: str, row: Mapping, k) -> list:
    """One family's gates (rates as percentages, forced − greedy in points); pass@k at the row's own k."""
    with_skill, without_skill, gap = row.get("with_skill"), row.get("without_skill"), row.get("forced_minus_greedy")
    both = ("–" if with_skill is None and without_skill is None
            else f"{_percent(with_skill)} / {_percent(without_skill)} (n={_whole(row.get('within_problem_n'))})")
    return [name, _whole(row.get("n")), *(_percent(row.get(key)) for key in (
        "greedy", "sampled", f"pass@{_whole(row.get('k', k))}", "strict_greedy", "boxed_greedy", "skill_greedy",
        "skill_sampled")), both, _percent(row.get("forced")), "–" if gap is None else f"{100 * gap:+.1f} points"]


def _gap(example: Mapping) -> float | None:
    """With the skill minus without it, within the example's samples; None unless both kinds occurred."""
    if example.get("with_skill") is None or example.get("without_skill") is None:
        return None
    return example["with_skill"] - example["without_skill"]


def _skill(example: Mapping) -> str:
    gap = _gap(example)
    return (f"with the skill {_percent(example.get('with_skill'))}, without {_percent(example.get('without_skill'))} "
            f"(gap {'–' if gap is None else f'{100 * gap:+.1f} points'}), skill share "
            f"{_percent(example.get('skill_share'))}, {_whole(example.get('samples'))} samples")


def selection_section(demo: Demo) -> list[str]:
    selection = demo.selection
    if not selection:
        return []
    top = selection.get("top") or []
    lines = ["## Selection", "", f"`{selection.get('method')}` ranking over the `{selection.get('pool_run')}` run's "
             f"training history; π1 is its top.", ""]
    lines += table(["rank", "example", "category", "score", "training accuracy history"],
                   [[rank, f"`{t.get('id')}`", t.get("category", "–"), "–" if t.get("score") is None else
                     f"{t['score']:.4g}", ", ".join(f"{h:.2f}" for h in t.get("history") or []) or "–"]
                    for rank, t in enumerate(top, start=1)])
    pi1, by_gap = selection.get("pi1") or {}, selection.get("by_gap") or {}
    if pi1:
        rank = pi1.get("var_rank") or next((r for r, t in enumerate(top, start=1) if t.get("id") == pi1.get("id")),
                                           None)
        lines += [f"- π1 = `{pi1.get('id')}` (category {pi1.get('category')}, answer `{pi1.get('answer')}`"
                  + (f", var rank {rank}" if rank else "") + "):", ""]
        lines += [f"  > {line}" for line in str(pi1.get("problem", "")).splitlines()] + [""]
    skills = "with_skill" in pi1 or "without_skill" in pi1
    if skills:
        lines.append(f"- π1's samples: {_skill(pi1)}{_gap_rank(pi1, selection.get('pool_examples') or {})}")
    if by_gap:
        lines.append(f"- the pool example the skill helps most (largest with − without gap): `{by_gap.get('id')}` "
                     f"(category {by_gap.get('category')}): {_skill(by_gap)}; its var rank: "
                     f"{_whole(by_gap.get('var_rank'))}")
    if skills:
        lines += ["", _selection_verdict(pi1, by_gap)]
    return lines + [""]


def _gap_rank(pi1: Mapping, pool_examples: Mapping) -> str:
    gaps = [gap for example in pool_examples.values() if (gap := _gap(example)) is not None]
    mine = _gap(pi1)
    if mine is None or not gaps:
        return ""
    return f"; its gap ranks {1 + sum(g > mine for g in gaps)} of the {len(gaps)} pool examples that have one"


def _selection_verdict(pi1: Mapping, by_gap: Mapping) -> str:
    mine, best = _gap(pi1), _gap(by_gap)
    if mine is None:
        return "π1's skill gap is not measured: its samples do not hold both kinds (with and without the skill)."
    if mine <= 0 or (best is not None and best - mine > GAP_MARGIN):
        against = "" if best is None else f" against {100 * best:+.1f} for `{by_gap.get('id')}`"
        return (f"**The paper's score did not pick the example the skill helps most**: π1's gap is "
                f"{100 * mine:+.1f} points{against}.")
    return (f"π1's gap ({100 * mine:+.1f} points) is within {100 * GAP_MARGIN:.0f} points of the largest: the "
            f"paper's score picked an example the skill helps.")


# --- each role over its seeds, per category, every run -----------------------------------------------------

def per_role_table(demo: Demo) -> list[str]:
    rows = []
    for role in demo.roles():
        runs = demo.runs_of(role)
        finals = [(r.seed, r.log.evaluations[-1]) for r in _evaluated(runs)]
        missing = [_seed(r.seed) for r in runs if r not in _evaluated(runs)]
        seeds = ", ".join(_seed(s) for s, _ in finals)
        if missing:
            seeds += f"{' (' if seeds else ''}{', '.join(missing)}: not measured{')' if seeds else ''}"
        rates = {key: [p.rate for _, f in finals if (p := f.pooled(key)) is not None] for key in RATE_KEYS}
        sizes = [str(f.pooled("lenient").n) for _, f in finals]
        rows.append([role, seeds or "–", ", ".join(dict.fromkeys(str(f.step) for _, f in finals)) or "–",
                     *(_spread(rates[key]) for key in ("lenient", "strict", "boxed_rate", "reflection_rate")),
                     (sizes[0] if len(set(sizes)) == 1 else "/".join(sizes)) if sizes else "–"])
    return ["## Per role over seeds (final held-out evaluation, pooled)", "",
            "Mean over the seeds with the min–max range; one seed: its rate. n: graded responses per seed.", "",
            *table(["role", "seeds", "final step", "lenient", "strict", "boxed", "skill share (reflection)",
                    "n per seed"], rows)]


def closing_table(demo: Demo) -> list[str]:
    """Base (step 0 of the one-shot runs) → 1-shot finals → full-set finals, lenient, per category and pooled."""
    one_shot, full = _evaluated(demo.runs_of("one-shot")), _evaluated(demo.runs_of("full-set"))
    if not one_shot:
        return []
    columns = ([r.log.evaluations[0] for r in one_shot], [r.log.evaluations[-1] for r in one_shot],
               [r.log.evaluations[-1] for r in full])
    everything = [e for column in columns for e in column]
    categories = list(dict.fromkeys([*demo.categories, *(name for e in everything for name in e.scores)]))
    shared = [c for c in categories if all(c in e.scores for e in everything)]
    unmeasured = f"not measured ({_why_missing(demo.runs_of('full-set'), 'full-set')})"
    rows = []
    for name in [*categories, None]:  # the pooled row: over the categories every column has, so they compare
        shares = [[p for e in column if (p := share_of(e, "lenient", name, shared)) is not None] for column in columns]
        label = "all (pooled)" if name is None else f"{name} (π1's category)" if name == demo.pi1_category else name
        gains = [f"{100 * (_mean([p.rate for p in s]) - _mean([p.rate for p in shares[0]])):+.1f}"
                 if s and shares[0] else "–" for s in shares[1:]]
        rows.append([label, _seeds_cell(shares[0]), _seeds_cell(shares[1]),
                     _seeds_cell(shares[2]) if full else unmeasured, *gains])
    steps = [", ".join(dict.fromkeys(str(e.step) for e in column)) or "–" for column in columns]
    return ["## Base → 1-shot → full-set, per category (lenient)", "",
            f"Base = step {steps[0]} of the one-shot runs; 1-shot = their final evaluations (step {steps[1]}) over "
            f"{seed_count(len(one_shot))}; full-set = its final (step {steps[2]}). Several seeds: mean with the "
            f"min–max range. π1's category is marked; the others measure cross-category generalization.", "",
            *table(["category", "base", "1-shot", "full-set", "1-shot − base (points)", "full-set − base (points)"],
                   rows)]


def _why_missing(runs: Sequence[DemoRun], role: str) -> str:
    whys = filter(None, (missing_evaluations(r, role, need=1) for r in runs))
    return "; ".join(whys) or f"no {role} run in demo.json"


def all_runs_table(demo: Demo) -> list[str]:
    """Every run's final held-out evaluation, pooled; runs without one are stated as not measured."""
    rows = []
    for run in demo.runs:
        final: Evaluation | None = run.log.evaluations[-1] if run.log and run.log.evaluations else None
        head = [run.name, run.role, _seed(run.seed), run.reward or "–", len(run.log.steps) if run.log else "–"]
        if final is None:
            why = run.missing or "eval.jsonl holds no evaluation"
            rows.append([*head, f"not measured ({why})", "", "", "", "", ""])
        else:
            rows.append([*head, final.step, final.pooled("lenient").n,
                         *(share.cell() if (share := final.pooled(key)) else "–" for key in ("strict", "lenient")),
                         *(_percent(share.rate if (share := final.pooled(key)) else None)
                           for key in ("boxed_rate", "reflection_rate"))])
    return ["## All runs, final held-out evaluation (pooled)", "",
            *table(["run", "role", "seed", "reward", "steps logged", "step", "n", "strict", "lenient", "boxed",
                    "reflection"], rows)]


def demo_report(demo: Demo, plots_dir: Path) -> list[str]:
    from . import plots

    charts = plots.charts_for_demo(demo, plots_dir)
    one_shot = demo.runs_of("one-shot")
    absent = "" if _evaluated(one_shot) else (f"The one-shot runs' plots and tables are missing: "
                                              f"{_why_missing(one_shot, 'one-shot')}.")
    return ["# 1-shot RLVR demo report", "", "## What was run", "", *what_was_run(demo), *gates_section(demo),
            *selection_section(demo), *findings_section(findings(demo), f"{NOTE} {SEEDS_NOTE}"),
            *plots_section(charts, absent), *suite_section(demo, plots_dir), *per_role_table(demo),
            *closing_table(demo), *all_runs_table(demo)]
