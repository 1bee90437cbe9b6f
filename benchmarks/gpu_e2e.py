"""GPU end to end: the paper recipe, scaled to minutes, through the real CLI on one GPU with no network.

    python benchmarks/gpu_e2e.py --out $OUT/gpu_e2e.json              # one GPU, ~8 min
    python benchmarks/gpu_e2e.py --smoke --out /tmp/e2e.json          # CPU, tiny shapes, ~2 min

Builds a randomly initialised model of Qwen2.5-Math-1.5B's shape (Qwen2Config below; bf16; nothing is
downloaded) with a stand-in tokenizer (byte-level BPE padded with placeholder tokens to the real 151,936
vocabulary, so every sampled id decodes), a one-problem pool and an 8-problem gsm8k-format benchmark, then
runs, each as its own `oneshot-rlvr` process:

1. ``grpo``: recipes/paper-qwen2.5-math-1.5b.yaml with 16 prompts × 8 rollouts, 512-token responses,
   2 steps, a held-out evaluation and a checkpoint at step 2;
2. ``lora``: recipes/paper-qwen2.5-math-1.5b-lora.yaml, the same scale;
3. ``ppo``: recipes/paper-ppo-qwen2.5-math-1.5b.yaml, the same scale;
4. ``eval``: ``oneshot-rlvr eval`` on the grpo checkpoint and on the lora merged checkpoint.

For each: exit status, wall seconds, step seconds and tokens/s (from metrics.jsonl), peak GPU memory
(``nvidia-smi`` polled every 0.5 s: the whole device, so the allocator's cache included), the files it
wrote, and its last stderr lines. The JSON is rewritten after every run, so a run cut short still
leaves what it had. ``--budget-s`` (default 540) skips the runs that no longer fit.

The GPU machine has torch, transformers, accelerate and peft but not TRL: put pure-Python wheels in
``wheels/`` beside this repository's root first (``pip download --no-deps -d wheels trl==1.16.0``) and
the script installs them with ``--no-deps --no-index`` before anything else.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
T0 = time.monotonic()
# Qwen/Qwen2.5-Math-1.5B's config.json (shapes only)
QWEN_MATH_1_5B = dict(hidden_size=1536, intermediate_size=8960, num_hidden_layers=28, num_attention_heads=12,
                      num_key_value_heads=2, vocab_size=151936, max_position_embeddings=4096, rope_theta=10000.0,
                      tie_word_embeddings=True, rms_norm_eps=1e-6)
SMOKE = dict(QWEN_MATH_1_5B, hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
             num_key_value_heads=2, vocab_size=1024)
SCALE = ["--set", "prompts_per_step=16", "--set", "rollouts=8", "--set", "max_response_tokens=512",
         "--set", "steps=2", "--set", "save_every=2", "--set", "eval_every=2", "--set", "eval_limit=8",
         "--set", "eval_max_tokens=512", "--set", "eval_benchmarks=[gsm8k]"]
SMOKE_SCALE = ["--set", "prompts_per_step=2", "--set", "rollouts=2", "--set", "micro_batch_size=2",
               "--set", "max_response_tokens=8", "--set", "steps=2", "--set", "save_every=2", "--set", "eval_every=2",
               "--set", "eval_limit=2", "--set", "eval_max_tokens=8", "--set", "eval_benchmarks=[gsm8k]",
               "--set", "gradient_checkpointing=false", "--set", "dtype=float32"]


def install_wheels() -> list[str]:
    wheels = sorted(str(p) for p in (REPO / "wheels").glob("*.whl"))
    if wheels:
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index", *wheels],
                       check=True)
    return [Path(w).name for w in wheels]


def build_model(folder: Path, shape: dict, device: str) -> dict:
    """A random model of ``shape`` (bf16 on GPU) and a tokenizer whose size is the model's vocabulary."""
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    from oneshot_rlvr.models import _tiny_tokenizer

    tokenizer = _tiny_tokenizer(384)
    tokenizer.add_tokens([f"<r{i}>" for i in range(shape["vocab_size"] - len(tokenizer))])
    config = Qwen2Config(**shape, eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id,
                         bos_token_id=None)
    dtype = torch.bfloat16 if device == "cuda" else torch.float32
    torch.manual_seed(0)
    with torch.device(device):
        model = Qwen2ForCausalLM(config).to(dtype)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return {"parameters": sum(p.numel() for p in model.parameters()), "dtype": str(dtype)}


def write_data(root: Path) -> tuple[Path, Path]:
    pool = root / "pool.jsonl"
    pool.write_text(json.dumps({"id": 1, "problem": "What is 12 + 30?", "answer": "42"}) + "\n")
    bench = root / "bench" / "gsm8k"
    bench.mkdir(parents=True)
    bench.joinpath("test.jsonl").write_text("".join(
        json.dumps({"question": f"What is {a} + {a}?", "answer": f"#### {2 * a}"}) + "\n" for a in range(1, 9)))
    return pool, bench.parent


