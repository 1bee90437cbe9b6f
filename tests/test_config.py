"""Training recipes: loading, overrides, validation, the TRL mapping, and the shipped recipes."""

import dataclasses
import inspect
import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from oneshot_rlvr.config import (RecipeError, TrainRecipe, grpo_config_kwargs, load_recipe, parse_override,
                                 resolve_dtype, to_grpo_config)
from oneshot_rlvr.settings import SOURCES, markdown_table

ROOT = Path(__file__).resolve().parents[1]
RECIPES = ROOT / "recipes"
PAPER = RECIPES / "paper-qwen2.5-math-1.5b.yaml"

# The paper's training setting (Wang et al. 2025, arXiv 2504.20571, and its verl script), field by field.
PAPER_TABLE = {
    "model": "Qwen/Qwen2.5-Math-1.5B", "data": None, "examples": "124", "wrong_label": None,
    "template": "deepscaler", "algorithm": "grpo", "reward": "outcome", "reward_mode": "strict",
    "random_reward_rate": 0.5, "label_noise": 0.0,
    "prompts_per_step": 128, "rollouts": 8, "micro_batch_size": 8, "learning_rate": 1e-6,
    "lr_scheduler": "constant", "warmup_steps": 0, "weight_decay": 0.01, "max_grad_norm": 1.0,
    "temperature": 0.6, "top_p": 1.0, "max_prompt_tokens": 1024, "max_response_tokens": 3072,
    "kl_coef": 0.001, "entropy_coef": 0.001, "clip_ratio": 0.2, "loss_aggregation": "token-mean",
    "critic_learning_rate": 1e-5, "value_clip": 0.5, "gae_gamma": 1.0, "gae_lambda": 1.0, "whiten_advantages": True,
    "steps": 2000, "save_every": 20, "keep_checkpoints": 3, "eval_every": 20, "eval_benchmarks": ("math500",),
    "eval_limit": None, "eval_data_dir": None, "eval_max_tokens": 3072, "eval_template": "qwen25-math-cot",
    "seed": 0, "use_vllm": False, "rollout_backend": "hf", "shared_prompt_forward": True, "vllm_mode": "colocate",
    "dtype": "auto", "report_to": "none",
    "gradient_checkpointing": False, "trl": {}, "peft": {},
}

# What each other recipe changes from the paper recipe, exactly.
DIFFERENCES = {
    "entropy-only.yaml": {"reward": "none"},
    "entropy-min.yaml": {"reward": "none", "entropy_coef": -1.0, "kl_coef": 0.0, "temperature": 0.5,
                         "learning_rate": 2e-5, "prompts_per_step": 8, "steps": 50, "save_every": 10,
                         "eval_every": 10},
    "format-reward.yaml": {"reward": "format"},
    "ttrl-majority.yaml": {"reward": "majority", "reward_mode": "lenient"},
    "no-entropy.yaml": {"entropy_coef": 0.0},
    "pg-only.yaml": {"kl_coef": 0.0, "entropy_coef": 0.0, "weight_decay": 0.0},
    "kl-wd-only.yaml": {"reward": "none", "entropy_coef": 0.0},
    "paper-ppo-qwen2.5-math-1.5b.yaml": {"algorithm": "ppo", "prompts_per_step": 64, "rollouts": 2},
    "paper-qwen2.5-math-1.5b-lora.yaml": {
        "learning_rate": 1e-5, "micro_batch_size": 2, "gradient_checkpointing": True,
        "peft": {"rank": 32, "alpha": 64.0, "dropout": 0.0, "target_modules": "all-linear", "save_merged": True}},
    "cpu-smollm2.yaml": {
        "model": "smollm2-135m", "prompts_per_step": 2, "rollouts": 4, "micro_batch_size": 4,
        "max_prompt_tokens": 512, "max_response_tokens": 128, "steps": 3, "save_every": 3, "eval_every": 3,
        "eval_benchmarks": ("gsm8k",), "eval_limit": 4, "eval_max_tokens": 64,
        "eval_data_dir": "../shared/data/benchmarks",
    },
}
TOY = {
    "template": "toy", "eval_template": "toy", "prompts_per_step": 2, "micro_batch_size": 16, "learning_rate": 4e-05,
    "max_prompt_tokens": 96, "max_response_tokens": 256, "steps": 80, "save_every": 0, "eval_every": 10,
    "eval_benchmarks": ("addsub", "mul", "chain", "compare", "word"), "eval_data_dir": "runs/demo/world/benchmarks",
    "eval_max_tokens": 256, "dtype": "float32",
}
DIFFERENCES["toy-1shot.yaml"] = TOY
DIFFERENCES["toy-ppo.yaml"] = {**TOY, "algorithm": "ppo", "prompts_per_step": 8, "rollouts": 2,
                               "critic_learning_rate": 0.0004}

