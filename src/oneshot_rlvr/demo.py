"""The main job: the paper's pipeline and its controls in the toy world, over seeds, offline on a CPU.

    oneshot-rlvr demo [--out runs/demo] [--world latent-skill] [--seed 0] [--seeds 3] [--steps N] [--quick]
                      [--budget-minutes 15] [--jobs 2] [--rebuild-base] [--suite spurious]

Stages, each the project's real code on the toy world's model and problems: base (shipped, hashes checked)
→ world (held-out sets and the pool) → gates (the base before any RL) → pool (GRPO on the whole pool, the
full-set run) → select (variance ranking → π1) → runs (1-shot, format-only, random reward on π1 per seed; the
extras once) → report (each claim decided over the seeds). ``--suite spurious`` runs π1 under each reward of
the suite instead (``demo_suite``). The plan and each claim's rule go to ``demo.json`` before any run; the
budget only decides whether to start. Details: docs/demo.md.

Departures from the paper, for a 2-core CPU: a 1.6M-parameter model; 2 prompt copies × 8 rollouts per step
instead of 128 × 8; 80 steps instead of 2000; learning rate 4e-5 instead of 1e-6 (``TOY_RECIPE``); held-out
evaluation greedy with 256 new tokens, every 10 steps. The recipe's structure (reward on the last box, k3 KL
0.001, entropy bonus 0.001, clip 0.2, one optimizer step per rollout batch, temperature 0.6) is the paper's.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sys
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

from .cliutil import (EXIT_FAILURE, CommandError, check_output_dir, library_errors, positive_int, positive_minutes,
                      seed_int, write_atomically)
from .demo_jobs import JobFailed, TrainJob, run_jobs
from .demo_plan import EXTRA_ROLES, QUICK_STEPS, TOY_RECIPE, DemoPlan, estimate_seconds, planned_jobs, speed_probe
from .demo_suite import SUITES, SuitePlan
from .seeds import SEED_LIMIT

HELP = "the offline demo: toy world → gates → pool RLVR → select π1 → 1-shot RLVR and controls over seeds → report"
MANIFEST_FORMAT = 2

POOL_SAMPLES = 16  # samples per pool example for its with / without skill accuracy


@dataclass
class Demo:
    """The demo's state, written as demo.json after every stage (keys: docs/demo-manifest.md)."""

    out: Path
    manifest: dict
    start: float = field(default_factory=time.monotonic)

    def elapsed(self) -> float:
        return time.monotonic() - self.start

    def say(self, message: str) -> None:
        minutes, seconds = divmod(int(self.elapsed()), 60)
        print(f"[{minutes:02d}:{seconds:02d}] {message}", file=sys.__stderr__, flush=True)

    def save(self) -> None:
        write_atomically(str(self.out / "demo.json"), [json.dumps(self.manifest, indent=2) + "\n"])

    def finished(self, job, seconds: float) -> None:
        self.manifest["seconds"][job.name] = round(seconds, 1)
        self.save()


# --- stages -------------------------------------------------------------------------------------------

def write_world(out: Path, held_out: dict, pool: list) -> tuple[Path, Path]:
    """``world/benchmarks/FAMILY/test.jsonl`` and ``world/pool.jsonl``; returns (benchmark dir, pool file)."""
    bench = out / "world" / "benchmarks"
    for family, problems in held_out.items():
        (bench / family).mkdir(parents=True, exist_ok=True)
        rows = [json.dumps({"id": p.id, "question": p.question, "answer": str(p.answer), "category": p.family,
                            "level": p.level}) + "\n" for p in problems]
        write_atomically(str(bench / family / "test.jsonl"), rows)
    pool_file = out / "world" / "pool.jsonl"
    write_atomically(str(pool_file), [json.dumps({"id": p.id, "problem": p.question, "answer": str(p.answer),
                                                  "category": p.family}) + "\n" for p in pool])
    return bench, pool_file


def load_base(world, rebuild: bool, say) -> tuple[Path, dict, str]:
    """``(folder, base record, source)``: the shipped base (hashes checked) or a rebuilt one (cached)."""
    from .toy.base import BaseError, build_base, rebuilt_dir, shipped_dir, verify_base

    if rebuild:
        folder = rebuilt_dir(world)
        say(f"base: pretraining a fresh {world.name} base into {folder} (the gates are measured after)")
        build_base(world, folder, log=lambda line: say(f"base: {line}"))
        source = "rebuilt"
    else:
        folder, source = shipped_dir(world.name), "shipped"
    with library_errors(BaseError):
        return folder, verify_base(folder), source


