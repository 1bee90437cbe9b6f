"""The demo's plan: which runs, with which recipe, over which seeds — fixed by the arguments — and its time.

``DemoPlan`` lists the runs (``runs()``): the claims' core roles once per seed, the extras once. The time is
estimated before anything runs: each stage's cost measured here (``COST``, seconds on this project's 2-core
CPU with one thread per job), scaled by a speed probe of the machine at hand, the runs packed onto ``jobs``
lanes. The estimate only decides whether to start; it never shrinks the plan.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

TOY_RECIPE = {  # the paper recipe's structure at toy scale (recipes/toy-1shot.yaml holds the same values)
    "template": "toy", "eval_template": "toy", "prompts_per_step": 2, "rollouts": 8, "micro_batch_size": 16,
    "learning_rate": 4e-5, "lr_scheduler": "constant", "weight_decay": 0.01, "max_grad_norm": 1.0,
    "temperature": 0.6, "max_prompt_tokens": 96, "max_response_tokens": 256, "kl_coef": 0.001,
    "entropy_coef": 0.001, "clip_ratio": 0.2, "steps": 80, "save_every": 0, "eval_every": 10,
    "eval_max_tokens": 256, "dtype": "float32",
}
ROLES = {  # role: (reward, trained on, label)
    "one-shot": ("outcome", "pi1", "1-shot RLVR on π1"),
    "format-only": ("format", "pi1", "format reward only (π1)"),
    "random-reward": ("random", "pi1", "random 0/1 reward (π1)"),
    "entropy-only": ("none", "pi1", "entropy + KL only, no reward (π1)"),
    "random-example": ("outcome", "random", "1-shot RLVR on a random pool example"),
}
SEEDED_ROLES = ("one-shot", "format-only", "random-reward")  # the claims' core: once per seed
EXTRA_ROLES = ("entropy-only", "random-example")  # once, with the first seed
QUICK_STEPS = 40  # --quick: the claims' core roles over the seeds, 40 steps each, no extras


def run_name(role: str, seed: int) -> str:
    """A run's folder name: ``pi1-s0`` for the one-shot role, else ``ROLE-sSEED``."""
    return f"{'pi1' if role == 'one-shot' else role}-s{seed}"


@dataclass(frozen=True)
class DemoPlan:
    """What the demo runs: fixed by the arguments, never by the clock (defaults: the 15-minute demo here)."""

    world: str = "latent-skill"
    seeds: tuple[int, ...] = (0, 1, 2)
    steps: int = TOY_RECIPE["steps"]
    pool_steps: int = TOY_RECIPE["steps"]
    extras: tuple[str, ...] = EXTRA_ROLES
    held_out_per_level: int = 10  # 5 families × 3 levels × 10 = 150 held-out problems (n per family: 30)
    pool_per_family: int = 6  # 30 pool problems
    quick: bool = False
    recipe: dict = field(default_factory=dict)  # overrides of TOY_RECIPE (tests shrink the runs)

    def __post_init__(self) -> None:
        from .toy.corpus import MAX_HELD_OUT_PER_LEVEL
        from .toy.model import MAX_POOL_PER_FAMILY

        if not (1 <= self.held_out_per_level <= MAX_HELD_OUT_PER_LEVEL and 1 <= self.pool_per_family <= MAX_POOL_PER_FAMILY):
            raise ValueError(f"held_out_per_level must be 1..{MAX_HELD_OUT_PER_LEVEL} and pool_per_family "
                             f"1..{MAX_POOL_PER_FAMILY} (larger sets would overlap the pretraining corpus)")
        unknown = [role for role in self.extras if role not in EXTRA_ROLES]
        if unknown:
            raise ValueError(f"unknown extra run(s) {', '.join(unknown)}; choose from {', '.join(EXTRA_ROLES)}")

    @property
    def eval_every(self) -> int:
        return self.recipe.get("eval_every", TOY_RECIPE["eval_every"])

    def runs(self) -> list[tuple[str, str, int]]:
        """``(name, role, seed)`` of every run after the pool run, in the order they start."""
        runs = [(run_name(role, seed), role, seed) for seed in self.seeds for role in SEEDED_ROLES]
        return runs + [(f"{role}-s{self.seeds[0]}", role, self.seeds[0]) for role in self.extras]

    def role(self, name: str) -> tuple[str, str, str]:
        """``(reward, trained on, label)`` of a role (``ROLES``; a suite has its own)."""
        return ROLES[name]

    def role_recipe(self, name: str) -> dict:
        """The recipe fields a role sets over ``TOY_RECIPE`` (here: its reward)."""
        return {"reward": self.role(name)[0]}

    def rules(self) -> dict:
        """Each claim's rule, written to demo.json before any run."""
        from .findings import RULES

        return dict(RULES)

    def to_dict(self) -> dict:
        return {"world": self.world, "seeds": list(self.seeds), "steps": self.steps, "pool_steps": self.pool_steps,
                "eval_every": self.eval_every, "roles": list(SEEDED_ROLES), "extras": list(self.extras),
                "held_out_n": 15 * self.held_out_per_level, "pool_n": 5 * self.pool_per_family, "quick": self.quick,
                "recipe": {**TOY_RECIPE, **self.recipe}}


