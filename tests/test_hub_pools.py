"""Training pools from the Hugging Face Hub (``hub:OWNER/NAME[:SPLIT]``), without a network.

The Hub path calls ``datasets.load_dataset(OWNER/NAME, None, split=SPLIT)``; here that one call is pointed at
a local parquet file (the real ``datasets`` loader reads it, with its own cache), so everything after it —
layouts, ids, duplicates, errors — runs as for a Hub dataset. Offline and uncached: one line, exit 2.
"""

import pytest

datasets = pytest.importorskip("datasets")

from conftest import SHARED_DATA, cut_off_the_hub  # noqa: E402
from oneshot_rlvr.data.pools import PAPER_POOL, PoolError, load_pool  # noqa: E402

VERL_ROWS = [
    {"data_source": "deepscaler", "prompt": [{"role": "user", "content": f"What is {n}+{n}? Let's think step by step "
                                              "and output the final answer within \\boxed{}."}],
     "ability": "math", "reward_model": {"style": "rule", "ground_truth": str(2 * n)},
     "extra_info": {"index": n, "split": "default"}}
    for n in (3, 7, 124)
]


@pytest.fixture
def hub_as_local(tmp_path, monkeypatch):
    """``hub_as_local(file)``: Hub loads read ``file`` (parquet) through the real ``datasets.load_dataset``, as
    with HF_HUB_OFFLINE=1 (so no request is made); returns the list of (id, config, split) asked for."""
    from huggingface_hub import constants

    real_load, asked = datasets.load_dataset, []
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)

    def point_at(file):
        def load(path, name=None, split=None):
            asked.append((path, name, split))
            return real_load("parquet", data_files={split: str(file)}, split=split, cache_dir=str(tmp_path / "cache"))

        monkeypatch.setattr(datasets, "load_dataset", load)
        return asked

    return point_at


def write_parquet(rows, path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.Table.from_pylist(rows), path)
    return path


def test_a_verl_hub_pool_reads_as_the_same_local_file(hub_as_local, tmp_path):
    local = write_parquet(VERL_ROWS, tmp_path / "pool.parquet")
    asked = hub_as_local(local)
    examples = load_pool("hub:someone/pools:dsr_sub")
    assert asked == [("someone/pools", None, "dsr_sub")]
    assert examples == load_pool(local)
    assert [(e.id, e.problem, e.answer) for e in examples][0] == ("3", "What is 3+3?", "6")  # suffix stripped


def test_a_plain_hub_pool_with_the_default_split(hub_as_local, tmp_path):
    rows = [{"id": 1, "problem": "What is 2+3?", "answer": 5.0}, {"id": 2, "problem": "What is 4*4?", "answer": 16.5}]
    asked = hub_as_local(write_parquet(rows, tmp_path / "plain.parquet"))
    examples = load_pool("hub:someone/plain")
    assert asked == [("someone/plain", None, "train")]
    assert [(e.id, e.answer) for e in examples] == [("1", "5"), ("2", "16.5")]


def test_hub_rows_get_the_same_one_line_checks(hub_as_local, tmp_path):
    hub_as_local(write_parquet([VERL_ROWS[0], VERL_ROWS[0]], tmp_path / "twice.parquet"))
    with pytest.raises(PoolError, match=r"^hub:someone/twice:train: example 2: duplicate id '3'"):
        load_pool("hub:someone/twice")
    assert len(load_pool("hub:someone/twice", allow_duplicates=True)) == 2  # the *_r128 splits
    hub_as_local(write_parquet([{"question": "q", "answer": "1"}], tmp_path / "other.parquet"))
    with pytest.raises(PoolError, match=r"^hub:someone/other:train: columns \['answer', 'question'\] are neither"):
        load_pool("hub:someone/other")


@pytest.mark.parametrize("spec", ["hub:", "hub:no-owner", "hub:a/b/c", "hub:owner/name:two words", "hub:/name",
                                  " hub: owner/name"])
