"""A recipe's ``trl:`` block: any other ``trl.GRPOConfig`` field, passed through to the GRPOConfig as given.

    trl:
      log_completions: true
      num_iterations: 2               # PPO-style reuse of each rollout batch: the clipping then acts
      vllm_gpu_memory_utilization: 0.5

and on the command line ``--set trl.num_iterations=2`` (the value read as YAML). A name must be a GRPOConfig
field (TRL 1.16); one the recipe sets itself is refused with the recipe key to use (``RECIPE_TO_TRL``,
also the README's table), and so is one the train stage sets for its own records (``TRAIN_STAGE``). The
recipe's fixed choices (``ADJUSTABLE``) give way to the block. A value must have the field's type.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import math
import types
import typing
from collections.abc import Mapping
from typing import Any

import yaml

# recipe field -> the GRPOConfig fields it sets (config.grpo_config_kwargs; save_steps / save_total_limit in
# train.py); the README's "recipe → TRL" table is made from this dict (tests/test_trl_options.py)
RECIPE_TO_TRL = {
    "rollouts": ("num_generations",),
    "micro_batch_size": ("per_device_train_batch_size",),
    "prompts_per_step": ("gradient_accumulation_steps",),  # × rollouts ÷ (micro_batch_size × processes)
    "learning_rate": ("learning_rate",),
    "lr_scheduler": ("lr_scheduler_type",),
    "warmup_steps": ("warmup_steps",),
    "weight_decay": ("weight_decay",),
    "max_grad_norm": ("max_grad_norm",),
    "temperature": ("temperature",),
    "top_p": ("top_p",),
    "max_response_tokens": ("max_completion_length",),
    "max_prompt_tokens": ("vllm_max_model_length",),  # prompt + response, with vLLM
    "kl_coef": ("beta",),
    "entropy_coef": ("entropy_coef",),
    "clip_ratio": ("epsilon",),
    "loss_aggregation": ("loss_type",),
    "steps": ("max_steps",),
    "seed": ("seed",),
    "use_vllm": ("use_vllm",),
    "vllm_mode": ("vllm_mode",),
    "gradient_checkpointing": ("gradient_checkpointing", "activation_checkpointing"),
    "report_to": ("report_to",),
    "save_every": ("save_steps",),
    "keep_checkpoints": ("save_total_limit",),
}
OWNED = {name: recipe for recipe, names in RECIPE_TO_TRL.items() for name in names}
TRAIN_STAGE = {  # GRPOConfig fields the train stage sets for itself: why a recipe cannot
    "output_dir": "TRL's files go to <--out>/trainer",
    "save_strategy": "the train stage schedules checkpoints from save_every",
    "eval_strategy": "the train stage runs the held-out evaluation itself (eval_every)",
    "logging_steps": "metrics.jsonl needs a log line every step",
    "remove_unused_columns": "the reward functions read the dataset's answer column",
    "reward_weights": "only the recipe's reward trains; the other reward functions only record",
    "use_cpu": "it follows the machine (cuda when there is one)",
    "bf16": "it follows dtype and the machine; set dtype",
}
# the recipe's fixed choices (verl's); a trl: block may change them
ADJUSTABLE = ("num_iterations", "steps_per_generation", "top_k", "optim", "use_bias_correction_kl", "scale_rewards")


@functools.lru_cache(maxsize=None)
def grpo_fields() -> dict[str, Any]:
    """GRPOConfig's constructor fields and their types (imports TRL: only for a recipe with a trl: block)."""
    from trl import GRPOConfig

    hints = typing.get_type_hints(GRPOConfig)
    return {f.name: hints[f.name] for f in dataclasses.fields(GRPOConfig) if f.init}


