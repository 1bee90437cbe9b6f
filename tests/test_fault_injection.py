"""Kill `train` with SIGKILL at random moments, resume, and end with the records an uninterrupted run writes.

Seeded kill schedules (``SCHEDULES``: seed → kills); each kill lands anywhere in a run: imports, rollouts, the
loss, a held-out evaluation, our checkpoint write, TRL's checkpoint write, a metrics line. After the last
resume: metrics.jsonl and eval.jsonl hold each step once, every line whole; history.json and
completions.jsonl agree with the steps; the per-step figures equal the uninterrupted run's.
"""

from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

SCHEDULES = {0: 12, 1: 12}  # seed → SIGKILLs: 24 kill points in all
STEPS = 6


def _argv(tiny, pool, benchmarks, out: Path) -> list[str]:
    sets = {"prompts_per_step": 2, "rollouts": 2, "micro_batch_size": 2, "max_prompt_tokens": 256,
            "max_response_tokens": 6, "steps": STEPS, "save_every": 1, "keep_checkpoints": 2, "eval_every": 2,
            "eval_benchmarks": "gsm8k", "eval_data_dir": str(benchmarks), "eval_max_tokens": 4, "dtype": "float32",
            "temperature": 1.0, "learning_rate": 1e-3}
    argv = [sys.executable, "-m", "oneshot_rlvr.cli", "train", "--model", tiny, "--data", pool, "--examples", "1",
            "--out", str(out)]
    return argv + [item for key, value in sets.items() for item in ("--set", f"{key}={value}")]


def _lines(path: Path) -> list[dict]:
    text = path.read_text()
    assert text.endswith("\n") or not text, f"{path}: a cut last line"
    return [json.loads(line) for line in text.splitlines()]


def _run(argv, timeout=None):
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        _, err = process.communicate(timeout=timeout)
        return process.returncode, err
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGKILL)
        process.communicate()
        return None, ""


@pytest.mark.slow
@pytest.mark.parametrize("seed", sorted(SCHEDULES))
def test_kill_anywhere_then_resume(seed, tiny, pool, one_problem_benchmarks, tmp_path):
    reference = tmp_path / "reference"
    start = time.monotonic()
    status, err = _run(_argv(tiny, pool, one_problem_benchmarks, reference))
    assert status == 0, err
    whole = time.monotonic() - start

    rng, kills, folders = random.Random(seed), 0, []
    while kills < SCHEDULES[seed]:  # a run that finishes before its next kill: the next kills go to a new folder
        out = tmp_path / f"killed-{len(folders)}"
        folders.append(out)
        while True:
            resume = ["--resume"] if (out / "config.yaml").is_file() else []
            status, err = _run(_argv(tiny, pool, one_problem_benchmarks, out) + resume,
                               timeout=rng.uniform(1.0, whole) if kills < SCHEDULES[seed] else None)
            if status is None:
                kills += 1
                continue
            assert status == 0, f"{out} (exit {status}): {err.strip().splitlines()[-3:]}"
            break
    for out in folders:
        _check_against(reference, out)
    assert kills == SCHEDULES[seed]


def _check_against(reference: Path, out: Path) -> None:
    expected, got = _lines(reference / "metrics.jsonl"), _lines(out / "metrics.jsonl")
    assert [m["step"] for m in got] == list(range(1, STEPS + 1))
    for want, have in zip(expected, got):
        for key in ("reward_mean", "entropy", "kl", "mean_length", "tokens"):
            assert have[key] == pytest.approx(want[key], rel=1e-5, abs=1e-7), (have["step"], key)
    evals = _lines(out / "eval.jsonl")
    assert [e["step"] for e in evals] == [0, 2, 4, 6]
    assert [e["benchmarks"] for e in evals] == [e["benchmarks"] for e in _lines(reference / "eval.jsonl")]
    assert json.loads((out / "history.json").read_text()) == json.loads((reference / "history.json").read_text())
    completions = _lines(out / "completions.jsonl")
    assert completions == _lines(reference / "completions.jsonl")
    assert sorted(p.name for p in (out / "checkpoints").iterdir() if not p.name.startswith(".")) == \
        sorted(p.name for p in (reference / "checkpoints").iterdir())