def measure_base(base: Path, held_out: dict, pool: list, settings) -> tuple[dict, dict]:
    """The gate table on the held-out sets, and each pool example's with / without skill accuracy."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from .toy.gates import measure_gates, measure_problems

    model = AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32)
    tokenizer = AutoTokenizer.from_pretrained(base)
    gates = measure_gates(model, tokenizer, held_out, settings)
    records = measure_problems(model, tokenizer, pool, replace(settings, samples=POOL_SAMPLES))
    return gates, {record.id: _skill_stats(record) for record in records}


def _skill_stats(record) -> dict:
    """One pool example's sampled accuracy with and without the skill (None where no sample is of that kind)."""
    def share(flags: list[bool]) -> float | None:
        return sum(flags) / len(flags) if flags else None

    pairs = list(zip(record.sampled, record.sampled_skill))
    return {"with_skill": share([right for right, used in pairs if used]),
            "without_skill": share([right for right, used in pairs if not used]),
            "skill_share": share(list(record.sampled_skill)), "forced": record.forced, "greedy": record.greedy,
            "samples": len(record.sampled)}


def skill_gap(stats: dict) -> float | None:
    """An example's accuracy with the skill minus without it, over its samples; None unless both kinds occur."""
    if stats.get("with_skill") is None or stats.get("without_skill") is None:
        return None
    return stats["with_skill"] - stats["without_skill"]


def choose_examples(history: dict, pool: list, examples: dict) -> dict:
    """The selection record: the var ranking's top, π1, and the pool example the skill helps most (largest
    with − without gap over its samples; ties go to the better var rank)."""
    from .select import rank_examples

    ranking = rank_examples(history, "var")
    by_id = {p.id: p for p in pool}
    var_rank = {key: index for index, (key, _) in enumerate(ranking, start=1)}

    def described(example_id: str) -> dict:
        problem, stats = by_id[example_id], examples.get(example_id, {})
        return {"id": problem.id, "problem": problem.question, "answer": str(problem.answer),
                "category": problem.family, **stats, "gap": skill_gap(stats), "var_rank": var_rank.get(example_id)}

    gaps = {key: skill_gap(examples.get(key, {})) for key in var_rank}
    measured = [key for key, value in gaps.items() if value is not None]
    best_gap = max(measured, key=lambda key: (gaps[key], -var_rank[key])) if measured else None
    return {"method": "var", "pool_run": "pool",
            "top": [{"id": key, "score": score, "category": by_id[key].family, "history": history[key]}
                    for key, score in ranking[:5]],
            "pi1": described(ranking[0][0]), "by_gap": described(best_gap) if best_gap else None,
            "pool_examples": examples}


# --- the demo ------------------------------------------------------------------------------------------

DEMO_ENTRIES = ("demo.json", "report.md", "plots", "world", "base", "logs", "recipes")


def clear_previous(out: Path) -> None:
    """Remove what an earlier demo wrote into ``out`` (its fixed entries and the run folders its manifest names),
    so that every run starts afresh; nothing else in ``out`` is touched."""
    names = set(DEMO_ENTRIES)
    try:
        manifest = json.loads((out / "demo.json").read_text(encoding="utf-8"))
        names |= {str(run.get("dir")) for run in manifest.get("runs", []) if isinstance(run, dict)}
    except (OSError, ValueError, AttributeError):
        pass
    for name in names:
        path = out / name
        if "/" in name or name in ("", ".", "..") or not path.exists():
            continue
        shutil.rmtree(path) if path.is_dir() and not path.is_symlink() else path.unlink()


