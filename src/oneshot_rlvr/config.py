"""Training recipes: every training setting in one frozen dataclass, read from YAML, mapped to TRL.

``load_recipe(path, overrides)`` reads a YAML file of ``TrainRecipe`` fields (``recipes/*.yaml``), applies
overrides (typed values, or ``"key=value"`` strings through ``parse_override``), converts and checks every
value and returns a validated ``TrainRecipe``. A file may start from another: ``inherit: other.yaml`` (relative
to the file; chains allowed) is read first, then the file's own keys replace its values (``trl:`` entries,
one by one: ``trl.NAME`` overrides, e.g. ``trl.num_iterations=2``, and a file's entries add to those it
inherits; a recipe with a trl: block imports TRL to check them). Every problem is
a ``RecipeError`` (a ValueError) whose message is one line: what is wrong, where (key, file and line), how
to fix it — raised before any model loads.

``to_grpo_config(recipe, output_dir, num_processes=, device=)`` maps a recipe to ``trl.GRPOConfig``
(TRL 1.16; ``grpo_config_kwargs`` returns the same mapping as a dict without importing TRL):

| recipe | GRPOConfig | why |
|---|---|---|
| rollouts | num_generations | the group size G |
| micro_batch_size | per_device_train_batch_size | completions per forward/backward on one device |
| prompts_per_step·rollouts / (micro_batch_size·num_processes) | gradient_accumulation_steps and steps_per_generation | one generation batch = one optimizer step (verl: ppo_mini_batch = whole batch) |
| (fixed) | num_iterations=1 | verl ppo_epochs 1: on-policy, the ratio is 1, so clip_ratio only guards numerics (trl: num_iterations > 1 reuses each batch, and the clipping acts) |
| learning_rate, lr_scheduler, warmup_steps | learning_rate, lr_scheduler_type, warmup_steps | |
| weight_decay, max_grad_norm | weight_decay, max_grad_norm; optim="adamw_torch_fused" | torch AdamW, betas (0.9, 0.999), eps 1e-8 as verl; HF skips decay on biases and norms, verl does not; fused: one kernel for all parameters (SmolLM2-135M on CPU: 0.39 → 0.07 s a step, same values within 1.2e-7), TRL's default |
| temperature, top_p | temperature, top_p; top_k=0 | |
| max_response_tokens | max_completion_length | |
| max_prompt_tokens | (no field) | GRPOConfig 1.16 has no max_prompt_length and the trainer never truncates prompts: the train stage truncates them itself; with vLLM also vllm_max_model_length = prompt + response |
| kl_coef | beta; use_bias_correction_kl=False | TRL's per-token KL is k3, exp(r−l) − (r−l) − 1 = verl low_var_kl (verl also clamps it to ±10); TRL's default multiplies it by the importance ratio, which changes its gradient: off, as verl |
| entropy_coef | entropy_coef | TRL: loss = policy − entropy_coef·H (positive = bonus, negative = entropy minimisation), H the token mean over the micro-batch, as verl's pg_loss − entropy_coeff·entropy |
| clip_ratio | epsilon | verl clip_ratio (low = high); 0 = off: epsilon 1e9, a range no ratio leaves (1 − 1e9 < 0 < ratio < 1 + 1e9) |
| loss_aggregation | loss_type | LOSS_TYPES below |
| (fixed) | scale_rewards="group" | verl GRPO divides by the group's std (eps 1e-6; TRL 1e-4) |
| steps | max_steps | |
| algorithm | (trainer class) | grpo: TRL's GRPOTrainer; ppo: ``oneshot_rlvr.ppo.PPOTrainer`` on the same GRPOConfig (it replaces the advantages) |
| critic_learning_rate, value_clip, gae_gamma, gae_lambda, whiten_advantages | (no field) | read by ``ppo.PPOSettings`` (verl's critic and GAE defaults) |
| seed | seed | TRL also seeds its prompt sampler with it (shuffle_dataset kept: the copies are identical) |
| use_vllm, vllm_mode | use_vllm, vllm_mode | |
| rollout_backend, shared_prompt_forward | (trainer class) | ``fast_trainer.faster``: hf rollouts instead of TRL's ``model.generate`` (not with vLLM; trl = TRL's own), and the shared prompt run once in the loss forward; same numerics |
| dtype | bf16 (True only for bfloat16 on cuda); use_cpu = device == "cpu" | the train stage loads the model in ``resolve_dtype`` |
| gradient_checkpointing | activation_checkpointing (transformers 5 name; TRL defaults it to True) | |
| report_to | report_to | |
| (fixed) | save_strategy="no", eval_strategy="no", logging_steps=1, remove_unused_columns=False | the train stage saves checkpoints (base model dtype) and evaluates itself; reward functions read dataset columns |
| trl | any other GRPOConfig field, as given | ``trl_options``: names and types checked against GRPOConfig; a field in this table is refused with its recipe key, the train stage's own (output_dir, save/eval/logging, reward_weights, use_cpu, bf16) too; the fixed choices (num_iterations, steps_per_generation, top_k, optim, use_bias_correction_kl, scale_rewards) give way |

TRL facts the train stage relies on (checked in trl 1.16 source): GRPOConfig reads the process count from
the environment (accelerate's WORLD_SIZE), so ``num_processes`` must equal it; it requires
generation_batch_size % num_generations == 0 and num_generations ≥ 2 (both follow from ``validate``).
Its RepeatSampler draws generation_batch_size / num_generations distinct rows per step and drops an
incomplete chunk, so the train dataset needs at least prompts_per_step rows: duplicate the example, as the
paper does (128 copies). Build the GRPOConfig before touching accelerate's state: TrainingArguments resets it.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import math
import os
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from . import trl_options
from .data.benchmarks import BENCHMARKS, PAPER_SIX
from .data.prompts import TEMPLATES
from .fast_trainer import ROLLOUT_BACKENDS
from .grading import MODES
from .rewards import REWARD_KINDS

__all__ = [
    "ALGORITHMS", "DTYPES", "LOSS_TYPES", "RecipeError", "TrainRecipe", "grpo_config_kwargs", "load_recipe",
    "parse_override", "resolve_dtype", "to_grpo_config",
]

ALGORITHMS = ("grpo", "ppo")  # ppo: oneshot_rlvr.ppo.PPOTrainer (a critic and GAE on the same engine)
LOSS_TYPES = {  # recipe loss_aggregation (verl loss_agg_mode) -> TRL loss_type
    "token-mean": "dapo",  # mean over the active tokens of the whole step's batch
    "seq-mean-token-mean": "grpo",  # token mean per sequence, then mean over sequences
    "micro-token-mean": "bnpo",  # token mean per micro-batch / accumulation steps: the paper's verl code exactly
}
DTYPES = ("auto", "float32", "bfloat16")
SCHEDULERS = ("constant", "constant_with_warmup", "linear", "cosine")
BENCHMARK_SETS = {"paper6": PAPER_SIX, "all": tuple(BENCHMARKS)}
DEVICES = ("cpu", "cuda")


class RecipeError(ValueError):
    """A bad recipe: one line saying what, where and how to fix; ``key`` names the field when there is one."""

    def __init__(self, message: str, key: str | None = None) -> None:
        super().__init__(" ".join(str(message).split()))  # always one line
        self.key = key


@dataclass(frozen=True)
class TrainRecipe:
    """One training run. Sources: paper = Wang et al. 2025 (arXiv 2504.20571) training details; verl = its
    verl launch script / code; TRL = trl 1.16 GRPOConfig; here = this project's choice."""

    # --- model and data ---
    model: str = "Qwen/Qwen2.5-Math-1.5B"  # paper: main model; also a local folder or "smollm2-135m"
    data: str | None = None  # here: the example pool file (e.g. DSR-sub parquet); None = the train stage's default
    examples: str = "124"  # paper: π1 = DSR-sub index 124; "124,682", "all", or a selection file path
    wrong_label: str | None = None  # paper: the wrong-label experiment replaces the gold answer with this
    template: str = "deepscaler"  # paper: DSR-sub prompt ("Let's think step by step ... \boxed{}")
    # --- algorithm and reward ---
    algorithm: str = "grpo"  # paper: GRPO (main runs) or PPO (a critic, GAE; oneshot_rlvr.ppo)
    reward: str = "outcome"  # paper: 1 if the last \boxed{} equals the gold; format / none for ablations
    reward_mode: str = "strict"  # paper: only the last complete \boxed{} counts (grading.MODES)
    random_reward_rate: float = 0.5  # Spurious Rewards (Shao et al. 2025): reward random is 1 with this probability
    label_noise: float = 0.0  # here: share of examples trained against a wrong label (labels.py; reward incorrect = all)
    # --- batch ---
    prompts_per_step: int = 128  # paper / verl data.train_batch_size=128
    rollouts: int = 8  # paper / verl rollout.n=8
    micro_batch_size: int = 8  # here: completions per forward/backward per device (memory knob only)
    # --- optimizer ---
    learning_rate: float = 1e-6  # paper / verl actor.optim.lr
    lr_scheduler: str = "constant"  # verl: constant (no warmup)
    warmup_steps: int = 0  # verl: lr_warmup_steps_ratio 0
    weight_decay: float = 0.01  # verl: AdamW weight_decay 0.01
    max_grad_norm: float = 1.0  # verl: actor.grad_clip 1.0 (0 = no clipping)
    # --- rollout ---
    temperature: float = 0.6  # paper: training rollouts at temperature 0.6
    top_p: float = 1.0  # verl default
    max_prompt_tokens: int = 1024  # paper / verl data.max_prompt_length
    max_response_tokens: int = 3072  # paper / verl data.max_response_length
    # --- loss ---
    kl_coef: float = 0.001  # paper / verl kl_loss_coef with kl_loss_type low_var_kl
    entropy_coef: float = 0.001  # paper / verl entropy_coeff (bonus: loss = pg − coef·entropy)
    clip_ratio: float = 0.2  # verl actor.clip_ratio (0 = no clipping: the clipping ablation)
    loss_aggregation: str = "token-mean"  # verl loss_agg_mode (see LOSS_TYPES)
    # --- PPO critic and GAE (read only with algorithm: ppo) ---
    critic_learning_rate: float = 1e-5  # verl critic.optim.lr (constant, no warm-up)
    value_clip: float = 0.5  # verl critic.cliprange_value
    gae_gamma: float = 1.0  # verl algorithm.gamma
    gae_lambda: float = 1.0  # verl algorithm.lam
    whiten_advantages: bool = True  # verl: GAE advantages masked-whitened over the batch
    # --- schedule, checkpoints, evaluation ---
    steps: int = 2000  # paper: 2000 steps for π1
    save_every: int = 20  # verl trainer.save_freq 20 (0 = never)
    keep_checkpoints: int = 3  # here: newest checkpoints kept (0 = keep all)
    eval_every: int = 20  # verl trainer.test_freq 20 (0 = never)
    eval_benchmarks: tuple[str, ...] = ("math500",)  # paper: validation on MATH500 (names, paper6 or all)
    eval_limit: int | None = None  # here: first N problems per benchmark (None = all)
    eval_data_dir: str | None = None  # here: local benchmark folder (None = the Hub)
    eval_max_tokens: int = 3072  # paper: evaluation with 3072 new tokens
    eval_template: str = "qwen25-math-cot"  # paper: Qwen2.5-Math evaluation prompt
    seed: int = 0  # here
    # --- engine ---
    use_vllm: bool = False  # TRL: generate with vLLM (GPU only)
    rollout_backend: str = "hf"  # here: hf = fast_trainer rollouts (early exit, prompt run once); trl = model.generate
    shared_prompt_forward: bool = True  # here: rows with one prompt run it once in the loss forward (fast_trainer)
    vllm_mode: str = "colocate"  # TRL: colocate | server
    dtype: str = "auto"  # here: auto = bfloat16 on GPU (verl bf16), float32 on CPU
    report_to: str = "none"  # TRL / transformers report_to
    gradient_checkpointing: bool = False  # verl: enable_gradient_checkpointing (memory knob)
    trl: dict[str, Any] = field(default_factory=dict, hash=False)  # TRL: any other GRPOConfig field (trl_options)
    peft: dict[str, Any] = field(default_factory=dict, hash=False)  # here: LoRA through TRL's peft_config ({} = off; lora.py)

    def __post_init__(self) -> None:
        hints = _hints()
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            value = (trl_options.checked(value) if f.name == "trl" else _checked_peft(value) if f.name == "peft"
                     else _convert(f.name, value, hints[f.name], strings=False))
            object.__setattr__(self, f.name, value)
        self.validate()

    def validate(self) -> None:
        """Raise RecipeError for the first bad value (types are checked on construction)."""
        def need(ok: bool, key: str, message: str) -> None:
            if not ok:
                raise RecipeError(f"{key} {message}", key=key)

        def choice(key: str, options) -> None:
            need(getattr(self, key) in options, key, f"has unknown value {getattr(self, key)!r}; use one of "
                 f"{', '.join(options)}")

        for key, options in _CHOICES.items():
            need(getattr(self, key) in options, key, f"has unknown value {getattr(self, key)!r}; use one of "
                 f"{', '.join(options)}")
        for key in ("model", "examples", "report_to", "data", "wrong_label", "eval_data_dir"):
            need(getattr(self, key) is None or bool(getattr(self, key).strip()), key, "is empty; give a value")
        spec = self.examples.replace(" ", "")
        need(not set(spec) <= set("0123456789,") or all(part.isdigit() for part in spec.split(",")), "examples",
             f"{self.examples!r} is not a list of example ids; write e.g. '124' or '124,682'")
        need(self.rollouts >= 2, "rollouts", f"is {self.rollouts}, but GRPO needs a group of at least 2 rollouts "
             "per prompt to compute advantages; set rollouts: 2 or more")
        for key, low in _MINIMUMS.items():
            value = getattr(self, key)
            zero = {"keep_checkpoints": " (0 = keep all)", "seed": "", "warmup_steps": ""}.get(key, " (0 = off)")
            need(value is None or value >= low, key, f"is {value}; set it to {low} or more{zero if low == 0 else ''}")
        need(self.seed < 2**32, "seed", f"is {self.seed}; set it below 2**32 (numpy's seed range, which TRL seeds)")
        _check_split(self, 1)
        for key in ("random_reward_rate", "label_noise"):
            need(0 <= getattr(self, key) <= 1, key, f"is {getattr(self, key)}; set a probability from 0 to 1")
        need(self.label_noise == 0 or self.reward == "outcome", "label_noise", f"is {self.label_noise} but reward "
             f"{self.reward!r} reads no gold label; use reward: outcome (reward: incorrect replaces every label)")
        need(self.wrong_label is None or (self.label_noise == 0 and self.reward != "incorrect"), "wrong_label",
             "and label_noise / reward: incorrect both replace the gold; keep one")
        need(not (self.warmup_steps > 0 and self.lr_scheduler == "constant"), "warmup_steps",
             f"is {self.warmup_steps} but lr_scheduler 'constant' ignores warmup; use lr_scheduler: "
             "constant_with_warmup or warmup_steps: 0")
        need(self.learning_rate > 0, "learning_rate", f"is {self.learning_rate}; set a positive learning rate")
        need(self.temperature > 0, "temperature", f"is {self.temperature}; sampling needs a temperature > 0")
        need(0 < self.top_p <= 1, "top_p", f"is {self.top_p}; set 0 < top_p <= 1 (1.0 = off)")
        need(0 <= self.clip_ratio < 1, "clip_ratio", f"is {self.clip_ratio}; set 0 < clip_ratio < 1 (paper 0.2; 0 = off)")
        need(self.critic_learning_rate > 0, "critic_learning_rate", f"is {self.critic_learning_rate}; set a "
             "positive critic learning rate (verl 1e-5)")
        need(self.value_clip > 0, "value_clip", f"is {self.value_clip}; set value_clip > 0 (verl 0.5)")
        need(0 < self.gae_gamma <= 1, "gae_gamma", f"is {self.gae_gamma}; set 0 < gae_gamma <= 1 (verl 1.0)")
        need(0 <= self.gae_lambda <= 1, "gae_lambda", f"is {self.gae_lambda}; set 0 <= gae_lambda <= 1 (verl 1.0)")
        need(self.eval_every == 0 or bool(self.eval_benchmarks), "eval_benchmarks",
             "is empty but eval_every > 0; name a benchmark (e.g. math500) or set eval_every: 0")
        for name in self.eval_benchmarks:
            need(name in BENCHMARKS or name in BENCHMARK_SETS or self.eval_data_dir is not None, "eval_benchmarks",
                 f"has unknown benchmark {name!r}; use names from {', '.join(BENCHMARKS)}, or paper6 / all (a local "
                 "benchmark folder needs eval_data_dir)")

    @property
    def completions_per_step(self) -> int:
        return self.prompts_per_step * self.rollouts

    def expanded_benchmarks(self) -> tuple[str, ...]:
        """eval_benchmarks with paper6 / all expanded, duplicates dropped, in order."""
        names = [n for name in self.eval_benchmarks for n in BENCHMARK_SETS.get(name, (name,))]
        return tuple(dict.fromkeys(names))

    def to_dict(self) -> dict[str, Any]:
        """Plain values (tuples as lists), e.g. to save beside a run."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(self).items()}


FIELD_NAMES = tuple(f.name for f in dataclasses.fields(TrainRecipe))
_CHOICES = {"algorithm": ALGORITHMS, "reward": REWARD_KINDS, "reward_mode": MODES, "template": tuple(TEMPLATES),
            "eval_template": tuple(TEMPLATES), "loss_aggregation": tuple(LOSS_TYPES), "lr_scheduler": SCHEDULERS,
            "vllm_mode": ("colocate", "server"), "dtype": DTYPES, "rollout_backend": ROLLOUT_BACKENDS}
_MINIMUMS = {"prompts_per_step": 1, "micro_batch_size": 1, "steps": 1, "max_prompt_tokens": 1,
             "max_response_tokens": 1, "eval_max_tokens": 1, "eval_limit": 1, "save_every": 0, "eval_every": 0,
             "keep_checkpoints": 0, "warmup_steps": 0, "seed": 0, "kl_coef": 0,
             "weight_decay": 0, "max_grad_norm": 0}


@functools.lru_cache(maxsize=None)
def _hints() -> dict[str, Any]:
    return typing.get_type_hints(TrainRecipe)


def _check_split(recipe: TrainRecipe, num_processes: int) -> None:
    total, share = recipe.completions_per_step, recipe.micro_batch_size * num_processes
    if total % share == 0:
        return
    fits = [m for m in range(recipe.micro_batch_size, 0, -1) if total % (m * num_processes) == 0]
    fix = f"set micro_batch_size: {fits[0]}" if fits else "change prompts_per_step or rollouts"
    split = f" × {num_processes} processes" if num_processes > 1 else ""
    raise RecipeError(f"micro_batch_size {recipe.micro_batch_size}{split} does not divide prompts_per_step × "
                      f"rollouts = {recipe.prompts_per_step} × {recipe.rollouts} = {total} completions per step, "
                      f"so one step is not a whole number of micro-batches; {fix}", key="micro_batch_size")


# --- types --------------------------------------------------------------------------------------------

_NONE_WORDS = ("none", "null", "~", "")
_EXPECTED = {str: "a string", int: "a whole number", float: "a number", bool: "true or false",
             tuple: "a list of names (or one comma-separated string)"}
_BOOL_WORDS = {"true": True, "yes": True, "on": True, "1": True, "false": False, "no": False, "off": False, "0": False}


def _unwrap(hint) -> tuple[type, bool]:
    args = typing.get_args(hint)
    if typing.get_origin(hint) is tuple:
        return tuple, False
    if args and type(None) in args:  # X | None
        return next(a for a in args if a is not type(None)), True
    return hint, False


def _example(key: str) -> str:
    value = next(f.default for f in dataclasses.fields(TrainRecipe) if f.name == key)
    return yaml.safe_dump(list(value) if isinstance(value, tuple) else value, default_flow_style=True).split("\n")[0]


def _convert(key: str, value: Any, hint, *, strings: bool = True, where: str = "") -> Any:
    """``value`` as the field's type; ``strings`` also parses text (YAML scalars, ``--set``), else types are strict."""
    base, optional = _unwrap(hint)

    def bad() -> RecipeError:
        expected = f"{_EXPECTED[base]} ({base.__name__})" + (" or null" if optional else "")
        return RecipeError(f"{where + ': ' if where else ''}{key} must be {expected}, got {value!r}; write e.g. "
                           f"{key}: {_example(key)}", key=key)

    text = value.strip() if isinstance(value, str) else None
    if value is None or (strings and text is not None and text.lower() in _NONE_WORDS and base is not tuple
                         and (optional or base is not str)):
        if optional:
            return None
        raise bad()
    if base is tuple:
        if isinstance(value, str) and text.startswith("[") and text.endswith("]"):  # --set eval_benchmarks=[paper6]
            try:
                value = yaml.safe_load(text)
            except yaml.YAMLError:
                raise bad() from None
        elif isinstance(value, str):
            value = [item.strip() for item in value.split(",")] if text else []
        if isinstance(value, (list, tuple)) and all(isinstance(item, str) and item for item in value):
            return tuple(value)
        raise bad()
    if base is str:
        ids = value if isinstance(value, (list, tuple)) else [value]  # YAML `examples: 124` or [124, 682]
        if key == "examples" and ids and all(isinstance(i, int) and not isinstance(i, bool) for i in ids):
            return ",".join(map(str, ids))
        if isinstance(value, str):
            return value
        raise bad()
    if text is not None and strings:
        try:
            value = _BOOL_WORDS[text.lower()] if base is bool else int(text) if base is int else float(text)
        except (KeyError, ValueError):
            raise bad() from None
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if not (isinstance(value, bool) if base is bool else number and isinstance(value, int) if base is int
            else number and math.isfinite(value)):
        raise bad()
    return float(value) if base is float else value


