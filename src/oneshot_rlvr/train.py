"""Stage 2: 1-shot / few-shot RLVR with GRPO, on TRL's ``GRPOTrainer``.

    oneshot-rlvr train --config recipes/cpu-smollm2.yaml --data ../shared/data/train/dsr_sub.parquet \\
        --examples 124 --steps 3 --out runs/t
    accelerate launch --config_file recipes/accelerate/deepspeed-zero2.yaml -m oneshot_rlvr.cli train \\
        --config recipes/paper-qwen2.5-math-1.5b.yaml --data dsr_sub.parquet --examples 124 --out runs/pi1

What is the paper's own here (TRL does the RL): the training set (the chosen example(s) duplicated to fill
every batch, optionally with a wrong label), the reward from the grader, and the records the analysis needs
(``train_records``). Departures from a textbook GRPO run, each the paper's or verl's: one optimizer step per
rollout batch; loss averaged over the tokens of the whole batch; k3 KL as a loss term plus an entropy bonus;
reward ``none`` zeroes every advantage (the "policy-gradient loss off" ablations). Ours, for speed with the
same numerics: ``fast_trainer`` rollouts and shared-prompt forward. ``--algorithm ppo``: ``ppo.PPOTrainer``.
Outputs under ``--out`` (config.yaml, metrics.jsonl, completions.jsonl, history.json, eval.jsonl,
checkpoints/, trainer/): docs/training.md.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import json
import math
import os
import shutil
import sys
from pathlib import Path

from .cliutil import CommandError, check_output_dir, library_errors, lock_output_dir, write_atomically
# the records, checkpoints and held-out evaluation live in train_records; these names stay importable from here
from .train_records import (METRIC_KEYS, HistoryRecorder, _eval_config, boxed,  # noqa: F401
                            held_out_evaluation, load_eval_problems, make_records, save_checkpoint)

HELP = "train with GRPO (or PPO) on one or a few examples (the paper's recipe and its ablations)"


# --- data -------------------------------------------------------------------------------------------

def training_examples(recipe, labels: dict | None = None):
    """The selected examples (wrong label, label noise or incorrect labels applied); errors are CommandErrors
    (before any model loads). ``labels``, when given, receives the labels.json record of replaced golds."""
    from .data.pools import PoolError, load_pool, select_examples, with_wrong_label

    if not recipe.data:
        raise CommandError("no training pool: pass --data POOL (verl parquet, JSONL {id, problem, answer}, "
                           "or a Hub dataset hub:OWNER/NAME[:SPLIT])")
    with library_errors(PoolError):
        # the paper's training files repeat one example 128 times (pi1_r128.parquet): rows sharing an id
        # are kept when identical (conflicting ones are still an error)
        examples = select_examples(load_pool(recipe.data, allow_duplicates=True), recipe.examples)
        if recipe.wrong_label is not None:
            examples = with_wrong_label(examples, recipe.wrong_label)
    if recipe.examples != "all" and len(examples) > recipe.prompts_per_step:
        raise CommandError(f"{len(examples)} examples do not fit in a batch of prompts_per_step="
                           f"{recipe.prompts_per_step}; raise prompts_per_step or choose fewer examples")
    unanswerable = [e.id for e in examples if not e.answer.strip()]  # DSR-sub 265 has an empty gold
    if unanswerable and recipe.examples != "all":
        raise CommandError(f"example(s) {', '.join(unanswerable)} of {recipe.data} have no gold answer; choose others")
    if unanswerable:
        print(f"skipping {len(unanswerable)} example(s) without a gold answer: {', '.join(unanswerable[:5])}",
              file=sys.stderr)
    from .labels import LabelError, recipe_labels

    with library_errors(LabelError):
        examples, record = recipe_labels(recipe, [e for e in examples if e.answer.strip()])
    if labels is not None and record is not None:
        labels.update(record)
    return examples


def training_dataset(recipe, examples, tokenizer):
    """Rows ``{"prompt", "answer", "id"}``: each example in the recipe's template, duplicated to fill a
    batch of ``prompts_per_step`` prompts (the whole pool for ``examples: all``); prompts longer than
    ``max_prompt_tokens`` are dropped, as verl's overlong-prompt filter does."""
    from datasets import Dataset

    from .data.pools import duplicate_to
    from .data.prompts import get_template, render_prompt

    template = get_template(recipe.template)
    fits = {e.id: len(tokenizer(render_prompt(tokenizer, template, e.problem), add_special_tokens=False)["input_ids"])
            <= recipe.max_prompt_tokens for e in examples}
    dropped = sum(not ok for ok in fits.values())
    kept = [e for e in examples if fits[e.id]]
    if kept and recipe.examples != "all":
        kept = duplicate_to(kept, recipe.prompts_per_step)
    rows = [{"prompt": template.messages(e.problem) if template.chat else render_prompt(tokenizer, template, e.problem),
             "answer": e.answer, "id": e.id} for e in kept]
    if not rows:
        raise CommandError(f"every prompt is longer than max_prompt_tokens={recipe.max_prompt_tokens}; raise it")
    return Dataset.from_list(rows), dropped


