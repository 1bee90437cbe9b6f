"""GPU throughput: what one lent GPU does for this project's two model sizes (random weights, real shapes).

    PYTHONPATH=src python benchmarks/gpu_throughput.py --out $OUT/gpu_bench.json      # GPU, ~3.5 min
    PYTHONPATH=src nice python benchmarks/gpu_throughput.py --smoke --out /tmp/s.json  # CPU, seconds

Measures, in this order (progress lines carry the elapsed seconds; the JSON is rewritten after every
measurement, so a run cut short still leaves what it had):
1. ``matmul``: achieved TFLOP/s of an 8192³ bf16 matmul against the card's dense bf16 peak (a table
   matched on substrings of ``torch.cuda.get_device_name``; null when the card is not in it).
2. For Qwen2.5-0.5B and Qwen2.5-1.5B shapes (hard-coded ``Qwen2Config``, random init, bf16, sdpa,
   built directly on the GPU; nothing is downloaded):
   a. ``train``: one GRPO-like step: 8 sequences of 256 prompt + 1024 completion tokens, per-token
      log-probs of the completion tokens (bf16 forward, fp32 log-softmax), loss −mean(adv × logprob)
      with random per-sequence advantages, backward, AdamW step on the bf16 parameters (no fp32 master
      weights; fused AdamW on CUDA), no gradient checkpointing. Falls back to micro-batch 4 then 2 with
      gradient accumulation on out-of-memory. One warm-up step, then 2 timed. MFU ≈ 6·params·tokens/s/peak.
   b. ``generate``: 8 rollouts of one random 256-token prompt, 1024 new tokens each, EOS disabled,
      temperature 0.6 (top-k/top-p off), (i) ``model.generate`` with 8 rows, (ii) the project's
      ``HFBackend`` (driven by a stand-in tokenizer whose "text" is space-separated token ids, and no EOS
      id, so every row runs to its limit), (iii) ``model.generate`` with 64 rows (batching).
      Tokens/s = generated tokens / wall seconds (prefill included in the seconds); FLOPs ratio ≈
      2·params·generated tokens/s/peak (prefill and attention FLOPs left out).

Time budget (``--budget-s``, default 200 s counted from the start of the script): the generation runs
share what is left; ``model.generate`` gets ``max_time`` = its share and ``HFBackend`` gets ``max_tokens``
sized from the measured step time, so a row may stop before 1024 tokens; ``new_tokens_per_row`` and
``truncated`` in the JSON say when. Decoding here is launch-bound (per-step cost ~ constant), so tokens/s
hardly depends on where the run stops. Parameters are counted once when tied (embedding = lm_head).
"""

from __future__ import annotations

import argparse
import gc
import inspect
import json
import os
import platform
import sys
import time
import traceback

T0 = time.perf_counter()
os.environ.setdefault("PYTORCH_CUDA_ALLOC_CONF", "expandable_segments:True")  # less fragmentation at OOM edges

# dense (no sparsity) bf16 tensor-core peak, TFLOP/s; first matching substring wins
PEAK_BF16_TFLOPS = [
    ("H200 NVL", 835.0),
    ("H200", 989.0),  # H200 SXM, GH200
    ("H100 NVL", 835.0),
    ("H100 PCIe", 756.0),
    ("H100", 989.0),  # "NVIDIA H100 80GB HBM3" = SXM
]

MODELS = {
    "qwen2.5-0.5b": dict(hidden_size=896, num_hidden_layers=24, num_attention_heads=14, num_key_value_heads=2,
                         intermediate_size=4864, vocab_size=151936, tie_word_embeddings=True,
                         rope_theta=1e6, max_position_embeddings=32768),
    "qwen2.5-1.5b": dict(hidden_size=1536, num_hidden_layers=28, num_attention_heads=12, num_key_value_heads=2,
                         intermediate_size=8960, vocab_size=151936, tie_word_embeddings=True,
                         rope_theta=1e6, max_position_embeddings=32768),
}
SMOKE_MODELS = {
    "smoke-a": dict(hidden_size=64, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                    intermediate_size=128, vocab_size=1000, tie_word_embeddings=True, rope_theta=1e6,
                    max_position_embeddings=512),
    "smoke-b": dict(hidden_size=96, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                    intermediate_size=192, vocab_size=1000, tie_word_embeddings=True, rope_theta=1e6,
                    max_position_embeddings=512),
}