def run_demo(out: Path, plan: DemoPlan = DemoPlan(), *, seed: int = 0, budget_minutes: float = 15.0, jobs: int = 2,
             rebuild_base: bool = False, world=None) -> Path:
    """The whole demo; returns the path of report.md. ``world``: a ``toy.worlds.World`` (default: the plan's)."""
    from transformers.utils import logging as transformers_logging

    from .report import build_report
    from .toy.corpus import held_out_sets, training_pool
    from .toy.worlds import get_world

    transformers_logging.disable_progress_bar()  # "Loading weights" bars: the demo prints its own progress
    world = world or get_world(plan.world)
    demo = Demo(out, {})
    base, record, source = load_base(world, rebuild_base, demo.say)
    estimate = check_budget(demo, plan, base, jobs, budget_minutes)  # before anything is written
    clear_previous(out)
    out.mkdir(parents=True, exist_ok=True)
    demo.manifest = start_manifest(world, plan, seed, budget_minutes, estimate)
    shutil.copytree(base, out / "base")
    demo.manifest["base"] = {"dir": "base", "source": source, "sha256": record["files"],
                             "parameters": record["parameters"], "corpus": record["build"]["knobs"],
                             "spec": record["build"]["spec"], "recorded_gates_met": record["gates"]["met"]}
    demo.manifest["seconds"]["base"] = round(demo.elapsed(), 1)
    held_out, pool = held_out_sets(plan.held_out_per_level), training_pool(plan.pool_per_family)
    bench, pool_file = write_world(out, held_out, pool)
    common = {"model": str(out / "base"), "data": str(pool_file), "eval_data_dir": str(bench),
              "eval_benchmarks": list(held_out)}
    demo.save()

    pool_examples = measure_gates_stage(demo, held_out, pool, seed)
    pool_run(demo, plan, common)
    history = json.loads((out / "pool" / "history.json").read_text())
    demo.manifest["selection"] = selection = choose_examples(history, pool, pool_examples)
    pi1 = selection["pi1"]
    demo.say(f"select: π1 = {pi1['id']} ({pi1['category']}): {pi1['problem']} → {pi1['answer']}")
    demo.save()

    random_example = random.Random(seed).choice([p for p in pool if p.id != pi1["id"]])
    category = {p.id: p.family for p in pool}
    jobs_planned = planned_jobs(plan, common, pi1["id"], random_example.id)
    for job, (name, role, run_seed) in zip(jobs_planned, plan.runs()):
        demo.manifest["runs"].append({"name": name, "label": plan.role(role)[2], "dir": name, "role": role,
                                      "reward": job.recipe["reward"], "examples": job.recipe["examples"],
                                      "example_category": category[job.recipe["examples"]], "seed": run_seed,
                                      "steps": plan.steps})
    demo.save()
    run_jobs(out, jobs_planned, jobs, demo.say, demo.finished)

    demo.manifest["complete"] = True
    demo.manifest["seconds"]["total"] = round(demo.elapsed(), 1)
    demo.save()
    report = build_report(out)
    demo.say(f"report: {report} ({demo.elapsed() / 60:.1f} min in all; estimated {estimate / 60:.1f})")
    return report


def check_budget(demo: Demo, plan: DemoPlan, base: Path, jobs: int, budget_minutes: float) -> float:
    """The plan's estimated seconds on this machine; CommandError when it exceeds the budget."""
    probe = speed_probe(base)
    estimate = estimate_seconds(plan, jobs, probe)
    demo.say(f"plan: {len(plan.runs()) + 1} runs of {plan.steps} steps over seeds {list(plan.seeds)}; about "
             f"{estimate / 60:.1f} min on this machine (speed probe {probe:.2f} s)")
    if estimate > budget_minutes * 60:
        raise CommandError(f"the plan needs about {estimate / 60:.0f} min on this machine, over --budget-minutes "
                           f"{budget_minutes:g}; pass --quick ({QUICK_STEPS} steps a run, no extra runs) or "
                           f"a larger --budget-minutes (the plan never shrinks to fit)")
    return estimate


def start_manifest(world, plan: DemoPlan, seed: int, budget_minutes: float, estimate: float) -> dict:
    """demo.json before any run: the plan and each claim's rule."""
    from .toy.tasks import FAMILIES

    return {"format": MANIFEST_FORMAT, "world": world.name, "seed": seed, "budget_minutes": budget_minutes,
            "estimate_seconds": round(estimate, 1), "plan": plan.to_dict(), "rules": plan.rules(), "seconds": {},
            "base": {}, "categories": list(FAMILIES), "selection": {}, "runs": [], "skipped": [], "complete": False}


def measure_gates_stage(demo: Demo, held_out: dict, pool: list, seed: int) -> dict:
    """The base's gates, into demo.json before any RL; returns the pool examples' skill stats (for selection)."""
    from .toy.gates import GateSettings

    demo.say("gates: measuring the base before any RL")
    start = time.monotonic()
    demo.manifest["gates"], pool_examples = measure_base(demo.out / "base", held_out, pool, GateSettings(seed=seed))
    demo.manifest["seconds"]["gates"] = round(time.monotonic() - start, 1)
    pooled = demo.manifest["gates"]["all"]
    demo.say(f"gates: greedy {pooled['greedy']:.1%}, sampled {pooled['sampled']:.1%}, skill greedy "
             f"{pooled['skill_greedy']:.1%} / sampled {pooled['skill_sampled']:.1%}, forced {pooled['forced']:.1%}; "
             f"targets {'met' if demo.manifest['gates']['met'] else 'NOT met'}")
    demo.save()
    return pool_examples


