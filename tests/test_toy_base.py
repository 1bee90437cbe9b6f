"""Ready-made toy bases (``oneshot_rlvr.toy.base``): a build is a whole, hashed, float16 folder with its gate
table; a changed file is caught; the shipped bases meet their worlds' gates (read here, recomputed by the slow
rebuild)."""

import json
from dataclasses import replace

import pytest

from oneshot_rlvr.cli import main
from oneshot_rlvr.toy.base import RECORD, BaseError, build_base, sha256_files, shipped_dir, verify_base
from oneshot_rlvr.toy.corpus import CorpusKnobs
from oneshot_rlvr.toy.model import ToyModelSpec
from oneshot_rlvr.toy.worlds import DEFAULT_WORLD, WORLDS, World, get_world

TINY_WORLD = World("tiny", "a test world", CorpusKnobs(documents=80, route="estimate", slip_rate=0.0, seed=1),
                   ToyModelSpec(hidden_size=32, layers=1, heads=2, intermediate_size=64, steps=3, batch_size=8))


@pytest.fixture(scope="module")
def tiny_base(tmp_path_factory):
    import torch

    torch.set_num_threads(1)
    out = tmp_path_factory.mktemp("bases") / "tiny"
    lines = []
    record = build_base(TINY_WORLD, out, log=lines.append)
    return out, record, lines


def test_a_build_is_a_whole_float16_folder_with_hashes_and_gates(tiny_base):
    from transformers import AutoModelForCausalLM

    out, record, lines = tiny_base
    assert not any(p.name.startswith(".") for p in out.parent.iterdir())  # no partial or float32 folder left
    assert json.loads((out / RECORD).read_text()) == record
    assert record["files"] == sha256_files(out) and "model.safetensors" in record["files"]
    assert record["dtype"] == "float16" and record["bytes"] == sum(
        (out / name).stat().st_size for name in record["files"])
    assert record["build"]["knobs"] == TINY_WORLD.knobs.to_dict() and record["build"]["spec"]["steps"] == 3
    assert set(record["gates"]["families"]) == {"addsub", "mul", "chain", "compare", "word"}
    assert record["gates"]["all"]["n"] == 150 and isinstance(record["gates"]["met"], bool)
    assert any("gates" in line for line in lines)
    model = AutoModelForCausalLM.from_pretrained(out)
    assert next(model.parameters()).dtype.is_floating_point
    import safetensors.torch

    weights = safetensors.torch.load_file(out / "model.safetensors")
    assert {t.dtype for t in weights.values()} == {__import__("torch").float16}
    assert verify_base(out) == record


def test_a_changed_or_missing_file_is_caught(tiny_base, tmp_path):
    import shutil

    out, _, _ = tiny_base
    copy = tmp_path / "copy"
    shutil.copytree(out, copy)
    data = bytearray((copy / "model.safetensors").read_bytes())
    data[-1] ^= 1
    (copy / "model.safetensors").write_bytes(bytes(data))
    with pytest.raises(BaseError, match="model.safetensors differ"):
        verify_base(copy)
    (copy / "model.safetensors").unlink()
    with pytest.raises(BaseError, match="model.safetensors"):
        verify_base(copy)
    (copy / RECORD).write_text("{not json")
    with pytest.raises(BaseError, match="damaged"):
        verify_base(copy)
    (copy / RECORD).unlink()
    with pytest.raises(BaseError, match="no base.json"):
        verify_base(copy)


@pytest.mark.parametrize("world", sorted(WORLDS))
def test_the_shipped_base_matches_its_hashes_and_its_world(world):
    record = verify_base(shipped_dir(world))
    assert record["world"] == world
    assert record["build"]["knobs"] == WORLDS[world].knobs.to_dict()
    assert record["build"]["spec"] == WORLDS[world].spec.__dict__
    assert record["bytes"] < 8_000_000  # float16 keeps the package small


def test_the_shipped_latent_skill_base_meets_the_target_gates():
    gates = verify_base(shipped_dir(DEFAULT_WORLD))["gates"]
    assert gates["met"], [c for c in gates["targets"] if not c["met"]]
    pooled = gates["all"]
    assert pooled["skill_greedy"] <= 0.02 and 0.10 <= pooled["skill_sampled"] <= 0.30
    assert pooled["forced_minus_greedy"] >= 0.15
    assert all(row["forced_minus_greedy"] > 0 for row in gates["families"].values())


def test_the_shipped_no_skill_base_shows_no_latent_skill():
    """The contrast world: forcing its recheck does not beat its greedy answers by the target margin."""
    gates = verify_base(shipped_dir("no-skill"))["gates"]
    assert gates["all"]["forced_minus_greedy"] < 0.15 and not gates["met"]


def test_toy_gates_command_prints_the_table(tiny_base, capsys, tmp_path):
    out, record, _ = tiny_base
    assert main(["toy", "gates", str(out), "--out", str(tmp_path / "g.json")]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith("| family |") and "| all |" in printed
    assert json.loads((tmp_path / "g.json").read_text())["all"] == record["gates"]["all"]  # same seed, same table


def test_toy_gates_of_a_folder_without_a_model_is_bad_input(tmp_path, capsys):
    assert main(["toy", "gates", str(tmp_path)]) == 2
    assert "no config.json" in capsys.readouterr().err


def test_unknown_world_is_a_value_error():
    with pytest.raises(ValueError, match="unknown toy world"):
        get_world("flat-earth")


@pytest.mark.slow
def test_rebuilding_the_latent_skill_base_meets_the_gates_again(tmp_path):
    """The shipped base's build, from scratch (about 30 min on the 2-core CPU): the gates, not bit-equality."""
    record = build_base(DEFAULT_WORLD, tmp_path / "base")
    assert record["gates"]["met"], [c for c in record["gates"]["targets"] if not c["met"]]


def test_replace_keeps_a_world_frozen():
    with pytest.raises(Exception):
        TINY_WORLD.name = "other"  # type: ignore[misc]
    assert replace(TINY_WORLD, name="other").name == "other"


def test_toy_gates_out_that_cannot_be_written_is_bad_input(tiny_base, tmp_path, capsys):
    out, _, _ = tiny_base
    assert main(["toy", "gates", str(out), "--out", str(tmp_path)]) == 2
    assert "is a directory" in capsys.readouterr().err
    assert main(["toy", "gates", str(out), "--out", str(tmp_path / "missing" / "g.json")]) == 2
    assert "does not exist" in capsys.readouterr().err
