"""Training step time: ``oneshot-rlvr train`` against plain TRL ``GRPOTrainer`` and a hand-written GRPO step.

    python benchmarks/train_step.py [--model smollm2-135m] [--steps 5] [--rollouts 8] [--max-tokens 160] [--json OUT]

Same model, prompt (DSR-sub example 124, the paper's π1, in the DeepScaleR template), group of ``--rollouts``
completions, response cap, seed and coefficients (lr 1e-6, KL 0.001, entropy 0.001, temperature 0.6, one
optimizer step per rollout batch); each variant in its own process, one after another, in one run:
- ``oneshot-rlvr train``: ``run_training`` with the cpu-smollm2 recipe scaled to the settings above;
- ``oneshot-rlvr train (TRL rollouts)``: the same with ``rollout_backend: trl`` (TRL's ``model.generate``);
- ``TRL defaults``: ``GRPOTrainer`` with only the settings above set, every other GRPOConfig field TRL's
  default (on this CPU: bf16 autocast, gradient checkpointing, padded ``model.generate``);
- ``hand-written``: ``model.generate`` n samples, reward, group-normalise, one forward/backward with the
  k3 KL to a frozen copy and the entropy bonus, AdamW.
Step time: wall time of each optimizer step (generation included); the figure is the median over steps
2..N (step 1 warms up) of every round. Completion lengths differ between variants (sampling), so tokens are
reported too. This 2-core machine's speed drifts by 10–40 % over minutes (the same greedy generation took
19 s, then 26 s, in one process), so ``--rounds 2`` (the default) runs the variants forward, then in reverse
order: a variant that runs early in one round runs late in the other.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_POOL = REPO.parent / "shared" / "data" / "train" / "dsr_sub.parquet"
VARIANTS = ("oneshot-rlvr train", "oneshot-rlvr train (TRL rollouts)", "TRL defaults", "hand-written")
BASELINE = "TRL defaults"


def recipe_for(args, rollout_backend: str = "hf"):
    from oneshot_rlvr.config import load_recipe

    completions = args.prompts * args.rollouts
    return load_recipe(args.recipe, {
        "model": args.model, "data": args.data, "examples": args.example, "prompts_per_step": args.prompts,
        "rollouts": args.rollouts, "micro_batch_size": completions, "max_response_tokens": args.max_tokens,
        "steps": args.steps, "eval_every": 0, "save_every": 0, "seed": args.seed, "dtype": "float32",
        "rollout_backend": rollout_backend})


def step_timer():
    from transformers import TrainerCallback

    class StepTimer(TrainerCallback):
        def __init__(self):
            self.seconds, self.tokens, self._start = [], [], 0.0

        def on_step_begin(self, args, state, control, **kwargs):
            self._start = time.perf_counter()

        def on_step_end(self, args, state, control, **kwargs):
            self.seconds.append(time.perf_counter() - self._start)

        def on_log(self, args, state, control, logs=None, **kwargs):
            if logs and "completions/mean_length" in logs:  # mean over the step's completions (one process)
                self.tokens.append(logs["completions/mean_length"] * args.per_device_train_batch_size
                                   * args.gradient_accumulation_steps)

    return StepTimer()


def run_ours(args, rollout_backend: str) -> dict:
    from oneshot_rlvr.train import run_training

    timer = step_timer()
    with tempfile.TemporaryDirectory() as out:
        run_training(recipe_for(args, rollout_backend), Path(out) / "run", callbacks=[timer])
    return {"seconds": timer.seconds, "tokens": timer.tokens}


def run_trl_defaults(args) -> dict:
    from trl import GRPOConfig, GRPOTrainer

    from oneshot_rlvr.models import ensure_embedded, EMBEDDED_MODELS, load_model
    from oneshot_rlvr.rewards import make_reward
    from oneshot_rlvr.train import training_dataset, training_examples

    recipe = recipe_for(args)
    path = str(ensure_embedded(args.model)) if args.model in EMBEDDED_MODELS else args.model
    loaded = load_model(path, device="cpu", dtype="float32")
    dataset, _ = training_dataset(recipe, training_examples(recipe), loaded.tokenizer)
    timer = step_timer()
    with tempfile.TemporaryDirectory() as out:
        config = GRPOConfig(output_dir=out, use_cpu=True, num_generations=args.rollouts,
                            per_device_train_batch_size=args.prompts * args.rollouts, max_completion_length=args.max_tokens,
                            learning_rate=recipe.learning_rate, beta=recipe.kl_coef, entropy_coef=recipe.entropy_coef,
                            temperature=recipe.temperature, max_steps=args.steps, logging_steps=1, seed=args.seed,
                            save_strategy="no", report_to="none")
        trainer = GRPOTrainer(model=loaded.model, reward_funcs=[make_reward("outcome")], args=config,
                              train_dataset=dataset, processing_class=loaded.tokenizer, callbacks=[timer])
        trainer.train()
    return {"seconds": timer.seconds, "tokens": timer.tokens,
            "settings": {"bf16": config.bf16, "gradient_checkpointing": config.gradient_checkpointing}}


def run_hand_written(args) -> dict:
    """Generate n, reward, group-normalise, one backward (the textbook GRPO step, on-policy: ratio 1)."""
    import copy

    import torch

    from oneshot_rlvr.data.prompts import get_template, render_prompt
    from oneshot_rlvr.models import load_model
    from oneshot_rlvr.rewards import make_reward
    from oneshot_rlvr.train import training_examples

    recipe = recipe_for(args)
    torch.manual_seed(args.seed)
    loaded = load_model(args.model, device="cpu", dtype="float32")
    model, tokenizer = loaded.model, loaded.tokenizer
    reference = copy.deepcopy(model).eval()
    model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=recipe.learning_rate, weight_decay=recipe.weight_decay)
    example = training_examples(recipe)[0]
    template = get_template(recipe.template)
    prompt = render_prompt(tokenizer, template, example.problem)
    prompt_ids = torch.tensor([tokenizer(prompt, add_special_tokens=not template.chat)["input_ids"]]  # as TRL does
                              * (args.prompts * args.rollouts))  # (G, P): the example's copies × rollouts
    reward = make_reward("outcome")
    seconds, tokens = [], []
    for _ in range(args.steps):
        start = time.perf_counter()
        with torch.no_grad():
            sequences = model.generate(prompt_ids, attention_mask=torch.ones_like(prompt_ids), do_sample=True,
                                       temperature=recipe.temperature, top_k=0, max_new_tokens=args.max_tokens,
                                       pad_token_id=tokenizer.pad_token_id)  # (G, P + T)
        completion = sequences[:, prompt_ids.shape[1]:]  # (G, T)
        is_eos = completion == tokenizer.eos_token_id
        first_eos = torch.where(is_eos.any(1), is_eos.int().argmax(1), completion.shape[1])  # (G,)
        mask = (torch.arange(completion.shape[1])[None] <= first_eos[:, None]).float()  # (G, T): up to EOS
        texts = tokenizer.batch_decode(completion, skip_special_tokens=True)
        rewards = torch.tensor(reward(prompts=[prompt] * len(texts), completions=texts,
                                      answer=[example.answer] * len(texts)))  # (G,)
        groups = rewards.view(args.prompts, args.rollouts)  # one group per copy of the example
        advantages = ((groups - groups.mean(1, keepdim=True)) / (groups.std(1, keepdim=True) + 1e-4)).view(-1)  # (G,)

        def token_logps(net):
            logits = net(sequences, attention_mask=torch.ones_like(sequences)).logits  # (G, P + T, V)
            logits = logits[:, prompt_ids.shape[1] - 1 : -1] / recipe.temperature  # (G, T, V)
            logps = torch.log_softmax(logits, dim=-1)
            return logps.gather(-1, completion[..., None])[..., 0], logps  # (G, T), (G, T, V)

        with torch.no_grad():
            reference_logps, _ = token_logps(reference)
        logps, all_logps = token_logps(model)
        entropy = -(all_logps.exp() * all_logps).sum(-1)  # (G, T)
        ratio = torch.exp(logps - logps.detach())  # 1, with the policy gradient's grad
        delta = reference_logps - logps
        kl = torch.exp(delta) - delta - 1  # k3
        per_token = -ratio * advantages[:, None] + recipe.kl_coef * kl - recipe.entropy_coef * entropy
        loss = (per_token * mask).sum() / mask.sum()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), recipe.max_grad_norm)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        seconds.append(time.perf_counter() - start)
        tokens.append(float(mask.sum()))
    return {"seconds": seconds, "tokens": tokens}


def run_variant(name: str, args) -> dict:
    if name == "oneshot-rlvr train":
        return run_ours(args, "hf")
    if name == "oneshot-rlvr train (TRL rollouts)":
        return run_ours(args, "trl")
    if name == "TRL defaults":
        return run_trl_defaults(args)
    return run_hand_written(args)


def run_in_process(name: str, args) -> dict:
    """One variant in a fresh process (nothing shared between variants): ``{"seconds": [...], "tokens": [...]}``."""
    command = [sys.executable, __file__, "--variant", name, "--model", args.model, "--data", args.data,
               "--recipe", args.recipe, "--prompts", str(args.prompts),
               "--example", args.example, "--steps", str(args.steps), "--rollouts", str(args.rollouts),
               "--max-tokens", str(args.max_tokens), "--seed", str(args.seed)]
    done = subprocess.run(command, capture_output=True, text=True, env={**os.environ, "TRL_EXPERIMENTAL_SILENCE": "1"})
    result = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    if done.returncode or not result:
        sys.exit(f"variant {name!r} failed:\n{done.stderr[-3000:]}")
    return json.loads(result[-1][len("RESULT "):])


def summarise(results: dict) -> dict:
    """``results``: variant → list of rounds, each ``{"seconds": [...], "tokens": [...]}``."""
    rows = {}
    for name, rounds in results.items():
        timed = [s for r in rounds for s in (r["seconds"][1:] or r["seconds"])]  # each round's step 1 warms up
        tokens = [t for r in rounds for t in r["tokens"]]
        rows[name] = {"median_step_s": statistics.median(timed), "mean_step_s": statistics.fmean(timed),
                      "steps": sum(len(r["seconds"]) for r in rounds), "rounds": rounds,
                      "completion_tokens_per_step": statistics.fmean(tokens) if tokens else None}
    base = rows.get(BASELINE)
    for row in rows.values():
        row["speedup_vs_trl_defaults"] = base["median_step_s"] / row["median_step_s"] if base else None
    return rows


def table(rows: dict) -> str:
    lines = ["| variant | median step (s) | completion tokens / step | speed-up vs TRL defaults |", "|---|---:|---:|---:|"]
    for name, row in rows.items():
        tokens = f"{row['completion_tokens_per_step']:.0f}" if row["completion_tokens_per_step"] else "-"
        lines.append(f"| {name} | {row['median_step_s']:.2f} | {tokens} | {row['speedup_vs_trl_defaults']:.2f}× |")
    return "\n".join(lines)


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="smollm2-135m")
    parser.add_argument("--data", default=str(DEFAULT_POOL))
    parser.add_argument("--example", default="124")
    parser.add_argument("--recipe", default=str(REPO / "recipes" / "cpu-smollm2.yaml"),
                        help="the recipe whose template and coefficients every variant uses")
    parser.add_argument("--prompts", type=int, default=1, help="copies of the example per step")
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--rollouts", type=int, default=8)
    parser.add_argument("--max-tokens", type=int, default=160)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--rounds", type=int, default=2, help="runs of every variant, in alternating order")
    parser.add_argument("--variant", help=argparse.SUPPRESS)  # internal: run one variant, print its JSON
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args(argv)
    if args.variant:
        print("RESULT " + json.dumps(run_variant(args.variant, args)), flush=True)
        return {}
    if not Path(args.data).is_file():
        sys.exit(f"no training pool at {args.data}: pass --data (the DSR-sub parquet of ../shared/data/train)")
    names = args.variants.split(",")
    results = {name: [] for name in names}
    for round_index in range(args.rounds):
        for name in names if round_index % 2 == 0 else names[::-1]:
            results[name].append(run_in_process(name, args))
            print(f"round {round_index + 1}, {name}: steps {[round(s, 2) for s in results[name][-1]['seconds']]}",
                  file=sys.stderr)
    rows = summarise(results)
    print(table(rows))
    figures = {"model": args.model, "recipe": args.recipe, "example": args.example, "prompts": args.prompts,
               "rollouts": args.rollouts, "max_tokens": args.max_tokens,
               "steps": args.steps, "rounds": args.rounds, "threads": os.cpu_count(), "variants": rows}
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    return figures


if __name__ == "__main__":
    main()
