"""The demo's training runs as parallel jobs: each one ``oneshot-rlvr train`` process on one CPU thread.

A 1M-parameter model cannot keep two cores busy in one process (its matmuls are too small to split), so the
demo runs independent runs side by side instead, one thread each. A run's numbers depend only on its recipe:
it trains on one thread whether it runs alone or beside another, so ``jobs`` changes the wall time, never a
result. Each job's recipe is written to ``recipes/NAME.yaml`` and its output to ``logs/NAME.log``; progress
lines come from the ``metrics.jsonl`` / ``eval.jsonl`` the runs write. A job that fails stops the others.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from .cliutil import write_atomically
from .jsonl import read_jsonl

THREADS_PER_JOB = 1
POLL_SECONDS = 0.5


@dataclass(frozen=True)
class TrainJob:
    """One training run: its ``name`` (the folder under the demo), and its recipe as ``TrainRecipe`` fields."""

    name: str
    recipe: dict


class JobFailed(RuntimeError):
    """A training process exited with an error; the message names its log."""


def single_thread_env() -> dict[str, str]:
    """The environment of a one-thread job (torch reads OMP_NUM_THREADS at start)."""
    return {**os.environ, "OMP_NUM_THREADS": str(THREADS_PER_JOB), "MKL_NUM_THREADS": str(THREADS_PER_JOB),
            "TOKENIZERS_PARALLELISM": "false"}


def _write_recipe(out: Path, job: TrainJob) -> Path:
    import yaml

    path = out / "recipes" / f"{job.name}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(str(path), [yaml.safe_dump(job.recipe, sort_keys=False)])
    return path


def _start(out: Path, job: TrainJob):
    recipe = _write_recipe(out, job)
    (out / "logs").mkdir(parents=True, exist_ok=True)
    log = open(out / "logs" / f"{job.name}.log", "w", encoding="utf-8")
    command = [sys.executable, "-m", "oneshot_rlvr.cli", "train", "--config", str(recipe), "--out", str(out / job.name)]
    return subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=single_thread_env()), log


def _lines(path: Path) -> list[dict]:
    """Complete JSON lines of a log being written (a cut last line is not read yet)."""
    if not path.is_file():
        return []
    return [line for _, line in read_jsonl(path, blank_lines="skip", cut_last_line="drop")]


class _Watch:
    """Reports a job's progress every ``every`` steps and at each held-out evaluation."""

    def __init__(self, folder: Path, steps: int, say: Callable[[str], None], every: int = 10) -> None:
        self.folder, self.steps, self.say, self.every = folder, steps, say, every
        self.steps_seen, self.evals_seen = 0, 0

    def poll(self) -> None:
        metrics = _lines(self.folder / "metrics.jsonl")
        for line in metrics[self.steps_seen:]:
            if line["step"] % self.every == 0:
                self.say(f"{self.folder.name}: step {line['step']}/{self.steps}, training accuracy "
                         f"{line.get('train_accuracy', float('nan')):.2f}, {line.get('step_seconds', 0):.1f} s/step")
        self.steps_seen = len(metrics)
        evaluations = _lines(self.folder / "eval.jsonl")
        for line in evaluations[self.evals_seen:]:
            scores = line["benchmarks"].values()
            total = sum(b["n"] for b in scores)
            lenient = sum(b["lenient"] * b["n"] for b in scores) / total
            skill = sum((b.get("reflection_rate") or 0) * b["n"] for b in scores) / total
            self.say(f"{self.folder.name}: held-out at step {line['step']}: lenient {lenient:.1%}, recheck {skill:.1%}")
        self.evals_seen = len(evaluations)


def run_jobs(out: Path, jobs: Sequence[TrainJob], parallel: int, say: Callable[[str], None],
             on_done: Callable[[TrainJob, float], None] | None = None) -> None:
    """Run ``jobs`` under ``out``, ``parallel`` at a time, in order; ``on_done(job, seconds)`` after each. A failed
    job stops the rest (JobFailed); an interrupt stops every process it started."""
    waiting, running = list(jobs), []
    try:
        while waiting or running:
            while waiting and len(running) < parallel:
                job = waiting.pop(0)
                say(f"{job.name}: {job.recipe['steps']} steps, reward {job.recipe['reward']}, example "
                    f"{job.recipe['examples']}, seed {job.recipe['seed']}")
                process, log = _start(out, job)
                running.append((job, process, log, time.monotonic(), _Watch(out / job.name, job.recipe["steps"], say)))
            time.sleep(POLL_SECONDS)
            for entry in list(running):
                job, process, log, start, watch = entry
                watch.poll()
                if process.poll() is None:
                    continue
                log.close()
                running.remove(entry)
                if process.returncode != 0:
                    raise JobFailed(f"{job.name}: training exited with status {process.returncode}; see "
                                    f"{out / 'logs' / (job.name + '.log')}")
                if on_done:
                    on_done(job, time.monotonic() - start)
    finally:
        for _, process, log, _, _ in running:
            process.kill()
            process.wait()
            log.close()
