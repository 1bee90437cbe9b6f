"""The trainer's speed-ups keep TRL's numerics: rollout and shared-prompt log-probabilities against TRL's own."""

import pytest
import torch

pytest.importorskip("trl")

from trl import GRPOTrainer  # noqa: E402

from oneshot_rlvr.config import load_recipe, to_grpo_config  # noqa: E402
from oneshot_rlvr.fast_trainer import faster, rollout_seed, shares_one_prompt, unsupported_settings  # noqa: E402
from oneshot_rlvr.generation import HFBackend, SamplingParams  # noqa: E402
from oneshot_rlvr.models import load_model  # noqa: E402
from oneshot_rlvr.rewards import make_reward  # noqa: E402

# fixtures tiny (a saved tiny random Llama) and pool: conftest.py
TOLERANCE = 1e-4  # the bound on per-token log-probabilities against the fp32 path


def build_trainer(tiny, tmp_path, **changes):
    from datasets import Dataset

    settings = dict(model=tiny, data="unused", examples="1", prompts_per_step=2, rollouts=4, micro_batch_size=4,
                    max_response_tokens=12, steps=1, temperature=0.6, kl_coef=0.001, entropy_coef=0.001,
                    dtype="float32", eval_every=0, save_every=0)
    settings.update(changes)
    recipe = load_recipe(None, settings)
    loaded = load_model(tiny, device="cpu", dtype="float32")
    args = to_grpo_config(recipe, str(tmp_path / "trainer"), device="cpu")
    dataset = Dataset.from_list([{"prompt": "What is 2+3? Answer:", "answer": "5"}] * 4)
    trainer_class = faster(GRPOTrainer, rollouts=recipe.rollout_backend, shared_prompt=recipe.shared_prompt_forward)
    return trainer_class(model=loaded.model, reward_funcs=[make_reward("outcome")], args=args,
                         train_dataset=dataset, processing_class=loaded.tokenizer)


def batch(trainer, prompts: list[str], completion_length: int = 10, seed: int = 0):
    """Left-padded prompts + random completions, right-padded after a random length: (input_ids, mask, T)."""
    tokenizer = trainer._tokenizer
    generator = torch.Generator().manual_seed(seed)
    prompt_ids = [tokenizer(p)["input_ids"] for p in prompts]
    width = max(map(len, prompt_ids))
    rows, masks = [], []
    for ids in prompt_ids:
        completion = torch.randint(3, len(tokenizer), (completion_length,), generator=generator).tolist()
        kept = int(torch.randint(1, completion_length + 1, (1,), generator=generator))
        rows.append([tokenizer.pad_token_id] * (width - len(ids)) + ids + completion)
        masks.append([0] * (width - len(ids)) + [1] * len(ids) + [1] * kept + [0] * (completion_length - kept))
    return torch.tensor(rows), torch.tensor(masks), completion_length


def both_paths(trainer, input_ids, mask, keep, batch_size=None):
    """(ours, TRL's) log-probabilities and entropies, with the policy-gradient-like sum's parameter gradients."""
    results = []
    for method in (type(trainer)._get_per_token_logps_and_entropies, GRPOTrainer._get_per_token_logps_and_entropies):
        trainer.model.zero_grad()
        logps, entropies, _ = method(trainer, trainer.model, input_ids, mask, keep, batch_size, True)
        (logps * mask[:, -keep:]).sum().backward()
        grads = {name: p.grad.clone() for name, p in trainer.model.named_parameters() if p.grad is not None}
        results.append((logps.detach(), entropies.detach(), grads))
    return results


def test_shared_prompt_forward_matches_trl_log_probs_entropies_and_gradients(tiny, tmp_path):
    trainer = build_trainer(tiny, tmp_path)
    input_ids, mask, keep = batch(trainer, ["What is 2+3? Answer:"] * 4)
    assert shares_one_prompt(input_ids, mask, input_ids.shape[1] - keep)
    (ours, our_entropy, our_grads), (trl, trl_entropy, trl_grads) = both_paths(trainer, input_ids, mask, keep)
    valid = mask[:, -keep:].bool()
    assert (ours - trl).abs()[valid].max() <= TOLERANCE
    assert (our_entropy - trl_entropy).abs()[valid].max() <= TOLERANCE
    assert set(our_grads) == set(trl_grads)
    for name, grad in trl_grads.items():
        assert torch.allclose(our_grads[name], grad, rtol=1e-3, atol=1e-6), name


