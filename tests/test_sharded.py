"""Checkpoints and held-out evaluations under sharded engines (train_records): FSDP2 on two CPU processes.

The two-process runs start ``accelerate launch`` with recipes/accelerate/cpu-2proc-fsdp.yaml through
tests/fsdp_on_cpu.py (accelerate 1.16 runs FSDP only on GPU-like devices; that file lifts the gate and
records that the parameters were really sharded). DeepSpeed ZeRO-3 needs DeepSpeed and GPUs.
"""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch

pytest.importorskip("trl")

from oneshot_rlvr.cli import main  # noqa: E402
from oneshot_rlvr.config import load_recipe  # noqa: E402
from oneshot_rlvr.models import load_model  # noqa: E402
from oneshot_rlvr.train import run_training  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
# reward none, no KL, no entropy bonus: every gradient is zero and only weight decay moves the weights, so a
# two-process run (whose rollouts are seeded per process) must end with the one-process run's weights
DECAY_ONLY = {"reward": "none", "kl_coef": 0.0, "entropy_coef": 0.0, "weight_decay": 0.5, "learning_rate": 0.1}
# the reference model and real gradients: entropy bonus and KL; TRL's sampler so that DDP and FSDP draw alike
GRADIENTS = {"reward": "none", "kl_coef": 0.5, "entropy_coef": 1.0, "weight_decay": 0.0, "learning_rate": 3e-3,
             "rollout_backend": "trl"}


def settings(tiny, pool, bench, **changes):
    base = dict(model=tiny, data=pool, examples="1", steps=2, prompts_per_step=2, rollouts=2, micro_batch_size=1,
                max_prompt_tokens=256, max_response_tokens=6, dtype="float32", save_every=2, keep_checkpoints=2,
                eval_every=1, eval_benchmarks=["gsm8k"], eval_data_dir=str(bench), eval_max_tokens=4)
    return {**base, **changes}


def launch(config: str, values: dict, out: Path, *, shim: bool = False, options=()) -> list[dict]:
    """``oneshot-rlvr train`` on 2 processes; returns each process's engine records (shim only)."""
    with socket.socket() as probe:  # a free port: accelerate's default 29500 may be taken
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    sets = [item for key, value in values.items() if key not in ("model", "data", "examples", "steps")
            for item in ("--set", f"{key}={','.join(value) if isinstance(value, list) else value}")]
    target = [str(REPO / "tests" / "fsdp_on_cpu.py")] if shim else ["-m", "oneshot_rlvr.cli"]
    command = [sys.executable, "-m", "accelerate.commands.launch", "--config_file",
               str(REPO / "recipes" / "accelerate" / config), *options, "--main_process_port", str(port), *target,
               "train", "--model", values["model"], "--data", values["data"], "--examples", values["examples"],
               "--steps", str(values["steps"]), *sets, "--out", str(out)]
    record = out.parent / f"{out.name}-engine"
    result = subprocess.run(command, capture_output=True, text=True, timeout=600,
                            env={**os.environ, "OMP_NUM_THREADS": "1", "ONESHOT_RLVR_ENGINE_RECORD": str(record)})
    causes = [line for line in result.stderr.splitlines() if any(
        mark in line for mark in ("terminate called", "what():", "Error", "error:"))]
    assert result.returncode == 0, "\n".join(causes[-20:]) + "\n...\n" + result.stderr[-1500:]
    return [json.loads(line) for rank in (0, 1) if Path(f"{record}.{rank}").is_file()
            for line in Path(f"{record}.{rank}").read_text().splitlines()]


