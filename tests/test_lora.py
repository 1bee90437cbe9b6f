"""LoRA (lora.py): the peft block, the merged weights, and training with TRL's peft_config."""

from __future__ import annotations

import json

import pytest
import torch

pytest.importorskip("peft", reason="LoRA needs peft (pip install 'oneshot-rlvr[lora]')")

from oneshot_rlvr.lora import LORA_DEFAULTS, check_peft_block, lora_config  # noqa: E402
from oneshot_rlvr.cli import main  # noqa: E402
from oneshot_rlvr.config import load_recipe  # noqa: E402
from oneshot_rlvr.models import load_model  # noqa: E402
from oneshot_rlvr.train import run_training  # noqa: E402
from oneshot_rlvr.train_records import save_checkpoint  # noqa: E402


@pytest.mark.parametrize("block, expected", [
    ({}, {}),
    (None, {}),
    ({"rank": 8}, {**LORA_DEFAULTS, "rank": 8, "alpha": 32.0}),
    ({"target_modules": "q_proj, v_proj"}, {**LORA_DEFAULTS, "target_modules": ["q_proj", "v_proj"]}),
    ({"alpha": 16, "dropout": 0, "save_merged": True}, {**LORA_DEFAULTS, "alpha": 16.0, "dropout": 0.0,
                                                        "save_merged": True}),
])
def test_peft_block(block, expected):
    assert check_peft_block(block) == expected


@pytest.mark.parametrize("block, message", [
    ({"rnak": 8}, "peft has unknown key 'rnak'; did you mean 'rank'?"),
    ({"rank": 0}, "peft.rank is 0"),
    ({"rank": 2.5}, "peft.rank is 2.5"),
    ({"alpha": -1}, "peft.alpha is -1"),
    ({"dropout": 1.0}, "peft.dropout is 1.0"),
    ({"target_modules": []}, "peft.target_modules is []"),
    ({"save_merged": "yes"}, "peft.save_merged is 'yes'"),
    ([8], "peft must be a mapping"),
])
def test_bad_peft_block_is_one_line(block, message):
    with pytest.raises(ValueError) as error:
        check_peft_block(block)
    assert message in str(error.value) and "\n" not in str(error.value)