ALL_RECIPES = sorted(p.name for p in RECIPES.glob("*.yaml"))


@pytest.fixture
def trl():
    """TRL for the tests that build a GRPOConfig (the package's training extra; config.py itself needs no TRL)."""
    return pytest.importorskip("trl", reason="trl is not installed: GRPOConfig cannot be built")


def write(tmp_path: Path, text: str, name: str = "r.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def error_of(call, *args, **kwargs) -> str:
    with pytest.raises(RecipeError) as caught:
        call(*args, **kwargs)
    message = str(caught.value)
    assert "\n" not in message and message.strip() == message, message
    return message


def changed(recipe: TrainRecipe, base: TrainRecipe) -> dict:
    a, b = dataclasses.asdict(recipe), dataclasses.asdict(base)
    return {k: a[k] for k in a if a[k] != b[k]}


# --- the shipped recipes ------------------------------------------------------------------------------

def test_every_recipe_is_listed():
    assert set(ALL_RECIPES) == {PAPER.name, *DIFFERENCES}


def test_paper_recipe_is_the_paper_table():
    recipe = load_recipe(PAPER)
    assert dataclasses.asdict(recipe) == PAPER_TABLE
    assert {f.name for f in dataclasses.fields(TrainRecipe)} == set(PAPER_TABLE)
    assert TrainRecipe() == recipe  # the defaults are the paper too
    text = PAPER.read_text()
    for key in PAPER_TABLE:  # the paper file writes out every field
        assert f"\n{key}:" in text, key


@pytest.mark.parametrize("name", sorted(DIFFERENCES))
def test_other_recipes_differ_from_the_paper_exactly_as_documented(name):
    recipe, paper = load_recipe(RECIPES / name), load_recipe(PAPER)
    assert changed(recipe, paper) == DIFFERENCES[name]
    assert (RECIPES / name).read_text().startswith("#")  # a comment says what differs and why


@pytest.mark.parametrize("name", ALL_RECIPES)
def test_every_recipe_maps_to_a_grpo_config(name, tmp_path, trl):
    recipe = load_recipe(RECIPES / name)
    cfg = to_grpo_config(recipe, str(tmp_path), num_processes=1, device="cpu")
    assert cfg.num_generations == recipe.rollouts
    assert cfg.per_device_train_batch_size == recipe.micro_batch_size
    assert cfg.gradient_accumulation_steps * recipe.micro_batch_size * 1 == recipe.prompts_per_step * recipe.rollouts
    assert cfg.steps_per_generation == cfg.gradient_accumulation_steps and cfg.num_iterations == 1
    assert cfg.generation_batch_size == recipe.prompts_per_step * recipe.rollouts  # one rollout batch per step
    assert cfg.learning_rate == recipe.learning_rate and cfg.lr_scheduler_type == recipe.lr_scheduler
    assert cfg.warmup_steps == recipe.warmup_steps and cfg.weight_decay == recipe.weight_decay
    assert cfg.max_grad_norm == recipe.max_grad_norm and cfg.optim == "adamw_torch_fused"
    assert (cfg.temperature, cfg.top_p, cfg.top_k) == (recipe.temperature, recipe.top_p, 0)
    assert cfg.max_completion_length == recipe.max_response_tokens
    assert cfg.beta == recipe.kl_coef and cfg.use_bias_correction_kl is False
    assert cfg.entropy_coef == recipe.entropy_coef and cfg.epsilon == recipe.clip_ratio
    assert cfg.loss_type == "dapo" and cfg.scale_rewards == "group"
    assert cfg.max_steps == recipe.steps and cfg.seed == recipe.seed
    assert cfg.save_strategy == "no" and cfg.eval_strategy == "no" and cfg.logging_steps == 1
    assert cfg.use_vllm is False and cfg.vllm_mode == recipe.vllm_mode
    assert cfg.bf16 is False and cfg.use_cpu is True
    assert cfg.gradient_checkpointing is recipe.gradient_checkpointing  # on only in the LoRA recipe
    assert cfg.remove_unused_columns is False and cfg.report_to == []


@pytest.mark.parametrize("name,processes", [("paper-qwen2.5-math-1.5b.yaml", 8), ("cpu-smollm2.yaml", 2),
                                            ("pg-only.yaml", 4)])
def test_gradient_accumulation_covers_one_rollout_batch_over_processes(name, processes, tmp_path, trl):
    recipe = load_recipe(RECIPES / name)
    kwargs = grpo_config_kwargs(recipe, str(tmp_path), num_processes=processes, device="cuda")
    steps = kwargs["gradient_accumulation_steps"]
    assert steps * recipe.micro_batch_size * processes == recipe.prompts_per_step * recipe.rollouts
    assert kwargs["steps_per_generation"] == steps
    cfg = to_grpo_config(recipe, str(tmp_path), num_processes=processes, device="cpu")
    assert cfg.gradient_accumulation_steps == steps


def test_cuda_mapping_uses_bf16_only_for_bfloat16(tmp_path, trl):
    paper = load_recipe(PAPER)
    assert grpo_config_kwargs(paper, "o", device="cuda")["bf16"] is True
    assert grpo_config_kwargs(paper, "o", device="cuda")["use_cpu"] is False
    assert grpo_config_kwargs(paper, "o", device="cpu")["bf16"] is False
    fp32 = dataclasses.replace(paper, dtype="float32")
    assert grpo_config_kwargs(fp32, "o", device="cuda")["bf16"] is False
    assert resolve_dtype(paper, "cuda") == "bfloat16" and resolve_dtype(paper, "cpu") == "float32"
    assert resolve_dtype(fp32, "cuda") == "float32"
    assert resolve_dtype(dataclasses.replace(paper, dtype="bfloat16"), "cpu") == "bfloat16"
    vllm = dataclasses.replace(paper, use_vllm=True, vllm_mode="server")
    kwargs = grpo_config_kwargs(vllm, "o", device="cuda")
    assert kwargs["use_vllm"] is True and kwargs["vllm_mode"] == "server"
    assert kwargs["vllm_max_model_length"] == 1024 + 3072
    import torch
    if torch.cuda.is_available():
        assert to_grpo_config(paper, str(tmp_path), device="cuda").bf16 is True
    else:  # a cuda config on a machine without a GPU: TRL refuses, as one RecipeError line
        assert "TRL rejected" in error_of(to_grpo_config, paper, str(tmp_path), device="cuda")


def test_loss_aggregation_and_gradient_checkpointing_map(tmp_path, trl):
    for aggregation, loss_type in [("token-mean", "dapo"), ("seq-mean-token-mean", "grpo"),
                                   ("micro-token-mean", "bnpo")]:
        recipe = load_recipe(RECIPES / "cpu-smollm2.yaml", {"loss_aggregation": aggregation})
        assert grpo_config_kwargs(recipe, "o")["loss_type"] == loss_type
    recipe = load_recipe(RECIPES / "cpu-smollm2.yaml", {"gradient_checkpointing": "true", "report_to": "tensorboard"})
    cfg = to_grpo_config(recipe, str(tmp_path))
    assert cfg.gradient_checkpointing is True and cfg.report_to == ["tensorboard"]


def test_extra_grpo_fields_go_on_top(tmp_path, trl):
    recipe = load_recipe(RECIPES / "cpu-smollm2.yaml")
    cfg = to_grpo_config(recipe, str(tmp_path), save_strategy="steps", save_steps=3, save_total_limit=2,
                         reward_weights=[1.0, 0.0])
    assert (cfg.save_strategy, cfg.save_steps, cfg.save_total_limit, cfg.reward_weights) == ("steps", 3, 2, [1.0, 0.0])
    assert cfg.gradient_accumulation_steps == 2 and cfg.beta == recipe.kl_coef
    with pytest.raises(ValueError):  # why extra exists: a built GRPOConfig cannot be dataclasses.replace'd
        dataclasses.replace(cfg, save_steps=5)
    assert "TRL rejected" in error_of(to_grpo_config, recipe, str(tmp_path), auto_find_batch_size=True)


def test_mapping_errors(tmp_path, monkeypatch):
    paper = load_recipe(PAPER)
    message = error_of(grpo_config_kwargs, paper, "o", num_processes=3)
    assert "micro_batch_size 8 × 3 processes" in message and "1024" in message
    assert "use_vllm" in error_of(grpo_config_kwargs, dataclasses.replace(paper, use_vllm=True), "o", device="cpu")
    assert "device" in error_of(grpo_config_kwargs, paper, "o", device="tpu")
    assert "num_processes" in error_of(grpo_config_kwargs, paper, "o", num_processes=0)
    monkeypatch.setenv("WORLD_SIZE", "2")
    assert "WORLD_SIZE=2" in error_of(to_grpo_config, paper, str(tmp_path), num_processes=1)


def test_docs_document_every_mapped_field():
    kwargs = grpo_config_kwargs(dataclasses.replace(load_recipe(PAPER), use_vllm=True), "o", device="cuda")
    mapping = (ROOT / "docs" / "recipe.md").read_text(encoding="utf-8").split("## How a recipe maps onto")[1]
    for name in set(kwargs) - {"output_dir"}:
        assert name in mapping, name


def test_every_field_has_a_default_help_and_a_source():
    for f in dataclasses.fields(TrainRecipe):
        assert f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING, f.name
        assert len(f.metadata["help"]) > 10, f"{f.name} has no help"
        assert f.metadata["source"] in SOURCES, f.name


def _generated(path, marker):
    text = (ROOT / path).read_text(encoding="utf-8")
    start = text.index(f"<!-- {marker}:")
    return text[text.index("\n", start) + 1: text.index(f"<!-- /{marker} -->")]


def test_the_docs_and_readme_tables_are_the_field_metadata():
    assert _generated("docs/recipe.md", "recipe-fields") == markdown_table(TrainRecipe)
    paper = [f.name for f in dataclasses.fields(TrainRecipe) if f.metadata["source"] == "paper"]
    assert _generated("README.md", "recipe-table") == markdown_table(TrainRecipe, paper)


def test_the_paper_recipe_is_the_paper_fields_defaults():
    """recipes/paper-qwen2.5-math-1.5b.yaml equals the defaults of every field whose source is the paper."""
    paper = load_recipe(PAPER)
    for f in dataclasses.fields(TrainRecipe):
        if f.metadata["source"] == "paper":
            assert getattr(paper, f.name) == getattr(TrainRecipe(), f.name), f.name


def test_train_help_is_the_field_metadata(capsys):
    from oneshot_rlvr import cli

    assert cli.main(["train", "--help"]) == 0
    shown = " ".join(capsys.readouterr().out.split())
    for name in ("steps", "seed", "reward", "algorithm", "model", "kl_coef", "rollouts"):
        assert " ".join(TrainRecipe.__dataclass_fields__[name].metadata["help"].split()) in shown, name


@pytest.mark.parametrize("key, good, bad", [  # each limit at its edges: the one loop reads the metadata
    ("rollouts", [2, 64], [1, 0]),
    ("learning_rate", [1e-9, 1.0], [0.0, -1e-6]),
    ("top_p", [1.0, 1e-3], [0.0, 1.0001]),
    ("clip_ratio", [0.0, 0.999], [1.0, -0.1]),
    ("gae_gamma", [1.0, 0.01], [0.0, 1.01]),
    ("gae_lambda", [0.0, 1.0], [-0.01, 1.01]),
    ("label_noise", [0.0, 1.0], [-0.01, 1.01]),
    ("seed", [0, 2**32 - 1], [-1, 2**32]),
    ("keep_checkpoints", [0, 5], [-1]),
    ("eval_limit", [None, 1], [0]),
    ("algorithm", ["grpo", "ppo"], ["dpo", ""]),
    ("report_to", ["none", "wandb"], ["", "  "]),
])
def test_limits_at_their_edges(key, good, bad):
    for value in good:
        assert getattr(TrainRecipe(**{key: value}), key) == value
    for value in bad:
        assert error_of(TrainRecipe, **{key: value}).startswith(key), (key, value)


def test_recipe_is_frozen_and_typed():
    recipe = TrainRecipe()
    with pytest.raises(dataclasses.FrozenInstanceError):
        recipe.steps = 3
    assert "steps must be a whole number" in error_of(TrainRecipe, steps="3")  # code passes typed values
    assert TrainRecipe(learning_rate=1).learning_rate == 1.0
    assert TrainRecipe(eval_benchmarks=["gsm8k"]).eval_benchmarks == ("gsm8k",)
    assert TrainRecipe(eval_benchmarks=("paper6", "math500", "gsm8k")).expanded_benchmarks() == (
        "math500", "aime24", "amc23", "minerva_math", "olympiadbench", "aime25", "gsm8k")


# --- overrides ----------------------------------------------------------------------------------------

def test_overrides_typed_and_strings():
    base = load_recipe(PAPER)
    typed = load_recipe(PAPER, {"kl_coef": 0, "steps": 5, "use_vllm": True, "eval_benchmarks": ["math500", "gsm8k"],
                                "eval_limit": None, "data": "pool.parquet"})
    strings = load_recipe(PAPER, dict(parse_override(text) for text in [
        "kl_coef=0", "steps=5", "use_vllm=true", "eval_benchmarks=math500,gsm8k", "eval_limit=none",
        "data=pool.parquet"]))
    assert typed == strings
    assert changed(typed, base) == {"kl_coef": 0.0, "steps": 5, "use_vllm": True,
                                    "eval_benchmarks": ("math500", "gsm8k"), "data": "pool.parquet"}
    assert isinstance(typed.kl_coef, float)
    assert load_recipe(PAPER, {"eval_limit": "4"}).eval_limit == 4
    assert load_recipe(PAPER, dict([parse_override("eval-limit=4")])).eval_limit == 4  # dashes as on a CLI
    assert load_recipe(PAPER, {"learning-rate": "2e-6"}).learning_rate == 2e-6
    assert load_recipe(PAPER, {"data": "null", "wrong_label": "7"}).wrong_label == "7"
    assert load_recipe(None, {}) == TrainRecipe()
    assert load_recipe(None, {"examples": 682}).examples == "682"
    recipe = load_recipe(RECIPES / "pg-only.yaml", {"weight_decay": "0.1"})  # overrides beat the file and inherit
    assert (recipe.weight_decay, recipe.kl_coef) == (0.1, 0.0)
    assert load_recipe(None, TrainRecipe().to_dict()) == TrainRecipe()


def test_parse_override():
    assert parse_override("kl_coef=0") == ("kl_coef", "0")
    assert parse_override(" eval_benchmarks = math500,gsm8k ") == ("eval_benchmarks", "math500,gsm8k")
    assert parse_override("wrong_label=a=b") == ("wrong_label", "a=b")
    assert "key=value" in error_of(parse_override, "kl_coef")
    assert "key=value" in error_of(parse_override, "=3")


def test_bad_overrides():
    message = error_of(load_recipe, PAPER, {"kl_coeff": "0"})
    assert "unknown key 'kl_coeff'" in message and "did you mean 'kl_coef'" in message and "override" in message
    message = error_of(load_recipe, None, {"rollouts": "two"})
    assert "rollouts must be a whole number (int)" in message and "'two'" in message
    assert "use_vllm must be true or false" in error_of(load_recipe, None, {"use_vllm": "maybe"})
    assert "steps must be a whole number" in error_of(load_recipe, None, {"steps": None})
    assert "learning_rate" in error_of(load_recipe, None, {"learning_rate": "nan"})


# --- bad files ----------------------------------------------------------------------------------------

def test_unknown_key_names_file_line_and_suggestion(tmp_path):
    path = write(tmp_path, """\
        # a comment
        steps: 5
        entropy_coeff: 0.0
        """)
    message = error_of(load_recipe, path)
    assert f"{path} line 3" in message and "'entropy_coeff'" in message and "did you mean 'entropy_coef'?" in message
    message = error_of(load_recipe, write(tmp_path, "zzzzzz: 1\n"))
    assert "unknown key 'zzzzzz'" in message and "valid keys:" in message


@pytest.mark.parametrize("line,words", [
    ('steps: "many"', ["steps must be a whole number (int)", "'many'"]),
    ("rollouts: 2.5", ["rollouts must be a whole number (int)", "2.5"]),
    ("rollouts: true", ["rollouts must be a whole number (int)", "True"]),
    ("learning_rate: fast", ["learning_rate must be a number (float)", "'fast'"]),
    ("use_vllm: 1", ["use_vllm must be true or false (bool)"]),
    ("model: 5", ["model must be a string (str)"]),
    ("eval_benchmarks: [math500, 3]", ["eval_benchmarks must be a list of names"]),
    ("eval_limit: [1]", ["eval_limit must be a whole number (int) or null"]),
])
def test_wrong_types(tmp_path, line, words):
    path = write(tmp_path, f"seed: 1\n{line}\n")
    message = error_of(load_recipe, path)
    assert f"{path} line 2" in message
    for word in words:
        assert word in message


@pytest.mark.parametrize("overrides,words", [
    ({"rollouts": 1}, ["rollouts is 1", "at least 2"]),
    ({"prompts_per_step": 0}, ["prompts_per_step is 0"]),
    ({"micro_batch_size": 3}, ["micro_batch_size 3 does not divide", "1024", "set micro_batch_size: 2"]),
    ({"prompts_per_step": 3, "rollouts": 3, "micro_batch_size": 2}, ["micro_batch_size 2 does not divide", "9"]),
    ({"micro_batch_size": 0}, ["micro_batch_size is 0"]),
    ({"reward": "accuracy"}, ["reward has unknown value 'accuracy'", "outcome, format, none"]),
    ({"reward_mode": "loose"}, ["reward_mode has unknown value"]),
    ({"algorithm": "ppo", "critic_learning_rate": 0}, ["critic_learning_rate is 0.0", "positive"]),
    ({"algorithm": "ppo", "value_clip": -0.5}, ["value_clip is -0.5", "value_clip > 0"]),
    ({"gae_gamma": 1.5}, ["gae_gamma is 1.5"]),
    ({"gae_lambda": -0.1}, ["gae_lambda is -0.1"]),
    ({"algorithm": "dpo"}, ["algorithm has unknown value 'dpo'"]),
    ({"template": "alpaca"}, ["template has unknown value 'alpaca'", "deepscaler"]),
    ({"eval_template": "x"}, ["eval_template has unknown value"]),
    ({"loss_aggregation": "sum"}, ["loss_aggregation has unknown value 'sum'", "token-mean"]),
    ({"dtype": "float16"}, ["dtype has unknown value 'float16'", "bfloat16"]),
    ({"vllm_mode": "remote"}, ["vllm_mode has unknown value"]),
    ({"lr_scheduler": "cyclic"}, ["lr_scheduler has unknown value"]),
    ({"warmup_steps": 10}, ["warmup_steps is 10", "constant_with_warmup"]),
    ({"learning_rate": 0}, ["learning_rate is 0.0"]),
    ({"temperature": 0}, ["temperature is 0.0"]),
    ({"top_p": 0}, ["top_p is 0.0"]),
    ({"top_p": 1.5}, ["top_p is 1.5"]),
    ({"clip_ratio": -0.1}, ["clip_ratio is -0.1", "0 = off"]),
    ({"clip_ratio": 1}, ["clip_ratio is 1.0"]),
    ({"kl_coef": -0.1}, ["kl_coef is -0.1"]),
    ({"steps": 0}, ["steps is 0"]),
    ({"save_every": -1}, ["save_every is -1", "(0 = off)"]),
    ({"keep_checkpoints": -1}, ["keep_checkpoints is -1", "(0 = keep all)"]),  # 0 keeps every checkpoint
    ({"seed": 2**32}, ["seed is 4294967296", "below 2**32"]),  # numpy refused it only after the model loaded
    ({"eval_every": -20}, ["eval_every is -20"]),
    ({"eval_limit": 0}, ["eval_limit is 0"]),
    ({"max_response_tokens": 0}, ["max_response_tokens is 0"]),
    ({"eval_benchmarks": "math501"}, ["eval_benchmarks has unknown benchmark 'math501'"]),
    ({"eval_benchmarks": []}, ["eval_benchmarks is empty"]),
    ({"examples": "124,,682"}, ["examples '124,,682' is not a list of example ids"]),
    ({"examples": " "}, ["examples is empty"]),
    ({"model": ""}, ["model is empty"]),
    # the spurious / label-free rewards (rewards.py, labels.py)
    ({"reward": "random", "random_reward_rate": 1.5}, ["random_reward_rate is 1.5", "from 0 to 1"]),
    ({"random_reward_rate": -0.1}, ["random_reward_rate is -0.1"]),
    ({"label_noise": 1.01}, ["label_noise is 1.01", "from 0 to 1"]),
    ({"label_noise": 0.3, "reward": "majority"}, ["label_noise is 0.3", "'majority' reads no gold label"]),
    ({"label_noise": 0.3, "reward": "incorrect"}, ["label_noise is 0.3", "reward: incorrect replaces every"]),
    ({"reward": "majority", "rollouts": 1}, ["rollouts is 1"]),
    ({"reward": "incorrect", "wrong_label": "7"}, ["wrong_label and label_noise / reward: incorrect"]),
    ({"label_noise": 0.5, "wrong_label": "7"}, ["wrong_label and label_noise"]),
])
def test_bad_values(tmp_path, overrides, words):
    message = error_of(load_recipe, None, overrides)
    for word in words:
        assert word in message, (word, message)


def test_value_errors_name_the_file_and_line(tmp_path):
    path = write(tmp_path, "inherit: " + str(PAPER) + "\nrollouts: 1\n")
    message = error_of(load_recipe, path)
    assert message.startswith(f"{path} line 2: rollouts is 1")
    path = write(tmp_path, "inherit: " + str(PAPER) + "\nreward: accuracy\n")
    assert f"{path} line 2: reward has unknown value" in error_of(load_recipe, path)
    assert load_recipe(write(tmp_path, "algorithm: ppo\n")).algorithm == "ppo"
    path = write(tmp_path, "algorithm: ppo\nvalue_clip: -1\n")
    assert f"{path} line 2: value_clip is -1.0" in error_of(load_recipe, path)
    assert error_of(load_recipe, PAPER, {"rollouts": 1}).startswith("override rollouts=1")


def test_file_level_errors(tmp_path):
    message = error_of(load_recipe, write(tmp_path, "steps: 5\nsteps: 6\n"))
    assert "line 2: key 'steps' is given twice (first on line 1)" in message
    assert "not valid YAML" in error_of(load_recipe, write(tmp_path, "steps: [5\nseed: 1\n"))
    assert "mapping" in error_of(load_recipe, write(tmp_path, "- steps\n- 5\n"))
    assert "cannot read" in error_of(load_recipe, tmp_path / "missing.yaml")
    write(tmp_path, "inherit: b.yaml\n", "a.yaml")
    write(tmp_path, "inherit: a.yaml\n", "b.yaml")
    assert "loops" in error_of(load_recipe, tmp_path / "a.yaml")
    assert "cannot read" in error_of(load_recipe, write(tmp_path, "inherit: nowhere.yaml\n"))
    assert "inherit must be a recipe file name" in error_of(load_recipe, write(tmp_path, "inherit: 3\n"))
    assert load_recipe(write(tmp_path, "# only comments\n")) == TrainRecipe()


@pytest.mark.parametrize("content, offset", [(b'\xff{"a":1}\n', 0), (b"PAR1\x15\x04\x15\xf2\x8c\x01", 7)])
def test_a_file_that_is_not_text_is_one_line_naming_it(tmp_path, content, offset):
    path = tmp_path / "x.yaml"
    path.write_bytes(content)  # not UTF-8: a damaged recipe, or e.g. a parquet file passed as --config
    assert error_of(load_recipe, path).startswith(f"{path}: not a UTF-8 text file (byte 0x")
    assert f"at offset {offset}" in error_of(load_recipe, path)
    message = error_of(load_recipe, write(tmp_path, f"inherit: {path}\n", "child.yaml"))
    assert message.startswith(f"{path}: not a UTF-8 text file")  # an inherited file is named, not its child


@pytest.mark.parametrize("text", ["", " \n\n"])
def test_an_empty_file_is_refused_at_once(tmp_path, text):
    """Not the paper defaults (which would reach for the Hub): an empty file is a mistake; only comments are not."""
    path = write(tmp_path, text)
    message = error_of(load_recipe, path)
    assert message.startswith(f"{path}: the recipe file is empty") and "key: value" in message
    assert error_of(load_recipe, write(tmp_path, "inherit: r.yaml\n", "child.yaml")).startswith(f"{path}: ")


def test_inherit_order_and_yaml_quirks(tmp_path):
    write(tmp_path, "steps: 7\nseed: 3\n", "base.yaml")
    # own keys win wherever inherit is written; PyYAML reads 1e-6 (no dot) as a string: still a float here
    path = write(tmp_path, "seed: 4\ninherit: base.yaml\nlearning_rate: 1e-6\nexamples: [124, 682]\n")
    recipe = load_recipe(path)
    assert (recipe.steps, recipe.seed, recipe.learning_rate, recipe.examples) == (7, 4, 1e-6, "124,682")
    assert load_recipe(write(tmp_path, "examples: 124\n")).examples == "124"


def test_clip_ratio_zero_switches_clipping_off_and_entropy_coef_may_be_negative(tmp_path, trl):
    off = to_grpo_config(load_recipe(None, {"clip_ratio": 0, "entropy_coef": -1}), str(tmp_path))
    assert off.epsilon == 1e9 and off.epsilon_high is None  # TRL: epsilon_high None = epsilon, a range no ratio leaves
    assert off.entropy_coef == -1.0  # TRL: loss = policy - entropy_coef * H, so this minimises entropy
    assert to_grpo_config(load_recipe(None, {"clip_ratio": 0.2}), str(tmp_path)).epsilon == 0.2


# --- facts about TRL 1.16 the mapping relies on --------------------------------------------------------

def test_trl_facts_the_mapping_relies_on(trl):
    names = {f.name for f in dataclasses.fields(trl.GRPOConfig)}
    assert "max_prompt_length" not in names, "TRL has a prompt limit again: map max_prompt_tokens to it"
    source = inspect.getsource(trl.GRPOTrainer)
    assert "loss = loss - apply_coef * entropy_loss" in source  # positive entropy_coef = bonus, as verl
    assert "torch.exp(ref_per_token_logps - per_token_logps) - (ref_per_token_logps - per_token_logps) - 1" in source
    assert "max_prompt_length" not in source  # no prompt truncation inside the trainer


@pytest.mark.slow
def test_cpu_2proc_accelerate_config_starts_two_gloo_processes(tmp_path, trl):
    script = write(tmp_path, f"""\
        import os
        from oneshot_rlvr.config import load_recipe, to_grpo_config
        recipe = load_recipe({str(RECIPES / 'cpu-smollm2.yaml')!r})
        n = int(os.environ["WORLD_SIZE"])
        cfg = to_grpo_config(recipe, {str(tmp_path)!r}, num_processes=n, device="cpu")
        import torch.distributed as dist
        result = f"RESULT {{n}} {{cfg.world_size}} {{cfg.gradient_accumulation_steps}} {{dist.get_backend()}}"
        with open(os.path.join({str(tmp_path)!r}, "result-" + os.environ["RANK"]), "w") as out:
            out.write(result)  # a file per process: two processes printing to one pipe can interleave
        """, "probe.py")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    with socket.socket() as probe:  # a free port: another job may hold accelerate's default 29500
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    done = subprocess.run([sys.executable, "-m", "accelerate.commands.launch", "--config_file",
                           str(RECIPES / "accelerate" / "cpu-2proc.yaml"), "--main_process_port", str(port),
                           str(script)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    results = [(tmp_path / f"result-{rank}").read_text() if (tmp_path / f"result-{rank}").is_file() else None
               for rank in (0, 1)]
    assert results == ["RESULT 2 2 1 gloo"] * 2, done.stdout[-2000:] + done.stderr[-2000:]


def test_accelerate_configs_load():
    loader = pytest.importorskip("accelerate.commands.config.config_args")
    expected = {"deepspeed-zero2.yaml": ("DEEPSPEED", 8, "bf16"), "deepspeed-zero3.yaml": ("DEEPSPEED", 8, "bf16"),
                "fsdp.yaml": ("FSDP", 8, "bf16"), "cpu-2proc.yaml": ("MULTI_GPU", 2, "no"),
                "cpu-2proc-fsdp.yaml": ("FSDP", 2, "no")}
    assert sorted(p.name for p in (RECIPES / "accelerate").glob("*.yaml")) == sorted(expected)
    for name, (kind, processes, precision) in expected.items():
        cfg = loader.load_config_from_file(str(RECIPES / "accelerate" / name))
        assert (str(cfg.distributed_type).split(".")[-1], cfg.num_processes, str(cfg.mixed_precision)) == (
            kind, processes, precision), name
    assert loader.load_config_from_file(str(RECIPES / "accelerate" / "cpu-2proc.yaml")).use_cpu is True
    assert loader.load_config_from_file(str(RECIPES / "accelerate" / "deepspeed-zero3.yaml")).deepspeed_config[
        "zero_stage"] == 3
