"""Ready-made toy base models: built once by ``oneshot-rlvr toy build-base``, shipped inside the package.

    oneshot-rlvr toy build-base [--world latent-skill] [--out DIR]   # pretrain, round to float16, measure gates
    oneshot-rlvr toy gates MODEL_DIR [--out gates.json]              # the gate table of any toy model folder

A shipped base is an ordinary Hugging Face folder (``bases/WORLD/``: float16 safetensors, config, tokenizer)
plus ``base.json``: the sha256 of every other file, the build settings (the world's corpus knobs and model
spec, the library versions), the build time, and the gate table measured on the saved weights
(``toy.gates``). The demo loads it in seconds and checks every hash, so its numbers do not depend on the
machine that pretrained it; ``--rebuild-base`` builds a fresh one into the cache instead (the gates are
met again, the weights are not bit-equal: pretraining on another machine rounds differently).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sys
import time
from pathlib import Path

from ..cliutil import CommandError, check_output_dir, check_output_path, seed_int, write_atomically

SHIPPED = Path(__file__).resolve().parent / "bases"
RECORD = "base.json"
FORMAT = 1


class BaseError(ValueError):
    """A base folder that is missing or whose files do not match their recorded hashes."""


def shipped_dir(world: str) -> Path:
    return SHIPPED / world


def sha256_files(folder: Path) -> dict[str, str]:
    """``{file name: sha256}`` of every file in ``folder`` except the record itself."""
    digests = {}
    for path in sorted(p for p in folder.iterdir() if p.is_file() and p.name != RECORD):
        digest = hashlib.sha256()
        with open(path, "rb") as stream:
            for block in iter(lambda: stream.read(1 << 20), b""):
                digest.update(block)
        digests[path.name] = digest.hexdigest()
    return digests


def verify_base(folder: Path) -> dict:
    """The record of the base in ``folder`` after checking every file's hash; BaseError when one differs."""
    record_path = folder / RECORD
    if not record_path.is_file():
        raise BaseError(f"{folder}: no {RECORD}, so not a base built by `oneshot-rlvr toy build-base`; reinstall the "
                        f"package (the shipped bases are its data) or rebuild the base with --rebuild-base")
    try:
        record = json.loads(record_path.read_text(encoding="utf-8"))
        expected = dict(record["files"])
    except (ValueError, KeyError, TypeError, UnicodeDecodeError):
        raise BaseError(f"{record_path}: not a base record (damaged); rebuild it with --rebuild-base") from None
    found = sha256_files(folder)
    wrong = sorted(name for name in expected.keys() | found.keys() if expected.get(name) != found.get(name))
    if wrong:
        raise BaseError(f"{folder}: {', '.join(wrong)} differ(s) from the sha256 recorded in {RECORD} (damaged or "
                        f"changed files); reinstall the package or rebuild the base with --rebuild-base")
    return record


def _save_float16(model, tokenizer, folder: Path) -> None:
    """The weights as float16 (half the size; every later stage loads them into its own dtype)."""
    import torch

    model.to(torch.float16).save_pretrained(folder)
    tokenizer.save_pretrained(folder)


def rebuilt_dir(world) -> Path:
    """Where ``--rebuild-base`` builds ``world``'s base: the cache, keyed by the world's settings."""
    from .model import toy_cache_dir

    folder = toy_cache_dir(world.knobs, world.spec)
    return folder.with_name(f"{world.name}-{folder.name}")


def build_base(world, out: str | os.PathLike, log=print) -> dict:
    """Pretrain ``world``'s base (a ``worlds.World`` or its name) and ship it to ``out`` (``ship_base``); returns
    its record."""
    from .model import pretrain
    from .worlds import get_world

    world = get_world(world) if isinstance(world, str) else world
    out = Path(out)
    pretrained_dir = out.parent / f".{out.name}.float32"
    start = time.monotonic()
    pretrained = pretrain(world.knobs, world.spec, pretrained_dir, log=log)
    try:
        return ship_base(world, pretrained_dir, pretrained, out, log=log, started=start)
    finally:
        shutil.rmtree(pretrained_dir, ignore_errors=True)