# --- loading ------------------------------------------------------------------------------------------

def _unknown(key: Any, where: str) -> RecipeError:
    close = difflib.get_close_matches(str(key), FIELD_NAMES, n=1, cutoff=0.6)
    hint = f"did you mean {close[0]!r}?" if close else f"valid keys: {', '.join(FIELD_NAMES)}"
    return RecipeError(f"{where}: unknown key {key!r}; {hint}", key=None)


def _read_file(path: Path, values: dict, origins: dict, chain: tuple[Path, ...]) -> None:
    shown = str(path)
    if path.resolve() in chain:
        raise RecipeError(f"{shown}: inherit loops back to itself ({' -> '.join(map(str, chain))}); remove one inherit")
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise RecipeError(f"{shown}: cannot read the recipe ({error.strerror or error}); check the path") from None
    except UnicodeDecodeError as error:  # e.g. a parquet file passed as the recipe
        raise RecipeError(f"{shown}: not a UTF-8 text file (byte {error.object[error.start]:#04x} at offset "
                          f"{error.start}); a recipe is YAML text, check the path") from None
    if not text.strip():  # a truncated or wrong file (a file of only comments means the defaults)
        raise RecipeError(f"{shown}: the recipe file is empty; write its fields as 'key: value' lines, or start "
                          "from one in recipes/ with 'inherit: <that file>'")
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = f" line {mark.line + 1}" if mark is not None else ""
        raise RecipeError(f"{shown}{line}: not valid YAML ({getattr(error, 'problem', None) or error}); "
                          "fix the syntax") from None
    if data is None:  # only comments: the defaults
        return
    if not isinstance(data, dict) or not isinstance(node, yaml.MappingNode):
        raise RecipeError(f"{shown}: a recipe is a mapping of 'key: value' lines, got {type(data).__name__}; "
                          "write one field per line")
    lines: dict[Any, int] = {}
    trl_lines: dict[Any, int] = {}
    for key_node, value_node in node.value:
        key = key_node.value
        if key in lines:
            raise RecipeError(f"{shown} line {key_node.start_mark.line + 1}: key {key!r} is given twice (first on "
                              f"line {lines[key]}); keep one")
        lines[key] = key_node.start_mark.line + 1
        if key == "trl" and isinstance(value_node, yaml.MappingNode):
            trl_lines = {k.value: k.start_mark.line + 1 for k, _ in value_node.value}
    own = {}
    for key, value in data.items():
        where = f"{shown} line {lines.get(str(key), '?')}"
        if key == "inherit":
            if not isinstance(value, str) or not value:
                raise RecipeError(f"{where}: inherit must be a recipe file name, got {value!r}; fix it")
            _read_file(path.parent / value, values, origins, chain + (path.resolve(),))
        elif key == "trl":  # entries "trl.NAME", each with its line; added to the inherited ones
            for name, item in trl_options.block(value, where).items():
                own[f"trl.{name}"] = (item, f"{shown} line {trl_lines.get(name, lines['trl'])}")
        elif key not in FIELD_NAMES:
            raise _unknown(key, where)
        else:
            own[key] = (value if key == "peft" else _convert(key, value, _hints()[key], where=where), where)
    for key, (value, where) in own.items():  # the file's own keys replace inherited ones
        values[key], origins[key] = value, where


