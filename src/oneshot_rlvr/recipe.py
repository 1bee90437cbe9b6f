"""The training recipe: every training setting in one frozen dataclass, each field with its help, source and
limits in field metadata (``settings.setting``).

``TrainRecipe(**values)`` converts and checks every value: types strictly (``convert``), each field against its
limits in one loop (``settings.check_settings``), then the rules that involve several fields. A bad value is a
``RecipeError``: one line saying what, where and how to fix. Reading YAML files and overrides, and the mapping
onto TRL's ``GRPOConfig``, are ``config.py``'s; every field with its source is listed in docs/recipe.md.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import typing
from dataclasses import dataclass
from typing import Any

import yaml

from . import trl_options
from .data.benchmarks import BENCHMARK_SETS, BENCHMARKS
from .data.prompts import TEMPLATES
from .fast_trainer import ROLLOUT_BACKENDS
from .grading import MODES
from .rewards import REWARD_KINDS
from .seeds import SEED_LIMIT
from .settings import SettingError, check_settings, setting

ALGORITHMS = ("grpo", "ppo")  # ppo: oneshot_rlvr.ppo.PPOTrainer (a critic and GAE on the same engine)
LOSS_TYPES = {  # recipe loss_aggregation (verl loss_agg_mode) -> TRL loss_type
    "token-mean": "dapo",  # mean over the active tokens of the whole step's batch
    "seq-mean-token-mean": "grpo",  # token mean per sequence, then mean over sequences
    "micro-token-mean": "bnpo",  # token mean per micro-batch / accumulation steps: the paper's verl code exactly
}
DTYPES = ("auto", "float32", "bfloat16")
SCHEDULERS = ("constant", "constant_with_warmup", "linear", "cosine")
VLLM_MODES = ("colocate", "server")
PROBABILITY = dict(low=0, high=1, fix="set a probability from 0 to 1")


class RecipeError(SettingError):
    """A bad recipe (a ValueError): one line saying what, where (key, file, line) and how to fix."""


@dataclass(frozen=True)
class TrainRecipe:
    """One training run. Each field's metadata holds its help, its source (paper, verl, TRL or here) and its
    limits; docs/recipe.md is generated from it."""

    # --- model and data ---
    model: str = setting("Qwen/Qwen2.5-Math-1.5B", "a Hugging Face id, a local folder, or smollm2-135m (the "
                         "embedded offline model)", "paper", nonempty=True)
    data: str | None = setting(None, "the example pool: verl parquet, JSONL {id, problem, answer}, or "
                               "hub:OWNER/NAME[:SPLIT] (e.g. DSR-sub)", "here", nonempty=True)
    examples: str = setting("124", "the example ids to train on (π1 = DSR-sub 124; '124,682'), all, or a "
                            "selection file", "paper", nonempty=True)
    wrong_label: str | None = setting(None, "train against this wrong gold answer (the wrong-label experiment)",
                                      "paper", nonempty=True)
    template: str = setting("deepscaler", "the training prompt (DSR-sub's \"Let's think step by step ... "
                            "\\boxed{}\")", "paper", choices=tuple(TEMPLATES))
    # --- algorithm and reward ---
    algorithm: str = setting("grpo", "grpo, or ppo (a critic and GAE advantages, oneshot_rlvr.ppo)", "paper",
                             choices=ALGORITHMS)
    reward: str = setting("outcome", "outcome: 1 if the last \\boxed{} equals the gold; format, none and the "
                          "spurious / label-free rewards for the controls (rewards.py)", "paper", choices=REWARD_KINDS)
    reward_mode: str = setting("strict", "strict: only the last complete \\boxed{} counts; lenient also reads "
                               "unboxed answers", "paper", choices=MODES)
    random_reward_rate: float = setting(0.5, "reward random: the probability of a reward of 1 (Spurious Rewards "
                                        "use 0.5)", "here", **PROBABILITY)
    label_noise: float = setting(0.0, "the share of examples trained against a wrong label (labels.py; reward "
                                 "incorrect replaces all)", "here", **PROBABILITY)
    # --- batch ---
    prompts_per_step: int = setting(128, "prompts per optimizer step (data.train_batch_size)", "paper", low=1)
    rollouts: int = setting(8, "rollouts per prompt, the group size G (rollout.n)", "paper", low=2,
                            fix="GRPO needs a group of at least 2 rollouts per prompt to compute advantages; set "
                                "rollouts: 2 or more")
    micro_batch_size: int = setting(8, "completions per forward/backward on one device (memory only)", "here",
                                    low=1)
    # --- optimizer ---
    learning_rate: float = setting(1e-6, "AdamW learning rate (actor.optim.lr)", "paper", low=0, low_open=True,
                                   fix="set a positive learning rate")
    lr_scheduler: str = setting("constant", "learning-rate schedule (constant: no warm-up)", "verl",
                                choices=SCHEDULERS)
    warmup_steps: int = setting(0, "warm-up steps (lr_warmup_steps_ratio 0)", "verl", low=0)
    weight_decay: float = setting(0.01, "AdamW weight decay", "paper", low=0, zero="off")
    max_grad_norm: float = setting(1.0, "gradient clipping norm (actor.grad_clip; 0 = off)", "paper", low=0,
                                   zero="off")
    # --- rollout ---
    temperature: float = setting(0.6, "sampling temperature of training rollouts", "paper", low=0, low_open=True,
                                 fix="sampling needs a temperature > 0")
    top_p: float = setting(1.0, "nucleus sampling of rollouts (1.0 = off)", "verl", low=0, low_open=True, high=1,
                           fix="set 0 < top_p <= 1 (1.0 = off)")
    max_prompt_tokens: int = setting(1024, "longer prompts are dropped (data.max_prompt_length)", "paper", low=1)
    max_response_tokens: int = setting(3072, "tokens per rollout (data.max_response_length)", "paper", low=1)
    # --- loss ---
    kl_coef: float = setting(0.001, "k3 KL loss coefficient (kl_loss_coef, low_var_kl; 0 = off)", "paper", low=0,
                             zero="off")
    entropy_coef: float = setting(0.001, "entropy coefficient: loss = pg − coef·entropy (> 0 bonus, < 0 entropy "
                                  "minimisation)", "paper")
    clip_ratio: float = setting(0.2, "PPO clip range ε (0 = no clipping: the clipping ablation)", "paper", low=0,
                                high=1, high_open=True, fix="set 0 < clip_ratio < 1 (paper 0.2; 0 = off)")
    loss_aggregation: str = setting("token-mean", "how token losses are averaged (verl loss_agg_mode; TRL "
                                    "loss_type in docs/recipe.md)", "verl", choices=tuple(LOSS_TYPES))
    # --- PPO critic and GAE (read only with algorithm: ppo) ---
    critic_learning_rate: float = setting(1e-5, "PPO: critic learning rate (critic.optim.lr, constant)", "verl",
                                          low=0, low_open=True,
                                          fix="set a positive critic learning rate (verl 1e-5)")
    value_clip: float = setting(0.5, "PPO: value clip range (critic.cliprange_value)", "verl", low=0,
                                low_open=True, fix="set value_clip > 0 (verl 0.5)")
    gae_gamma: float = setting(1.0, "PPO: GAE discount γ (algorithm.gamma)", "verl", low=0, low_open=True, high=1,
                               fix="set 0 < gae_gamma <= 1 (verl 1.0)")
    gae_lambda: float = setting(1.0, "PPO: GAE λ (algorithm.lam)", "verl", low=0, high=1,
                                fix="set 0 <= gae_lambda <= 1 (verl 1.0)")
    whiten_advantages: bool = setting(True, "PPO: whiten GAE advantages over the batch", "verl")
    # --- schedule, checkpoints, evaluation ---
    steps: int = setting(2000, "optimizer steps (the paper trains π1 for 2000)", "paper", low=1)
    save_every: int = setting(20, "save a checkpoint every N steps (trainer.save_freq; 0 = never)", "verl", low=0,
                              zero="off")
    keep_checkpoints: int = setting(3, "newest checkpoints kept (0 = keep all)", "here", low=0, zero="keep all")
    eval_every: int = setting(20, "held-out evaluation every N steps, and at step 0 (trainer.test_freq; 0 = "
                              "never)", "verl", low=0, zero="off")
    eval_benchmarks: tuple[str, ...] = setting(("math500",), "held-out benchmarks: names, paper6 or all (the "
                                               "paper validates on MATH500)", "paper")
    eval_limit: int | None = setting(None, "first N problems per benchmark (null = all)", "here", low=1)
    eval_data_dir: str | None = setting(None, "local benchmark folder NAME/test.jsonl (null = the Hub)", "here",
                                        nonempty=True)
    eval_max_tokens: int = setting(3072, "new tokens per held-out response", "paper", low=1)
    eval_template: str = setting("qwen25-math-cot", "held-out prompt (Qwen2.5-Math evaluation)", "paper",
                                 choices=tuple(TEMPLATES))
    seed: int = setting(0, "seeds TRL, rollouts, rewards and held-out sampling", "here", low=0, high=SEED_LIMIT,
                        high_open=True, high_fix="set it below 2**32 (numpy's seed range, which TRL seeds)")
    # --- engine ---
    use_vllm: bool = setting(False, "generate rollouts with vLLM (GPU only)", "TRL")
    rollout_backend: str = setting("hf", "hf: fast_trainer rollouts (rows leave at EOS, prompt run once); trl: "
                                   "TRL's model.generate", "here", choices=ROLLOUT_BACKENDS)
    shared_prompt_forward: bool = setting(True, "rows with one prompt run it once in the loss forward "
                                          "(fast_trainer; same numerics)", "here")
    vllm_mode: str = setting("colocate", "vLLM beside training (colocate) or as a server", "TRL",
                             choices=VLLM_MODES)
    dtype: str = setting("auto", "model dtype; auto = bfloat16 on GPU (verl bf16), float32 on CPU", "here",
                         choices=DTYPES)
    report_to: str = setting("none", "logging integration: none, all, tensorboard, wandb, ...", "TRL",
                             nonempty=True)
    gradient_checkpointing: bool = setting(False, "recompute activations in backward (memory knob)", "verl")
    trl: dict[str, Any] = setting(default_factory=dict, help="any other GRPOConfig field, by its TRL name "
                                  "(trl_options; docs/training.md)", source="TRL", hash=False)
    peft: dict[str, Any] = setting(default_factory=dict, help="LoRA through TRL's peft_config ({} = off; lora.py)",
                                   source="here", hash=False)

    def __post_init__(self) -> None:
        hints = _hints()
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            value = (trl_options.checked(value) if f.name == "trl" else _checked_peft(value) if f.name == "peft"
                     else convert(f.name, value, hints[f.name], strings=False))
            object.__setattr__(self, f.name, value)
        check_settings(self, RecipeError)
        self.check_rules()

    def check_rules(self) -> None:
        """The rules that involve several fields (or a field's inner format); RecipeError for the first broken."""
        def need(ok: bool, key: str, message: str) -> None:
            if not ok:
                raise RecipeError(f"{key} {message}", key=key)

        spec = self.examples.replace(" ", "")
        need(not set(spec) <= set("0123456789,") or all(part.isdigit() for part in spec.split(",")), "examples",
             f"{self.examples!r} is not a list of example ids; write e.g. '124' or '124,682'")
        check_split(self, 1)
        need(self.label_noise == 0 or self.reward == "outcome", "label_noise", f"is {self.label_noise} but reward "
             f"{self.reward!r} reads no gold label; use reward: outcome (reward: incorrect replaces every label)")
        need(self.wrong_label is None or (self.label_noise == 0 and self.reward != "incorrect"), "wrong_label",
             "and label_noise / reward: incorrect both replace the gold; keep one")
        need(not (self.warmup_steps > 0 and self.lr_scheduler == "constant"), "warmup_steps",
             f"is {self.warmup_steps} but lr_scheduler 'constant' ignores warmup; use lr_scheduler: "
             "constant_with_warmup or warmup_steps: 0")
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


@functools.lru_cache(maxsize=None)
def _hints() -> dict[str, Any]:
    return typing.get_type_hints(TrainRecipe)


def field_type(key: str):
    return _hints()[key]


def check_split(recipe: TrainRecipe, num_processes: int) -> None:
    """RecipeError when one step's completions do not split into whole micro-batches over ``num_processes``."""
    total, share = recipe.completions_per_step, recipe.micro_batch_size * num_processes
    if total % share == 0:
        return
    fits = [m for m in range(recipe.micro_batch_size, 0, -1) if total % (m * num_processes) == 0]
    fix = f"set micro_batch_size: {fits[0]}" if fits else "change prompts_per_step or rollouts"
    split = f" × {num_processes} processes" if num_processes > 1 else ""
    raise RecipeError(f"micro_batch_size {recipe.micro_batch_size}{split} does not divide prompts_per_step × "
                      f"rollouts = {recipe.prompts_per_step} × {recipe.rollouts} = {total} completions per step, "
                      f"so one step is not a whole number of micro-batches; {fix}", key="micro_batch_size")


def _checked_peft(block: Any) -> dict[str, Any]:
    from .lora import check_peft_block

    try:
        return check_peft_block(block)
    except ValueError as error:
        raise RecipeError(str(error), key="peft") from None


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


def convert(key: str, value: Any, hint, *, strings: bool = True, where: str = "") -> Any:
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