def ship_base(world, pretrained_dir: Path, pretrained: dict, out: Path, log=print, started: float | None = None) -> dict:
    """Save the pretrained model in ``pretrained_dir`` as float16 under ``out`` (written whole), measure its gates
    on the saved weights, and record everything in ``out/base.json``; returns the record."""
    import torch
    import transformers
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from .corpus import held_out_sets
    from .gates import GateSettings, measure_gates

    started = time.monotonic() if started is None else started
    partial = out.parent / f".{out.name}.partial"
    shutil.rmtree(partial, ignore_errors=True)
    model = AutoModelForCausalLM.from_pretrained(pretrained_dir, dtype=torch.float32)
    _save_float16(model, AutoTokenizer.from_pretrained(pretrained_dir), partial)
    log("measuring the gates on the saved float16 weights")
    saved = AutoModelForCausalLM.from_pretrained(partial, dtype=torch.float32)
    gates = measure_gates(saved, AutoTokenizer.from_pretrained(partial), held_out_sets(), GateSettings())
    files = sha256_files(partial)
    record = {
        "format": FORMAT, "world": world.name, "summary": world.summary, "files": files,
        "bytes": sum((partial / name).stat().st_size for name in files), "dtype": "float16",
        "parameters": pretrained["parameters"],
        "build": {"command": f"oneshot-rlvr toy build-base --world {world.name}", "knobs": world.knobs.to_dict(),
                  "spec": pretrained["spec"], "seconds": round(time.monotonic() - started, 1),
                  "pretrain_seconds": round(pretrained["seconds"], 1), "final_loss": pretrained["final_loss"],
                  "documents": pretrained["documents"], "tokens": pretrained["tokens"],
                  "versions": {"torch": torch.__version__, "transformers": transformers.__version__,
                               "python": sys.version.split()[0]}, "threads": pretrained.get("threads")},
        "gates": gates,
    }
    write_atomically(str(partial / RECORD), [json.dumps(record, indent=2) + "\n"])
    shutil.rmtree(out, ignore_errors=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    os.replace(partial, out)
    return record


# --- command line: oneshot-rlvr toy build-base | gates ------------------------------------------------

HELP = "the toy world's base models: build one (and its gate table), or measure the gates of any toy model"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from .worlds import DEFAULT_WORLD, WORLDS

    actions = parser.add_subparsers(dest="toy_command", title="actions", metavar="ACTION", required=True)
    build = actions.add_parser("build-base", help="pretrain a world's base, save it in float16 with base.json "
                                                  "(sha256, settings, gates)", description=HELP)
    build.add_argument("--world", default=DEFAULT_WORLD, choices=list(WORLDS), help=f"default {DEFAULT_WORLD}")
    build.add_argument("--out", help="the base folder (default: the package's shipped base of that world)")
    gates = actions.add_parser("gates", help="the gate table (greedy, sampled, pass@8, skill shares, forced skill) "
                                             "of a toy model folder on the held-out sets", description=HELP)
    gates.add_argument("model", metavar="MODEL_DIR", help="a toy base or a train checkpoint (checkpoints/step-N)")
    gates.add_argument("--out", help="write the table as JSON here (default: print it)")
    gates.add_argument("--seed", type=seed_int, default=0, help="the sampling seed (default 0)")


def _print_table(table: dict) -> None:
    keys = ("n", "greedy", "sampled", "pass@8", "strict_greedy", "skill_greedy", "skill_sampled", "with_skill",
            "without_skill", "forced", "forced_minus_greedy")
    print("| family | " + " | ".join(keys) + " |\n|" + "---|" * (len(keys) + 1))
    for name, row in [*table["families"].items(), ("all", table["all"])]:
        cells = [str(row[k]) if k == "n" else "–" if row.get(k) is None else f"{row[k]:.3f}" for k in keys]
        print(f"| {name} | " + " | ".join(cells) + " |")
    for check in table["targets"]:
        print(f"- {check['target']}: {'met' if check['met'] else 'NOT met'}")


def run(args: argparse.Namespace) -> int:
    if args.toy_command == "build-base":
        out = Path(args.out) if args.out else shipped_dir(args.world)
        check_output_dir(str(out))
        record = build_base(args.world, out, log=lambda line: print(line, file=sys.stderr, flush=True))
        print(f"base: {out} ({record['bytes'] / 1e6:.1f} MB, {record['parameters']:,} parameters, "
              f"gates {'met' if record['gates']['met'] else 'NOT met'})", file=sys.stderr)
        _print_table(record["gates"])
        return 0
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from .corpus import held_out_sets
    from .gates import GateSettings, measure_gates

    model_dir = Path(args.model)
    if not (model_dir / "config.json").is_file():
        raise CommandError(f"{model_dir}: no config.json; give a toy model folder (a base or checkpoints/step-N)")
    if args.out is not None:
        check_output_path(args.out)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    table = measure_gates(model, AutoTokenizer.from_pretrained(model_dir), held_out_sets(), GateSettings(seed=args.seed))
    if args.out:
        write_atomically(args.out, [json.dumps(table, indent=2) + "\n"])
    _print_table(table)
    return 0