def elapsed() -> float:
    return time.perf_counter() - T0


def log(message: str) -> None:
    print(f"[{elapsed():7.1f}s] {message}", flush=True)


def peak_tflops(device_name: str | None) -> float | None:
    if not device_name:
        return None
    for key, value in PEAK_BF16_TFLOPS:
        if key.lower() in device_name.lower():
            return value
    return None


def ratio(flops_per_s: float | None, peak: float | None) -> float | None:
    if flops_per_s is None or not peak:
        return None
    return flops_per_s / (peak * 1e12)


class Recorder:
    """The results dict, written (atomically) to ``path`` after every measurement."""

    def __init__(self, path: str, data: dict) -> None:
        self.path, self.data = path, data

    def save(self) -> None:
        self.data["elapsed_s"] = round(elapsed(), 2)
        directory = os.path.dirname(os.path.abspath(self.path))
        os.makedirs(directory, exist_ok=True)
        tmp = self.path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(self.data, f, indent=2)
        os.replace(tmp, self.path)


class IdTokenizer:
    """Stand-in tokenizer for ``HFBackend``: a "text" is space-separated token ids; there is no EOS."""

    eos_token_id = None
    pad_token_id = 0

    def __call__(self, text: str, add_special_tokens: bool = False) -> dict:
        return {"input_ids": [int(t) for t in text.split()]}

    def decode(self, ids, skip_special_tokens: bool = True) -> str:
        return " ".join(str(int(i)) for i in ids)


# ---------------------------------------------------------------------------------------------- helpers


def sync(torch, device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def reset_peak(torch, device) -> None:
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)


def peak_gib(torch, device) -> float | None:
    if device.type == "cuda":
        return round(torch.cuda.max_memory_allocated(device) / 2**30, 2)
    return None


def free_memory(torch, device) -> None:
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()


def is_oom(torch, error: BaseException) -> bool:
    oom = getattr(torch, "OutOfMemoryError", None) or getattr(torch.cuda, "OutOfMemoryError", None)
    return (oom is not None and isinstance(error, oom)) or "out of memory" in str(error).lower()


def make_config(shape: dict):
    from transformers import Qwen2Config

    shape = dict(shape)
    theta = shape.pop("rope_theta")
    if "rope_parameters" in inspect.signature(Qwen2Config.__init__).parameters:
        shape["rope_parameters"] = {"rope_type": "default", "rope_theta": theta}
    else:
        shape["rope_theta"] = theta
    return Qwen2Config(**shape, bos_token_id=None, eos_token_id=None, pad_token_id=None,
                       use_sliding_window=False)


# ------------------------------------------------------------------------------------------ measurements


def bench_matmul(torch, device, n: int, reps: int) -> dict:
    a = torch.randn(n, n, device=device, dtype=torch.bfloat16)
    b = torch.randn(n, n, device=device, dtype=torch.bfloat16)
    for _ in range(3):
        a @ b
    sync(torch, device)
    if device.type == "cuda":
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        for _ in range(reps):
            a @ b
        end.record()
        end.synchronize()
        seconds = start.elapsed_time(end) / 1000
    else:
        began = time.perf_counter()
        for _ in range(reps):
            a @ b
        seconds = time.perf_counter() - began
    flops = 2 * n**3 * reps
    del a, b
    return {"n": n, "reps": reps, "seconds": seconds, "tflops": flops / seconds / 1e12}


