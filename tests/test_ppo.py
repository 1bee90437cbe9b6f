"""PPO with a critic (algorithm: ppo): GAE, whitening, the value loss, the trainer, resume, bad settings."""

import json

import pytest
import torch

pytest.importorskip("trl")

from oneshot_rlvr.config import load_recipe, to_grpo_config  # noqa: E402
from oneshot_rlvr.models import load_model  # noqa: E402
from oneshot_rlvr.ppo import (CRITIC_DIR, PPOSettings, PPOTrainer, build_critic, critic_step,  # noqa: E402
                              critic_values, gae, make_critic_optimizer, masked_whiten, token_rewards, value_loss)
from oneshot_rlvr.train import run_training  # noqa: E402

# fixtures tiny (a saved tiny random model), pool (two problems, ids 1 and 2) and one_problem_benchmarks:
# conftest.py


def recipe(tiny, pool, **changes):
    base = dict(model=tiny, data=pool, examples="1", algorithm="ppo", prompts_per_step=2, rollouts=2,
                micro_batch_size=2, max_prompt_tokens=256, max_response_tokens=6, steps=2, save_every=1,
                keep_checkpoints=2, eval_every=0, learning_rate=1e-3, critic_learning_rate=1e-3, dtype="float32")
    base.update(changes)
    return load_recipe(None, base)


