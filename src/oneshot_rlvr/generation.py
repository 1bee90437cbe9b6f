"""Generation backends for evaluation: ``hf`` (transformers, CPU or GPU) and ``vllm`` (optional).

``HFBackend`` does not call ``model.generate``, which keeps every row of a batch running until the longest
row ends. Here rows (prompt × sample) are sorted by prompt length and batched, each distinct prompt runs
once, and a row leaves its batch's decode loop (and KV cache) the step it emits EOS or a stop string, so the
cost follows the tokens actually generated. Sampling draws from one ``torch.Generator`` per row, seeded by
(seed, prompt, sample) through ``seeds.derive_seed``: a row's randomness does not depend on which rows
share its batch. Greedy when temperature is 0. The numerics are the model's own forward pass, so
log-probabilities match ``model.generate`` up to the usual batched-matmul differences.
"""

from __future__ import annotations

import inspect
from collections import deque
from dataclasses import dataclass
from typing import Callable, Protocol

from .seeds import derive_seed

PROGRESS = Callable[[int], None]  # called with the number of rows just finished


@dataclass(frozen=True)
class SamplingParams:
    """``n`` samples per prompt; ``temperature`` 0 = greedy; ``stop`` strings end a row (not included)."""

    n: int = 1
    temperature: float = 0.0
    top_p: float = 1.0
    max_tokens: int = 3072
    seed: int = 0
    stop: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.n < 1:
            raise ValueError(f"n (samples per prompt) must be at least 1, got {self.n}")
        if self.temperature < 0:
            raise ValueError(f"temperature must be ≥ 0, got {self.temperature}")
        if not 0 < self.top_p <= 1:
            raise ValueError(f"top_p must be in (0, 1], got {self.top_p}")
        if self.max_tokens < 1:
            raise ValueError(f"max_tokens must be at least 1, got {self.max_tokens}")


@dataclass(frozen=True)
class Completion:
    """One sampled response: ``text``, ``num_tokens`` generated, ``finish_reason`` "stop" | "length"."""

    text: str
    num_tokens: int
    finish_reason: str


@dataclass(frozen=True)
class GeneratedIds:
    """One continuation as token ids (without the EOS that ended it: that is ``eos_token_id``, else None), its
    ``finish_reason`` "stop" | "length", and, when asked for, ``logprobs``: one per sampled token, the ending
    EOS's included (so one more than ``token_ids`` when ``eos_token_id`` is set)."""

    token_ids: tuple[int, ...]
    finish_reason: str
    logprobs: tuple[float, ...] | None = None
    eos_token_id: int | None = None


class Backend(Protocol):
    name: str

    def generate(self, prompts: list[str], params: SamplingParams, *, add_special_tokens: bool = False,
                 progress: PROGRESS | None = None, prompt_indices: list[int] | None = None) -> list[list[Completion]]:
        """``params.n`` completions for each prompt, in prompt order. ``prompt_indices``: each prompt's index in
        the whole set, for its sampling seed (a set generated in parts samples as if generated at once)."""


class BackendError(ValueError):
    """A backend that cannot run here (missing package, bad setting): the message says how to fix it."""


def cache_keyword(model) -> str:
    """The name of the KV-cache argument of ``model``'s forward: transformers 5.x renamed ``past_key_values`` to
    ``cache`` (the old name warns, then goes)."""
    return "cache" if "cache" in inspect.signature(type(model).forward).parameters else "past_key_values"


def row_seed(seed: int, prompt_index: int, sample_index: int) -> int:
    """The sampling seed of one row: ``seeds.derive_seed(seed, prompt_index, sample_index)``."""
    return derive_seed(seed, prompt_index, sample_index)


