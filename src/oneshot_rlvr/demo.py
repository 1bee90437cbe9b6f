"""The main job: the paper's pipeline and its comparisons in the toy world, offline on a CPU, in a budget.

    oneshot-rlvr demo [--out runs/demo] [--budget-minutes 15] [--seed 0]

Stages (each the project's real code; only the model and the problems are the toy world's):
1. **base**: pretrain the toy base model (``toy.model``; cached by its settings) and write the world:
   ``world/benchmarks/FAMILY/test.jsonl`` (held-out, one benchmark per task family) and ``world/pool.jsonl``
   (the RLVR pool, the toy DSR-sub);
2. **pool**: GRPO on the whole pool, recording each example's accuracy history — this run is also the
   paper's *full-set RLVR* comparison;
3. **select**: rank the pool by historical variance (``select.rank_examples``, method ``var``) → π1;
4. **1-shot**: GRPO on π1 alone, duplicated to fill the batch, long enough that its training accuracy
   saturates and keeps going, with held-out evaluations every ``eval_every`` steps;
5. **controls**, as the budget allows, in this order: format reward only and random reward (on π1), a
   random pool example, entropy only (reward none: only the entropy and KL terms act);
6. **report**: ``report.build_report`` → ``report.md`` and ``plots/``.

Departures from the paper, for a 2-core CPU: a few-million-parameter model; 4 prompts × 8 rollouts per
step instead of 128 × 8; tens of steps instead of 2000; a larger learning rate (``TOY_RECIPE``); held-out
evaluation greedy with 160 new tokens. The recipe's structure (reward, KL, entropy bonus, clipping, one
optimizer step per rollout batch, temperature 0.6) is the paper's.

Budget: each stage's cost is estimated from the steps already measured; a stage that does not fit is
skipped and named in ``demo.json``; a run that overruns is stopped at the deadline. Output: ``demo.json``
(the manifest the report reads: stages, seconds, selection, runs), one train-run folder per run, ``base/``
(a copy of the base model), ``logs/`` (the trainers' own output) and the report.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import random
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from .cliutil import CommandError, check_output_dir, write_atomically

HELP = "the offline demo: toy world → pool RLVR → select π1 → 1-shot RLVR + controls → report"

TOY_RECIPE = {  # the paper recipe's structure at toy scale (recipes/toy-1shot.yaml holds the same values)
    "template": "toy", "eval_template": "toy", "prompts_per_step": 4, "rollouts": 8, "micro_batch_size": 32,
    "learning_rate": 2e-5, "lr_scheduler": "constant", "weight_decay": 0.01, "max_grad_norm": 1.0,
    "temperature": 0.6, "max_prompt_tokens": 96, "max_response_tokens": 256, "kl_coef": 0.001,
    "entropy_coef": 0.001, "clip_ratio": 0.2, "steps": 50, "save_every": 0, "eval_every": 10,
    "eval_max_tokens": 256, "dtype": "float32",
}
POOL_STEPS = 30  # 30 pool problems / 4 per step: each sampled ~4 times (the history select ranks)
CONTROLS = (  # name, role, reward, label — in the order the budget admits them
    ("format-only", "format-only", "format", "format reward only (π1)"),
    ("random-reward", "random-reward", "random", "random 0/1 reward (π1)"),
    ("random-example", "random-example", "outcome", "1-shot on a random pool example"),
    ("entropy-only", "entropy-only", "none", "entropy + KL only, no reward (π1)"),
)


@dataclass
class Demo:
    """The demo's state, written as demo.json after every stage (keys as the report reads them)."""

    out: Path
    seed: int
    budget_minutes: float
    start: float = field(default_factory=time.monotonic)
    manifest: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.manifest = {"seed": self.seed, "budget_minutes": self.budget_minutes, "seconds": {}, "base": {},
                         "categories": [], "selection": {}, "runs": [], "skipped": [], "complete": False}

    def elapsed(self) -> float:
        return time.monotonic() - self.start

    def left(self) -> float:
        return self.budget_minutes * 60 - self.elapsed()

    def say(self, message: str) -> None:
        minutes, seconds = divmod(int(self.elapsed()), 60)
        print(f"[{minutes:02d}:{seconds:02d}] {message}", file=sys.__stderr__, flush=True)

    def save(self) -> None:
        write_atomically(str(self.out / "demo.json"), [json.dumps(self.manifest, indent=2) + "\n"])


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