def _checked_peft(block: Any) -> dict[str, Any]:
    from .lora import check_peft_block

    try:
        return check_peft_block(block)
    except ValueError as error:
        raise RecipeError(str(error), key="peft") from None


def parse_override(text: str) -> tuple[str, str]:
    """``"kl_coef=0"`` -> ``("kl_coef", "0")`` (the value is converted by ``load_recipe``); dashes in keys allowed."""
    key, sep, value = str(text).partition("=")
    key = key.strip().replace("-", "_")
    if not sep or not key:
        raise RecipeError(f"override {text!r} is not key=value; write e.g. kl_coef=0")
    return key, value.strip()


def load_recipe(path: str | os.PathLike | None = None, overrides: dict | None = None) -> TrainRecipe:
    """The recipe in ``path`` (or the defaults) with ``overrides`` applied, validated; RecipeError when bad."""
    values: dict[str, Any] = {}
    origins: dict[str, str] = {}
    if path is not None:
        _read_file(Path(path), values, origins, ())
    for key, value in (overrides or {}).items():
        key = str(key).replace("-", "_")
        where = f"override {key}={value}" if path is None else f"override {key}={value} (on {path})"
        if key == "trl" or key.startswith("trl."):  # text values read as YAML; entries added to the file's
            value = trl_options.parse_value(value, where) if isinstance(value, str) else value
            for name, item in (trl_options.block(value, where) if key == "trl" else {key[4:]: value}).items():
                values[f"trl.{name}"], origins[f"trl.{name}"] = item, where
            continue
        if key == "peft" or key.startswith("peft."):  # text values read as YAML; peft.NAME sets one entry
            value = trl_options.parse_value(value, where) if isinstance(value, str) else value
            value = {**(values.get("peft") or {}), key[5:]: value} if key != "peft" else value
            values["peft"], origins["peft"] = value, where
            continue
        if key not in FIELD_NAMES:
            raise _unknown(key, where)
        values[key], origins[key] = _convert(key, value, _hints()[key], where=where), where
    trl = {key[4:]: values.pop(key) for key in [k for k in values if k.startswith("trl.")]}
    try:
        return TrainRecipe(**values, trl=trl)
    except RecipeError as error:
        where = origins.get(error.key or "") or (str(path) if path is not None else "defaults")
        raise RecipeError(f"{where}: {error}", key=error.key) from None