def read_lines(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


# --- the estimator ------------------------------------------------------------------------------------------

def test_reward_sits_on_the_last_valid_token():
    mask = torch.tensor([[1, 1, 1], [1, 1, 0], [0, 0, 0]])
    rewards = token_rewards(torch.tensor([2.0, 3.0, 4.0]), mask)
    assert torch.equal(rewards, torch.tensor([[0.0, 0.0, 2.0], [0.0, 3.0, 0.0], [0.0, 0.0, 0.0]]))


def test_gae_with_gamma_and_lambda_one_returns_the_final_reward_everywhere():
    mask = torch.tensor([[1, 1, 1, 1], [1, 1, 0, 0]])
    values = torch.tensor([[0.3, -0.2, 0.7, 0.1], [0.5, 0.4, 9.0, 9.0]])  # 9.0 on padding: ignored
    advantages, returns = gae(token_rewards(torch.tensor([1.0, -1.0]), mask), values, mask, 1.0, 1.0)
    assert torch.allclose(returns, torch.tensor([[1.0, 1.0, 1.0, 1.0], [-1.0, -1.0, 0.0, 0.0]]))
    assert torch.allclose(advantages, torch.tensor([[0.7, 1.2, 0.3, 0.9], [-1.5, -1.4, 0.0, 0.0]]))


def test_gae_with_discounting_by_hand():
    """γ = λ = 0.5. Row 1: V = (0.5, 0.2, −0.1), reward 1 at t=2:
    δ2 = 1 − (−0.1) = 1.1, A2 = 1.1; δ1 = 0.5·(−0.1) − 0.2 = −0.25, A1 = −0.25 + 0.25·1.1 = 0.025;
    δ0 = 0.5·0.2 − 0.5 = −0.4, A0 = −0.4 + 0.25·0.025 = −0.39375; R = A + V.
    Row 2 (t=2 is padding): V = (0.3, 0.4), reward 1 at t=1: A1 = 1 − 0.4 = 0.6; A0 = 0.5·0.4 − 0.3 + 0.25·0.6 = 0.05."""
    mask = torch.tensor([[1, 1, 1], [1, 1, 0]])
    values = torch.tensor([[0.5, 0.2, -0.1], [0.3, 0.4, 5.0]])
    advantages, returns = gae(token_rewards(torch.tensor([1.0, 1.0]), mask), values, mask, 0.5, 0.5)
    assert torch.allclose(advantages, torch.tensor([[-0.39375, 0.025, 1.1], [0.05, 0.6, 0.0]]))
    assert torch.allclose(returns, torch.tensor([[0.10625, 0.225, 1.0], [0.35, 1.0, 0.0]]))


def test_whitening_uses_valid_tokens_only():
    mask = torch.tensor([[1, 1, 1], [1, 0, 0]])
    x = torch.tensor([[1.0, 2.0, 3.0], [6.0, 100.0, -100.0]])
    valid = torch.tensor([1.0, 2.0, 3.0, 6.0])
    expected = (valid - valid.mean()) / torch.sqrt(valid.var() + 1e-8)  # unbiased, as verl's masked_var
    whitened = masked_whiten(x, mask)
    assert torch.allclose(whitened[mask.bool()], expected)
    assert torch.equal(whitened[~mask.bool()], torch.zeros(2))


def test_value_loss_is_verls_clipped_formula():
    old, returns = torch.tensor([[0.0, 0.0]]), torch.tensor([[1.0, 1.0]])
    values = torch.tensor([[2.0, 0.25]])
    losses, clipped = value_loss(values, old, returns, clip=0.5)
    # token 0: V = 2 clipped to 0.5: max((2−1)², (0.5−1)²) = 1; token 1: inside the clip, (0.25−1)²
    assert torch.allclose(losses, 0.5 * torch.tensor([[1.0, 0.5625]]))
    assert clipped.tolist() == [[False, False]]
    losses, clipped = value_loss(torch.tensor([[1.5]]), torch.tensor([[0.0]]), torch.tensor([[2.0]]), clip=0.5)
    assert torch.allclose(losses, torch.tensor([[0.5 * 1.5 ** 2]])) and clipped.tolist() == [[True]]


# --- the critic ---------------------------------------------------------------------------------------------

def test_value_loss_falls_on_a_fixed_batch(tiny):
    critic = build_critic(tiny, seed=0)
    settings = PPOSettings(critic_learning_rate=2e-4, weight_decay=0.0)
    optimizer = make_critic_optimizer(critic, settings)
    assert optimizer.defaults["fused"] is True  # CPU has the fused kernel
    generator = torch.Generator().manual_seed(0)
    input_ids = torch.randint(3, 100, (4, 9), generator=generator)  # (B, P+T)
    attention_mask = torch.ones_like(input_ids)
    mask = torch.tensor([[1, 1, 1, 1], [1, 1, 1, 0], [1, 1, 0, 0], [1, 1, 1, 1]])  # (B, T)
    returns = torch.tensor([1.0, 0.0, 1.0, 0.0]).unsqueeze(1) * mask  # (B, T)
    losses = []
    for _ in range(6):
        with torch.no_grad():
            values = critic_values(critic, input_ids, attention_mask, 4, micro_batch=2) * mask
        batch = {"input_ids": input_ids, "attention_mask": attention_mask, "values": values, "returns": returns,
                 "mask": mask}
        losses.append(critic_step(critic, optimizer, batch, settings, micro_batch=2)["value_loss"])
    assert all(b < a for a, b in zip(losses, losses[1:])), losses
    assert losses[-1] < 0.2 * losses[0], losses


def test_critic_head_is_seeded_and_leaves_the_global_rng_alone(tiny):
    state = torch.random.get_rng_state()
    a, b = build_critic(tiny, seed=3), build_critic(tiny, seed=3)
    assert torch.equal(torch.random.get_rng_state(), state)
    assert torch.equal(a.score.weight, b.score.weight) and a.score.out_features == 1
    policy = load_model(tiny).model
    assert torch.equal(a.model.embed_tokens.weight, policy.model.embed_tokens.weight)  # backbone = base model


def test_zero_critic_without_whitening_gives_the_reward_at_every_token(tiny, pool, tmp_path):
    """γ = λ = 1, V ≡ 0, no whitening: each completion token's advantage is its completion's reward."""
    from oneshot_rlvr.train import training_dataset, training_examples

    given = []

    def row_reward(completions, **kwargs):  # a different reward per row: -1, 0, 1, -1
        scores = [float(i % 3) - 1.0 for i in range(len(completions))]
        given.extend(scores)
        return scores

    settings = recipe(tiny, pool, whiten_advantages=False, temperature=1.0, max_response_tokens=8)
    loaded = load_model(tiny, device="cpu", dtype="float32")
    critic = build_critic(tiny)
    with torch.no_grad():
        critic.score.weight.zero_()
        critic.score.bias.zero_()
    dataset, _ = training_dataset(settings, training_examples(settings), loaded.tokenizer)
    trainer = PPOTrainer(model=loaded.model, reward_funcs=[row_reward], args=to_grpo_config(settings, str(tmp_path)),
                         train_dataset=dataset, processing_class=loaded.tokenizer, critic=critic,
                         settings=PPOSettings.from_recipe(settings))
    trainer.model.train()
    output = trainer._generate_and_score_completions(next(iter(trainer.get_train_dataloader())))
    mask = output["completion_mask"].bool()
    advantages = output["advantages"]
    assert advantages.shape == mask.shape and len(given) == mask.size(0) == 4
    for row, reward in enumerate(given):
        assert torch.all(advantages[row][mask[row]] == reward), (row, reward, advantages[row])
        assert torch.all(advantages[row][~mask[row]] == 0)
    assert trainer._metrics["train"]["critic/mean_value"] == [0.0]
    assert len(trainer._metrics["train"]["critic/value_loss"]) == 1  # the critic took its step
    assert critic.score.weight.abs().sum() > 0


# --- runs ---------------------------------------------------------------------------------------------------

def test_a_short_ppo_run_writes_the_grpo_records(tiny, pool, one_problem_benchmarks, tmp_path):
    out = run_training(recipe(tiny, pool, eval_every=2, eval_benchmarks=("gsm8k",),
                              eval_data_dir=str(one_problem_benchmarks), eval_max_tokens=4), tmp_path / "run")
    assert (out / "config.yaml").is_file() and "algorithm: ppo" in (out / "config.yaml").read_text()
    metrics = read_lines(out / "metrics.jsonl")
    assert [m["step"] for m in metrics] == [1, 2]
    assert {"train_accuracy", "reward_mean", "entropy", "kl", "mean_length", "loss", "value_loss",
            "explained_variance", "mean_value"} <= set(metrics[0])
    assert all(m["value_loss"] >= 0 for m in metrics)
    assert len(json.loads((out / "history.json").read_text())["1"]) == 4
    assert [e["step"] for e in read_lines(out / "eval.jsonl")] == [0, 2]
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == ["step-1", "step-2"]
    critic = out / "trainer" / "checkpoint-2" / CRITIC_DIR
    assert (critic / "model.safetensors").is_file() and (critic / "optimizer.pt").is_file()


def _critic_weights(out, step):
    from safetensors.torch import load_file

    return load_file(str(out / "trainer" / f"checkpoint-{step}" / CRITIC_DIR / "model.safetensors"))


def test_a_ppo_run_resumes_exactly(tiny, pool, tmp_path):
    full = run_training(recipe(tiny, pool, steps=3, temperature=1.0, keep_checkpoints=0), tmp_path / "full")
    killed = run_training(recipe(tiny, pool, steps=1, temperature=1.0, keep_checkpoints=0), tmp_path / "resumed")
    resumed = run_training(recipe(tiny, pool, steps=3, temperature=1.0, keep_checkpoints=0), killed, resume=True)
    expected, got = read_lines(full / "metrics.jsonl"), read_lines(resumed / "metrics.jsonl")
    assert [m["step"] for m in got] == [1, 2, 3]
    for step in (1, 2):
        for key in ("reward_mean", "entropy", "mean_length", "loss", "value_loss", "mean_value", "explained_variance"):
            assert got[step][key] == pytest.approx(expected[step][key], rel=1e-5, abs=1e-7), (step, key)
    a, b = _critic_weights(full, 3), _critic_weights(resumed, 3)
    assert all(torch.allclose(a[name], b[name], atol=1e-6) for name in a)
    a = load_model(str(full / "checkpoints" / "step-3")).model.state_dict()
    b = load_model(str(resumed / "checkpoints" / "step-3")).model.state_dict()
    assert all(torch.allclose(a[name], b[name], atol=1e-6) for name in a)


# bad PPO settings (one line, exit 2, before any model loads): rows of test_train.py's bad-config test


def test_resuming_a_grpo_run_as_ppo_is_a_clear_error(tiny, pool, tmp_path):
    from oneshot_rlvr.cliutil import CommandError

    out = run_training(recipe(tiny, pool, algorithm="grpo", steps=1), tmp_path / "run")
    with pytest.raises(CommandError, match="holds no critic"):
        run_training(recipe(tiny, pool, steps=2), out, resume=True)


PROBE = """\
import os, sys
import oneshot_rlvr.ppo as ppo
step = ppo.critic_step
def probe(critic, *args, **kwargs):
    stats = step(critic, *args, **kwargs)
    total = sum(p.double().sum().item() for p in critic.parameters())
    sys.stdout.write(f"CRITIC {os.environ['RANK']} {total!r} {stats['value_loss']!r}\\n")  # one write per line
    sys.stdout.flush()
    return stats
ppo.critic_step = probe
from oneshot_rlvr.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_two_cpu_processes_keep_one_critic(tiny, pool, tmp_path):
    """`accelerate launch` with 2 CPU processes: after every critic step both copies are the same."""
    import os
    import re
    import socket
    import subprocess
    import sys
    from pathlib import Path

    repo = Path(__file__).resolve().parents[1]
    script = tmp_path / "probe.py"
    script.write_text(PROBE)
    with socket.socket() as probe:  # a free port: accelerate's default 29500 may be taken
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    out = tmp_path / "run"
    command = [sys.executable, "-m", "accelerate.commands.launch", "--config_file",
               str(repo / "recipes" / "accelerate" / "cpu-2proc.yaml"), "--main_process_port", str(port),
               str(script), "train", "--algorithm", "ppo", "--model", tiny, "--data", pool, "--examples", "1",
               "--steps", "2", "--set", "prompts_per_step=2", "--set", "rollouts=2", "--set", "micro_batch_size=1",
               "--set", "max_response_tokens=6", "--set", "eval_every=0", "--set", "save_every=2",
               "--set", "dtype=float32", "--set", "critic_learning_rate=1e-3", "--out", str(out)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=600, cwd=repo,
                            env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert result.returncode == 0, result.stderr[-2000:]
    lines = re.findall(r"CRITIC (\d) ([-+.\de]+) ([-+.\de]+)", result.stdout)  # the 2 processes share stdout
    by_rank = {rank: [(total, loss) for r, total, loss in lines if r == rank] for rank in ("0", "1")}
    assert len(by_rank["0"]) == 2 and by_rank["0"] == by_rank["1"], lines
    metrics = read_lines(out / "metrics.jsonl")
    assert [m["step"] for m in metrics] == [1, 2] and "value_loss" in metrics[0]
    assert (out / "trainer" / "checkpoint-2" / CRITIC_DIR / "model.safetensors").is_file()