def _progress(demo: Demo, name: str, steps: int, deadline: float):
    from transformers import TrainerCallback

    class Progress(TrainerCallback):
        """A progress line every 10 steps; stops the run at the budget's deadline."""

        def on_log(self, args, state, control, logs=None, **kwargs):
            if logs and "reward" in logs and (state.global_step % 10 == 0 or state.global_step == 1):
                accuracy = logs.get("rewards/accuracy/mean", float("nan"))
                demo.say(f"{name}: step {state.global_step}/{steps}, training accuracy {accuracy:.2f}, "
                         f"{logs.get('step_time', float('nan')):.1f} s/step")

        def on_step_end(self, args, state, control, **kwargs):
            if time.monotonic() > deadline:
                demo.say(f"{name}: budget reached, stopping at step {state.global_step}")
                control.should_training_stop = True

    return Progress()


def run_one(demo: Demo, name: str, overrides: dict, deadline: float) -> dict:
    """One training run under ``out/NAME`` (its trainer output in logs/NAME.log); returns its timing."""
    from .config import load_recipe
    from .train import run_training

    recipe = load_recipe(None, {**TOY_RECIPE, **overrides})
    folder = demo.out / name
    shutil.rmtree(folder, ignore_errors=True)
    (demo.out / "logs").mkdir(parents=True, exist_ok=True)
    start = time.monotonic()
    demo.say(f"{name}: {recipe.steps} steps of {recipe.prompts_per_step} prompts × {recipe.rollouts} rollouts "
             f"(reward {recipe.reward}, examples {recipe.examples})")
    with open(demo.out / "logs" / f"{name}.log", "w", encoding="utf-8") as log, \
            contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
        run_training(recipe, folder, callbacks=[_progress(demo, name, recipe.steps, deadline)])
    seconds = time.monotonic() - start
    metrics, evaluations = folder / "metrics.jsonl", folder / "eval.jsonl"
    steps = len(metrics.read_text(encoding="utf-8").splitlines()) if metrics.exists() else 0
    evals = [json.loads(line) for line in evaluations.read_text(encoding="utf-8").splitlines()] if evaluations.exists() else []
    if evals:
        last = evals[-1]["benchmarks"]
        pooled = sum(b["lenient"] * b["n"] for b in last.values()) / sum(b["n"] for b in last.values())
        demo.say(f"{name}: done in {seconds:.0f} s; held-out lenient {pooled:.1%} at step {evals[-1]['step']}")
    demo.manifest["seconds"][name] = round(seconds, 1)
    return {"seconds": seconds, "steps": steps, "eval_seconds": sum(e.get("seconds", 0) for e in evals),
            "evals": len(evals)}


def _estimate(timing: dict, steps: int, evals: int) -> float:
    """Seconds a run of ``steps`` with ``evals`` evaluations should take, from a measured run."""
    per_step = (timing["seconds"] - timing["eval_seconds"]) / max(1, timing["steps"])
    per_eval = timing["eval_seconds"] / max(1, timing["evals"])
    return 15 + steps * per_step + evals * per_eval  # 15 s: loading the model and the trainer


@dataclass(frozen=True)
class DemoScale:
    """How big the demo's world and runs are (defaults: the 15-minute demo on a 2-core CPU; tests shrink it)."""

    one_shot_steps: int = TOY_RECIPE["steps"]
    pool_steps: int = POOL_STEPS
    held_out_per_level: int = 10  # 5 families × 3 levels × 10 = 150 held-out problems (n per category: 30)
    pool_per_family: int = 6  # 30 pool problems
    recipe: dict = field(default_factory=dict)  # overrides of TOY_RECIPE

    def __post_init__(self) -> None:
        from .toy.corpus import MAX_HELD_OUT_PER_LEVEL
        from .toy.model import MAX_POOL_PER_FAMILY

        if not (1 <= self.held_out_per_level <= MAX_HELD_OUT_PER_LEVEL and 1 <= self.pool_per_family <= MAX_POOL_PER_FAMILY):
            raise ValueError(f"held_out_per_level must be 1..{MAX_HELD_OUT_PER_LEVEL} and pool_per_family "
                             f"1..{MAX_POOL_PER_FAMILY} (larger sets would overlap the pretraining corpus)")


