"""A recipe's trl: block: GRPOConfig fields passed through, checked by name and type; the vllm extra's pin."""

import dataclasses
import importlib
import importlib.metadata
import inspect
import re
from pathlib import Path

import pytest

from oneshot_rlvr import trl_options
from oneshot_rlvr.config import grpo_config_kwargs, load_recipe, parse_override, to_grpo_config
from test_config import error_of, write  # the recipe tests' helpers

ROOT = Path(__file__).resolve().parents[1]
CPU = ROOT / "recipes" / "cpu-smollm2.yaml"

pytest.importorskip("trl", reason="trl is not installed: GRPOConfig's fields are unknown")


def test_a_trl_block_reaches_the_grpo_config(tmp_path):
    path = write(tmp_path, f"""\
        inherit: {CPU}
        trl:
          log_completions: true
          num_iterations: 2
          adam_epsilon: 1e-8
        """)
    recipe = load_recipe(path)
    assert recipe.trl == {"log_completions": True, "num_iterations": 2, "adam_epsilon": 1e-8}  # 1e-8: PyYAML text
    cfg = to_grpo_config(recipe, str(tmp_path / "o"))
    assert (cfg.log_completions, cfg.num_iterations, cfg.adam_epsilon) == (True, 2, 1e-8)
    assert cfg.beta == recipe.kl_coef and cfg.num_generations == recipe.rollouts  # the recipe's own mapping stays
    assert load_recipe(None, recipe.to_dict()) == recipe and hash(recipe) == hash(load_recipe(path))


def test_set_trl_name_is_read_as_yaml_and_adds_to_the_file(tmp_path):
    path = write(tmp_path, f"inherit: {CPU}\ntrl: {{log_completions: true}}\n")
    recipe = load_recipe(path, dict(parse_override(text) for text in ["trl.num_iterations=2",
                                                                      "trl.steps-per-generation=1"]))
    assert recipe.trl == {"log_completions": True, "num_iterations": 2, "steps_per_generation": 1}
    cfg = to_grpo_config(recipe, str(tmp_path / "o"))
    assert (cfg.num_iterations, cfg.steps_per_generation) == (2, 1)  # trl wins over the derived ones
    assert cfg.gradient_accumulation_steps == 2 and cfg.generation_batch_size == 4  # rollouts each micro-step
    typed = load_recipe(path, {"trl.num_iterations": 2, "trl": {"scale_rewards": "none"}})
    assert typed.trl == {"log_completions": True, "num_iterations": 2, "scale_rewards": "none"}


def test_inherited_entries_merge_and_own_ones_win(tmp_path):
    write(tmp_path, "trl:\n  num_iterations: 2\n  log_completions: true\n", "base.yaml")
    recipe = load_recipe(write(tmp_path, "inherit: base.yaml\ntrl:\n  num_iterations: 3\n"))
    assert recipe.trl == {"num_iterations": 3, "log_completions": True}


def test_generation_batch_size_replaces_the_derived_steps_per_generation(tmp_path):
    recipe = load_recipe(CPU, {"trl.generation_batch_size": "4"})
    assert "steps_per_generation" not in grpo_config_kwargs(recipe, "o")
    assert to_grpo_config(recipe, str(tmp_path)).steps_per_generation == 1


@pytest.mark.parametrize("override", ["trl.steps_per_generation=4", "trl.generation_batch_size=16"])
def test_a_generation_batch_larger_than_the_train_set_is_refused(override):
    """The train set holds prompts_per_step rows: TRL's sampler would yield no batch and train no step."""
    recipe = load_recipe(CPU, dict([parse_override(override)]))
    message = error_of(grpo_config_kwargs, recipe, "o")
    assert message.startswith("trl: a generation batch of 4 prompts is more than the 2 rows of the train set")


def test_an_unknown_name_is_one_line_with_the_nearest_name(tmp_path):
    path = write(tmp_path, "steps: 3\ntrl:\n  log_completions: true\n  num_iteration: 2\n")
    message = error_of(load_recipe, path)
    assert message.startswith(f"{path} line 4: trl.num_iteration is not a GRPOConfig field")
    assert "did you mean 'num_iterations'?" in message
    message = error_of(load_recipe, None, dict([parse_override("trl.log_completion=true")]))
    assert message.startswith("override trl.log_completion=true: ") and "'log_completions'" in message
    assert "see trl.GRPOConfig" in error_of(load_recipe, None, {"trl.zzzzqqq": 1})


