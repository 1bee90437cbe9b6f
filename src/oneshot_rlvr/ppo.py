"""PPO with a learned critic on TRL's GRPO engine: ``algorithm: ppo`` (the paper's second RL algorithm).

``PPOTrainer`` is a ``trl.GRPOTrainer`` subclass: the same rollouts, reward functions, clipped policy loss, KL and
entropy terms, logs and checkpoints as a GRPO run. Only the advantages change: ``_generate_and_score_completions``
replaces GRPO's group-normalised advantage with per-token GAE advantages of shape (B, T). verl's PPO
(``algorithm.adv_estimator=gae``) is the reference; its defaults are the recipe defaults.

How PPO here differs from GRPO:
- a critic (``build_critic``: the policy's architecture with a scalar head, weights in float32) takes one AdamW
  step per rollout batch, before the policy's, on a clipped value loss; every process holds a full copy;
- the scalar reward sits on the last valid completion token; GAE with ``gae_gamma`` and ``gae_lambda``;
- advantages are whitened over the whole rollout batch (``whiten_advantages``), not per group; returns never;
- checkpoints gain ``critic/`` (``--resume`` restores it); metrics gain ``critic/*``.

Each point in detail: docs/training.md.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from typing import Callable

import torch
from trl import GRPOTrainer

from .cliutil import CommandError

__all__ = ["CRITIC_DIR", "PPOSettings", "PPOTrainer", "build_critic", "critic_step", "critic_values", "gae",
           "load_critic", "masked_mean_var", "masked_whiten", "save_critic", "token_rewards", "value_loss"]

CRITIC_DIR = "critic"  # inside TRL's checkpoint-N folder
Reduce = Callable[[torch.Tensor], torch.Tensor]  # a sum over processes (identity on one)


def _identity(tensor: torch.Tensor) -> torch.Tensor:
    return tensor


@dataclass(frozen=True)
class PPOSettings:
    """The PPO knobs of a recipe (verl defaults)."""

    gamma: float = 1.0  # verl algorithm.gamma
    lam: float = 1.0  # verl algorithm.lam
    whiten: bool = True  # masked_whiten of the advantages over the batch
    value_clip: float = 0.5  # verl critic.cliprange_value
    critic_learning_rate: float = 1e-5  # verl critic.optim.lr
    weight_decay: float = 0.01  # verl critic.optim.weight_decay
    max_grad_norm: float = 1.0  # verl critic.grad_clip (0 = off)

    @classmethod
    def from_recipe(cls, recipe) -> "PPOSettings":
        return cls(gamma=recipe.gae_gamma, lam=recipe.gae_lambda, whiten=recipe.whiten_advantages,
                   value_clip=recipe.value_clip, critic_learning_rate=recipe.critic_learning_rate,
                   weight_decay=recipe.weight_decay, max_grad_norm=recipe.max_grad_norm)


# --- the estimator (pure tensor functions) ---------------------------------------------------------------

def token_rewards(scores: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """(B, T) rewards: ``scores`` (B,) on each row's last valid token of ``mask`` (B, T), 0 elsewhere."""
    positions = torch.arange(mask.size(1), device=mask.device).expand_as(mask)  # (B, T)
    last = torch.where(mask.bool(), positions, -1).max(dim=1).values  # (B,)
    rewards = torch.zeros(mask.shape, dtype=torch.float32, device=mask.device)  # (B, T)
    rows = (last >= 0).nonzero(as_tuple=True)[0]  # (R,): rows with at least one valid token
    rewards[rows, last[rows]] = scores[rows].float()
    return rewards


def gae(rewards: torch.Tensor, values: torch.Tensor, mask: torch.Tensor, gamma: float,
        lam: float) -> tuple[torch.Tensor, torch.Tensor]:
    """(advantages, returns), each (B, T), verl's compute_gae_advantage_return: padding is skipped (the
    value after the last valid token is 0) and is 0 in both outputs; returns = advantages + values."""
    mask = mask.float()  # (B, T)
    values = values.float() * mask  # (B, T)
    next_value = torch.zeros_like(values[:, 0])  # (B,)
    running = torch.zeros_like(values[:, 0])  # (B,)
    advantages = torch.zeros_like(values)  # (B, T)
    for t in reversed(range(values.size(1))):
        delta = rewards[:, t] + gamma * next_value - values[:, t]  # (B,)
        step = delta + gamma * lam * running  # (B,)
        next_value = values[:, t] * mask[:, t] + (1 - mask[:, t]) * next_value  # (B,)
        running = step * mask[:, t] + (1 - mask[:, t]) * running  # (B,)
        advantages[:, t] = running * mask[:, t]
    return advantages, (advantages + values) * mask