def checked(options) -> dict[str, Any]:
    """``options`` as a plain dict, names and values checked; RecipeError (key ``trl.NAME``) for the first bad one."""
    from .config import RecipeError

    result = {}
    for name, value in block(options).items():
        key = f"trl.{name}"
        if name in OWNED:
            raise RecipeError(f"{key} is the recipe's {OWNED[name]}; set {OWNED[name]} instead", key=key)
        if name in TRAIN_STAGE:
            raise RecipeError(f"{key} cannot be set: {TRAIN_STAGE[name]}", key=key)
        try:
            fields = grpo_fields()
        except ImportError:
            raise RecipeError(f"{key}: TRL is not installed, so GRPOConfig's fields are unknown; install trl",
                              key=key) from None
        if name not in fields:
            close = difflib.get_close_matches(str(name), fields, n=1, cutoff=0.6)
            advice = f"did you mean {close[0]!r}?" if close else "see trl.GRPOConfig for the names"
            raise RecipeError(f"{key} is not a GRPOConfig field (TRL 1.16); {advice}", key=key)
        kind = fields[name]
        if isinstance(value, str) and not fits(value, kind) and fits(0.0, kind):
            value = _number(value)  # PyYAML reads 1e-6 (no dot) as text
        if not fits(value, kind):
            shown = getattr(kind, "__name__", None) or str(kind).replace("typing.", "")
            raise RecipeError(f"{key} must be {shown}, got {options[name]!r} ({type(options[name]).__name__}); give "
                              "it a value of that type", key=key)
        result[name] = value
    return result


def on_top(recipe, kwargs: dict[str, Any]) -> dict[str, Any]:
    """``kwargs`` (the recipe's mapping) with ``recipe.trl`` on top; RecipeError for a generation batch that
    outgrows the train set (``prompts_per_step`` rows: TRL's sampler would yield no batch and train no step)."""
    from .config import RecipeError

    if "generation_batch_size" in recipe.trl:  # TRL takes it or steps_per_generation, not both
        kwargs = {k: v for k, v in kwargs.items() if k != "steps_per_generation"}
    merged = {**kwargs, **recipe.trl}
    per_step = recipe.completions_per_step // kwargs["gradient_accumulation_steps"]  # completions per micro-step
    generation = merged.get("generation_batch_size") or per_step * (merged.get("steps_per_generation")
                                                                      or kwargs["gradient_accumulation_steps"])
    if generation > recipe.completions_per_step:
        raise RecipeError(f"trl: a generation batch of {generation // recipe.rollouts} prompts is more than the "
                          f"{recipe.prompts_per_step} rows of the train set (prompts_per_step), so TRL would train no "
                          "step; lower trl.steps_per_generation (or generation_batch_size) or raise prompts_per_step",
                          key="trl")
    return merged


def block(value, where: str = "") -> dict[str, Any]:
    """A ``trl:`` value as a dict (null: empty); RecipeError when it is not a mapping."""
    from .config import RecipeError

    if value is None or isinstance(value, Mapping):
        return dict(value or {})
    raise RecipeError(f"{where + ': ' if where else ''}trl must be a mapping of GRPOConfig field: value, got "
                      f"{value!r}; write e.g. trl: {{num_iterations: 2}}", key="trl")


def parse_value(text: str, where: str):
    """A ``--set trl.NAME=VALUE`` value read as YAML (2 an int, true a bool, [a, b] a list)."""
    from .config import RecipeError

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise RecipeError(f"{where}: the value is not valid YAML ({getattr(error, 'problem', None) or error}); "
                          "quote it or fix it") from None


def fits(value, hint) -> bool:
    """``value`` (as YAML gives it) has the type ``hint``; an int passes for a float."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return any(fits(value, arm) for arm in args)
    if origin is typing.Literal:
        return value in args
    if origin in (list, dict):
        return isinstance(value, origin) and (origin is dict or not args or all(fits(v, args[0]) for v in value))
    if hint in (int, float):
        return isinstance(value, (int, float) if hint is float else int) and not isinstance(value, bool)
    return hint is Any or (isinstance(hint, type) and isinstance(value, hint))


def _number(text: str):
    try:
        number = float(text)
    except ValueError:
        return text
    return number if math.isfinite(number) else text


def readme_table() -> str:
    """The README's table of recipe names and the GRPOConfig fields they set."""
    rows = [f"| `{recipe}` | {', '.join(f'`{name}`' for name in names)} |" for recipe, names in RECIPE_TO_TRL.items()]
    return "\n".join(["| recipe | GRPOConfig |", "|---|---|", *rows])