# --- TRL mapping --------------------------------------------------------------------------------------

def resolve_dtype(recipe: TrainRecipe, device: str) -> str:
    """The model dtype: ``auto`` is bfloat16 on cuda, float32 on cpu."""
    if recipe.dtype != "auto":
        return recipe.dtype
    return "bfloat16" if device == "cuda" else "float32"


def grpo_config_kwargs(recipe: TrainRecipe, output_dir: str, *, num_processes: int = 1,
                       device: str = "cpu") -> dict[str, Any]:
    """The GRPOConfig keyword arguments for ``recipe`` (the table in the module docstring); RecipeError when the
    batch does not split over ``num_processes`` or the engine does not fit ``device``."""
    if device not in DEVICES:
        raise RecipeError(f"device {device!r} is unknown; use cpu or cuda")
    if not isinstance(num_processes, int) or isinstance(num_processes, bool) or num_processes < 1:
        raise RecipeError(f"num_processes must be a whole number >= 1, got {num_processes!r}")
    _check_split(recipe, num_processes)
    if recipe.use_vllm and device == "cpu":
        raise RecipeError("use_vllm: vLLM generation needs a GPU; set use_vllm: false on cpu", key="use_vllm")
    accumulation = recipe.completions_per_step // (recipe.micro_batch_size * num_processes)
    kwargs = dict(
        output_dir=str(output_dir), num_generations=recipe.rollouts,
        per_device_train_batch_size=recipe.micro_batch_size, gradient_accumulation_steps=accumulation,
        steps_per_generation=accumulation, num_iterations=1, learning_rate=recipe.learning_rate,
        lr_scheduler_type=recipe.lr_scheduler, warmup_steps=recipe.warmup_steps, weight_decay=recipe.weight_decay,
        max_grad_norm=recipe.max_grad_norm, optim="adamw_torch_fused", temperature=recipe.temperature,
        top_p=recipe.top_p, top_k=0, max_completion_length=recipe.max_response_tokens, beta=recipe.kl_coef,
        use_bias_correction_kl=False, entropy_coef=recipe.entropy_coef, epsilon=recipe.clip_ratio or 1e9,
        loss_type=LOSS_TYPES[recipe.loss_aggregation], scale_rewards="group", max_steps=recipe.steps,
        save_strategy="no", eval_strategy="no", logging_steps=1, seed=recipe.seed, use_vllm=recipe.use_vllm,
        vllm_mode=recipe.vllm_mode, bf16=device == "cuda" and resolve_dtype(recipe, device) == "bfloat16",
        use_cpu=device == "cpu", gradient_checkpointing=recipe.gradient_checkpointing, report_to=recipe.report_to,
        remove_unused_columns=False,
    )
    if recipe.use_vllm:
        kwargs["vllm_max_model_length"] = recipe.max_prompt_tokens + recipe.max_response_tokens
    return trl_options.on_top(recipe, kwargs)