class HFBackend:
    """Batched, length-sorted, early-exit decoding with a transformers model (see the module docstring)."""

    name = "hf"

    def __init__(self, model, tokenizer, batch_size: int = 32) -> None:
        if batch_size < 1:
            raise BackendError(f"batch size must be at least 1, got {batch_size}")
        self.model, self.tokenizer, self.batch_size = model, tokenizer, batch_size
        eos = getattr(model.generation_config, "eos_token_id", None) or tokenizer.eos_token_id
        self.eos_ids = set(eos if isinstance(eos, (list, tuple)) else [eos]) - {None}
        self.pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else min(self.eos_ids, default=0)
        self._cache_keyword = cache_keyword(model)

    def generate(self, prompts: list[str], params: SamplingParams, *, add_special_tokens: bool = False,
                 progress: PROGRESS | None = None, prompt_indices: list[int] | None = None) -> list[list[Completion]]:
        encoded = [self.tokenizer(p, add_special_tokens=add_special_tokens)["input_ids"] for p in prompts]
        generated = self.generate_ids(encoded, params, progress=progress, prompt_indices=prompt_indices)
        return [[self._completion(list(g.token_ids), g.finish_reason, params.stop) for g in row] for row in generated]

    def generate_ids(self, prompt_ids: list[list[int]], params: SamplingParams, *, progress: PROGRESS | None = None,
                     logprobs: bool = False, prompt_indices: list[int] | None = None) -> list[list["GeneratedIds"]]:
        """``params.n`` continuations of each tokenized prompt, in prompt order. Token ids exclude the EOS that
        ended a row (``finish_reason`` "stop"); with ``logprobs`` each sampled token's log-probability under the
        sampling distribution (logits / temperature; greedy: temperature 1), as the trainer's loss computes it."""
        import torch

        rows = [(p, s) for p in range(len(prompt_ids)) for s in range(params.n)]
        rows.sort(key=lambda row: -len(prompt_ids[row[0]]))  # similar lengths join together: little padding
        pending = deque(rows)
        device = self.model.device
        index = prompt_indices or range(len(prompt_ids))  # the seed follows the prompt's place in the whole set
        generators = {(p, s): torch.Generator(device=device).manual_seed(row_seed(params.seed, index[p], s))
                      for p, s in rows}
        outputs: dict[tuple[int, int], list[int]] = {row: [] for row in rows}
        token_logprobs: dict[tuple[int, int], list[float]] = {row: [] for row in rows}
        finish: dict[tuple[int, int], str] = {}
        ended_by: dict[tuple[int, int], int] = {}
        refill_at = max(1, self.batch_size // 4)  # prefill new rows in groups, not one at a time
        batch: _RunningBatch | None = None
        with torch.inference_mode():
            while pending or batch is not None:
                free = self.batch_size - (len(batch.rows) if batch else 0)
                if pending and (batch is None or free >= min(refill_at, len(pending))):
                    joining = [pending.popleft() for _ in range(min(free, len(pending)))]
                    batch = self._prefill(joining, [prompt_ids[p] for p, _ in joining]).join(batch)
                logits = batch.logits.float()  # (A, V)
                tokens = self._sample(logits, [generators[row] for row in batch.rows], params)  # (A,)
                if logprobs:
                    scaled = logits / params.temperature if params.temperature > 0 else logits
                    chosen = torch.log_softmax(scaled, dim=-1).gather(-1, tokens[:, None])[:, 0].tolist()  # (A,)
                keep = []
                for slot, row in enumerate(batch.rows):
                    token = int(tokens[slot])
                    if logprobs:
                        token_logprobs[row].append(chosen[slot])
                    if token in self.eos_ids or (params.stop and self._hit_stop(outputs[row] + [token], params.stop)):
                        finish[row] = "stop"
                        if token not in self.eos_ids:
                            outputs[row].append(token)
                        else:
                            ended_by[row] = token
                    else:
                        outputs[row].append(token)
                        if len(outputs[row]) >= params.max_tokens:
                            finish[row] = "length"
                        else:
                            keep.append(slot)
                if progress and len(keep) < len(batch.rows):
                    progress(len(batch.rows) - len(keep))
                if not keep:
                    batch = None
                    continue
                if len(keep) < len(batch.rows):  # copies the cache: only when a row has left
                    batch = batch.select(keep)
                batch.step(lambda mask, positions: self._forward(tokens[keep][:, None], mask, positions, batch.cache))
        return [[GeneratedIds(tuple(outputs[(p, s)]), finish[(p, s)],
                              tuple(token_logprobs[(p, s)]) if logprobs else None, ended_by.get((p, s)))
                 for s in range(params.n)]
                for p in range(len(prompt_ids))]

    def _forward(self, input_ids, mask, positions, cache, last_only: bool = False):
        """Logits of the last position, (A, V); extends ``cache`` in place."""
        extra = {"logits_to_keep": 1} if last_only else {}
        return self.model(input_ids=input_ids, attention_mask=mask, position_ids=positions, use_cache=True,
                          **{self._cache_keyword: cache}, **extra).logits[:, -1, :]

    def _prefill(self, rows: list[tuple[int, int]], prompt_ids: list[list[int]]) -> "_RunningBatch":
        """Run the prompts of joining ``rows``; each distinct prompt once (samples of one prompt, and the copies of
        a 1-shot batch, share it), its cache rows then copied to every row that has it."""
        import torch
        from transformers import DynamicCache

        device = self.model.device
        distinct = list(dict.fromkeys(tuple(ids) for ids in prompt_ids))
        width = max(len(ids) for ids in distinct)
        input_ids = torch.tensor([[self.pad_id] * (width - len(ids)) + list(ids) for ids in distinct], device=device)
        mask = torch.tensor([[0] * (width - len(ids)) + [1] * len(ids) for ids in distinct], device=device)
        positions = (mask.cumsum(-1) - 1).clamp(min=0)  # (U, P): left padding shifts no position
        cache = DynamicCache()
        logits = self._forward(input_ids, mask, positions, cache, last_only=True)  # (U, V)
        if len(distinct) < len(rows):
            where = {ids: index for index, ids in enumerate(distinct)}
            index = torch.tensor([where[tuple(ids)] for ids in prompt_ids], device=device)  # (B,)
            for layer in cache.layers:
                layer.keys, layer.values = layer.keys[index], layer.values[index]
            mask, positions, logits = mask[index], positions[index], logits[index]
        return _RunningBatch(list(rows), cache, mask, positions[:, -1:] + 1, logits)

    @staticmethod
    def _sample(logits, generators, params: SamplingParams):
        """One token per row of ``logits`` (A, V): argmax when greedy, else temperature + top-p sampling."""
        import torch

        if params.temperature == 0:
            return logits.argmax(dim=-1)
        probs = torch.softmax(logits / params.temperature, dim=-1)  # (A, V)
        if params.top_p < 1:
            sorted_probs, order = probs.sort(dim=-1, descending=True)
            outside = sorted_probs.cumsum(-1) - sorted_probs > params.top_p  # mass before this token ≥ top_p
            sorted_probs[outside] = 0
            probs = torch.zeros_like(probs).scatter(-1, order, sorted_probs)
        # Inverse-CDF sampling: one uniform per row from that row's generator (a row's draws do not depend on
        # which rows share its batch), then one cumsum + searchsorted for the batch. torch.multinomial per row
        # drew an exponential for every vocabulary entry: ~1 ms a row per token for a 49k vocabulary here.
        uniforms = torch.cat([torch.rand(1, generator=g, device=probs.device, dtype=torch.float64)
                              for g in generators])  # (A,)
        cdf = probs.double().cumsum(-1)  # (A, V), float64: no drift over the vocabulary
        # right=True: the first entry whose cdf exceeds u·total, which has probability > 0
        tokens = torch.searchsorted(cdf, (uniforms * cdf[:, -1]).unsqueeze(-1), right=True)[:, 0]  # (A,)
        return tokens.clamp(max=probs.shape[-1] - 1)

    def _hit_stop(self, tokens: list[int], stop: tuple[str, ...]) -> bool:
        tail = self.tokenizer.decode(tokens[-max(8, max(map(len, stop)) + 4) :], skip_special_tokens=True)
        return any(s in tail for s in stop)

    def _completion(self, tokens: list[int], finish: str, stop: tuple[str, ...]) -> Completion:
        text = self.tokenizer.decode(tokens, skip_special_tokens=True)
        for s in stop:
            if s in text:
                text = text[: text.index(s)]
        return Completion(text=text, num_tokens=len(tokens), finish_reason=finish)


class _RunningBatch:
    """The rows being decoded together: their KV cache (per layer, keys/values of shape (A, H, L, D)),
    attention ``mask`` (A, L), next ``positions`` (A, 1) and the ``logits`` (A, V) to sample from.

    Rows join (``join``: both caches left-padded to one length, then concatenated on the batch axis) and
    leave (``select``); columns that are padding for every row are cut off, so L stays the longest
    live row's length, not the time since the batch began.
    """

    def __init__(self, rows, cache, mask, positions, logits) -> None:
        self.rows, self.cache, self.mask, self.positions, self.logits = rows, cache, mask, positions, logits

    def join(self, other: "_RunningBatch | None") -> "_RunningBatch":
        import torch
        import torch.nn.functional as F

        if other is None:
            return self
        width = max(self.mask.shape[1], other.mask.shape[1])
        for mine, theirs in zip(self.cache.layers, other.cache.layers):
            for name in ("keys", "values"):
                a, b = getattr(theirs, name), getattr(mine, name)  # (A, H, L, D): running rows first
                a = F.pad(a, (0, 0, width - a.shape[2], 0))
                b = F.pad(b, (0, 0, width - b.shape[2], 0))
                setattr(mine, name, torch.cat([a, b], dim=0))
        pad = lambda mask: F.pad(mask, (width - mask.shape[1], 0))  # noqa: E731
        self.mask = torch.cat([pad(other.mask), pad(self.mask)], dim=0)
        self.positions = torch.cat([other.positions, self.positions], dim=0)
        self.logits = torch.cat([other.logits, self.logits], dim=0)
        self.rows = other.rows + self.rows
        return self

    def select(self, keep: list[int]) -> "_RunningBatch":
        import torch

        index = torch.tensor(keep, device=self.mask.device)
        start = int(self.mask[index].any(dim=0).nonzero()[0])  # columns before this are padding for all
        for layer in self.cache.layers:
            layer.keys = layer.keys[index, :, start:]
            layer.values = layer.values[index, :, start:]
        self.mask, self.positions = self.mask[index, start:], self.positions[index]
        self.rows = [self.rows[slot] for slot in keep]
        return self

    def step(self, forward) -> None:
        """One decode step: the new token gets a mask column and the next position; ``forward(mask,
        positions)`` runs the model on it (extending the cache) and returns the next logits."""
        import torch

        self.mask = torch.cat([self.mask, self.mask.new_ones(self.mask.shape[0], 1)], dim=1)  # (A, L + 1)
        self.logits = forward(self.mask, self.positions)  # (A, V)
        self.positions = self.positions + 1


class VLLMBackend:
    """vLLM (``pip install 'oneshot-rlvr[vllm]'``, GPU): imported only when this backend is asked for."""

    name = "vllm"

    def __init__(self, model_path: str, *, dtype: str = "auto", seed: int = 0, max_model_len: int | None = None,
                 gpu_memory_utilization: float = 0.9) -> None:
        try:
            import vllm
        except ImportError as error:
            raise BackendError("the vllm backend needs vLLM, which is not installed: "
                               "pip install 'oneshot-rlvr[vllm]' (GPU machines), or use --backend hf") from error
        self._vllm = vllm
        self.llm = vllm.LLM(model=model_path, dtype=dtype, seed=seed, max_model_len=max_model_len,
                            gpu_memory_utilization=gpu_memory_utilization)

    def generate(self, prompts: list[str], params: SamplingParams, *, add_special_tokens: bool = False,
                 progress: PROGRESS | None = None, prompt_indices: list[int] | None = None) -> list[list[Completion]]:
        # prompt_indices is not needed: vLLM seeds each request with params.seed alone, whatever it is batched with
        sampling = self._vllm.SamplingParams(n=params.n, temperature=params.temperature, top_p=params.top_p,
                                             max_tokens=params.max_tokens, seed=params.seed,
                                             stop=list(params.stop) or None)
        inputs = [{"prompt_token_ids": self.llm.get_tokenizer()(p, add_special_tokens=add_special_tokens)["input_ids"]}
                  for p in prompts]
        results = []
        for output in self.llm.generate(inputs, sampling, use_tqdm=False):
            results.append([Completion(o.text, len(o.token_ids), "length" if o.finish_reason == "length" else "stop")
                            for o in output.outputs])
            if progress:
                progress(params.n)
        return results
