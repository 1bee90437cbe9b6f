"""Evaluation speed: useful tokens/s of the ``hf`` backend against plain ``model.generate``.

    python benchmarks/eval_speed.py [--model smollm2-135m] [--problems 16] [--max-tokens 256] [--json OUT]

Same prompts (the first N GSM8K questions in the paper's evaluation template), greedy, same model, one
run; three ways:
- ``hf backend``: oneshot_rlvr.generation.HFBackend (length-sorted continuous batching: a row leaves
  at EOS and a waiting one takes its place; ``--batch-size`` rows at most); also in bfloat16 (this CPU
  has AVX-512 BF16; other numerics, so greedy answers can differ from float32: the default stays float32);
- ``padded generate``: one unsorted, left-padded ``model.generate`` batch of all prompts, and the same in
  unsorted chunks of ``--batch-size`` (what a plain harness does);
- ``single generate``: a loop of one-prompt ``model.generate`` calls.
Useful tokens are those up to and including each row's end (EOS not counted, nothing after it).

Also printed: the scheduling bound, the padded batch's row-steps (prompts × its longest row) over the
row-steps rows actually need (each row's tokens, plus its EOS step). No early exit or batching can beat it
at the padded batch's cost per row-step: beyond it, only cheaper steps help (bfloat16, kernels). One row
that runs to the length cap makes the padded batch run that long, but then it wastes little.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

DEFAULT_DATA_DIR = Path(__file__).resolve().parents[2] / "shared" / "data" / "benchmarks"


def useful_tokens(row, prompt_width: int, eos_ids: set[int]) -> int:
    count = 0
    for token in row[prompt_width:].tolist():
        if token in eos_ids:
            break
        count += 1
    return count


def scheduling_bound(lengths: list[int], max_tokens: int) -> float:
    """Row-steps of one padded batch of these rows over the row-steps they need (an EOS costs a step)."""
    needed = [n if n >= max_tokens else n + 1 for n in lengths]
    return len(needed) * max(needed) / sum(needed)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="smollm2-135m")
    parser.add_argument("--data-dir", default=str(DEFAULT_DATA_DIR))
    parser.add_argument("--problems", type=int, default=32)
    parser.add_argument("--max-tokens", type=int, default=256)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--skip-single", action="store_true", help="skip the slow one-prompt-at-a-time loop")
    parser.add_argument("--skip-bf16", action="store_true", help="skip the hf backend in bfloat16")
    parser.add_argument("--json", help="write the figures here")
    args = parser.parse_args()

    import torch

    from oneshot_rlvr.data.benchmarks import load_benchmark
    from oneshot_rlvr.data.prompts import get_template, render_prompt
    from oneshot_rlvr.generation import HFBackend, SamplingParams
    from oneshot_rlvr.models import load_model

    torch.manual_seed(0)
    loaded = load_model(args.model, device="cpu", dtype="float32")
    model, tokenizer = loaded.model, loaded.tokenizer
    template = get_template("qwen25-math-cot")
    prompts = [render_prompt(tokenizer, template, p.question)
               for p in load_benchmark("gsm8k", args.data_dir)[: args.problems]]
    backend = HFBackend(model, tokenizer, batch_size=args.batch_size)
    eos_ids = backend.eos_ids
    results = {}

    def time_backend(timed: HFBackend) -> tuple[list[int], dict]:
        """Greedy run of ``timed`` over the prompts: each row's length, and its figures."""
        start = time.perf_counter()
        completions = timed.generate(prompts, SamplingParams(max_tokens=args.max_tokens))
        seconds = time.perf_counter() - start
        lengths = [c[0].num_tokens for c in completions]
        return lengths, {"seconds": seconds, "tokens": sum(lengths),
                         "capped": sum(c[0].finish_reason == "length" for c in completions)}

    lengths, results["hf backend"] = time_backend(backend)
    if not args.skip_bf16:  # `oneshot-rlvr eval --dtype bfloat16`: other numerics (greedy answers can differ)
        half = load_model(args.model, device="cpu", dtype="bfloat16").model
        _, results["hf backend, bfloat16"] = time_backend(HFBackend(half, tokenizer, batch_size=args.batch_size))
        del half

    generate_args = dict(max_new_tokens=args.max_tokens, do_sample=False, pad_token_id=backend.pad_id)
    with torch.inference_mode():
        padded_lengths = []
        for name, size in (("padded generate", len(prompts)), ("padded generate, chunks", args.batch_size)):
            if name.endswith("chunks") and size >= len(prompts):
                continue
            start, padded_lengths = time.perf_counter(), []
            for first in range(0, len(prompts), size):  # unsorted: in dataset order
                batch = tokenizer(prompts[first : first + size], return_tensors="pt", padding=True,
                                  add_special_tokens=False)
                output = model.generate(**batch, **generate_args)
                width = batch["input_ids"].shape[1]
                padded_lengths += [useful_tokens(row, width, eos_ids) for row in output]
            results[f"{name} of {size}"] = {"seconds": time.perf_counter() - start, "tokens": sum(padded_lengths),
                                            "capped": sum(n == args.max_tokens for n in padded_lengths)}
        if not args.skip_single:
            start, tokens = time.perf_counter(), 0
            for prompt in prompts:
                single = tokenizer(prompt, return_tensors="pt", add_special_tokens=False)
                row = model.generate(**single, **generate_args)[0]
                tokens += useful_tokens(row, single["input_ids"].shape[1], eos_ids)
            results["single generate"] = {"seconds": time.perf_counter() - start, "tokens": tokens, "capped": None}

    padded = results[f"padded generate of {len(prompts)}"]
    base = padded["tokens"] / padded["seconds"]
    print(f"{args.model}, {len(prompts)} GSM8K prompts, greedy, ≤{args.max_tokens} new tokens, "
          f"batch {args.batch_size}, {torch.get_num_threads()} threads\n")
    print("| method | useful tokens | capped rows | seconds | tokens/s | × padded generate |")
    print("|---|---|---|---|---|---|")
    for name, r in results.items():
        r["tokens_per_second"] = r["tokens"] / r["seconds"]
        r["ratio_to_padded"] = r["tokens_per_second"] / base
        print(f"| {name} | {r['tokens']} | {r['capped'] if r['capped'] is not None else '-'} | {r['seconds']:.1f} | "
              f"{r['tokens_per_second']:.1f} | {r['ratio_to_padded']:.2f} |")
    same = lengths == padded_lengths
    print(f"\nhf backend and padded generate produce the same lengths (greedy): {same}")
    bound = scheduling_bound(padded_lengths, args.max_tokens)
    print(f"scheduling bound (padded row-steps / needed row-steps): {bound:.2f}")
    if args.json:
        directory = os.path.dirname(os.path.abspath(args.json))
        handle, temporary = tempfile.mkstemp(dir=directory, suffix=".tmp")
        with os.fdopen(handle, "w") as stream:
            json.dump({"model": args.model, "prompts": len(prompts), "max_tokens": args.max_tokens,
                       "results": results, "same_lengths": same,
                       "scheduling_bound": bound}, stream, indent=2)
        os.replace(temporary, args.json)


if __name__ == "__main__":
    sys.exit(main())