def run_demo(out: Path, budget_minutes: float, seed: int, scale: DemoScale = DemoScale(), knobs=None, spec=None) -> Path:
    """The whole demo; returns the path of report.md."""
    from .report import build_report
    from .select import rank_examples
    from .toy.corpus import CorpusKnobs, held_out_sets, training_pool
    from .toy.model import ToyModelSpec, ensure_base
    from .toy.tasks import FAMILIES

    demo = Demo(out, seed, budget_minutes)
    out.mkdir(parents=True, exist_ok=True)
    deadline = demo.start + budget_minutes * 60 - 20  # 20 s kept for the report
    knobs = knobs or CorpusKnobs(seed=seed)
    spec = spec or ToyModelSpec(seed=seed)
    one_shot_steps = scale.one_shot_steps

    demo.say("base: pretraining the toy base model (cached after the first run)")
    folder, record = ensure_base(knobs, spec, log=lambda line: demo.say(f"base: {line}"))
    shutil.rmtree(out / "base", ignore_errors=True)
    shutil.copytree(folder, out / "base")
    demo.manifest["base"] = {"dir": "base", "parameters": record["parameters"], "corpus": record["knobs"],
                             "spec": record["spec"], "pretrain_seconds": round(record["seconds"], 1)}
    demo.manifest["seconds"]["base"] = round(demo.elapsed(), 1)
    held_out, pool = held_out_sets(scale.held_out_per_level), training_pool(scale.pool_per_family)
    bench, pool_file = write_world(out, held_out, pool)
    categories = {p.id: p.family for p in pool}
    demo.manifest["categories"] = list(FAMILIES)
    demo.save()
    common = {"model": str(out / "base"), "data": str(pool_file), "eval_data_dir": str(bench),
              "eval_benchmarks": list(FAMILIES), "seed": seed, **scale.recipe}

    pool_timing = run_one(demo, "pool", {**common, "examples": "all", "steps": scale.pool_steps}, deadline)
    demo.manifest["runs"].append({"name": "pool", "label": "full-set RLVR on the pool (records the history)",
                                  "dir": "pool", "role": "full-set", "reward": "outcome", "examples": "all",
                                  "example_category": None})
    history = json.loads((out / "pool" / "history.json").read_text())
    ranking = rank_examples(history, "var")
    pi1 = next(p for p in pool if p.id == ranking[0][0])
    demo.manifest["selection"] = {
        "method": "var", "pool_run": "pool",
        "top": [{"id": key, "score": score, "category": categories[key], "history": history[key]} for key, score in ranking[:5]],
        "pi1": {"id": pi1.id, "problem": pi1.question, "answer": str(pi1.answer), "category": pi1.family}}
    demo.say(f"select: π1 = {pi1.id} ({pi1.family}): {pi1.question} → {pi1.answer} (variance {ranking[0][1]:.3f})")
    demo.save()

    evals = one_shot_steps // common.get("eval_every", TOY_RECIPE["eval_every"]) + 1
    plan = [("pi1", "one-shot", "outcome", "1-shot RLVR on π1", pi1)]
    others = [p for p in pool if p.id != pi1.id]
    random_example = random.Random(seed).choice(others)
    plan += [(name, role, reward, label, random_example if role == "random-example" else pi1)
             for name, role, reward, label in CONTROLS]
    timing = pool_timing
    for name, role, reward, label, example in plan:
        needed = _estimate(timing, one_shot_steps, evals)
        if name != "pi1" and needed > deadline - time.monotonic():
            demo.manifest["skipped"].append({"name": name, "why": f"budget: needs ~{needed:.0f} s, "
                                                                  f"{max(0, deadline - time.monotonic()):.0f} s left"})
            demo.say(f"{name}: skipped (needs ~{needed:.0f} s of the budget)")
            continue
        result = run_one(demo, name, {**common, "examples": example.id, "reward": reward, "steps": one_shot_steps}, deadline)
        timing = result if name == "pi1" else timing
        demo.manifest["runs"].append({"name": name, "label": label, "dir": name, "role": role, "reward": reward,
                                      "examples": example.id, "example_category": example.family,
                                      "steps_done": result["steps"]})
        demo.save()

    demo.manifest["complete"] = True
    demo.manifest["seconds"]["total"] = round(demo.elapsed(), 1)
    demo.save()
    report = build_report(out)
    demo.say(f"report: {report} ({demo.elapsed() / 60:.1f} min in all)")
    return report


# --- command line -----------------------------------------------------------------------------------

def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", default="runs/demo", help="output folder (default runs/demo)")
    parser.add_argument("--budget-minutes", type=float, default=15.0, help="wall-time budget (default 15)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the world, the base model and the runs")
    parser.add_argument("--steps", type=int, help=f"steps of each 1-shot run (default {TOY_RECIPE['steps']})")


def run(args: argparse.Namespace) -> int:
    if not math.isfinite(args.budget_minutes) or args.budget_minutes <= 0:  # nan / inf: no deadline at all
        raise CommandError(f"--budget-minutes must be a positive number, got {args.budget_minutes}")
    if args.steps is not None and args.steps < 1:
        raise CommandError(f"--steps must be at least 1, got {args.steps}")
    if not 0 <= args.seed < 2**32:  # numpy's and the corpus generator's seed range
        raise CommandError(f"--seed must be between 0 and {2**32 - 1}, got {args.seed}")
    check_output_dir(args.out)
    out = Path(args.out)
    if out.is_dir() and any(out.iterdir()) and not (out / "demo.json").is_file():
        raise CommandError(f"--out {out} holds other files; give an empty or new folder (or a previous demo's)")
    scale = DemoScale(one_shot_steps=args.steps) if args.steps else DemoScale()
    run_demo(out, args.budget_minutes, args.seed, scale)
    return 0