# --- checks before any model loads -------------------------------------------------------------------

def check_launch(recipe, device: str, world: int) -> None:
    """What this machine or launch cannot run, found now rather than by TRL after the model has loaded."""
    from .config import RecipeError, grpo_config_kwargs

    if world > 1 and not all(os.environ.get(name) for name in ("RANK", "MASTER_ADDR", "MASTER_PORT")):
        raise CommandError(f"WORLD_SIZE={world} but RANK, MASTER_ADDR or MASTER_PORT is not set; start the processes "
                           "with accelerate launch (recipes/accelerate/), or unset WORLD_SIZE to train in one")
    with library_errors(RecipeError):
        grpo_config_kwargs(recipe, "", num_processes=world, device=device)  # vLLM on cpu, a batch that does not split
    sharded = [name for name in ("FSDP", "DEEPSPEED") if os.environ.get(f"ACCELERATE_USE_{name}", "").lower() == "true"]
    if recipe.peft and sharded:  # adapter checkpoints gather nothing yet: not built or tested under sharding
        raise CommandError(f"peft: LoRA is not supported under {sharded[0].replace('DEEPSPEED', 'DeepSpeed')} here; "
                           "launch with DDP (accelerate launch --multi_gpu) or one process: the frozen base is "
                           "small next to full fine-tuning's optimizer states")
    if recipe.peft and importlib.util.find_spec("peft") is None:
        raise CommandError("peft: LoRA needs the peft package, which is not installed; pip install "
                           "'oneshot-rlvr[lora]' (or set peft: {} to train every weight)")
    if recipe.report_to not in ("none", "all"):
        from transformers.integrations.integration_utils import (INTEGRATION_TO_CALLBACK,
                                                                 get_available_reporting_integrations)
        if recipe.report_to not in INTEGRATION_TO_CALLBACK:
            raise CommandError(f"report_to {recipe.report_to!r} is unknown; use none, all or one of "
                               f"{', '.join(INTEGRATION_TO_CALLBACK)}")
        if recipe.report_to not in get_available_reporting_integrations():
            raise CommandError(f"report_to {recipe.report_to}: its package is not installed; install it (e.g. pip "
                               f"install {recipe.report_to}) or use --report-to none")


def _load_policy(recipe, device: str):
    """``(path, LoadedModel)``, a ModelError as bad input; without transformers' "Loading weights" bar (download
    bars stay), so that a bad-input error found with the tokenizer (max_prompt_tokens) is the one stderr line."""
    from transformers.utils import logging

    from .models import EMBEDDED_MODELS, ModelError, ensure_embedded, load_model

    set_hook = getattr(logging, "set_tqdm_hook", None)  # transformers >= 5.x; older ones show the bar
    previous = set_hook(lambda factory, args, kwargs: logging.EmptyTqdm(*args, **kwargs)) if set_hook else None
    try:
        with library_errors(ModelError):
            # a path, not the embedded name: with beta > 0 TRL reloads the reference model from name_or_path
            path = str(ensure_embedded(recipe.model)) if recipe.model in EMBEDDED_MODELS else recipe.model
            return path, load_model(path, device=device, dtype=recipe.dtype)
    finally:
        if set_hook:
            set_hook(previous)


# --- running ----------------------------------------------------------------------------------------

def _last_trainer_checkpoint(folder: Path) -> Path | None:
    """The newest complete TRL checkpoint. TRL writes one in place, file by file; ``history.json`` is written
    (atomically) by ``SaveHistory`` after TRL's save has finished, so a checkpoint without it was cut short."""
    found = [p for p in folder.glob("checkpoint-*") if p.name.split("-")[-1].isdigit()
             and (p / "history.json").is_file() and (p / "trainer_state.json").is_file()]
    return max(found, key=lambda p: int(p.name.split("-")[-1]), default=None)