def read_lines(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def weights(folder):
    return load_model(str(folder)).model.state_dict()


def without_time(evals):
    return [{k: v for k, v in e.items() if k != "seconds"} for e in evals]


def test_fsdp_checkpoints_and_evaluations_equal_one_process(tiny, pool, one_problem_benchmarks, tmp_path):
    values = settings(tiny, pool, one_problem_benchmarks, **DECAY_ONLY)
    engines = launch("cpu-2proc-fsdp.yaml", values, tmp_path / "fsdp", shim=True)
    assert {(e["distributed_type"], e["fsdp_version"], e["sharded"]) for e in engines} == {("FSDP", 2, True)}
    assert len(engines) == 2  # one policy per process (no reference model with kl_coef 0)
    one = run_training(load_recipe(None, values), tmp_path / "one")
    fsdp = tmp_path / "fsdp"
    assert [m["step"] for m in read_lines(fsdp / "metrics.jsonl")] == [1, 2]
    evals = read_lines(fsdp / "eval.jsonl")  # process 0 evaluated a gathered copy, the other one waited
    assert [e["step"] for e in evals] == [0, 1, 2] and evals[0]["benchmarks"]["gsm8k"]["n"] == 1
    assert without_time(evals) == without_time(read_lines(one / "eval.jsonl"))
    got, expected = weights(fsdp / "checkpoints" / "step-2"), weights(one / "checkpoints" / "step-2")
    initial = weights(tiny)
    assert got.keys() == expected.keys() == initial.keys()
    assert all(v.dtype == torch.float32 for v in got.values())  # the base model's dtype
    for name in got:  # the same arithmetic (p ← p·(1 − lr·wd), twice) on a shard or on the whole tensor
        torch.testing.assert_close(got[name], expected[name], rtol=1e-6, atol=1e-7, msg=name)
    assert any(not torch.equal(got[name], initial[name]) for name in got)  # the decay did move them
    assert main(["eval", "--model", str(fsdp / "checkpoints" / "step-2"), "--benchmarks", "gsm8k", "--data-dir",
                 str(one_problem_benchmarks), "--max-tokens", "4", "--out", str(tmp_path / "eval")]) == 0


def test_fsdp_trains_like_ddp(tiny, pool, one_problem_benchmarks, tmp_path):
    """Real gradients (entropy bonus and KL to the reference model): FSDP2 and DDP on the same two processes
    sample the same rollouts, so their checkpoints differ only by the order of the float sums."""
    values = settings(tiny, pool, one_problem_benchmarks, **GRADIENTS)
    engines = launch("cpu-2proc-fsdp.yaml", values, tmp_path / "fsdp", shim=True)
    assert {(e["distributed_type"], e["sharded"]) for e in engines} == {("FSDP", True)}
    launch("cpu-2proc.yaml", values, tmp_path / "ddp")
    fsdp_metrics, ddp_metrics = (read_lines(tmp_path / run / "metrics.jsonl") for run in ("fsdp", "ddp"))
    for key in ("entropy", "kl", "mean_length", "loss"):
        assert [m[key] for m in fsdp_metrics] == pytest.approx([m[key] for m in ddp_metrics], rel=1e-4, abs=1e-7), key
    # DDP: process 0 evaluated the live model; FSDP: a gathered copy. The same weights within 1e-5: the same text
    assert [e["benchmarks"] for e in read_lines(tmp_path / "fsdp" / "eval.jsonl")] == \
        [e["benchmarks"] for e in read_lines(tmp_path / "ddp" / "eval.jsonl")]
    got, expected = (weights(tmp_path / run / "checkpoints" / "step-2") for run in ("fsdp", "ddp"))
    initial = weights(tiny)
    # Adam moves each weight by about lr a step whatever the gradient's size, so where a gradient is nearly zero
    # the order of the float sums (reduce-scatter vs all-reduce) can change that weight's move by up to ~1e-5
    # (seen: a few elements per tensor; the rest agree within 1e-6): 1% of the 2 steps' move is the tolerance
    move = GRADIENTS["learning_rate"] * values["steps"]
    for name in got:
        torch.testing.assert_close(got[name], expected[name], rtol=0, atol=0.01 * move, msg=name)
        assert (got[name] - initial[name]).abs().mean() > 0.3 * move, name  # every tensor trained


def test_deepspeed_zero3_checkpoints_and_evaluates(tiny, pool, one_problem_benchmarks, tmp_path):
    pytest.importorskip("deepspeed", reason="DeepSpeed is not installed (ZeRO-3 is written to accelerate's "
                        "documented get_state_dict; this test runs where DeepSpeed and 2 GPUs are)")
    if torch.cuda.device_count() < 2:
        pytest.skip("DeepSpeed ZeRO-3 under accelerate 1.16 needs GPUs (it is never enabled with cpu=True); "
                    f"{torch.cuda.device_count()} found, 2 needed")
    values = settings(tiny, pool, one_problem_benchmarks, dtype="bfloat16", **DECAY_ONLY)
    out = tmp_path / "zero3"
    launch("deepspeed-zero3.yaml", values, out, options=["--num_processes", "2"])
    assert [e["step"] for e in read_lines(out / "eval.jsonl")] == [0, 1, 2]
    saved = weights(out / "checkpoints" / "step-2")
    assert saved.keys() == weights(tiny).keys() and all(v.dtype == torch.bfloat16 for v in saved.values())
    assert main(["eval", "--model", str(out / "checkpoints" / "step-2"), "--benchmarks", "gsm8k", "--data-dir",
                 str(one_problem_benchmarks), "--max-tokens", "4", "--out", str(tmp_path / "eval")]) == 0


def test_a_gathered_state_dict_gives_the_same_model(tiny):
    """What process 0 evaluates under FSDP / ZeRO-3: a plain copy built from the gathered weights."""
    from oneshot_rlvr.train_records import plain_copy, whole_model

    model = load_model(tiny).model
    assert whole_model(None, model) == (model, None)  # one process, unbound: the live model, nothing gathered
    copy = plain_copy(model, {k: v.clone() for k, v in model.state_dict().items()}, torch.device("cpu"))
    assert type(copy) is type(model) and not copy.training and copy.generation_config is model.generation_config
    ids = torch.tensor([[1, 5, 9, 20]])
    with torch.no_grad():
        assert torch.equal(copy(ids).logits, model(ids).logits)
