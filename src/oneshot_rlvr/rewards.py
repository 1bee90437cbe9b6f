"""Training rewards on top of the grader, as TRL reward functions.

A TRL reward function is called as ``reward(prompts=..., completions=..., **columns)`` where
``columns`` holds every other dataset column (one value per completion) and returns one float per
completion. Three kinds (``REWARD_KINDS``):

- ``outcome``: 1.0 when the completion's final answer equals the gold answer, else 0.0. The gold answer
  is read from a dataset column (``answer`` by default). Extraction is **strict** by default: only the
  last complete ``\\boxed{...}`` counts, as in the paper's reward (Wang et al., arXiv 2504.20571).
  ``mode="lenient"`` also accepts "the answer is 5" and a trailing number, like the evaluation grader
  (so a lenient training reward also credits unboxed answers).
- ``format``: 1.0 when the completion holds a complete ``\\boxed{...}`` answer, whatever it says.
- ``none``: always 0.0 (entropy-loss-only runs, where the policy gradient term has no signal).
- ``random``: 1.0 or 0.0 with probability 1/2 each, whatever the completion says (a control: the same
  reward statistics as a real one without information; seeded by ``seed``, so a run repeats exactly).

Completions may be plain strings or TRL conversational messages
(``[{"role": "assistant", "content": "..."}]``): the last assistant message is graded; its content may
also be a list of parts (``[{"type": "text", "text": "..."}]``), whose text parts are joined.

``make_reward(kind, ...)`` builds a reward function named ``"<kind>_reward"`` (TRL logs rewards by
``__name__``); ``outcome_reward``, ``format_reward`` and ``none_reward`` are the defaults, ready-made.
Grading never raises on model output and each verdict has a wall-clock limit (``timeout``): a verdict
that runs past it scores 0.0. The symbolic stage runs on ``workers`` processes, started on first need.
"""

from __future__ import annotations

import os
from typing import Any, Callable

from .grading import DEFAULT_TIMEOUT_SECONDS, check_options, grade_many, has_boxed

__all__ = [
    "REWARD_KINDS", "RewardFunction", "completion_text", "format_reward", "make_reward", "none_reward",
    "outcome_reward",
]

REWARD_KINDS = ("outcome", "format", "none", "random")
DEFAULT_ANSWER_COLUMN = "answer"

RewardFunction = Callable[..., list[float]]


def _default_workers() -> int:
    return min(4, os.cpu_count() or 1)


def _part_text(part: Any) -> str:
    if isinstance(part, str):
        return part
    if isinstance(part, dict) and part.get("type", "text") == "text":
        text = part.get("text")
        return text if isinstance(text, str) else ""
    return ""  # images and other non-text parts


def _content_text(content: Any) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, (list, tuple)):
        return "".join(_part_text(part) for part in content)
    raise TypeError(f"message content must be a string or a list of parts, got {type(content).__name__}")


def completion_text(completion: Any) -> str:
    """The text to grade: a string as is; for chat messages, the content of the last assistant message.

    A message list without an assistant message yields "" (no answer, reward 0 for outcome and format).
    """
    if isinstance(completion, str):
        return completion
    if isinstance(completion, dict):  # a single message
        return _content_text(completion.get("content"))
    if isinstance(completion, (list, tuple)):
        for message in reversed(completion):
            if not isinstance(message, dict):
                raise TypeError(f"a conversational completion is a list of message dicts, got an item of type "
                                f"{type(message).__name__}")
            if message.get("role") == "assistant":
                return _content_text(message.get("content"))
        return ""
    raise TypeError(f"a completion must be a string or a list of chat messages, got {type(completion).__name__}")


def _gold_answers(columns: dict, answer_column: str, count: int) -> list:
    if answer_column not in columns:
        passed = ", ".join(sorted(columns)) or "none"
        raise ValueError(f"the outcome reward reads the gold answer from dataset column {answer_column!r}, "
                         f"which was not passed (columns passed: {passed}); add the column to the dataset or "
                         f"pass answer_column= to make_reward")
    answers = columns[answer_column]
    if isinstance(answers, (str, bytes)) or not hasattr(answers, "__iter__"):
        raise ValueError(f"column {answer_column!r} must hold one gold answer per completion, "
                         f"got a single {type(answers).__name__}")
    answers = list(answers)
    if len(answers) != count:
        raise ValueError(f"column {answer_column!r} has {len(answers)} values for {count} completions; "
                         f"it needs one gold answer per completion")
    for index, answer in enumerate(answers):
        if answer is None or (isinstance(answer, str) and not answer.strip()):
            raise ValueError(f"column {answer_column!r} has no gold answer ({answer!r}) for completion {index}; "
                             f"an empty gold would reward an empty \\boxed{{}}")
    return answers


def make_reward(kind: str, *, answer_column: str = DEFAULT_ANSWER_COLUMN, mode: str = "strict",
                timeout: float = DEFAULT_TIMEOUT_SECONDS, workers: int | None = None,
                name: str | None = None, seed: int = 0) -> RewardFunction:
    """A TRL reward function ``(prompts, completions, **columns) -> list[float]`` of the given ``kind``.

    ``answer_column``, ``mode``, ``timeout`` and ``workers`` matter for ``outcome`` only. The function's
    ``__name__`` is ``name`` or ``"<kind>_reward"``.
    """
    if kind not in REWARD_KINDS:
        raise ValueError(f"reward kind must be one of {REWARD_KINDS}, got {kind!r}")
    check_options(mode, timeout)
    if not isinstance(answer_column, str) or not answer_column:
        raise ValueError(f"answer_column must be a column name, got {answer_column!r}")
    workers = _default_workers() if workers is None else workers
    if workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers!r}")

    def texts(completions) -> list[str]:
        if completions is None:
            raise TypeError("a reward function needs completions=")
        return [completion_text(completion) for completion in completions]

    if kind == "outcome":
        def reward(prompts=None, completions=None, **columns) -> list[float]:
            responses = texts(completions)
            golds = _gold_answers(columns, answer_column, len(responses))
            verdicts = grade_many(zip(responses, golds), mode=mode, workers=workers, timeout=timeout)
            return [1.0 if verdict.correct else 0.0 for verdict in verdicts]
    elif kind == "format":
        def reward(prompts=None, completions=None, **columns) -> list[float]:
            return [1.0 if has_boxed(text) else 0.0 for text in texts(completions)]
    elif kind == "random":
        import random

        draws = random.Random(f"random-reward/{seed}")

        def reward(prompts=None, completions=None, **columns) -> list[float]:
            return [float(draws.random() < 0.5) for _ in texts(completions)]
    else:
        def reward(prompts=None, completions=None, **columns) -> list[float]:
            return [0.0] * len(texts(completions))

    reward.__name__ = reward.__qualname__ = name or f"{kind}_reward"
    reward.__doc__ = f"{kind!r} reward (TRL signature); see oneshot_rlvr.rewards."
    reward.kind, reward.mode, reward.answer_column = kind, mode, answer_column  # type: ignore[attr-defined]
    return reward


outcome_reward = make_reward("outcome")
format_reward = make_reward("format")
none_reward = make_reward("none")