def bench_train(torch, model, device, *, batch: int, prompt_len: int, completion_len: int, steps: int,
                micro_batches: list[int]) -> dict:
    vocab = model.config.vocab_size
    seq = prompt_len + completion_len
    g = torch.Generator(device="cpu").manual_seed(1)
    input_ids = torch.randint(0, vocab, (batch, seq), generator=g).to(device)
    advantages = torch.randn(batch, generator=g).to(device)
    fused = {"fused": True} if device.type == "cuda" else {}
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-6, weight_decay=0.0, **fused)
    model.train()  # gradient checkpointing is off unless enabled: a fresh model has it off

    def step(micro: int) -> float:
        optimizer.zero_grad(set_to_none=True)
        accumulation = batch // micro
        for start in range(0, batch, micro):
            ids = input_ids[start:start + micro]
            out = model(input_ids=ids, use_cache=False, logits_to_keep=completion_len + 1)
            logits = out.logits[:, :-1, :]  # (m, C, V): position t predicts token t + 1
            targets = ids[:, prompt_len:]  # (m, C)
            picked = logits.gather(-1, targets.unsqueeze(-1)).squeeze(-1).float()
            logprobs = picked - torch.logsumexp(logits.float(), dim=-1)  # (m, C)
            loss = -(advantages[start:start + micro, None] * logprobs).mean() / accumulation
            loss.backward()
            del out, logits, picked, logprobs
        optimizer.step()
        return float(loss.detach()) * accumulation

    result: dict = {"batch": batch, "prompt_len": prompt_len, "completion_len": completion_len,
                    "optimizer": "torch.optim.AdamW on bf16 params (no fp32 master weights)"
                                 + (", fused" if fused else ""),
                    "gradient_checkpointing": False, "oom_fallbacks": []}
    for micro in micro_batches:
        try:
            reset_peak(torch, device)
            began = time.perf_counter()
            step(micro)  # warm-up (also allocates the AdamW state)
            sync(torch, device)
            warmup = time.perf_counter() - began
            began = time.perf_counter()
            for _ in range(steps):
                loss = step(micro)
            sync(torch, device)
            seconds = (time.perf_counter() - began) / steps
        except Exception as error:  # noqa: BLE001
            if not is_oom(torch, error):
                raise
            result["oom_fallbacks"].append(micro)
            log(f"  out of memory at micro-batch {micro}; trying a smaller one")
        else:
            result.update(micro_batch=micro, accumulation_steps=batch // micro, warmup_step_s=warmup,
                          timed_steps=steps, seconds_per_step=seconds, tokens=batch * seq,
                          tokens_per_s=batch * seq / seconds, loss=loss, peak_mem_gib=peak_gib(torch, device))
            break
        optimizer.zero_grad(set_to_none=True)  # outside `except`: the traceback (and its tensors) is gone
        free_memory(torch, device)
    else:
        result["error"] = "out of memory at every micro-batch tried"
    optimizer.zero_grad(set_to_none=True)
    optimizer.state.clear()  # AdamW moments: give their memory back before generation
    model.eval()
    free_memory(torch, device)
    return result


def bench_generate(torch, model, device, prompt_ids, *, rows: int, new_tokens: int, temperature: float,
                   max_time: float | None) -> dict:
    ids = torch.tensor([prompt_ids] * rows, device=device)
    mask = torch.ones_like(ids)
    extra = {"max_time": max_time} if max_time else {}
    reset_peak(torch, device)
    sync(torch, device)
    began = time.perf_counter()
    with torch.inference_mode():
        out = model.generate(input_ids=ids, attention_mask=mask, do_sample=True, temperature=temperature,
                             top_k=0, top_p=1.0, max_new_tokens=new_tokens, min_new_tokens=new_tokens,
                             eos_token_id=None, pad_token_id=0, use_cache=True, **extra)
    sync(torch, device)
    seconds = time.perf_counter() - began
    per_row = out.shape[1] - ids.shape[1]
    return {"rows": rows, "prompt_len": len(prompt_ids), "new_tokens_requested": new_tokens,
            "new_tokens_per_row": per_row, "truncated": per_row < new_tokens, "max_time_s": max_time,
            "seconds": seconds, "generated_tokens": rows * per_row, "tokens_per_s": rows * per_row / seconds,
            "seconds_per_step": seconds / max(per_row, 1), "peak_mem_gib": peak_gib(torch, device)}


def bench_hf_backend(torch, model, device, prompt_ids, *, rows: int, new_tokens: int, temperature: float) -> dict:
    from oneshot_rlvr.generation import HFBackend, SamplingParams

    backend = HFBackend(model, IdTokenizer(), batch_size=rows)
    assert not backend.eos_ids, f"EOS should be disabled, got {backend.eos_ids}"
    params = SamplingParams(n=rows, temperature=temperature, top_p=1.0, max_tokens=new_tokens, seed=0)
    reset_peak(torch, device)
    sync(torch, device)
    began = time.perf_counter()
    completions = backend.generate([" ".join(map(str, prompt_ids))], params)[0]
    sync(torch, device)
    seconds = time.perf_counter() - began
    counts = [c.num_tokens for c in completions]
    generated = sum(counts)
    return {"rows": rows, "prompt_len": len(prompt_ids), "max_tokens": new_tokens,
            "new_tokens_per_row": min(counts), "truncated_by_budget": None, "seconds": seconds,
            "generated_tokens": generated, "tokens_per_s": generated / seconds,
            "seconds_per_step": seconds / max(max(counts), 1), "peak_mem_gib": peak_gib(torch, device),
            "finish_reasons": sorted({c.finish_reason for c in completions})}