def test_a_malformed_hub_spec_is_one_line_before_any_load(spec, hub_as_local, tmp_path):
    asked = hub_as_local(tmp_path / "never.parquet")
    with pytest.raises(PoolError, match=r"not a Hub dataset of the form hub:OWNER/NAME\[:SPLIT\]; write ") as error:
        load_pool(spec)
    assert PAPER_POOL in str(error.value) and "\n" not in str(error.value) and asked == []


def test_a_failed_load_names_the_dataset_and_split(monkeypatch):
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)

    def load(path, name=None, split=None):
        raise ValueError(f'Unknown split "{split}". Should be one of [\'dsr_sub\', \'pi1\'].\nmore detail')

    monkeypatch.setattr(datasets, "load_dataset", load)
    with pytest.raises(PoolError) as error:
        load_pool("hub:someone/pools:pi9")
    message = str(error.value)
    assert message.startswith("could not load the Hub dataset someone/pools (split 'pi9'): ValueError: Unknown split")
    assert "\n" not in message and "give a local .parquet / .jsonl file" in message


def test_a_missing_local_path_points_at_the_hub_spelling(tmp_path):
    with pytest.raises(PoolError, match=f"no such file; .*{PAPER_POOL}"):
        load_pool(str(tmp_path / "dsr_sub.parquet"))


@pytest.mark.parametrize("name", ["dsr_sub.parquet", "pi1_r128.parquet"])
def test_the_paper_pools_read_through_datasets_as_from_their_files(name, hub_as_local):
    local = SHARED_DATA / "train" / name
    if not local.is_file():
        pytest.skip(f"real training data not found at {local} (it sits beside the repository as ../shared/data on "
                    f"the project's machines; or set ONESHOT_RLVR_SHARED_DATA)")
    hub_as_local(local)
    examples = load_pool(f"hub:ypwang61/One-Shot-RLVR-Datasets:{name.split('.')[0]}", allow_duplicates=True)
    assert examples == load_pool(local, allow_duplicates=True)


# --- the train command, offline and uncached ------------------------------------------------------------

@pytest.fixture
def no_hub(request, tmp_path, monkeypatch):
    """The Hub offline (HF_HUB_OFFLINE) or not answering (a local port that refuses connections), and empty
    HF caches; loading a model fails the test."""
    import oneshot_rlvr.models as models

    offline = request.param == "offline"
    cut_off_the_hub(monkeypatch, tmp_path, offline=offline)
    monkeypatch.setattr(models, "load_model", lambda *a, **k: pytest.fail("a model was loaded"))
    return offline


@pytest.mark.parametrize("no_hub", ["offline", "unreachable"], indirect=True)
def test_train_from_an_uncached_hub_pool_without_the_hub_is_one_line(no_hub, tmp_path, capfd):
    pytest.importorskip("trl")
    from datasets import config as datasets_config
    from huggingface_hub import constants

    from oneshot_rlvr.cli import main

    out = tmp_path / "out"
    status = main(["train", "--config", "recipes/cpu-smollm2.yaml", "--data", "hub:oneshot-rlvr-tests/no-such-pool",
                   "--examples", "1", "--set", "eval_every=0", "--out", str(out)])
    assert status == 2
    err = capfd.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("oneshot-rlvr train: error: "), err  # no retry warnings
    assert "oneshot-rlvr-tests/no-such-pool (split 'train')" in err[0]
    assert ("the Hugging Face Hub cannot be reached" in err[0]) is not no_hub  # the probe's verdict, when it ran
    assert not out.exists()
    assert constants.HF_HUB_OFFLINE is no_hub and datasets_config.HF_HUB_OFFLINE is no_hub  # restored


def test_a_recipe_or_an_override_names_a_hub_pool(tmp_path):
    from oneshot_rlvr.config import load_recipe, parse_override

    recipe = tmp_path / "r.yaml"
    recipe.write_text(f"data: {PAPER_POOL}\n")  # a plain YAML scalar: its colons need no quotes
    assert load_recipe(str(recipe), {}).data == PAPER_POOL
    assert load_recipe(None, dict([parse_override(f"data={PAPER_POOL}")])).data == PAPER_POOL
