"""The self-certainty reward (Intuitor) against a direct computation from the logits, and in a training run."""

import json
import math

import pytest
import torch

pytest.importorskip("trl")

from oneshot_rlvr import rollout_records  # noqa: E402
from oneshot_rlvr.config import load_recipe  # noqa: E402
from oneshot_rlvr.models import tiny_random_model  # noqa: E402
from oneshot_rlvr.rewards import make_reward  # noqa: E402
from oneshot_rlvr.rollout_records import self_certainty_from_logits, self_certainty_scores  # noqa: E402


def direct(model, input_ids, attention_mask, keep: int, temperature: float) -> torch.Tensor:
    """Per row: mean over its completion tokens of −log V − (1/V)·Σ_v log p_v, from the model's full logits."""
    with torch.no_grad():
        logits = model(input_ids=input_ids, attention_mask=attention_mask).logits[:, -keep - 1 : -1] / temperature
    logp = torch.log_softmax(logits.double(), dim=-1)  # (B, T, V)
    vocab = logp.size(-1)
    kl = -math.log(vocab) - logp.mean(dim=-1)  # (B, T): KL(uniform || p) per token
    mask = attention_mask[:, -keep:].double()
    return (kl * mask).sum(dim=1) / mask.sum(dim=1)


@pytest.fixture(scope="module")
def model():
    return tiny_random_model(seed=3).model


def test_self_certainty_equals_the_kl_from_uniform_computed_from_the_logits(model, monkeypatch):
    pad = 0
    # two rows: a left-padded prompt, completions of 4 and 2 tokens (right padding), as TRL builds its batch
    input_ids = torch.tensor([[pad, 5, 9, 11, 20, 21, 22, 23], [7, 8, 9, 10, 30, 31, pad, pad]])
    attention_mask = torch.tensor([[0, 1, 1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 1, 1, 0, 0]])
    expected = direct(model, input_ids, attention_mask, 4, 0.6)
    monkeypatch.setattr(rollout_records, "TOKEN_TILE", 3)  # tiles that split a row's completion
    got = self_certainty_scores(model, input_ids, attention_mask, 4, temperature=0.6, batch_size=1)
    assert torch.allclose(got.double(), expected, atol=1e-5), (got, expected)
    assert (got > 0).all()  # a KL: positive unless p is uniform
    hotter = direct(model, input_ids, attention_mask, 4, 1.0)
    assert expected[0] != pytest.approx(float(hotter[0]))  # the temperature counts


def test_the_kl_is_zero_for_uniform_logits_and_the_textbook_kl_otherwise():
    vocab = 50
    assert self_certainty_from_logits(torch.zeros(1, 1, vocab), torch.ones(1, 1)).item() == pytest.approx(0, abs=1e-6)
    sharp = torch.zeros(1, 1, vocab)
    sharp[0, 0, 0] = 10.0
    p = torch.softmax(sharp[0, 0].double(), dim=-1)
    assert self_certainty_from_logits(sharp, torch.ones(1, 1)).item() == pytest.approx(
        float((torch.full((vocab,), 1 / vocab) * torch.log(1 / vocab / p)).sum()), rel=1e-5)


def test_the_reward_function_leaves_the_scores_to_the_trainer():
    reward = make_reward("self-certainty")
    assert reward(prompts=["p", "p"], completions=["a", "b"]) == [None, None]
    assert reward.__name__ == "self-certainty_reward"


def test_a_self_certainty_run_trains_on_the_policy_scores(tiny, pool, tmp_path, monkeypatch):
    from oneshot_rlvr.train import run_training

    seen = []
    real = rollout_records.self_certainty_scores

    def spy(model, input_ids, attention_mask, keep, **kwargs):
        scores = real(model, input_ids, attention_mask, keep, **kwargs)
        assert torch.allclose(scores.double(), direct(model, input_ids, attention_mask, keep, kwargs["temperature"]),
                              atol=1e-5)
        seen.append(scores.tolist())
        return scores

    monkeypatch.setattr(rollout_records, "self_certainty_scores", spy)
    recipe = load_recipe(None, dict(model=tiny, data=pool, examples="1", prompts_per_step=2, rollouts=4,
                                    micro_batch_size=4, max_prompt_tokens=256, max_response_tokens=6, steps=2,
                                    save_every=0, eval_every=0, learning_rate=1e-3, dtype="float32",
                                    reward="self-certainty"))
    out = run_training(recipe, tmp_path / "run")
    assert len(seen) == 2 and all(len(batch) == 8 for batch in seen)  # one extra forward per rollout batch
    metrics = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [m["step"] for m in metrics] == [1, 2]
    for batch, m in zip(seen, metrics):  # the logged reward is the scores' mean: they are what GRPO normalised
        assert m["reward_mean"] == pytest.approx(sum(batch) / len(batch), rel=1e-5)
    samples = [json.loads(line) for line in (out / "completions.jsonl").read_text().splitlines()]
    rows = rollout_records.sample_rows(0, 1, 8)
    assert [s["reward"] for s in samples[:2]] == pytest.approx([seen[0][r] for r in rows], rel=1e-6)


def test_ppo_and_trls_own_paths_train_on_the_scores_too(tiny, pool, tmp_path, monkeypatch):
    """PPO reads the rewards TRL gathered (its critic's returns): it must see the filled-in scores; and the
    plain GRPOTrainer path (rollout_backend trl, no shared-prompt forward) fills them as well."""
    from oneshot_rlvr.ppo import PPOTrainer
    from oneshot_rlvr.train import run_training

    scored, used = [], []
    real_scores, real_local = rollout_records.self_certainty_scores, PPOTrainer._local_scores

    def scores_spy(*args, **kwargs):
        scored.append(real_scores(*args, **kwargs))
        return scored[-1]

    def local_spy(self, rows):
        used.append(real_local(self, rows))
        return used[-1]

    monkeypatch.setattr(rollout_records, "self_certainty_scores", scores_spy)
    monkeypatch.setattr(PPOTrainer, "_local_scores", local_spy)
    base = dict(model=tiny, data=pool, examples="1", prompts_per_step=2, rollouts=2, micro_batch_size=4,
                max_prompt_tokens=256, max_response_tokens=6, steps=1, save_every=0, eval_every=0,
                learning_rate=1e-3, dtype="float32", reward="self-certainty")
    run_training(load_recipe(None, {**base, "algorithm": "ppo"}), tmp_path / "ppo")
    assert len(scored) == len(used) == 1 and torch.allclose(used[0], scored[0])
    out = run_training(load_recipe(None, {**base, "rollout_backend": "trl", "shared_prompt_forward": False}),
                       tmp_path / "trl")
    reward = json.loads((out / "metrics.jsonl").read_text().splitlines()[0])["reward_mean"]
    assert len(scored) == 2 and reward == pytest.approx(scored[1].mean().item(), rel=1e-5) and reward > 0