def planned_jobs(plan: DemoPlan, common: dict, pi1: str, random_example: str) -> list:
    """The ``demo_jobs.TrainJob`` of every run after the pool run, in ``plan.runs()`` order."""
    from .demo_jobs import TrainJob

    jobs = []
    for name, role, seed in plan.runs():
        example = pi1 if plan.role(role)[1] == "pi1" else random_example
        jobs.append(TrainJob(name, {**TOY_RECIPE, **common, **plan.recipe, "examples": example,
                                    **plan.role_recipe(role), "seed": seed, "steps": plan.steps}))
    return jobs


# Seconds on this project's 2-core CPU, one thread per job, with the shipped latent-skill base (measured on the
# default demo: docs/toy-world.md): a run's start (imports, model, trainer), a step (1-shot runs 0.29–0.36 s;
# 0.70 on a longer random example; the pool run's distinct prompts 0.87), a held-out evaluation (1.0–2.3 s),
# the gates (26 s on two threads), the report. Rounded up: the estimate should not promise too little.
REFERENCE_PROBE_SECONDS = 0.068  # speed_probe on that machine (0.063–0.081 over a day: it drifts)
COST = {"start": 7.0, "step": 0.5, "pool_step": 0.9, "eval": 2.3, "gates": 30.0, "report": 8.0}


def speed_probe(base: Path) -> float:
    """Seconds for a fixed piece of work on one thread: 16 greedy rows of up to 64 tokens decoded with the base
    model (the demo's runs are mostly such decoding and the matching forward passes); after a warm-up, the
    fastest of three tries, so that one slow moment does not refuse a plan that fits."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from .generation import HFBackend, SamplingParams

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        model = AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32)
        tokenizer = AutoTokenizer.from_pretrained(base)
        backend = HFBackend(model, tokenizer)
        prompts = [tokenizer(f"Question: What is {10 + i} * 7?\nAnswer:")["input_ids"] for i in range(16)]
        backend.generate_ids(prompts[:2], SamplingParams(max_tokens=4))  # warm-up: first calls allocate
        tries = []
        for _ in range(3):
            start = time.monotonic()
            backend.generate_ids(prompts, SamplingParams(max_tokens=64))
            tries.append(time.monotonic() - start)
        return min(tries)
    finally:
        torch.set_num_threads(threads)


def estimate_seconds(plan: DemoPlan, jobs: int, probe: float) -> float:
    """The plan's wall time: the gates, the pool run, then the runs over ``jobs`` lanes, then the report."""
    evals = plan.steps // plan.eval_every + 1 if plan.eval_every else 0
    run = COST["start"] + plan.steps * COST["step"] + evals * COST["eval"]
    pool_evals = plan.pool_steps // plan.eval_every + 1 if plan.eval_every else 0
    pool = COST["start"] + plan.pool_steps * COST["pool_step"] + pool_evals * COST["eval"]
    lanes = [0.0] * jobs
    for _ in plan.runs():
        lanes[lanes.index(min(lanes))] += run
    return probe / REFERENCE_PROBE_SECONDS * (COST["gates"] + pool + max(lanes) + COST["report"])