# ------------------------------------------------------------------------------------------------ main


def run_model(torch, name: str, shape: dict, device, args, rec: Recorder, deadline: float, peak) -> None:
    from transformers import AutoModelForCausalLM

    entry: dict = {"config": shape}
    rec.data["models"][name] = entry
    log(f"{name}: building (random init, bf16, sdpa) on {device}")
    began = time.perf_counter()
    config = make_config(shape)
    with torch.device(device):
        model = AutoModelForCausalLM.from_config(config, dtype=torch.bfloat16, attn_implementation="sdpa")
    if next(model.parameters()).device.type != device.type:
        model.to(device)
    model.eval()
    model.generation_config.eos_token_id = None
    model.generation_config.pad_token_id = 0
    sync(torch, device)
    params = sum(p.numel() for p in model.parameters())  # tied embedding counted once
    embedding = model.get_input_embeddings().weight.numel()
    entry.update(build_s=time.perf_counter() - began, params=params, non_embedding_params=params - embedding,
                 attn_implementation=model.config._attn_implementation,
                 dtype=str(next(model.parameters()).dtype), device=str(next(model.parameters()).device))
    log(f"{name}: built in {entry['build_s']:.1f}s, {params / 1e6:.1f}M params "
        f"({entry['attn_implementation']}, {entry['dtype']}, {entry['device']})")
    rec.save()

    # --- training step
    try:
        log(f"{name}: train step, {args.train_batch} × ({args.prompt_len} + {args.new_tokens}) tokens")
        t = bench_train(torch, model, device, batch=args.train_batch, prompt_len=args.prompt_len,
                        completion_len=args.new_tokens, steps=args.train_steps, micro_batches=args.micro_batches)
        if "seconds_per_step" in t:
            t["mfu"] = ratio(6 * params * t["tokens_per_s"], peak)
            log(f"{name}: train {t['seconds_per_step']:.3f} s/step (micro-batch {t['micro_batch']}), "
                f"{t['tokens_per_s']:.0f} tok/s, MFU {fmt_pct(t['mfu'])}, peak {t['peak_mem_gib']} GiB")
        else:
            log(f"{name}: train failed: {t.get('error')}")
        entry["train"] = t
    except Exception as error:  # noqa: BLE001
        entry["train"] = {"error": f"{type(error).__name__}: {error}", "traceback": traceback.format_exc()}
        log(f"{name}: train failed: {type(error).__name__}: {error}")
        free_memory(torch, device)
    rec.save()

    # --- generation
    g = torch.Generator(device="cpu").manual_seed(2)
    prompt_ids = torch.randint(1, shape["vocab_size"], (args.prompt_len,), generator=g).tolist()
    with torch.inference_mode():  # warm-up: kernels, cuBLAS handles, the sampling path
        model.generate(input_ids=torch.tensor([prompt_ids] * 2, device=device), do_sample=True,
                       temperature=args.temperature, top_k=0, max_new_tokens=4, min_new_tokens=4,
                       eos_token_id=None, pad_token_id=0)
    entry["generate"] = {}
    runs = [("generate_x%d" % args.rollouts, "generate", args.rollouts),
            ("hf_backend_x%d" % args.rollouts, "hf_backend", args.rollouts),
            ("generate_x%d" % args.big_rollouts, "generate", args.big_rollouts)]
    step_s = None
    for index, (key, kind, rows) in enumerate(runs):
        share = (deadline - elapsed()) / (len(runs) - index)
        if share < args.min_share_s:
            entry["generate"][key] = {"skipped": f"time budget ({share:.1f}s left for this run)"}
            log(f"{name}: {key} skipped (time budget)")
            rec.save()
            continue
        try:
            if kind == "generate":
                max_time = None if args.smoke else min(share, args.max_run_s)
                log(f"{name}: {key}: {rows} rows × {args.new_tokens} new tokens, max_time {fmt_s(max_time)}")
                r = bench_generate(torch, model, device, prompt_ids, rows=rows, new_tokens=args.new_tokens,
                                   temperature=args.temperature, max_time=max_time)
                if rows == args.rollouts:
                    step_s = r["seconds_per_step"]
            else:
                tokens = args.new_tokens
                if step_s and not args.smoke:  # fit the budget share: HFBackend has no max_time
                    tokens = max(16, min(args.new_tokens, int(min(share, args.max_run_s) / (1.3 * step_s))))
                log(f"{name}: {key}: {rows} rows × {tokens} new tokens (HFBackend, stand-in tokenizer)")
                r = bench_hf_backend(torch, model, device, prompt_ids, rows=rows, new_tokens=tokens,
                                     temperature=args.temperature)
                r["truncated_by_budget"] = tokens < args.new_tokens
            r["flops_ratio"] = ratio(2 * params * r["tokens_per_s"], peak)
            entry["generate"][key] = r
            log(f"{name}: {key}: {r['generated_tokens']} tokens in {r['seconds']:.1f}s = "
                f"{r['tokens_per_s']:.0f} tok/s ({r['seconds_per_step'] * 1000:.1f} ms/step), "
                f"FLOPs/peak {fmt_pct(r['flops_ratio'])}, peak {r['peak_mem_gib']} GiB")
        except Exception as error:  # noqa: BLE001
            entry["generate"][key] = {"error": f"{type(error).__name__}: {error}",
                                      "traceback": traceback.format_exc()}
            log(f"{name}: {key} failed: {type(error).__name__}: {error}")
            free_memory(torch, device)
        rec.save()
    del model
    free_memory(torch, device)