def test_merged_checkpoint_equals_the_adapted_model_and_leaves_it_untouched(tiny, tmp_path):
    from peft import get_peft_model

    loaded = load_model(tiny)
    model = get_peft_model(loaded.model, lora_config(check_peft_block({"rank": 4})))
    for name, parameter in model.named_parameters():
        if "lora_B" in name:  # B starts at zero: give the adapter an effect to merge
            torch.nn.init.normal_(parameter, std=0.5)
    model.eval()
    tokens = torch.randint(0, 300, (1, 12), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        adapted = model(tokens).logits
        with model.disable_adapter():
            base = model(tokens).logits
    before = {k: v.clone() for k, v in model.state_dict().items()}
    save_checkpoint(model, loaded.tokenizer, tmp_path, 1, torch.float32, keep=0, save_merged=True)
    assert (tmp_path / "step-1" / "adapter_model.safetensors").is_file()
    assert json.loads((tmp_path / "step-1" / "adapter_config.json").read_text())["r"] == 4
    merged = load_model(str(tmp_path / "step-1" / "merged")).model
    with torch.no_grad():
        reloaded = merged(tokens).logits
    assert (adapted - base).abs().max() > 0.1  # the adapter matters ...
    torch.testing.assert_close(reloaded, adapted, rtol=1e-4, atol=1e-4)  # ... and the merge carries it
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def lora_recipe(tiny, pool, **changes):
    base = dict(model=tiny, data=pool, examples="1", prompts_per_step=2, rollouts=2, micro_batch_size=2,
                max_prompt_tokens=256, max_response_tokens=6, steps=2, save_every=2, eval_every=0,
                learning_rate=1e-2, dtype="float32", entropy_coef=1.0, temperature=1.0,
                peft={"rank": 4, "target_modules": ["q_proj", "v_proj"], "save_merged": True})
    base.update(changes)
    return load_recipe(None, base)


def test_lora_training_changes_only_the_adapter_and_eval_loads_the_merged_model(
        tiny, pool, one_problem_benchmarks, tmp_path, capsys):
    from safetensors.torch import load_file

    out = run_training(lora_recipe(tiny, pool), tmp_path / "run")
    step = out / "checkpoints" / "step-2"
    adapter = load_file(str(step / "adapter_model.safetensors"))
    assert adapter and all("lora_" in key for key in adapter)  # the checkpoint holds the adapter only
    trained = load_file(str(out / "trainer" / "checkpoint-2" / "adapter_model.safetensors"))
    assert set(trained) == set(adapter)  # TRL's resumable checkpoint: the trainable weights are the adapter
    base = load_model(tiny).model.state_dict()
    merged = load_model(str(step / "merged")).model.state_dict()
    assert set(merged) == set(base)
    targets = [k for k in base if k.endswith(("q_proj.weight", "v_proj.weight"))]
    assert targets and all(not torch.equal(merged[k], base[k]) for k in targets)  # the adapter, merged in
    assert all(torch.equal(merged[k], base[k]) for k in base if k not in targets)  # nothing else moved
    assert main(["eval", "--model", str(step / "merged"), "--benchmarks", "gsm8k", "--data-dir",
                 str(one_problem_benchmarks), "--max-tokens", "4", "--out", str(tmp_path / "eval")]) == 0
    assert json.loads((tmp_path / "eval" / "summary.json").read_text())["benchmarks"]["gsm8k"]["n"] == 1


def test_lora_resume_continues_with_the_same_next_step(tiny, pool, tmp_path):
    full = run_training(lora_recipe(tiny, pool, save_every=1), tmp_path / "full")
    killed = run_training(lora_recipe(tiny, pool, steps=1, save_every=1), tmp_path / "resumed")
    resumed = run_training(lora_recipe(tiny, pool, save_every=1), killed, resume=True)
    expected = [json.loads(line) for line in (full / "metrics.jsonl").read_text().splitlines()]
    got = [json.loads(line) for line in (resumed / "metrics.jsonl").read_text().splitlines()]
    assert [m["step"] for m in got] == [1, 2]
    for key in ("reward_mean", "entropy", "kl", "tokens"):
        assert got[1][key] == pytest.approx(expected[1][key], rel=1e-5), key
    assert got[1]["kl"] > 0  # the reference is the base: the trained adapter moved away from it


def test_lora_without_peft_installed_is_one_line_before_any_model_loads(pool, tmp_path, capsys, monkeypatch):
    import importlib.util

    import oneshot_rlvr.models as models

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "peft" else real(name, *a))
    monkeypatch.setattr(models, "load_model", lambda *a, **k: pytest.fail("a model was loaded"))
    assert main(["train", "--data", pool, "--examples", "1", "--set", "peft.rank=4", "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "pip install 'oneshot-rlvr[lora]'" in err[0]
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize("variable", ["ACCELERATE_USE_FSDP", "ACCELERATE_USE_DEEPSPEED"])
def test_lora_under_a_sharded_launch_is_refused_in_one_line(variable, pool, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv(variable, "true")
    assert main(["train", "--data", pool, "--examples", "1", "--set", "peft.rank=4", "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "LoRA is not supported under" in err[0] and "DDP" in err[0]


def test_ppo_with_lora_trains_an_adapter_beside_a_full_critic(tiny, pool, tmp_path):
    from safetensors.torch import load_file

    out = run_training(lora_recipe(tiny, pool, algorithm="ppo"), tmp_path / "run")
    metrics = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [m["step"] for m in metrics] == [1, 2] and "value_loss" in metrics[0]
    policy = load_file(str(out / "trainer" / "checkpoint-2" / "adapter_model.safetensors"))
    assert policy and all("lora_" in key for key in policy)
    critic = [p for p in (out / "trainer" / "checkpoint-2" / "critic").rglob("*.safetensors")]
    critic_keys = {key for path in critic for key in load_file(str(path))}
    assert critic_keys and not any("lora_" in key for key in critic_keys)  # the critic: every weight, no adapter