def to_grpo_config(recipe: TrainRecipe, output_dir: str, *, num_processes: int = 1, device: str = "cpu", **extra):
    """A ``trl.GRPOConfig`` for ``recipe`` (no model is loaded); RecipeError for anything TRL would reject.
    ``extra`` GRPOConfig fields go on top of the mapping (e.g. ``save_strategy``, ``reward_weights``): do not
    ``dataclasses.replace`` a built GRPOConfig, its __post_init__ then rejects the derived generation_batch_size."""
    world = os.environ.get("WORLD_SIZE")
    if world and world.isdigit() and int(world) != num_processes:
        raise RecipeError(f"num_processes is {num_processes} but this launch has WORLD_SIZE={world}; pass the "
                          "launcher's process count, int(os.environ['WORLD_SIZE'])")
    kwargs = {**grpo_config_kwargs(recipe, output_dir, num_processes=num_processes, device=device), **extra}
    from trl import GRPOConfig

    names = {f.name for f in dataclasses.fields(GRPOConfig)}
    if "activation_checkpointing" in names and "activation_checkpointing" not in kwargs:  # transformers 5 name
        kwargs["activation_checkpointing"] = kwargs.pop("gradient_checkpointing")
    try:
        return GRPOConfig(**kwargs)
    except (ValueError, TypeError) as error:
        block = " (or its trl: block)" if recipe.trl else ""
        raise RecipeError(f"TRL rejected the mapped GRPOConfig on {device}: {error}; fix the recipe{block} or run on "
                          "a machine that supports it") from None