def pool_run(demo: Demo, plan: DemoPlan, common: dict) -> None:
    """GRPO on the whole pool: each example's accuracy history (for selection); also the full-set run."""
    demo.manifest["runs"].append({"name": "pool", "label": "full-set RLVR on the pool (records the history)",
                                  "dir": "pool", "role": "full-set", "reward": "outcome", "examples": "all",
                                  "example_category": None, "seed": plan.seeds[0], "steps": plan.pool_steps})
    demo.save()
    job = TrainJob("pool", {**TOY_RECIPE, **common, **plan.recipe, "examples": "all", "reward": "outcome",
                            "seed": plan.seeds[0], "steps": plan.pool_steps})
    run_jobs(demo.out, [job], 1, demo.say, demo.finished)


# --- command line -----------------------------------------------------------------------------------

def add_arguments(parser: argparse.ArgumentParser) -> None:
    from .toy.worlds import DEFAULT_WORLD, WORLDS

    parser.add_argument("--out", default="runs/demo", help="output folder (default runs/demo)")
    parser.add_argument("--world", default=DEFAULT_WORLD, choices=list(WORLDS),
                        help=f"the toy world (default {DEFAULT_WORLD}; no-skill: the world without a latent skill)")
    parser.add_argument("--seed", type=seed_int, default=0,
                        help="the first run seed, and the gates' and random example's")
    parser.add_argument("--seeds", type=positive_int, default=3, help="seeds per experiment (default 3)")
    parser.add_argument("--steps", type=positive_int, help=f"steps of every run (default {TOY_RECIPE['steps']})")
    parser.add_argument("--quick", action="store_true",
                        help=f"{QUICK_STEPS} steps a run, no extra runs (entropy-only, random example)")
    parser.add_argument("--suite", choices=list(SUITES),
                        help="instead of the controls, π1 under each reward of the suite over the seeds (spurious: "
                             "outcome, format, random, incorrect, majority, self-certainty, entropy min / bonus)")
    parser.add_argument("--budget-minutes", type=positive_minutes, default=15.0,
                        help="refuse to start a plan estimated to take longer (default 15)")
    parser.add_argument("--jobs", type=positive_int, default=min(2, os.cpu_count() or 1),
                        help="runs side by side, one thread each (default: 2, or 1 on a one-core machine)")
    parser.add_argument("--rebuild-base", action="store_true",
                        help="pretrain the base afresh into the cache instead of loading the shipped one (latent-skill: "
                             "about 45 min on 2 cores, before and outside the budget)")


def plan_from_args(args: argparse.Namespace) -> DemoPlan:
    steps = args.steps or (QUICK_STEPS if args.quick else TOY_RECIPE["steps"])
    seeds = tuple(range(args.seed, args.seed + args.seeds))
    if seeds[-1] >= SEED_LIMIT:  # numpy's and the corpus generator's seed range
        raise CommandError(f"--seed {args.seed} with --seeds {args.seeds} passes 2^32 − 1; choose a smaller --seed")
    if args.suite:
        return SuitePlan(world=args.world, seeds=seeds, steps=steps, pool_steps=steps, quick=args.quick,
                         suite=args.suite)
    return DemoPlan(world=args.world, seeds=seeds, steps=steps, pool_steps=steps, quick=args.quick,
                    extras=() if args.quick else EXTRA_ROLES)


def run(args: argparse.Namespace) -> int:
    from .cliutil import LOCK_FILE, lock_output_dir

    check_output_dir(args.out)
    out = Path(args.out)
    lock_output_dir(out)  # one run per folder; its train runs lock their own folders under it
    if out.is_dir() and any(p.name != LOCK_FILE for p in out.iterdir()) and not (out / "demo.json").is_file():
        raise CommandError(f"--out {out} holds other files; give an empty or new folder (or a previous demo's)")
    with library_errors(JobFailed, status=EXIT_FAILURE):  # not bad input: a run failed; its log says why
        run_demo(out, plan_from_args(args), seed=args.seed, budget_minutes=args.budget_minutes, jobs=args.jobs,
                 rebuild_base=args.rebuild_base)
    return 0
