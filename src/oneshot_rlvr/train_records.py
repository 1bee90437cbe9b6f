"""The train stage's records: ``metrics.jsonl``, ``history.json``, ``eval.jsonl`` and ``checkpoints/step-N``,
right under one process, DDP, FSDP (v1 and v2) and DeepSpeed ZeRO-3.

Under FSDP and ZeRO-3 no process holds the whole model and every forward pass gathers parameters with
collectives, so neither a checkpoint nor a held-out evaluation can be made by process 0 alone. Here:
- checkpoints: every process calls accelerate's ``get_state_dict`` on the trainer's wrapped model, which
  gathers the full state dict on process 0 (FSDP1/2: full state dict offloaded to CPU; ZeRO-3: the
  engine's consolidated 16-bit weights, which needs ``zero3_save_16bit_model: true`` as in
  ``recipes/accelerate/deepspeed-zero3.yaml``); process 0 writes it in the base model's dtype and the
  others wait at a barrier;
- held-out evaluation: process 0 evaluates a plain copy of the model built from that gathered state dict
  (one process and DDP, whose processes hold whole parameters: the live model), while the others wait
  (why not sharded, and the cost: docs/training.md).
The record files are written by process 0 only.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import asdict
from datetime import timedelta
from pathlib import Path

from .cliutil import CommandError, write_atomically

METRIC_KEYS = {  # metrics.jsonl key ← TRL log key
    "train_accuracy": "rewards/accuracy/mean", "reward_mean": "reward", "reward_std": "reward_std",
    "entropy": "entropy", "kl": "kl", "mean_length": "completions/mean_length",
    "boxed_rate": "rewards/boxed/mean", "clip_ratio": "clip_ratio/region_mean", "step_seconds": "step_time",
    "clip_low": "clip_ratio/low_mean", "clip_high": "clip_ratio/high_mean",  # the two sides of clip_ratio
    "frac_reward_zero_std": "frac_reward_zero_std",  # groups whose rewards are all equal: no signal
    "tokens": "num_tokens", "loss": "loss", "grad_norm": "grad_norm", "learning_rate": "learning_rate",
    "value_loss": "critic/value_loss", "explained_variance": "critic/explained_variance",  # ppo only
    "mean_value": "critic/mean_value",
}
# The others wait for process 0 on a gloo group of their own with this timeout: an evaluation may take longer
# than the training group's (``ddp_timeout``, 30 minutes by default), after which NCCL would end the run.
WAIT_TIMEOUT = timedelta(hours=12)


class HistoryRecorder:
    """A zero-weight reward function that records each example's accuracy per group of rollouts.

    TRL calls reward functions with the generation batch, each prompt repeated ``rollouts`` times in a
    row; the accuracy of a group is the share of its rollouts graded correct (strict: a boxed answer).
    """

    __name__ = "accuracy"

    def __init__(self, rollouts: int, timeout: float = 3.0) -> None:
        from .rewards import make_reward

        self.rollouts, self.history = rollouts, {}
        self._outcome = make_reward("outcome", mode="strict", timeout=timeout)

    def __call__(self, prompts=None, completions=None, **columns) -> list[float]:
        scores = self._outcome(prompts=prompts, completions=completions, **columns)
        ids, all_scores = list(columns["id"]), scores
        import torch.distributed as dist

        if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
            # every process grades its own slice (whole groups); the record needs all of them
            from accelerate.utils import gather_object

            ids, all_scores = gather_object(ids), gather_object(list(scores))
        for start in range(0, len(all_scores), self.rollouts):
            group = all_scores[start : start + self.rollouts]
            self.history.setdefault(str(ids[start]), []).append(sum(group) / len(group))
        return scores


def boxed(prompts=None, completions=None, **columns) -> list[float]:
    from .rewards import format_reward

    return format_reward(prompts=prompts, completions=completions, **columns)


def make_records(recipe, out: Path, recorder: HistoryRecorder, base_dtype, tokenizer, eval_problems: dict):
    """The ``Records`` callback; call its ``bind(trainer)`` once the trainer is built (before ``train``)."""
    from transformers import TrainerCallback

    class Records(TrainerCallback):
        """metrics.jsonl and history.json at each log, eval.jsonl and checkpoints on schedule."""

        trainer = None  # bound after the trainer is built: its accelerator and wrapped model
        _wait_group = None

        def bind(self, trainer) -> None:
            self.trainer = trainer
            if trainer.accelerator.num_processes > 1:  # every process builds the trainer, so every one gets here
                import torch.distributed as dist

                self._wait_group = dist.new_group(backend="gloo", timeout=WAIT_TIMEOUT)

        def on_train_begin(self, args, state, control, model=None, **kwargs):
            if state.global_step == 0 and recipe.eval_every:
                self._save_and_evaluate(state, model, save=False, evaluate=True)

        def on_train_end(self, args, state, control, **kwargs):
            if self._wait_group is not None:  # one gloo group fewer left to tear down at exit
                import torch.distributed as dist

                dist.destroy_process_group(self._wait_group)
                self._wait_group = None

        def on_log(self, args, state, control, logs=None, **kwargs):
            # "loss", not "reward": with trl num_iterations > 1 a step may reuse rollouts and log no reward
            if not state.is_world_process_zero or not logs or "loss" not in logs:
                return
            line = {"step": state.global_step, **{k: logs[v] for k, v in METRIC_KEYS.items() if v in logs}}
            with open(out / "metrics.jsonl", "a", encoding="utf-8") as stream:
                stream.write(json.dumps(line) + "\n")
            write_atomically(str(out / "history.json"), [json.dumps(recorder.history) + "\n"])

        def on_step_end(self, args, state, control, model=None, **kwargs):
            step = state.global_step
            save = bool(recipe.save_every) and step % recipe.save_every == 0
            evaluate = bool(recipe.eval_every) and step % recipe.eval_every == 0
            if save or evaluate:
                self._save_and_evaluate(state, model, save=save, evaluate=evaluate)

        def _save_and_evaluate(self, state, model, *, save: bool, evaluate: bool) -> None:
            """On every process: the weights are gathered by all, used by process 0, the others wait."""
            module, weights = whole_model(self.trainer, model)
            if state.is_world_process_zero:
                if save:
                    save_checkpoint(module, tokenizer, out / "checkpoints", state.global_step, base_dtype,
                                    recipe.keep_checkpoints, state_dict=weights,
                                    save_merged=bool(recipe.peft) and recipe.peft["save_merged"])
                if evaluate:
                    evaluated = (module if weights is None
                                 else plain_copy(module, weights, self.trainer.accelerator.device))
                    line = {"step": state.global_step,
                            **held_out_evaluation(recipe, eval_problems, evaluated, tokenizer)}
                    with open(out / "eval.jsonl", "a", encoding="utf-8") as stream:
                        stream.write(json.dumps(line) + "\n")
            del weights
            if self._wait_group is not None:
                import torch.distributed as dist

                dist.barrier(group=self._wait_group)

    return Records()


# --- the whole model, whatever the engine -------------------------------------------------------------

def is_sharded(accelerator) -> bool:
    """FSDP (v1 or v2) or DeepSpeed ZeRO-3: no process holds whole parameters (TRL's own test)."""
    from trl.distributed import DistributedBackend

    backend = DistributedBackend(accelerator)
    return backend.is_fsdp or backend.is_zero3


def whole_model(trainer, model) -> tuple:
    """``(module, state_dict)``: the unwrapped model (its class and config; under FSDP2 still sharded) and,
    when sharded, its full state dict on process 0 (``None`` otherwise: the module's own weights are whole).
    Every process must call it together (the gathering is a collective)."""
    if trainer is None:  # not bound: one process, the model is whole
        return model, None
    accelerator = trainer.accelerator
    module = accelerator.unwrap_model(trainer.model_wrapped)
    if not is_sharded(accelerator):
        return module, None
    return module, accelerator.get_state_dict(trainer.model_wrapped)


def plain_copy(module, state_dict: dict, device):
    """An unsharded model of ``module``'s class built from a gathered ``state_dict`` (in its dtype), on
    ``device``: process 0 generates with it while the others wait (why: docs/training.md)."""
    import torch
    from torch.distributed.fsdp import FSDPModule
    from transformers import PreTrainedModel

    # FSDP2 swaps the class for a subclass of FSDPModule; load into the model's own class
    cls = next(c for c in type(module).__mro__ if issubclass(c, PreTrainedModel) and not issubclass(c, FSDPModule))
    dtype = next((v.dtype for v in state_dict.values() if v.is_floating_point()), torch.float32)
    copy = cls.from_pretrained(None, config=module.config, state_dict=state_dict, dtype=dtype)
    copy.generation_config = module.generation_config  # the EOS ids the evaluation stops at
    return copy.to(device).eval()


# --- held-out evaluation ------------------------------------------------------------------------------

def _eval_config(recipe):
    from .evaluate import EvalConfig

    return EvalConfig(model=recipe.model, benchmarks=recipe.expanded_benchmarks(), data_dir=recipe.eval_data_dir,
                      template=recipe.eval_template, limit=recipe.eval_limit, max_tokens=recipe.eval_max_tokens,
                      seed=recipe.seed)


def load_eval_problems(recipe) -> dict:
    """The held-out benchmarks, read once before any model loads (a bad path fails early)."""
    from .data.benchmarks import BenchmarkError
    from .evaluate import load_problems

    try:
        return load_problems(_eval_config(recipe))
    except BenchmarkError as error:
        raise CommandError(f"held-out evaluation: {error} (or --set eval_every=0)") from None


def held_out_evaluation(recipe, problems: dict, model, tokenizer) -> dict:
    """``{"benchmarks": {name: {n, strict, lenient, boxed_rate, reflection_rate, mean_length}}, "seconds"}``;
    ``model`` must hold whole parameters (under FSDP / ZeRO-3: ``plain_copy``)."""
    from .evaluate import build_summary, generate_samples, grade_samples
    from .generation import HFBackend

    start = time.monotonic()
    config = _eval_config(recipe)
    was_training = model.training
    model.eval()
    try:
        samples, _ = generate_samples(config, problems, HFBackend(model, tokenizer))
    finally:
        model.train(was_training)
    summary = build_summary(grade_samples(samples), asdict(config))
    keys = ("n", "strict", "lenient", "boxed_rate", "reflection_rate", "mean_length")
    return {"benchmarks": {name: {k: b[k] for k in keys} for name, b in summary["benchmarks"].items()},
            "seconds": time.monotonic() - start}


# --- checkpoints --------------------------------------------------------------------------------------

def save_checkpoint(model, tokenizer, folder: Path, step: int, dtype, keep: int, *, state_dict=None,
                    save_merged: bool = False) -> Path:
    """Model + tokenizer at ``folder/step-N`` in ``dtype`` (the base model's), written whole; keeps the last
    ``keep`` (the paper's pitfall: a bf16 base saved as fp32, or the reverse, changes what is evaluated).
    ``state_dict``: the full weights when ``model`` is sharded (``whole_model``); process 0 only.
    A LoRA model (``lora.py``) writes its adapter, and with ``save_merged`` also ``step-N/merged``."""
    from .lora import MERGED, is_lora_model, merged_state_dict

    folder.mkdir(parents=True, exist_ok=True)
    final, partial = folder / f"step-{step}", folder / f".step-{step}.partial"
    shutil.rmtree(partial, ignore_errors=True)
    if is_lora_model(model):
        model.save_pretrained(partial)  # a PeftModel writes its adapter only
        tokenizer.save_pretrained(partial)
        if save_merged:
            write_model(model.get_base_model(), tokenizer, partial / MERGED, dtype, merged_state_dict(model, dtype))
    else:
        write_model(model, tokenizer, partial, dtype, model.state_dict() if state_dict is None else state_dict)
    shutil.rmtree(final, ignore_errors=True)
    os.replace(partial, final)
    done = sorted((p for p in folder.glob("step-*") if p.name[5:].isdigit()), key=lambda p: int(p.name[5:]))
    for old in (done[: len(done) - keep] if keep else []):  # keep 0 = keep all
        shutil.rmtree(old, ignore_errors=True)
    return final


def write_model(model, tokenizer, folder: Path, dtype, weights: dict) -> None:
    """``weights`` in ``dtype`` with ``model``'s config and the tokenizer, as a folder ``load_model`` reads."""
    state = {k: v.to(dtype) if v.is_floating_point() else v for k, v in weights.items()}
    model.save_pretrained(folder, state_dict=state)
    tokenizer.save_pretrained(folder)
    config_path = folder / "config.json"
    config = json.loads(config_path.read_text())
    config["dtype"] = str(dtype).replace("torch.", "")
    config_path.write_text(json.dumps(config, indent=2))