def masked_mean_var(x: torch.Tensor, mask: torch.Tensor, reduce: Reduce = _identity) -> tuple[torch.Tensor,
                                                                                               torch.Tensor]:
    """Mean and unbiased variance of ``x`` (B, T) over the valid tokens of ``mask`` (B, T), summed over
    processes by ``reduce`` (two passes: the mean first)."""
    mask = mask.float()
    totals = reduce(torch.stack([(x * mask).sum(), mask.sum()]))  # (2,)
    mean = totals[0] / totals[1].clamp(min=1.0)
    squares = reduce(((x - mean) ** 2 * mask).sum())  # ()
    return mean, squares / (totals[1] - 1).clamp(min=1.0)


def masked_whiten(x: torch.Tensor, mask: torch.Tensor, reduce: Reduce = _identity) -> torch.Tensor:
    """``x`` (B, T) whitened over its valid tokens (verl masked_whiten, shift_mean=True); padding stays 0."""
    mean, var = masked_mean_var(x, mask, reduce)
    return (x - mean) * torch.rsqrt(var + 1e-8) * mask.float()  # (B, T)


def value_loss(values: torch.Tensor, old_values: torch.Tensor, returns: torch.Tensor,
               clip: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-token clipped value loss (B, T), verl's 0.5 · max((V − R)², (clip(V, V_old ± clip) − R)²), and
    where the clipped term is the larger (B, T) bool; the caller takes the masked mean."""
    clipped = old_values + (values - old_values).clamp(-clip, clip)  # (B, T)
    unclipped_loss, clipped_loss = (values - returns) ** 2, (clipped - returns) ** 2  # (B, T)
    return 0.5 * torch.max(unclipped_loss, clipped_loss), clipped_loss > unclipped_loss


# --- the critic --------------------------------------------------------------------------------------------

def build_critic(path: str, *, seed: int = 0, gradient_checkpointing: bool = False):
    """The value model: ``path``'s architecture with a 1-output token-classification head, backbone weights
    from ``path``, head seeded by ``seed`` (the global RNG is untouched), no dropout, float32, on cpu, in
    train mode."""
    from transformers import AutoConfig, AutoModelForTokenClassification
    from transformers.utils import logging

    config = AutoConfig.from_pretrained(path, num_labels=1)
    config.classifier_dropout = 0.0  # verl; as a from_pretrained keyword transformers 5 drops it silently
    verbosity = logging.get_verbosity()
    logging.set_verbosity_error()  # its load report lists the new head as missing: expected, checked below
    try:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            critic, info = AutoModelForTokenClassification.from_pretrained(path, config=config, dtype=torch.float32,
                                                                           output_loading_info=True)
    except ValueError as error:  # an architecture without a token-classification class
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise CommandError(f"algorithm ppo: cannot build a critic from {path} ({reason}); use a model whose "
                           "architecture has a ForTokenClassification class (Llama, Qwen2, ...) or algorithm: grpo"
                           ) from None
    finally:
        logging.set_verbosity(verbosity)
    missing = [key for key in info["missing_keys"] if not key.startswith("score.")]
    if missing:
        raise CommandError(f"algorithm ppo: the critic's backbone does not match {path}: {len(missing)} weights "
                           f"not found (e.g. {missing[0]}); use a standard transformers checkpoint or algorithm: grpo")
    for module in critic.modules():  # deterministic values (the base model's own dropouts are 0 anyway)
        if isinstance(module, torch.nn.Dropout):
            module.p = 0.0
    if gradient_checkpointing:
        critic.gradient_checkpointing_enable()
    return critic.train()


def critic_values(critic, input_ids: torch.Tensor, attention_mask: torch.Tensor, length: int, *,
                  micro_batch: int, autocast=contextlib.nullcontext) -> torch.Tensor:
    """V(s_t) for the last ``length`` tokens of ``input_ids`` (B, P+T): the head at the position before each
    token, float32 (B, T); runs in chunks of ``micro_batch`` rows, with gradients when enabled."""
    chunks = []
    for start in range(0, input_ids.size(0), micro_batch):
        rows = slice(start, start + micro_batch)
        with autocast():
            logits = critic(input_ids=input_ids[rows], attention_mask=attention_mask[rows]).logits  # (b, P+T, 1)
        chunks.append(logits[:, -length - 1 : -1, 0].float())  # (b, T)
    return torch.cat(chunks)  # (B, T)


def critic_step(critic, optimizer, batch: dict, settings: PPOSettings, *, micro_batch: int,
                reduce: Reduce = _identity, autocast=contextlib.nullcontext) -> dict:
    """One optimizer step of the critic on a rollout batch; ``reduce`` sums over processes (the gradients
    too). ``batch`` keys: ``input_ids`` and ``attention_mask`` (B, P+T), ``values`` (the values before the
    step), ``returns`` and ``mask`` (B, T). Returns ``{"value_loss", "value_clip_ratio"}`` (floats)."""
    mask = batch["mask"].float()  # (B, T)
    tokens = reduce(mask.sum()).clamp(min=1.0)  # valid tokens of the whole batch, all processes
    total, clipped_count = torch.zeros((), device=mask.device), torch.zeros((), device=mask.device)
    optimizer.zero_grad(set_to_none=True)
    for start in range(0, mask.size(0), micro_batch):
        rows = slice(start, start + micro_batch)
        predicted = critic_values(critic, batch["input_ids"][rows], batch["attention_mask"][rows], mask.size(1),
                                  micro_batch=micro_batch, autocast=autocast)  # (b, T)
        losses, clipped = value_loss(predicted, batch["values"][rows], batch["returns"][rows], settings.value_clip)
        loss = (losses * mask[rows]).sum()  # ()
        (loss / tokens).backward()
        total += loss.detach()
        clipped_count += (clipped.float() * mask[rows]).sum()
    if reduce is not _identity:
        for parameter in critic.parameters():
            if parameter.grad is not None:
                parameter.grad = reduce(parameter.grad)
    if settings.max_grad_norm > 0:
        torch.nn.utils.clip_grad_norm_(critic.parameters(), settings.max_grad_norm)
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    return {"value_loss": (reduce(total) / tokens).item(), "value_clip_ratio": (reduce(clipped_count) / tokens).item()}


def make_critic_optimizer(critic, settings: PPOSettings) -> torch.optim.Optimizer:
    """torch AdamW as verl's critic: betas (0.9, 0.999), eps 1e-8, decay on every parameter; fused (one kernel for
    all parameters, as the policy's ``adamw_torch_fused``) where torch has that kernel: CPU and CUDA."""
    parameters = list(critic.parameters())
    fused = all(p.device.type in ("cpu", "cuda") for p in parameters)
    return torch.optim.AdamW(parameters, lr=settings.critic_learning_rate, betas=(0.9, 0.999), eps=1e-8,
                             weight_decay=settings.weight_decay, fused=fused)


def save_critic(critic, optimizer, folder: str) -> None:
    """``folder/model.safetensors`` + ``config.json`` (an AutoModelForTokenClassification folder) and
    ``folder/optimizer.pt``."""
    from safetensors.torch import save_file

    os.makedirs(folder, exist_ok=True)
    save_file({k: v.detach().contiguous().cpu() for k, v in critic.state_dict().items()},
              os.path.join(folder, "model.safetensors"), metadata={"format": "pt"})
    critic.config.save_pretrained(folder)
    torch.save(optimizer.state_dict(), os.path.join(folder, "optimizer.pt"))


def load_critic(critic, optimizer, folder: str) -> None:
    """Restore what ``save_critic`` wrote; CommandError when ``folder`` has no critic."""
    from safetensors.torch import load_file

    weights, state = os.path.join(folder, "model.safetensors"), os.path.join(folder, "optimizer.pt")
    if not (os.path.isfile(weights) and os.path.isfile(state)):
        raise CommandError(f"--resume: {folder} holds no critic (was this run trained with algorithm: grpo?); "
                           "resume with the algorithm the run was started with")
    device = next(critic.parameters()).device
    critic.load_state_dict(load_file(weights, device=str(device)))
    optimizer.load_state_dict(torch.load(state, map_location="cpu", weights_only=True))


# --- the trainer -------------------------------------------------------------------------------------------

class PPOTrainer(GRPOTrainer):
    """GRPOTrainer with a critic and GAE advantages (module docstring); ``critic`` from ``build_critic``."""

    def __init__(self, *args, critic, settings: PPOSettings, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.settings = settings
        self.critic = critic.to(self.accelerator.device).train()
        self.critic_optimizer = make_critic_optimizer(self.critic, settings)
        self._rewards_per_func: torch.Tensor | None = None

    def _reduce(self) -> Reduce:
        """A sum over processes (the identity on one process)."""
        if self.accelerator.num_processes == 1:
            return _identity
        return lambda tensor: self.accelerator.reduce(tensor, reduction="sum")

    def _calculate_rewards(self, inputs, prompts, completions, completion_ids_list):
        self._rewards_per_func = super()._calculate_rewards(inputs, prompts, completions, completion_ids_list)
        return self._rewards_per_func  # (N, F), gathered over processes

    def _local_scores(self, rows: int) -> torch.Tensor:
        """This process's completion rewards (rows,): weighted sum of the reward functions, as GRPO's;
        a completion every function left unscored (NaN) gets 0."""
        rewards = self._rewards_per_func  # (N, F)
        unscorable = torch.isnan(rewards).all(dim=1)  # (N,)
        scores = (rewards * self.reward_weights.to(rewards.device).unsqueeze(0)).nansum(dim=1)  # (N,)
        scores = scores.masked_fill(unscorable, 0.0)  # (N,)
        start = self.accelerator.process_index * rows
        return scores[start : start + rows]  # (rows,)

    def _generate_and_score_completions(self, inputs):
        """GRPO's batch with ``advantages`` replaced by GAE (B, T) and ``rewards`` (B,) added; in training
        the critic takes its step here, after the advantages are computed."""
        output = super()._generate_and_score_completions(inputs)
        mode = "train" if self.model.training else "eval"
        mask = output["completion_mask"] * output.get("tool_mask", 1)  # (B, T)
        input_ids = torch.cat([output["prompt_ids"], output["completion_ids"]], dim=1)  # (B, P+T)
        attention_mask = torch.cat([output["prompt_mask"], output["completion_mask"]], dim=1)  # (B, P+T)
        scores = self._local_scores(input_ids.size(0))  # (B,)
        micro = self.args.per_device_train_batch_size if mode == "train" else self.args.per_device_eval_batch_size
        with torch.no_grad():
            values = critic_values(self.critic, input_ids, attention_mask, mask.size(1), micro_batch=micro,
                                   autocast=self.accelerator.autocast) * mask  # (B, T)
        advantages, returns = gae(token_rewards(scores, mask), values, mask, self.settings.gamma, self.settings.lam)
        if self.settings.whiten:
            advantages = masked_whiten(advantages, mask, self._reduce())  # (B, T)
        self._log_values(mode, values, returns, mask)
        if mode == "train":
            batch = {"input_ids": input_ids, "attention_mask": attention_mask, "values": values, "returns": returns,
                     "mask": mask}
            stats = critic_step(self.critic, self.critic_optimizer, batch, self.settings, micro_batch=micro,
                                reduce=self._reduce(), autocast=self.accelerator.autocast)
            for name, value in stats.items():
                self._metrics[mode][f"critic/{name}"].append(value)
        output["advantages"], output["rewards"] = advantages, scores
        return output

    def _log_values(self, mode: str, values: torch.Tensor, returns: torch.Tensor, mask: torch.Tensor) -> None:
        mean_value, _ = masked_mean_var(values, mask, self._reduce())
        _, return_var = masked_mean_var(returns, mask, self._reduce())
        _, error_var = masked_mean_var(returns - values, mask, self._reduce())
        self._metrics[mode]["critic/mean_value"].append(mean_value.item())
        self._metrics[mode]["critic/explained_variance"].append((1.0 - error_var / (return_var + 1e-5)).item())

    def _save_checkpoint(self, model, trial):
        super()._save_checkpoint(model, trial)
        if self.args.should_save:  # every process holds the same critic
            checkpoint = os.path.join(self._get_output_dir(trial=trial), f"checkpoint-{self.state.global_step}")
            save_critic(self.critic, self.critic_optimizer, os.path.join(checkpoint, CRITIC_DIR))

    def _load_optimizer_and_scheduler(self, checkpoint):
        super()._load_optimizer_and_scheduler(checkpoint)
        if checkpoint is not None:
            load_critic(self.critic, self.critic_optimizer, os.path.join(checkpoint, CRITIC_DIR))