class PeakMemory:
    """Peak device memory in MiB from nvidia-smi, polled in a thread (None without a GPU)."""

    def __init__(self) -> None:
        self.peak, self._stop = None, threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def _poll(self) -> None:
        while not self._stop.is_set():
            try:
                used = subprocess.run(["nvidia-smi", "--query-gpu=memory.used", "--format=csv,noheader,nounits"],
                                      capture_output=True, text=True, timeout=5).stdout.split()
                self.peak = max(self.peak or 0, max(int(x) for x in used)) if used else self.peak
            except (OSError, ValueError, subprocess.TimeoutExpired):
                return
            self._stop.wait(0.5)

    def __enter__(self):
        if shutil.which("nvidia-smi"):
            self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()


def run_stage(name: str, argv: list[str], out: Path | None, limit_s: float) -> dict:
    started = time.monotonic()
    with PeakMemory() as memory:
        try:
            done = subprocess.run([sys.executable, "-m", "oneshot_rlvr.cli", *argv], capture_output=True, text=True,
                                  timeout=limit_s, env={**os.environ, "PYTHONPATH": str(REPO / "src")})
            rc, stderr = done.returncode, done.stderr
        except subprocess.TimeoutExpired as timeout:
            rc, stderr = "timeout", (timeout.stderr or b"").decode(errors="replace") if isinstance(
                timeout.stderr, bytes) else (timeout.stderr or "")
    result = {"rc": rc, "wall_s": round(time.monotonic() - started, 1), "peak_gpu_mib": memory.peak,
              "stderr_tail": stderr.strip().splitlines()[-6:]}
    if out is not None and out.is_dir():
        result["files"] = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()
                                 and "trainer" not in p.relative_to(out).parts)
        metrics = out / "metrics.jsonl"
        if metrics.is_file():
            lines = [json.loads(line) for line in metrics.read_text().splitlines()]
            result["steps"] = [{k: line.get(k) for k in ("step", "step_seconds", "tokens", "reward_mean")}
                               for line in lines]
            seconds = sum(line.get("step_seconds") or 0 for line in lines)
            result["tokens_per_s"] = round(sum(line.get("tokens") or 0 for line in lines) / seconds, 1) if seconds else None
    print(f"[{time.monotonic() - T0:6.0f} s] {name}: rc {rc}, {result['wall_s']} s, peak {memory.peak} MiB",
          file=sys.stderr)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="the JSON to write (its folder holds the runs)")
    parser.add_argument("--smoke", action="store_true", help="tiny shapes on CPU: checks the script, not the GPU")
    parser.add_argument("--budget-s", type=float, default=540.0)
    args = parser.parse_args(argv)
    import torch

    device = "cuda" if torch.cuda.is_available() and not args.smoke else "cpu"
    work = args.out.parent / "gpu_e2e_runs"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    report: dict = {"device": torch.cuda.get_device_name(0) if device == "cuda" else "cpu", "smoke": args.smoke,
                    "torch": torch.__version__, "wheels": install_wheels(), "runs": {}}
    import transformers

    report["transformers"] = transformers.__version__
    report["model"] = build_model(work / "model", SMOKE if args.smoke else QWEN_MATH_1_5B, device)
    pool, bench = write_data(work)
    common = ["--model", str(work / "model"), "--data", str(pool), "--examples", "1",
              "--set", f"eval_data_dir={bench}", *(SMOKE_SCALE if args.smoke else SCALE)]
    recipes = REPO / "recipes"
    stages = [
        ("grpo", ["train", "--config", str(recipes / "paper-qwen2.5-math-1.5b.yaml"), *common], work / "grpo"),
        ("lora", ["train", "--config", str(recipes / "paper-qwen2.5-math-1.5b-lora.yaml"), *common], work / "lora"),
        ("ppo", ["train", "--config", str(recipes / "paper-ppo-qwen2.5-math-1.5b.yaml"), *common], work / "ppo"),
    ]
    evals = [("eval_grpo", work / "grpo" / "checkpoints" / "step-2"),
             ("eval_lora_merged", work / "lora" / "checkpoints" / "step-2" / "merged")]
    stages += [(name, ["eval", "--model", str(model), "--benchmarks", "gsm8k", "--data-dir", str(bench),
                       "--max-tokens", "8" if args.smoke else "512", "--out", str(work / name)], work / name)
               for name, model in evals]
    for name, stage_argv, out in stages:
        left = args.budget_s - (time.monotonic() - T0)
        if left < 30:
            report["runs"][name] = {"skipped": f"budget: {left:.0f} s left"}
        else:
            report["runs"][name] = run_stage(name, [*stage_argv, "--out", str(out)] if stage_argv[0] == "train"
                                             else stage_argv, out, left)
        args.out.write_text(json.dumps(report, indent=2) + "\n")
    return 0 if all(run.get("rc") == 0 for run in report["runs"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
