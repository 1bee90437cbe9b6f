"""What the train stage does with each rollout batch once TRL has scored it: the self-certainty reward and
``completions.jsonl``.

``with_rollout_records(trainer_class, samples=, self_certainty=)`` returns a subclass of TRL's GRPOTrainer (or
of a subclass: ``fast_trainer.faster``, ``ppo.PPOTrainer``) whose ``_calculate_rewards`` does two more things,
after TRL's reward functions have run and their scores are gathered over processes, before the advantages:

1. Self-certainty (Intuitor, Zhao et al. 2025): per completion, the mean over its tokens of KL(U ‖ p_t) =
   logsumexp(z_t) − mean(z_t) − log V, with logits z_t divided by the rollout temperature. Departure: Intuitor's
   code drops the constant log V (GRPO's normalisation removes it); here the KL itself. It costs one extra no-grad
   forward of the policy per rollout batch, in micro-batches, the LM head in tiles of ``TOKEN_TILE`` tokens.
2. ``completions.jsonl`` beside metrics.jsonl: per rollout batch, ``SAMPLES_PER_STEP`` completions chosen by a
   generator seeded with (seed, step), one line each ``{"step", "id", "completion", "reward"}``.

Formulas, contexts and cost: docs/training.md.
"""

from __future__ import annotations

import json
import math
import random
from pathlib import Path

SAMPLES_PER_STEP = 2
TOKEN_TILE = 512  # completion tokens per LM-head tile in the self-certainty forward


def self_certainty_from_logits(logits, mask):
    """(B,) mean over the tokens where ``mask`` (B, T) is 1 of KL(uniform ‖ softmax(logits)) for ``logits``
    (B, T, V); a row with no tokens scores 0."""
    import torch

    logits = logits.float()
    per_token = torch.logsumexp(logits, dim=-1) - logits.mean(dim=-1) - math.log(logits.size(-1))  # (B, T)
    mask = mask.to(per_token.dtype)
    return (per_token * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1.0)


def self_certainty_scores(model, input_ids, attention_mask, logits_to_keep: int, *, temperature: float = 1.0,
                          batch_size: int | None = None, autocast=None):
    """(B,) self-certainty of the last ``logits_to_keep`` tokens of each row of ``input_ids`` (B, P + T) under
    ``model`` (a plain causal LM, or a PEFT model), from logits divided by ``temperature``; no gradient."""
    import contextlib

    import torch

    core = model.get_base_model() if hasattr(model, "get_base_model") else model
    body, head = core.get_decoder(), core.get_output_embeddings()
    batch_size = batch_size or input_ids.size(0)
    completion_mask = attention_mask[:, -logits_to_keep:]  # (B, T)
    scores = []
    with torch.no_grad(), (autocast() if autocast else contextlib.nullcontext()):
        for start in range(0, input_ids.size(0), batch_size):
            rows = slice(start, start + batch_size)
            hidden = body(input_ids=input_ids[rows], attention_mask=attention_mask[rows]).last_hidden_state
            hidden = hidden[:, -logits_to_keep - 1 : -1]  # (b, T, H): position t predicts completion token t
            total = torch.zeros(hidden.size(0), device=hidden.device)
            for t in range(0, logits_to_keep, TOKEN_TILE):
                logits = head(hidden[:, t : t + TOKEN_TILE]).float() / temperature  # (b, tile, V)
                per_token = torch.logsumexp(logits, dim=-1) - logits.mean(dim=-1) - math.log(logits.size(-1))
                total += (per_token * completion_mask[rows, t : t + TOKEN_TILE]).sum(dim=1)
            scores.append(total / completion_mask[rows].sum(dim=1).clamp(min=1).to(total.dtype))
    return torch.cat(scores)


def sample_rows(seed: int, step: int, count: int, k: int = SAMPLES_PER_STEP) -> list[int]:
    """The ``k`` rows of a batch of ``count`` written for ``step``: seeded by (seed, step), so a resumed run or a
    rerun picks the same ones."""
    return sorted(random.Random(f"completions/{seed}/{step}").sample(range(count), min(k, count)))


def with_rollout_records(trainer_class, *, samples: str | Path | None = None, self_certainty: bool = False):
    """``trainer_class`` with the module docstring's two additions (``samples``: the completions.jsonl path,
    None = none written; ``self_certainty``: the first reward function's column is filled with the scores)."""

    class RolloutRecords(trainer_class):
        def _generate(self, prompts):
            result = super()._generate(prompts)
            self._rollout_prompt_ids = result[0]  # this process's prompt token ids, for the self-certainty forward
            return result

        def _calculate_rewards(self, inputs, prompts, completions, completion_ids_list):
            rewards = super()._calculate_rewards(inputs, prompts, completions, completion_ids_list)  # (N, F)
            if self_certainty:
                scores = self._self_certainty(completion_ids_list)  # (n,) this process's rows
                rewards[:, 0] = self.accelerator.gather(scores).to(rewards.dtype)  # in place: PPO keeps this tensor
            if samples is not None and self.model.training:
                self._write_samples(inputs, completions, rewards)
            return rewards

        def _self_certainty(self, completion_ids_list):
            import torch
            from trl.models import unwrap_model_for_generation
            from trl.trainer.utils import pad

            device = self.accelerator.device
            prompt_ids = pad([torch.tensor(ids) for ids in self._rollout_prompt_ids],
                             padding_value=self._tokenizer.pad_token_id, padding_side="left").to(device)
            prompt_mask = pad([torch.ones(len(ids), dtype=torch.long) for ids in self._rollout_prompt_ids],
                              padding_value=0, padding_side="left").to(device)
            completion_ids = pad([torch.tensor(ids) for ids in completion_ids_list],
                                 padding_value=self._tokenizer.pad_token_id, padding_side="right").to(device)
            completion_mask = pad([torch.ones(len(ids), dtype=torch.long) for ids in completion_ids_list],
                                  padding_value=0, padding_side="right").to(device)
            with (unwrap_model_for_generation(self.model_wrapped, self.accelerator,
                                              gather_deepspeed3_params=self.args.ds3_gather_for_generation,
                                              gradient_checkpointing_kwargs=self.args.gradient_checkpointing_kwargs)
                  as model, self._dist.summon_full_params(self.model_wrapped, recurse=False)):
                return self_certainty_scores(
                    model, torch.cat([prompt_ids, completion_ids], dim=1),
                    torch.cat([prompt_mask, completion_mask], dim=1), completion_ids.size(1),
                    temperature=self.args.temperature, batch_size=self.args.per_device_train_batch_size,
                    autocast=self.accelerator.autocast)

        def _write_samples(self, inputs, completions, rewards) -> None:
            from accelerate.utils import gather_object

            from .rewards import completion_text

            ids = gather_object([str(row.get("id")) for row in inputs])  # every process calls: a collective
            texts = gather_object([completion_text(c) for c in completions])
            if not self.accelerator.is_main_process:
                return
            weighted = (rewards * self.reward_weights.to(rewards.device).unsqueeze(0)).nansum(dim=1)
            unscored = rewards.isnan().all(dim=1)
            step = self.state.global_step + 1  # the step this batch trains (metrics.jsonl's step for it)
            lines = [json.dumps({"step": step, "id": ids[row], "completion": texts[row],
                                 "reward": None if unscored[row] else float(weighted[row])}) + "\n"
                     for row in sample_rows(self.args.seed, step, len(texts))]
            with open(samples, "a", encoding="utf-8") as stream:
                stream.writelines(lines)

    RolloutRecords.__name__ = RolloutRecords.__qualname__ = f"Recorded{trainer_class.__name__}"
    return RolloutRecords