@pytest.mark.parametrize("name, recipe_key", [("beta", "kl_coef"), ("num_generations", "rollouts"),
                                              ("epsilon", "clip_ratio"), ("max_steps", "steps"),
                                              ("loss_type", "loss_aggregation"), ("activation_checkpointing",
                                                                                  "gradient_checkpointing")])
def test_a_field_the_recipe_owns_is_refused_with_the_recipe_key(tmp_path, name, recipe_key):
    path = write(tmp_path, f"trl:\n  {name}: 1\n")
    assert error_of(load_recipe, path) == f"{path} line 2: trl.{name} is the recipe's {recipe_key}; set " \
                                          f"{recipe_key} instead"


@pytest.mark.parametrize("name", sorted(trl_options.TRAIN_STAGE))
def test_the_train_stages_own_fields_are_refused_saying_why(name):
    message = error_of(load_recipe, None, {f"trl.{name}": "x"})
    assert f"trl.{name} cannot be set: {trl_options.TRAIN_STAGE[name]}" in message


@pytest.mark.parametrize("text, words", [
    ("trl.num_iterations=two", ["trl.num_iterations must be int", "'two' (str)"]),
    ("trl.log_completions=3", ["trl.log_completions must be bool", "3 (int)"]),
    ("trl.epsilon_high=[1]", ["trl.epsilon_high must be float | None", "[1] (list)"]),
    ("trl.num_iterations=", ["trl.num_iterations must be int", "None"]),
    ("trl.num_iterations=[1", ["not valid YAML"]),
    ("trl=3", ["trl must be a mapping"]),
])
def test_a_bad_value_is_one_line(text, words):
    message = error_of(load_recipe, None, dict([parse_override(text)]))
    assert message.startswith(f"override {text}: ")
    for word in words:
        assert word in message


def test_trls_own_checks_are_one_line(tmp_path):
    recipe = load_recipe(CPU, {"trl.generation_batch_size": 6})
    message = error_of(to_grpo_config, recipe, str(tmp_path))
    assert "TRL rejected" in message and "generation_batch_size (6)" in message and "trl: block" in message


def test_the_mapping_covers_every_field_grpo_config_kwargs_sets():
    """RECIPE_TO_TRL, TRAIN_STAGE and ADJUSTABLE name every GRPOConfig field the recipe maps, once."""
    recipe = dataclasses.replace(load_recipe(ROOT / "recipes" / "paper-qwen2.5-math-1.5b.yaml"), use_vllm=True)
    mapped = set(grpo_config_kwargs(recipe, "o", device="cuda"))
    groups = [set(trl_options.OWNED), set(trl_options.TRAIN_STAGE), set(trl_options.ADJUSTABLE)]
    assert mapped <= set().union(*groups) and sum(map(len, groups)) == len(set().union(*groups))
    fields = set(trl_options.grpo_fields())
    assert set().union(*groups) <= fields, set().union(*groups) - fields  # every name is TRL's
    recipe_fields = {f.name for f in dataclasses.fields(recipe)}
    assert set(trl_options.RECIPE_TO_TRL) <= recipe_fields


def test_readme_table_is_the_mapping():
    assert trl_options.readme_table() in (ROOT / "docs" / "training.md").read_text(encoding="utf-8")


def test_the_vllm_extra_is_trls_own_range():
    """pyproject's vllm extra = TRL's (its metadata) = the range trl/import_utils.py warns outside of."""
    from packaging.specifiers import SpecifierSet

    ours = re.search(r'^vllm = \["vllm([^"]*)"\]', (ROOT / "pyproject.toml").read_text(), re.MULTILINE).group(1)
    theirs = next(r.split(";")[0].strip()[len("vllm"):] for r in importlib.metadata.requires("trl")
                  if r.startswith("vllm") and 'extra == "vllm"' in r)
    assert SpecifierSet(ours) == SpecifierSet(theirs)
    source = inspect.getsource(importlib.import_module("trl.import_utils").is_vllm_available)
    low, high = re.search(r'Version\("([\d.]+)"\) <= _vllm_base_version <= Version\("([\d.]+)"\)', source).groups()
    assert SpecifierSet(ours) == SpecifierSet(f">={low},<={high}")


def test_vllm_knobs_named_in_the_readme_are_grpo_config_fields():
    readme = (ROOT / "docs" / "training.md").read_text(encoding="utf-8")
    named = set(re.findall(r"trl\.(vllm_\w+)", readme))
    assert {"vllm_gpu_memory_utilization", "vllm_tensor_parallel_size", "vllm_enable_sleep_mode"} <= named
    assert named <= set(trl_options.grpo_fields())
