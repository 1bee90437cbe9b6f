"""TRL's trainer made faster for 1-shot RLVR, with its numerics kept: rollouts, a shared-prompt forward and
cache-sized LM-head tiles on CPU.

``faster(GRPOTrainer, rollouts="hf", shared_prompt=True)`` returns a subclass (``FasterTrainer`` mixed in)
with two of TRL 1.16's methods replaced and its training step wrapped; tokenizing, rewards, advantages and
the loss stay TRL's. 1. Rollouts (``_generate_single_turn``) go through ``generation.HFBackend``: each
distinct prompt runs once and rows leave at EOS, with the same model, dtype and forward under TRL's context
managers, so the batch stays on-policy. 2. When the rows of a micro-batch share one unpadded prompt, the
prompt runs once with a KV cache every row attends to (``_get_per_token_logps_and_entropies``). 3. On CPU
TRL's fused LM head uses cache-sized tiles (``CPU_LM_HEAD_TILES``) during ``training_step``. Each falls
back to TRL where it cannot keep TRL's numerics (vLLM, images, FSDP, gradient checkpointing, ...).

Departure from TRL: one random generator per row, seeded by (seed, step, process, row) through
``seeds.derive_seed``: runs are reproducible and resumable, but the samples differ from TRL's.
"""

from __future__ import annotations

import types
from contextlib import contextmanager

from .generation import HFBackend, SamplingParams, cache_keyword
from .seeds import derive_seed

ROLLOUT_BACKENDS = ("hf", "trl")
CPU_LM_HEAD_TILES = (256, 8192)  # (tokens, vocabulary entries) per tile: 8 MiB of fp32 logits


@contextmanager
def lm_head_tiles(device, tiles: tuple[int, int] | None):
    """TRL's fused-LM-head tile shape set to ``tiles`` while inside, on CPU only (see the module docstring)."""
    import trl.kernels.chunked_logprob as kernel
    import trl.trainer.utils as trl_utils

    if tiles is None or getattr(device, "type", str(device)) != "cpu":
        yield
        return
    saved = kernel.TOKEN_CHUNK_SIZE, trl_utils._CHUNKED_LOGPROB_CHUNK_SIZE
    kernel.TOKEN_CHUNK_SIZE, trl_utils._CHUNKED_LOGPROB_CHUNK_SIZE = tiles
    try:
        yield
    finally:
        kernel.TOKEN_CHUNK_SIZE, trl_utils._CHUNKED_LOGPROB_CHUNK_SIZE = saved


def unsupported_settings(args) -> list[str]:
    """GRPOConfig settings the hf rollout backend does not implement (empty: it can serve the run)."""
    found = []
    if getattr(args, "top_k", 0) not in (0, None):
        found.append(f"top_k={args.top_k}")
    if getattr(args, "min_p", None) not in (0, None):
        found.append(f"min_p={args.min_p}")
    if getattr(args, "repetition_penalty", 1.0) not in (1, 1.0, None):
        found.append(f"repetition_penalty={args.repetition_penalty}")
    if getattr(args, "generation_kwargs", None):
        found.append("generation_kwargs")
    return found


def rollout_seed(seed: int, step: int, process: int) -> int:
    """The rollout seed of one step on one process: ``seeds.derive_seed("rollouts", seed, step, process)``."""
    return derive_seed("rollouts", seed, step, process)


def shares_one_prompt(input_ids, attention_mask, prompt_width: int) -> bool:
    """All rows have the same prompt (the first ``prompt_width`` columns) and none of it is padding."""
    prompts = input_ids[:, :prompt_width]  # (B, P)
    return bool(attention_mask[:, :prompt_width].all()) and bool((prompts == prompts[:1]).all())