def test_mixed_prompts_fall_back_chunk_by_chunk(tiny, tmp_path):
    """Two prompts, chunks of 2: chunk 1 shares a prompt (fast path), chunk 2 mixes them (TRL's path)."""
    trainer = build_trainer(tiny, tmp_path)
    prompts = ["What is 2+3? Answer:"] * 2 + ["What is 2+3? Answer:", "Is 7 prime? Answer:"]
    input_ids, mask, keep = batch(trainer, prompts)
    assert not shares_one_prompt(input_ids, mask, input_ids.shape[1] - keep)
    (ours, _, _), (trl, _, _) = both_paths(trainer, input_ids, mask, keep, batch_size=2)
    valid = mask[:, -keep:].bool()
    assert (ours - trl).abs()[valid].max() <= TOLERANCE


def test_rollouts_are_sampled_from_the_log_probs_the_loss_uses(tiny, tmp_path):
    """The hf backend's sampling log-probabilities equal TRL's loss-side (fp32) ones on the same completions."""
    trainer = build_trainer(tiny, tmp_path)
    prompt = trainer._tokenizer("What is 2+3? Answer:")["input_ids"]
    backend = HFBackend(trainer.model, trainer._tokenizer, batch_size=4)
    backend.eos_ids = set(trainer.eos_token_ids)
    generated = backend.generate_ids([prompt], SamplingParams(n=4, temperature=0.6, max_tokens=12, seed=3),
                                     logprobs=True)[0]
    completions = [list(g.token_ids) + ([g.eos_token_id] if g.eos_token_id is not None else []) for g in generated]
    keep = max(map(len, completions))
    input_ids = torch.tensor([prompt + c + [trainer._tokenizer.pad_token_id] * (keep - len(c)) for c in completions])
    mask = torch.tensor([[1] * (len(prompt) + len(c)) + [0] * (keep - len(c)) for c in completions])
    with torch.no_grad():
        loss_side, _, _ = GRPOTrainer._get_per_token_logps_and_entropies(trainer, trainer.model, input_ids, mask, keep)
    for row, g in enumerate(generated):
        assert len(g.logprobs) == len(completions[row])
        assert torch.allclose(loss_side[row, : len(g.logprobs)], torch.tensor(g.logprobs), atol=TOLERANCE)


def test_trainer_rollouts_end_at_eos_are_seeded_and_follow_the_step(tiny, tmp_path):
    from collections import Counter

    trainer = build_trainer(tiny, tmp_path, max_response_tokens=30)
    prompt_ids = [trainer._tokenizer("What is 2+3? Answer:")["input_ids"]] * 4
    first, logprobs = trainer._generate_single_turn(prompt_ids, None, {}, 4)
    again, _ = trainer._generate_single_turn(prompt_ids, None, {}, 4)
    assert logprobs is None and first == again  # same step, same seed: same rollouts
    assert len({tuple(c) for c in first}) > 1  # rows sample independently
    # the random model never says EOS: make a token it emits often one, so some rows end and some do not
    emitted, original_eos = Counter(t for c in first for t in c), trainer.eos_token_ids
    trainer.eos_token_ids = [emitted.most_common(4)[-1][0]]
    ending = trainer._generate_single_turn(prompt_ids * 2, None, {}, 4)[0]
    ended = [c for c in ending if c[-1] in trainer.eos_token_ids]
    assert ended and len(ended) < len(ending)
    for completion in ending:
        assert 1 <= len(completion) <= 30
        assert completion in ended or len(completion) == 30  # EOS kept as the last token, or cut at the cap
        assert not any(t in trainer.eos_token_ids for t in completion[:-1])
    trainer.eos_token_ids, trainer.state.global_step = original_eos, 1
    later, _ = trainer._generate_single_turn(prompt_ids, None, {}, 4)
    assert later != first  # the next step draws new rollouts
    assert rollout_seed(0, 1, 0) != rollout_seed(0, 1, 1)  # each process draws its own


