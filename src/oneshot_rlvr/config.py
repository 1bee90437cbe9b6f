"""Reading training recipes (YAML files, ``--set`` overrides) and mapping them onto TRL's ``GRPOConfig``.

``load_recipe(path, overrides)`` reads a YAML file of ``TrainRecipe`` fields (``recipes/*.yaml``), applies
overrides (typed values, or ``"key=value"`` strings through ``parse_override``) and returns a validated
``TrainRecipe`` (recipe.py). A file may start from another with ``inherit: other.yaml`` (relative to the file;
chains allowed); its own keys replace the inherited ones, and ``trl:`` entries add to them one by one
(``trl.NAME=VALUE`` overrides one). Every problem is a ``RecipeError`` naming the key, file and line, raised
before any model loads.

``to_grpo_config(recipe, output_dir, num_processes=, device=)`` builds the ``trl.GRPOConfig``
(``grpo_config_kwargs`` gives the same mapping as a dict without importing TRL). The field-by-field mapping,
why each departs from TRL's defaults, and the TRL facts the train stage relies on: docs/recipe.md.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
from pathlib import Path
from typing import Any

import yaml

from . import trl_options
from .recipe import (ALGORITHMS, DTYPES, FIELD_NAMES, LOSS_TYPES, RecipeError, TrainRecipe, check_split, convert,
                     field_type)

DEVICES = ("cpu", "cuda")

__all__ = [
    "ALGORITHMS", "DTYPES", "LOSS_TYPES", "RecipeError", "TrainRecipe", "grpo_config_kwargs", "load_recipe",
    "parse_override", "resolve_dtype", "to_grpo_config",
]

# --- loading ------------------------------------------------------------------------------------------

def _unknown(key: Any, where: str) -> RecipeError:
    close = difflib.get_close_matches(str(key), FIELD_NAMES, n=1, cutoff=0.6)
    hint = f"did you mean {close[0]!r}?" if close else f"valid keys: {', '.join(FIELD_NAMES)}"
    return RecipeError(f"{where}: unknown key {key!r}; {hint}", key=None)


def _read_file(path: Path, values: dict, origins: dict, chain: tuple[Path, ...]) -> None:
    shown = str(path)
    if path.resolve() in chain:
        raise RecipeError(f"{shown}: inherit loops back to itself ({' -> '.join(map(str, chain))}); remove one inherit")
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise RecipeError(f"{shown}: cannot read the recipe ({error.strerror or error}); check the path") from None
    except UnicodeDecodeError as error:  # e.g. a parquet file passed as the recipe
        raise RecipeError(f"{shown}: not a UTF-8 text file (byte {error.object[error.start]:#04x} at offset "
                          f"{error.start}); a recipe is YAML text, check the path") from None
    if not text.strip():  # a truncated or wrong file (a file of only comments means the defaults)
        raise RecipeError(f"{shown}: the recipe file is empty; write its fields as 'key: value' lines, or start "
                          "from one in recipes/ with 'inherit: <that file>'")
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = f" line {mark.line + 1}" if mark is not None else ""
        raise RecipeError(f"{shown}{line}: not valid YAML ({getattr(error, 'problem', None) or error}); "
                          "fix the syntax") from None
    if data is None:  # only comments: the defaults
        return
    if not isinstance(data, dict) or not isinstance(node, yaml.MappingNode):
        raise RecipeError(f"{shown}: a recipe is a mapping of 'key: value' lines, got {type(data).__name__}; "
                          "write one field per line")
    lines: dict[Any, int] = {}
    trl_lines: dict[Any, int] = {}
    for key_node, value_node in node.value:
        key = key_node.value
        if key in lines:
            raise RecipeError(f"{shown} line {key_node.start_mark.line + 1}: key {key!r} is given twice (first on "
                              f"line {lines[key]}); keep one")
        lines[key] = key_node.start_mark.line + 1
        if key == "trl" and isinstance(value_node, yaml.MappingNode):
            trl_lines = {k.value: k.start_mark.line + 1 for k, _ in value_node.value}
    own = {}
    for key, value in data.items():
        where = f"{shown} line {lines.get(str(key), '?')}"
        if key == "inherit":
            if not isinstance(value, str) or not value:
                raise RecipeError(f"{where}: inherit must be a recipe file name, got {value!r}; fix it")
            _read_file(path.parent / value, values, origins, chain + (path.resolve(),))
        elif key == "trl":  # entries "trl.NAME", each with its line; added to the inherited ones
            for name, item in trl_options.block(value, where).items():
                own[f"trl.{name}"] = (item, f"{shown} line {trl_lines.get(name, lines['trl'])}")
        elif key not in FIELD_NAMES:
            raise _unknown(key, where)
        else:
            own[key] = (value if key == "peft" else convert(key, value, field_type(key), where=where), where)
    for key, (value, where) in own.items():  # the file's own keys replace inherited ones
        values[key], origins[key] = value, where


def parse_override(text: str) -> tuple[str, str]:
    """``"kl_coef=0"`` -> ``("kl_coef", "0")`` (the value is converted by ``load_recipe``); dashes in keys allowed."""
    key, sep, value = str(text).partition("=")
    key = key.strip().replace("-", "_")
    if not sep or not key:
        raise RecipeError(f"override {text!r} is not key=value; write e.g. kl_coef=0")
    return key, value.strip()


def load_recipe(path: str | os.PathLike | None = None, overrides: dict | None = None) -> TrainRecipe:
    """The recipe in ``path`` (or the defaults) with ``overrides`` applied, validated; RecipeError when bad."""
    values: dict[str, Any] = {}
    origins: dict[str, str] = {}
    if path is not None:
        _read_file(Path(path), values, origins, ())
    for key, value in (overrides or {}).items():
        key = str(key).replace("-", "_")
        where = f"override {key}={value}" if path is None else f"override {key}={value} (on {path})"
        if key == "trl" or key.startswith("trl."):  # text values read as YAML; entries added to the file's
            value = trl_options.parse_value(value, where) if isinstance(value, str) else value
            for name, item in (trl_options.block(value, where) if key == "trl" else {key[4:]: value}).items():
                values[f"trl.{name}"], origins[f"trl.{name}"] = item, where
            continue
        if key == "peft" or key.startswith("peft."):  # text values read as YAML; peft.NAME sets one entry
            value = trl_options.parse_value(value, where) if isinstance(value, str) else value
            value = {**(values.get("peft") or {}), key[5:]: value} if key != "peft" else value
            values["peft"], origins["peft"] = value, where
            continue
        if key not in FIELD_NAMES:
            raise _unknown(key, where)
        values[key], origins[key] = convert(key, value, field_type(key), where=where), where
    trl = {key[4:]: values.pop(key) for key in [k for k in values if k.startswith("trl.")]}
    try:
        return TrainRecipe(**values, trl=trl)
    except RecipeError as error:
        where = origins.get(error.key or "") or (str(path) if path is not None else "defaults")
        raise RecipeError(f"{where}: {error}", key=error.key) from None


# --- TRL mapping --------------------------------------------------------------------------------------

def resolve_dtype(recipe: TrainRecipe, device: str) -> str:
    """The model dtype: ``auto`` is bfloat16 on cuda, float32 on cpu."""
    if recipe.dtype != "auto":
        return recipe.dtype
    return "bfloat16" if device == "cuda" else "float32"


def grpo_config_kwargs(recipe: TrainRecipe, output_dir: str, *, num_processes: int = 1,
                       device: str = "cpu") -> dict[str, Any]:
    """The GRPOConfig keyword arguments for ``recipe`` (the table in docs/recipe.md); RecipeError when the
    batch does not split over ``num_processes`` or the engine does not fit ``device``."""
    if device not in DEVICES:
        raise RecipeError(f"device {device!r} is unknown; use cpu or cuda")
    if not isinstance(num_processes, int) or isinstance(num_processes, bool) or num_processes < 1:
        raise RecipeError(f"num_processes must be a whole number >= 1, got {num_processes!r}")
    check_split(recipe, num_processes)
    if recipe.use_vllm and device == "cpu":
        raise RecipeError("use_vllm: vLLM generation needs a GPU; set use_vllm: false on cpu", key="use_vllm")
    accumulation = recipe.completions_per_step // (recipe.micro_batch_size * num_processes)
    kwargs = dict(
        output_dir=str(output_dir), num_generations=recipe.rollouts,
        per_device_train_batch_size=recipe.micro_batch_size, gradient_accumulation_steps=accumulation,
        steps_per_generation=accumulation, num_iterations=1, learning_rate=recipe.learning_rate,
        lr_scheduler_type=recipe.lr_scheduler, warmup_steps=recipe.warmup_steps, weight_decay=recipe.weight_decay,
        max_grad_norm=recipe.max_grad_norm, optim="adamw_torch_fused", temperature=recipe.temperature,
        top_p=recipe.top_p, top_k=0, max_completion_length=recipe.max_response_tokens, beta=recipe.kl_coef,
        use_bias_correction_kl=False, entropy_coef=recipe.entropy_coef, epsilon=recipe.clip_ratio or 1e9,
        loss_type=LOSS_TYPES[recipe.loss_aggregation], scale_rewards="group", max_steps=recipe.steps,
        save_strategy="no", eval_strategy="no", logging_steps=1, seed=recipe.seed, use_vllm=recipe.use_vllm,
        vllm_mode=recipe.vllm_mode, bf16=device == "cuda" and resolve_dtype(recipe, device) == "bfloat16",
        use_cpu=device == "cpu", gradient_checkpointing=recipe.gradient_checkpointing, report_to=recipe.report_to,
        remove_unused_columns=False,
    )
    if recipe.use_vllm:
        kwargs["vllm_max_model_length"] = recipe.max_prompt_tokens + recipe.max_response_tokens
    return trl_options.on_top(recipe, kwargs)


def to_grpo_config(recipe: TrainRecipe, output_dir: str, *, num_processes: int = 1, device: str = "cpu", **extra):
    """A ``trl.GRPOConfig`` for ``recipe`` (no model is loaded); RecipeError for anything TRL would reject.
    ``extra`` GRPOConfig fields go on top of the mapping (e.g. ``save_strategy``, ``reward_weights``): do not
    ``dataclasses.replace`` a built GRPOConfig, its __post_init__ then rejects the derived generation_batch_size."""
    world = os.environ.get("WORLD_SIZE")
    if world and world.isdigit() and int(world) != num_processes:
        raise RecipeError(f"num_processes is {num_processes} but this launch has WORLD_SIZE={world}; pass the "
                          "launcher's process count, int(os.environ['WORLD_SIZE'])")
    kwargs = {**grpo_config_kwargs(recipe, output_dir, num_processes=num_processes, device=device), **extra}
    from trl import GRPOConfig

    names = {f.name for f in dataclasses.fields(GRPOConfig)}
    if "activation_checkpointing" in names and "activation_checkpointing" not in kwargs:  # transformers 5 name
        kwargs["activation_checkpointing"] = kwargs.pop("gradient_checkpointing")
    try:
        return GRPOConfig(**kwargs)
    except (ValueError, TypeError) as error:
        block = " (or its trl: block)" if recipe.trl else ""
        raise RecipeError(f"TRL rejected the mapped GRPOConfig on {device}: {error}; fix the recipe{block} or run on "
                          "a machine that supports it") from None