def fmt_pct(value) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}%"


def fmt_s(value) -> str:
    return "none" if value is None else f"{value:.0f}s"


def table(data: dict) -> str:
    lines = ["| model | measurement | tokens | seconds | tokens/s | of peak | peak GiB |",
             "|---|---|---:|---:|---:|---:|---:|"]
    mm = data.get("matmul")
    if mm and "tflops" in mm:
        lines.append(f"| – | bf16 matmul {mm['n']}³ | – | {mm['seconds'] / mm['reps']:.4f}/rep | "
                     f"{mm['tflops']:.0f} TFLOP/s | {fmt_pct(mm.get('of_peak'))} | – |")
    for name, entry in data.get("models", {}).items():
        label = f"{name} ({entry.get('params', 0) / 1e6:.4g}M)"
        t = entry.get("train", {})
        if "seconds_per_step" in t:
            lines.append(f"| {label} | train step (mb {t['micro_batch']}×{t['accumulation_steps']}) | "
                         f"{t['tokens']} | {t['seconds_per_step']:.3f} | {t['tokens_per_s']:.0f} | "
                         f"MFU {fmt_pct(t.get('mfu'))} | {t['peak_mem_gib']} |")
        elif t:
            lines.append(f"| {label} | train step | – | – | – | {t.get('error', '?')[:40]} | – |")
        for key, r in entry.get("generate", {}).items():
            if "tokens_per_s" in r:
                cut = "" if r["new_tokens_per_row"] >= (r.get("new_tokens_requested") or r.get("max_tokens")) \
                    and not r.get("truncated_by_budget") else " (cut by budget)"
                lines.append(f"| {label} | {key}, {r['new_tokens_per_row']} tok/row{cut} | "
                             f"{r['generated_tokens']} | {r['seconds']:.1f} | {r['tokens_per_s']:.0f} | "
                             f"{fmt_pct(r.get('flops_ratio'))} | {r['peak_mem_gib']} |")
            else:
                why = (r.get("skipped") or r.get("error", "?"))[:40]
                lines.append(f"| {label} | {key} | – | – | – | {why} | – |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default="gpu_bench.json")
    parser.add_argument("--smoke", action="store_true", help="tiny shapes on CPU (or GPU), seconds")
    parser.add_argument("--budget-s", type=float, default=200.0,
                        help="soft wall-time budget from script start; generation runs are capped to fit")
    parser.add_argument("--max-run-s", type=float, default=60.0, help="cap on one generation run")
    parser.add_argument("--min-share-s", type=float, default=4.0, help="skip a generation run with less time")
    parser.add_argument("--models", default=None, help="comma-separated subset of " + ",".join(MODELS))
    args = parser.parse_args()
    if args.smoke:
        args.matmul_n, args.matmul_reps = 256, 5
        args.prompt_len, args.new_tokens, args.rollouts, args.big_rollouts = 16, 16, 8, 16
        args.train_batch, args.train_steps, args.micro_batches = 8, 2, [8, 4, 2]
        models = SMOKE_MODELS
        args.budget_s = max(args.budget_s, 600.0)
    else:
        args.matmul_n, args.matmul_reps = 8192, 20
        args.prompt_len, args.new_tokens, args.rollouts, args.big_rollouts = 256, 1024, 8, 64
        args.train_batch, args.train_steps, args.micro_batches = 8, 2, [8, 4, 2]
        models = MODELS
    if args.models:
        models = {k: models[k] for k in args.models.split(",")}
    args.temperature = 0.6

    log("importing torch / transformers")
    import torch
    import transformers

    transformers.logging.set_verbosity_error()
    torch.manual_seed(0)
    cuda = torch.cuda.is_available()
    device = torch.device("cuda" if cuda else "cpu")
    name = torch.cuda.get_device_name(device) if cuda else platform.processor() or "cpu"
    peak = peak_tflops(name) if cuda else None
    data = {
        "smoke": args.smoke, "device": name, "cuda": cuda, "peak_bf16_tflops": peak,
        "gpu_mem_gib": round(torch.cuda.get_device_properties(device).total_memory / 2**30, 1) if cuda else None,
        "torch": torch.__version__, "cuda_version": torch.version.cuda, "transformers": transformers.__version__,
        "python": sys.version.split()[0], "budget_s": args.budget_s,
        "settings": {k: getattr(args, k) for k in ("prompt_len", "new_tokens", "rollouts", "big_rollouts",
                                                   "train_batch", "train_steps", "temperature")},
        "notes": ["random weights, real shapes; EOS disabled so every row runs to its token limit",
                  "params counted once when tied; FLOPs estimates ignore attention and prefill",
                  "AdamW on bf16 params (no fp32 master copy); no gradient checkpointing"],
        "models": {},
    }
    rec = Recorder(args.out, data)
    log(f"device: {name}; peak bf16 {peak} TFLOP/s; torch {torch.__version__}, "
        f"transformers {transformers.__version__}")
    rec.save()

    try:
        log(f"matmul {args.matmul_n}³ bf16 × {args.matmul_reps}")
        mm = bench_matmul(torch, device, args.matmul_n, args.matmul_reps)
        mm["of_peak"] = (mm["tflops"] / peak) if peak else None
        data["matmul"] = mm
        log(f"matmul: {mm['tflops']:.1f} TFLOP/s = {fmt_pct(mm['of_peak'])} of peak")
    except Exception as error:  # noqa: BLE001
        data["matmul"] = {"error": f"{type(error).__name__}: {error}"}
        log(f"matmul failed: {error}")
    free_memory(torch, device)
    rec.save()

    end = T0 + args.budget_s
    names = list(models)
    # first model (smaller, faster steps) gets ~42% of what is left, the last one the rest
    for index, model_name in enumerate(names):
        now = time.perf_counter()
        left = end - now
        deadline = (now + 0.42 * left if index < len(names) - 1 else end) - T0
        try:
            run_model(torch, model_name, models[model_name], device, args, rec, deadline, peak)
        except Exception as error:  # noqa: BLE001
            data["models"].setdefault(model_name, {})["error"] = f"{type(error).__name__}: {error}"
            data["models"][model_name]["traceback"] = traceback.format_exc()
            log(f"{model_name} failed: {type(error).__name__}: {error}")
            free_memory(torch, device)
        rec.save()

    data["table_markdown"] = table(data)
    rec.save()
    log(f"done; wrote {args.out}")
    print()
    print(f"device: {name} (peak bf16 {peak} TFLOP/s), torch {torch.__version__}, "
          f"transformers {transformers.__version__}")
    print(table(data), flush=True)


if __name__ == "__main__":
    main()