class FasterTrainer:
    """The speed-ups of the module docstring, as a mixin that ``faster`` puts before a GRPOTrainer class; its
    settings are the class attributes ``faster`` sets (named so that no TRL attribute is shadowed)."""

    _fast_rollouts: str = "hf"  # "trl": TRL's own rollouts
    _fast_shared_prompt: bool = True
    _fast_lm_head_tiles: tuple[int, int] | None = CPU_LM_HEAD_TILES  # None: TRL's tiles

    def training_step(self, *args, **kwargs):  # rollouts, reference and loss forward, backward
        with lm_head_tiles(self.accelerator.device, self._fast_lm_head_tiles):
            return super().training_step(*args, **kwargs)

    def _generate_single_turn(self, prompt_ids, images, multimodal_fields, num_generations, *args, **kwargs):
        if (self._fast_rollouts != "hf" or self.use_vllm
                or getattr(self, "use_transformers_continuous_batching", False) or images or multimodal_fields
                or unsupported_settings(self.args) or self._sharded_forward()):
            return super()._generate_single_turn(prompt_ids, images, multimodal_fields, num_generations,
                                                 *args, **kwargs)
        import torch
        from trl.models import unwrap_model_for_generation

        params = SamplingParams(temperature=self.args.temperature, top_p=self.args.top_p,
                                max_tokens=self.max_completion_length,
                                seed=rollout_seed(self.args.seed, self.state.global_step,
                                                  self.accelerator.process_index))
        with (unwrap_model_for_generation(self.model_wrapped, self.accelerator,
                                          gather_deepspeed3_params=self.args.ds3_gather_for_generation,
                                          gradient_checkpointing_kwargs=self.args.gradient_checkpointing_kwargs)
              as model, torch.no_grad(), self._dist.summon_full_params(self.model_wrapped, recurse=False)):
            backend = HFBackend(model, self._tokenizer, batch_size=max(1, len(prompt_ids)))
            backend.eos_ids = set(self.eos_token_ids)  # TRL's: the tokenizer's EOS and each one the model declares
            generated = backend.generate_ids([list(ids) for ids in prompt_ids], params)
        completion_ids = [list(g.token_ids) + ([g.eos_token_id] if g.eos_token_id is not None else [])
                          for (g,) in generated]
        return completion_ids, None

    def _sharded_forward(self) -> bool:
        """Each forward gathers parameters with collectives (FSDP; ZeRO-3 without gathering for generation):
        rows leaving at EOS would give processes different numbers of forwards and hang them, and FSDP2
        keeps the inference tensors the backend makes. TRL's ``generate`` keeps processes in step."""
        return self._dist.is_fsdp or (self._dist.is_zero3 and not self.args.ds3_gather_for_generation)

    def _get_per_token_logps_and_entropies(self, model, input_ids, attention_mask, logits_to_keep,
                                           batch_size=None, compute_entropy=False, compute_aux_loss=False,
                                           **multimodal):
        prompt_width = input_ids.shape[1] - logits_to_keep
        if (not self._fast_shared_prompt or compute_aux_loss or any(v is not None for v in multimodal.values())
                or prompt_width < 2 or not self._prompt_forward_is_safe(model)):
            return super()._get_per_token_logps_and_entropies(
                model, input_ids, attention_mask, logits_to_keep, batch_size, compute_entropy, compute_aux_loss,
                **multimodal)
        import torch

        batch_size = batch_size or input_ids.size(0)
        logps, entropies = [], []
        for start in range(0, input_ids.size(0), batch_size):
            rows, mask = input_ids[start : start + batch_size], attention_mask[start : start + batch_size]
            if shares_one_prompt(rows, mask, prompt_width):
                row_logps, row_entropies = self._shared_prompt_forward(model, rows, mask, prompt_width)
            else:
                row_logps, row_entropies, _ = super()._get_per_token_logps_and_entropies(
                    model, rows, mask, logits_to_keep, batch_size, compute_entropy)
            logps.append(row_logps[:, -logits_to_keep:])
            entropies.append(row_entropies[:, -logits_to_keep:] if compute_entropy else None)
        return torch.cat(logps), torch.cat(entropies) if compute_entropy else None, None

    def _prompt_forward_is_safe(self, model) -> bool:
        from accelerate.utils import DistributedType

        core = self.accelerator.unwrap_model(model)
        renamed = hasattr(core, "is_activation_checkpointing")  # transformers 5's name for it
        checkpointing = getattr(core, "is_activation_checkpointing" if renamed else "is_gradient_checkpointing", False)
        return not checkpointing and self.accelerator.distributed_type in (
            DistributedType.NO, DistributedType.MULTI_CPU, DistributedType.MULTI_GPU)

    def _shared_prompt_forward(self, model, rows, mask, prompt_width: int):
        """Log-probs and entropies (B, T) of the completion tokens of ``rows`` (B, P + T), all with one prompt."""
        import torch
        from transformers import DynamicCache

        core = self.accelerator.unwrap_model(model)  # the prompt runs outside DDP's hooks; the rest through them
        keyword = cache_keyword(core)
        count = rows.shape[0]
        cache = DynamicCache()
        with self.accelerator.autocast():
            core(input_ids=rows[:1, : prompt_width - 1], use_cache=True, logits_to_keep=1, **{keyword: cache})
            for layer in cache.layers:  # (1, H, P - 1, D) → (B, H, P - 1, D), a view: gradients sum over rows
                layer.keys = layer.keys.expand(count, -1, -1, -1)
                layer.values = layer.values.expand(count, -1, -1, -1)
            tail = rows[:, prompt_width - 1 :]  # (B, 1 + T): the prompt's last token, then the completion
            labels = tail.masked_fill(mask[:, prompt_width - 1 :] == 0, -100)
            labels[:, 0] = -100  # scored from the next position on: the completion tokens
            positions = torch.arange(prompt_width - 1, rows.shape[1], device=rows.device).expand(count, -1)
            outputs = model(input_ids=tail, attention_mask=mask, position_ids=positions, labels=labels,
                            fused_lm_head=True, **{keyword: cache})
        return outputs.log_probs, outputs.entropy  # (B, T) each (entropy None unless TRL asked for it)


def faster(trainer_class, *, rollouts: str = "hf", shared_prompt: bool = True,
           cpu_lm_head_tiles: tuple[int, int] | None = CPU_LM_HEAD_TILES):
    """``trainer_class`` (TRL's GRPOTrainer or a subclass) with the speed-ups of the module docstring
    (``cpu_lm_head_tiles=None`` keeps TRL's tiles)."""
    if rollouts not in ROLLOUT_BACKENDS:
        raise ValueError(f"rollouts must be one of {ROLLOUT_BACKENDS}, got {rollouts!r}")
    settings = {"_fast_rollouts": rollouts, "_fast_shared_prompt": shared_prompt,
                "_fast_lm_head_tiles": cpu_lm_head_tiles}
    name = f"Faster{trainer_class.__name__}"
    return types.new_class(name, (FasterTrainer, trainer_class), exec_body=lambda namespace: namespace.update(
        __module__=__name__, __qualname__=name, **settings))