def _step(line: str) -> float:
    try:
        return json.loads(line)["step"]
    except (ValueError, KeyError, TypeError):  # a line cut by the kill
        return math.inf


def _truncate_log(path: Path, last_step: int) -> None:
    """Drop the lines a killed run wrote after the checkpoint it resumes from, and a line it left cut."""
    if path.is_file():
        lines = [line for line in path.read_text().splitlines(keepends=True)
                 if line.endswith("\n") and _step(line) <= last_step]
        write_atomically(str(path), lines)


def run_training(recipe, out_dir: str | Path, resume: bool = False, callbacks=()) -> Path:
    """Train ``recipe``; returns the output folder. Bad input raises CommandError before any model loads.
    ``callbacks``: extra ``TrainerCallback`` objects (the demo's progress lines and time budget)."""
    import dataclasses

    import torch
    import yaml
    from transformers import TrainerCallback
    from trl import GRPOTrainer

    from .config import RecipeError, to_grpo_config
    from .rewards import make_reward

    out = Path(out_dir)
    check_output_dir(str(out_dir))  # a file, a folder under a file, no permission: before any work
    device = "cuda" if torch.cuda.is_available() else "cpu"
    world = int(os.environ.get("WORLD_SIZE", "1"))
    check_launch(recipe, device, world)
    labels: dict = {}  # the replaced golds (label_noise, reward incorrect), saved as labels.json
    examples = training_examples(recipe, labels)
    eval_problems = load_eval_problems(recipe) if recipe.eval_every else {}
    trainer_dir = out / "trainer"
    checkpoint = _last_trainer_checkpoint(trainer_dir) if resume else None
    if resume and checkpoint is None and not (out / "config.yaml").is_file():
        raise CommandError(f"--resume: no run in {out} (no config.yaml, no checkpoint under {trainer_dir}); run "
                           "without --resume first")
    if resume and checkpoint is None:  # killed before its first complete checkpoint: start over, from step 0
        print(f"--resume: no complete checkpoint under {trainer_dir}; starting {out} again from step 0", file=sys.stderr)
        for name in ("trainer", "checkpoints"):
            shutil.rmtree(out / name, ignore_errors=True)
        for name in ("metrics.jsonl", "eval.jsonl", "completions.jsonl", "history.json"):
            (out / name).unlink(missing_ok=True)
    if not resume and (out / "metrics.jsonl").exists():
        raise CommandError(f"{out} already holds a run; pass --resume to continue it or choose another --out")

    path, loaded = _load_policy(recipe, device)
    base_dtype = getattr(loaded.model.config, "dtype", None) or torch.float32
    if isinstance(base_dtype, str):
        base_dtype = getattr(torch, base_dtype)
    dataset, dropped = training_dataset(recipe, examples, loaded.tokenizer)
    critic = None
    if recipe.algorithm == "ppo":  # before the GRPOConfig, which can switch on DeepSpeed ZeRO-3 loading
        from .ppo import build_critic

        critic = build_critic(path, seed=recipe.seed, gradient_checkpointing=recipe.gradient_checkpointing)
    with library_errors(RecipeError):
        args = to_grpo_config(recipe, str(trainer_dir), num_processes=world, device=device,
                              save_strategy="steps" if recipe.save_every else "no",
                              save_steps=recipe.save_every or 500, save_total_limit=recipe.keep_checkpoints or None,
                              reward_weights=[1.0, 0.0, 0.0])  # the recorder and the boxed monitor only log
    out.mkdir(parents=True, exist_ok=True)  # only now: a run refused as bad input leaves nothing behind
    write_atomically(str(out / "config.yaml"), [yaml.safe_dump(dataclasses.asdict(recipe), sort_keys=False)])
    if labels:
        write_atomically(str(out / "labels.json"), [json.dumps(labels, indent=1) + "\n"])
    recorder = HistoryRecorder(recipe.rollouts)
    if checkpoint is not None:
        saved = checkpoint / "history.json"
        recorder.history = json.loads(saved.read_text()) if saved.is_file() else {}
        step = int(checkpoint.name.split("-")[-1])
        for name in ("metrics.jsonl", "eval.jsonl", "completions.jsonl"):
            _truncate_log(out / name, step)

    class SaveHistory(TrainerCallback):
        def on_save(self, args, state, control, **kwargs):
            if state.is_world_process_zero:
                target = Path(args.output_dir) / f"checkpoint-{state.global_step}" / "history.json"
                write_atomically(str(target), [json.dumps(recorder.history) + "\n"])

    reward = make_reward(recipe.reward, mode=recipe.reward_mode, seed=recipe.seed, rate=recipe.random_reward_rate,
                         rollouts=recipe.rollouts)
    trainer_class, extra = GRPOTrainer, {}
    if critic is not None:
        from .ppo import PPOSettings, PPOTrainer

        trainer_class, extra = PPOTrainer, {"critic": critic, "settings": PPOSettings.from_recipe(recipe)}
    if recipe.rollout_backend == "hf" or recipe.shared_prompt_forward:
        from .fast_trainer import faster

        trainer_class = faster(trainer_class, rollouts=recipe.rollout_backend, shared_prompt=recipe.shared_prompt_forward)
    from .rollout_records import with_rollout_records  # completions.jsonl; the self-certainty reward's scores

    trainer_class = with_rollout_records(trainer_class, samples=out / "completions.jsonl",
                                         self_certainty=recipe.reward == "self-certainty")
    records = make_records(recipe, out, recorder, base_dtype, loaded.tokenizer, eval_problems)
    if recipe.peft:  # LoRA: TRL wraps the policy; its reference is the same model with the adapter off
        from .lora import lora_config

        extra["peft_config"] = lora_config(recipe.peft)
    trainer = trainer_class(model=loaded.model, reward_funcs=[reward, recorder, boxed], args=args, **extra,
                          train_dataset=dataset, processing_class=loaded.tokenizer,
                          callbacks=[records, SaveHistory(), *callbacks])
    records.bind(trainer)  # checkpoints and evaluations gather a sharded model through the trainer's accelerator
    if dropped:
        print(f"dropped {dropped} prompts longer than {recipe.max_prompt_tokens} tokens", file=sys.stderr)
    trainer.train(resume_from_checkpoint=str(checkpoint) if checkpoint else None)
    return out


