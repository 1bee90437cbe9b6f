"""Training rewards on top of the grader, as TRL reward functions.

A TRL reward function is called as ``reward(prompts=..., completions=..., **columns)`` (every other dataset
column, one value per completion) and returns one float per completion. ``make_reward(kind, ...)`` builds one
named ``"<kind>_reward"`` (TRL logs by ``__name__``) for each of ``REWARD_KINDS``; ``outcome_reward``,
``format_reward`` and ``none_reward`` are ready-made. Completions may be strings or TRL conversational messages.
Grading never raises; a verdict past ``timeout`` scores 0.0 (symbolic stage on ``workers`` processes).

Departures:
- ``outcome`` is strict by default, as the paper's reward (the last complete ``\\boxed{...}`` only);
  ``mode="lenient"`` also credits unboxed answers, like the evaluation grader.
- ``majority`` (TTRL) votes with grader equivalence, not string equality; an empty answer never votes.
- ``self-certainty`` (Intuitor) returns None: the trainer fills the scores in (``rollout_records``).

Each kind in detail: docs/training.md.
"""

from __future__ import annotations

import os
from typing import Any, Callable

from .grading import DEFAULT_TIMEOUT_SECONDS, check_options, extract_answer, grade_many, has_boxed

__all__ = [
    "REWARD_KINDS", "RewardFunction", "completion_text", "format_reward", "make_reward", "none_reward",
    "outcome_reward",
]

REWARD_KINDS = ("outcome", "format", "none", "random", "incorrect", "majority", "self-certainty")
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
                name: str | None = None, seed: int = 0, rate: float = 0.5,
                rollouts: int | None = None) -> RewardFunction:
    """A TRL reward function ``(prompts, completions, **columns) -> list[float]`` of the given ``kind``.

    ``answer_column`` matters for ``outcome`` and ``incorrect``; ``mode``, ``timeout`` and ``workers`` for
    those and ``majority``, which also needs ``rollouts`` (the group size, 2 or more); ``seed`` and ``rate``
    for ``random``. The function's ``__name__`` is ``name`` or ``"<kind>_reward"``.
    """
    if kind not in REWARD_KINDS:
        raise ValueError(f"reward kind must be one of {REWARD_KINDS}, got {kind!r}")
    if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 <= rate <= 1:
        raise ValueError(f"rate must be a probability between 0 and 1, got {rate!r}")
    if kind == "majority" and (isinstance(rollouts, bool) or not isinstance(rollouts, int) or rollouts < 2):
        raise ValueError(f"the majority reward votes within a group of rollouts: pass rollouts= (2 or more), "
                         f"got {rollouts!r}")
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

    if kind in ("outcome", "incorrect"):  # incorrect: the answer column holds wrong labels
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
            return [float(draws.random() < rate) for _ in texts(completions)]
    elif kind == "majority":
        def reward(prompts=None, completions=None, **columns) -> list[float]:
            return _majority_rewards(texts(completions), prompts, rollouts, mode=mode, timeout=timeout,
                                     workers=workers)
    elif kind == "self-certainty":  # needs the policy's logits: the trainer fills it (rollout_records)
        def reward(prompts=None, completions=None, **columns) -> list[float | None]:
            return [None] * len(texts(completions))
    else:
        def reward(prompts=None, completions=None, **columns) -> list[float]:
            return [0.0] * len(texts(completions))

    reward.__name__ = reward.__qualname__ = name or f"{kind}_reward"
    reward.__doc__ = f"{kind!r} reward (TRL signature); see oneshot_rlvr.rewards."
    reward.kind, reward.mode, reward.answer_column = kind, mode, answer_column  # type: ignore[attr-defined]
    return reward


# --- majority (TTRL) -----------------------------------------------------------------------------------

def _all_processes(items: list) -> tuple[list, int]:
    """Every process's items in rank order, and where this process's own start (a group may straddle two)."""
    try:
        import torch.distributed as dist
    except ImportError:
        return items, 0
    if not (dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1):
        return items, 0
    from accelerate.utils import gather_object

    sizes = gather_object([len(items)])
    return gather_object(list(items)), sum(sizes[: dist.get_rank()])


def _majority_rewards(local_texts: list[str], local_prompts, rollouts: int, *, mode: str, timeout: float,
                      workers: int) -> list[float]:
    local_prompts = list(local_prompts) if local_prompts is not None else [None] * len(local_texts)
    if len(local_prompts) != len(local_texts):
        raise ValueError(f"{len(local_prompts)} prompts for {len(local_texts)} completions")
    rows, offset = _all_processes(list(zip(local_texts, local_prompts)))
    if len(rows) % rollouts:
        raise ValueError(f"the majority reward reads groups of {rollouts} rollouts, but the batch holds "
                         f"{len(rows)} completions; pass the group size as rollouts=")
    texts = [text for text, _ in rows]
    answers = []
    for text in texts:
        answer = extract_answer(text, mode)
        answers.append(answer if answer is not None and answer.strip() else None)
    groups, pairs = [], []
    for start in range(0, len(rows), rollouts):
        if any(prompt != rows[start][1] for _, prompt in rows[start : start + rollouts]):
            raise ValueError(f"completions {start}..{start + rollouts - 1} do not share one prompt; the majority "
                             f"reward needs each prompt's {rollouts} rollouts in a row, as TRL passes them")
        first: dict[str, int] = {}  # distinct answer -> its first row, in order of occurrence
        for row in range(start, start + rollouts):
            if answers[row] is not None:
                first.setdefault(answers[row], row)
        distinct = list(first.items())
        # verdict (j, k), k < j: the row first giving answer j graded against answer k as gold (TTRL grades
        # each rollout against the voted label)
        index = {}
        for j in range(len(distinct)):
            for k in range(j):
                index[j, k] = len(pairs)
                pairs.append((texts[distinct[j][1]], distinct[k][0]))
        groups.append((start, distinct, index))
    verdicts = grade_many(pairs, mode=mode, workers=workers, timeout=timeout) if pairs else []
    scores = [0.0] * len(rows)
    for start, distinct, index in groups:
        def equal(j: int, k: int, index=index) -> bool:
            return j == k or verdicts[index[max(j, k), min(j, k)]].correct

        position = {answer: j for j, (answer, _) in enumerate(distinct)}
        classes: dict[int, int] = {}  # representative (first answer of its class) -> rows voting for it
        for j, (answer, _) in enumerate(distinct):
            votes = sum(answers[row] == answer for row in range(start, start + rollouts))
            representative = next((k for k in classes if equal(j, k)), j)
            classes[representative] = classes.get(representative, 0) + votes
        if not classes:
            continue  # no answer in the group: nothing to vote for
        # max() keeps the first of equal counts: the class whose answer occurs first (TTRL's most_common)
        winner = max(classes, key=classes.get)
        for row in range(start, start + rollouts):
            if answers[row] is not None and equal(position[answers[row]], winner):
                scores[row] = 1.0
    return scores[offset : offset + len(local_texts)]


outcome_reward = make_reward("outcome")
format_reward = make_reward("format")
none_reward = make_reward("none")
