"""LoRA through TRL's ``peft_config``: the recipe's ``peft:`` block, and adapter checkpoints.

    peft: {rank: 16, alpha: 32, dropout: 0.05, target_modules: all-linear, save_merged: true}

TRL wraps the policy with ``get_peft_model``; with ``kl_coef > 0`` it computes the reference log-probs on
the same model with the adapter disabled, so the frozen base is the reference and no second copy is loaded.
A checkpoint ``step-N`` holds the adapter (``adapter_config.json``, ``adapter_model.safetensors``) and the
tokenizer; with ``save_merged`` also ``step-N/merged``: base + adapter merged, in the base dtype, which
``oneshot-rlvr eval --model`` loads. The merge is computed beside the training weights (W + B·A·scale), never
merged into them and back, so saving does not perturb training. PPO's critic stays a full model: only the
policy gets adapters. Defaults: TRL's LoRA examples (r 16, alpha 32, dropout 0.05, all linear layers).
"""

from __future__ import annotations

import difflib
import math
from typing import Any

LORA_DEFAULTS: dict[str, Any] = {"rank": 16, "alpha": 32.0, "dropout": 0.05, "target_modules": "all-linear",
                                 "save_merged": False}
LORA_KEYS = tuple(LORA_DEFAULTS)
MERGED = "merged"  # the merged model's folder inside a checkpoint


def check_peft_block(block: Any) -> dict[str, Any]:
    """The block with defaults filled in and types checked; ValueError (one line) naming the bad key.

    Empty (``{}``, null, none, off) means no LoRA and returns {}."""
    if not block or (isinstance(block, str) and block.strip().lower() in ("none", "null", "off", "~")):
        return {}
    if not isinstance(block, dict):
        raise ValueError(f"peft must be a mapping of {', '.join(LORA_KEYS)}, got {block!r}; write e.g. "
                         "peft: {rank: 16, alpha: 32}")
    for key in block:
        if key not in LORA_DEFAULTS:
            close = difflib.get_close_matches(str(key), LORA_KEYS, n=1)
            hint = f"did you mean {close[0]!r}?" if close else f"use {', '.join(LORA_KEYS)}"
            raise ValueError(f"peft has unknown key {key!r}; {hint}")
    values = {**LORA_DEFAULTS, **block}
    rank, alpha, dropout = values["rank"], values["alpha"], values["dropout"]
    targets, merged = values["target_modules"], values["save_merged"]

    def number(value) -> bool:
        return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)

    if not (isinstance(rank, int) and not isinstance(rank, bool) and rank >= 1):
        raise ValueError(f"peft.rank is {rank!r}; set a whole number >= 1 (e.g. 16)")
    if not (number(alpha) and alpha > 0):
        raise ValueError(f"peft.alpha is {alpha!r}; set a number > 0 (e.g. 32, twice the rank)")
    if not (number(dropout) and 0 <= dropout < 1):
        raise ValueError(f"peft.dropout is {dropout!r}; set 0 <= dropout < 1 (e.g. 0.05)")
    if isinstance(targets, str):
        targets = targets if targets == "all-linear" else [name.strip() for name in targets.split(",") if name.strip()]
    if not targets or not (targets == "all-linear" or all(isinstance(name, str) and name for name in targets)):
        raise ValueError(f"peft.target_modules is {values['target_modules']!r}; write all-linear or module "
                         "names, e.g. [q_proj, k_proj, v_proj, o_proj]")
    if not isinstance(merged, bool):
        raise ValueError(f"peft.save_merged is {merged!r}; write true or false")
    return {"rank": rank, "alpha": float(alpha), "dropout": float(dropout),
            "target_modules": targets if isinstance(targets, str) else list(targets), "save_merged": merged}


def lora_config(block: dict[str, Any]):
    """The ``peft.LoraConfig`` TRL receives as ``peft_config``."""
    try:
        from peft import LoraConfig
    except ImportError:
        raise ImportError("peft: LoRA needs the peft package; install it with pip install 'oneshot-rlvr[lora]'") from None
    return LoraConfig(r=block["rank"], lora_alpha=block["alpha"], lora_dropout=block["dropout"],
                      target_modules=block["target_modules"], bias="none", task_type="CAUSAL_LM")


def is_lora_model(model) -> bool:
    from accelerate.utils import is_peft_model

    return is_peft_model(model)


def merged_state_dict(model, dtype) -> dict:
    """The base model's state dict with each LoRA layer's delta added, in ``dtype`` (the adapter untouched)."""
    from peft.tuners.lora import LoraLayer

    base = model.get_base_model()
    deltas = {}
    for name, module in base.named_modules():
        if isinstance(module, LoraLayer):
            for adapter in module.active_adapters:
                delta = module.get_delta_weight(adapter).detach()
                deltas[name] = deltas[name] + delta if name in deltas else delta
    state = {}
    for key, value in base.state_dict().items():
        if ".lora_" in key:
            continue
        module_name, _, leaf = key.rpartition(".base_layer.")
        if module_name in deltas and leaf == "weight":
            value = value + deltas[module_name].to(value.dtype)
        clean = f"{module_name}.{leaf}" if module_name else key
        state[clean] = value.to(dtype) if value.is_floating_point() else value
    return state