# --- command line -----------------------------------------------------------------------------------

RECIPE_FLAGS = ("data", "examples", "wrong_label", "model", "steps", "seed", "reward", "algorithm", "report_to")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags; a recipe flag's help, like the epilog's list of every recipe key, is its field's metadata."""
    from .recipe import TrainRecipe, field_type
    from .settings import help_text

    parser.add_argument("--config", help="a recipe YAML (recipes/*.yaml); flags below override it")
    for key in RECIPE_FLAGS:  # the recipe checks the values, with the same messages as for a YAML file
        kind = int if field_type(key) is int else None
        parser.add_argument(f"--{key.replace('_', '-')}", type=kind, help=help_text(TrainRecipe, key, default=False))
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override any recipe key below (repeatable), e.g. --set kl_coef=0; any other "
                        "GRPOConfig field as trl.NAME=VALUE, e.g. --set trl.num_iterations=2")
    parser.add_argument("--out", required=True, help="output folder (metrics.jsonl, history.json, eval.jsonl, "
                        "checkpoints)")
    parser.add_argument("--resume", action="store_true", help="continue from the last checkpoint in --out")
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = "recipe keys (for --config files and --set; docs/recipe.md):\n" + "\n".join(
        f"  {f.name}: {help_text(TrainRecipe, f.name, escape=False)}" for f in dataclasses.fields(TrainRecipe))


def recipe_from_args(args: argparse.Namespace):
    from .config import RecipeError, load_recipe, parse_override

    overrides = {key: getattr(args, key) for key in RECIPE_FLAGS if getattr(args, key, None) is not None}
    with library_errors(RecipeError):
        for item in args.set:
            overrides.update([parse_override(item)])
        recipe = load_recipe(args.config, overrides)
    if args.wrong_label is not None and recipe.wrong_label is None:  # "", " ", null, none, ~ read as no label
        raise CommandError(f"--wrong-label {args.wrong_label!r} gives no label, so the run would train on the true "
                           "one; pass the wrong answer to train against (e.g. --wrong-label 7) or leave the flag out")
    return recipe


def run(args: argparse.Namespace) -> int:
    recipe = recipe_from_args(args)
    lock_output_dir(args.out)  # one run per folder; before run_training, which can write early (--resume)
    out = run_training(recipe, args.out, resume=args.resume)
    print(f"training done: {out}", file=sys.stderr)
    return 0