def test_unsupported_sampling_settings_fall_back_to_trl(tiny, tmp_path):
    trainer = build_trainer(tiny, tmp_path)
    assert unsupported_settings(trainer.args) == []
    trainer.args.top_k = 5
    assert unsupported_settings(trainer.args) == ["top_k=5"]
    calls = []
    original = GRPOTrainer._generate_single_turn
    GRPOTrainer._generate_single_turn = lambda self, *a, **k: calls.append(a) or original(self, *a, **k)
    try:
        trainer._generate_single_turn([trainer._tokenizer("Hi")["input_ids"]] * 4, None, {}, 4)
    finally:
        GRPOTrainer._generate_single_turn = original
    assert len(calls) == 1


def test_a_run_with_trl_rollouts_and_forward_still_trains(tiny, pool, tmp_path):
    from oneshot_rlvr.train import run_training

    recipe = load_recipe(None, dict(model=tiny, data=pool, examples="1", prompts_per_step=2, rollouts=2,
                                    micro_batch_size=2, max_response_tokens=6, steps=2, eval_every=0, save_every=0,
                                    dtype="float32", rollout_backend="trl", shared_prompt_forward=False))
    out = run_training(recipe, tmp_path / "run")
    assert len((out / "metrics.jsonl").read_text().splitlines()) == 2


def test_cpu_lm_head_tiles_keep_the_numbers_and_are_restored(tiny, tmp_path):
    """Small tiles (several token and vocabulary tiles on the tiny model) give TRL's values and gradients; TRL's
    constants are back after the step, also when it fails."""
    import trl.kernels.chunked_logprob as kernel
    import trl.trainer.utils as trl_utils

    from oneshot_rlvr.fast_trainer import lm_head_tiles

    trainer = build_trainer(tiny, tmp_path)
    input_ids, mask, keep = batch(trainer, ["What is 2+3? Answer:"] * 4)
    defaults = kernel.TOKEN_CHUNK_SIZE, trl_utils._CHUNKED_LOGPROB_CHUNK_SIZE
    tiles = (3, 16)
    assert input_ids.shape[0] * keep > 2 * tiles[0] and trainer.model.config.vocab_size > 2 * tiles[1]
    (ours, ours_entropy, ours_grads), _ = both_paths(trainer, input_ids, mask, keep)
    seen = []
    original = kernel._forward_tile
    kernel._forward_tile = lambda tile, *a, **k: seen.append(tuple(tile.shape)) or original(tile, *a, **k)
    try:
        with lm_head_tiles(torch.device("cpu"), tiles):
            (tiled, tiled_entropy, tiled_grads), _ = both_paths(trainer, input_ids, mask, keep)
    finally:
        kernel._forward_tile = original
    assert seen and all(rows <= tiles[0] and columns <= tiles[1] for rows, columns in seen)  # small tiles used
    valid = mask[:, -keep:].bool()
    assert (tiled - ours).abs()[valid].max() <= TOLERANCE
    assert (tiled_entropy - ours_entropy).abs()[valid].max() <= TOLERANCE
    for name, grad in ours_grads.items():
        assert torch.allclose(tiled_grads[name], grad, rtol=1e-3, atol=1e-6), name
    assert (kernel.TOKEN_CHUNK_SIZE, trl_utils._CHUNKED_LOGPROB_CHUNK_SIZE) == defaults
    with pytest.raises(RuntimeError), lm_head_tiles("cpu", tiles):
        raise RuntimeError("step failed")
    assert (kernel.TOKEN_CHUNK_SIZE, trl_utils._CHUNKED_LOGPROB_CHUNK_SIZE) == defaults
    with lm_head_tiles(torch.device("meta"), tiles):  # not a CPU: TRL's tiles stay
        assert (kernel.TOKEN_CHUNK_SIZE, trl_utils._CHUNKED_LOGPROB_CHUNK_SIZE) == defaults
