"""The evaluation settings: one frozen dataclass whose fields carry their help, source and limits in field
metadata (``settings.setting``), as ``TrainRecipe`` does; ``oneshot-rlvr eval --help`` is generated from it.

Protocol ``paper`` (Wang et al., the Qwen2.5-Math evaluation): greedy decoding for MATH500, Minerva Math and
OlympiadBench; 8 samples at temperature 0.6 for AIME24, AIME25 and AMC23 (avg@8); 3072 new tokens. Sampling
fields left None fall back to the protocol, then to greedy, 1 sample and 3072 tokens.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .data.benchmarks import BENCHMARK_SETS, BENCHMARKS
from .data.prompts import TEMPLATES
from .generation import SamplingParams
from .grading.graders import DEFAULT_GRADER, GRADERS
from .seeds import SEED_LIMIT
from .settings import SettingError, check_settings, setting

PAPER_SAMPLED = ("aime24", "aime25", "amc23")  # avg@8 at temperature 0.6 in the paper
PAPER_MAX_TOKENS = 3072
BACKENDS = ("hf", "vllm")
EVAL_DTYPES = ("auto", "float32", "bfloat16", "float16")


class EvalConfigError(SettingError):
    """An evaluation setting outside its limits (a ValueError): one line naming the field."""


@dataclass(frozen=True)
class EvalConfig:
    """Everything an evaluation run depends on (saved in summary.json)."""

    model: str = setting("smollm2-135m", "a Hugging Face id, a local folder, or smollm2-135m (the embedded "
                         "offline model)", "here", nonempty=True)
    benchmarks: tuple[str, ...] = setting(("math500",), "benchmark names, or paper6 / all", "paper")
    data_dir: str | None = setting(None, "a folder laid out as NAME/test.jsonl (null: the Hugging Face Hub)",
                                   "here", nonempty=True)
    template: str = setting("qwen25-math-cot", "the prompt (the paper's: the Qwen2.5-Math evaluation's)", "paper",
                            choices=tuple(TEMPLATES))
    backend: str = setting("hf", "hf (transformers, CPU or GPU) or vllm (GPU)", "here", choices=BACKENDS)
    protocol: str | None = setting(None, "paper: the paper's per-benchmark sampling (avg@8 at temperature 0.6 on "
                                   "AIME24/25 and AMC23, greedy elsewhere)", "paper", choices=("paper",))
    n_samples: int | None = setting(None, "samples per problem (null: 1, or the protocol's)", "paper", low=1)
    temperature: float | None = setting(None, "sampling temperature, 0 = greedy (null: 0, or the protocol's)",
                                        "paper", low=0, fix="set it to 0 (greedy) or more")
    top_p: float = setting(1.0, "nucleus sampling (1 = off, the Qwen2.5-Math evaluation's default)", "paper",
                           low=0, low_open=True, high=1, fix="set 0 < top_p <= 1")
    max_tokens: int | None = setting(None, f"new tokens per response (null: {PAPER_MAX_TOKENS}, the paper's)",
                                     "paper", low=1)
    seed: int = setting(0, "the sampling seed (each row's generator derives from it)", "here", low=0,
                        high=SEED_LIMIT, high_open=True, fix=f"set it from 0 to {SEED_LIMIT - 1}")
    limit: int | None = setting(None, "evaluate the first N problems of each benchmark (null: all)", "here", low=1)
    batch_size: int = setting(32, "rows decoded together by the hf backend (32 beat 16 by 1.4x in tokens/s on a "
                              "2-core CPU)", "here", low=1)
    device: str = setting("auto", "auto, cpu, cuda, cuda:1, ...", "here", nonempty=True)
    dtype: str = setting("auto", "model dtype (auto: bfloat16 on GPU, float32 on CPU)", "here", choices=EVAL_DTYPES)
    workers: int = setting(2, "grader processes", "here", low=1)
    grader: str = setting(DEFAULT_GRADER, "who decides: the training reward's grader (oneshot-rlvr) or the "
                          "Qwen2.5-Math evaluator (qwen25-math)", "here", choices=tuple(GRADERS))

    def __post_init__(self) -> None:
        check_settings(self, EvalConfigError)

    def sampling(self, benchmark: str) -> SamplingParams:
        sampled = self.protocol == "paper" and benchmark in PAPER_SAMPLED
        n = self.n_samples if self.n_samples is not None else (8 if sampled else 1)
        temperature = self.temperature if self.temperature is not None else (0.6 if sampled else 0.0)
        max_tokens = self.max_tokens if self.max_tokens is not None else PAPER_MAX_TOKENS
        return SamplingParams(n=n, temperature=temperature, top_p=self.top_p, max_tokens=max_tokens, seed=self.seed)


def parse_benchmarks(text: str, data_dir: str | None = None) -> tuple[str, ...]:
    """Names (and sets) → benchmark names; a name may also be a local folder DATA_DIR/NAME."""
    names: list[str] = []
    for part in (p.strip() for p in text.split(",") if p.strip()):
        names += BENCHMARK_SETS.get(part, (part,))
    unknown = [n for n in names if n not in BENCHMARKS and not (data_dir and (Path(data_dir) / n).is_dir())]
    if unknown or not names:
        raise ValueError(f"unknown benchmark {', '.join(unknown) or '(none given)'}; choose from "
                         f"{', '.join(BENCHMARKS)} or a set: {', '.join(BENCHMARK_SETS)}")
    return tuple(dict.fromkeys(names))
