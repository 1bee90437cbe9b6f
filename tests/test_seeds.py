"""Seeds: one recipe for every derived seed, pinned to the values the old ``row_seed`` / ``rollout_seed`` gave,
and the range a run seed must fit."""

import pytest

from oneshot_rlvr.seeds import SEED_LIMIT, derive_seed, seed_problem

# computed with generation.row_seed(seed, prompt, sample) and fast_trainer.rollout_seed(seed, step, process)
# before they moved onto derive_seed: a change here changes every sample a run draws
PINNED = [
    ((0, 0, 0), 1457069304591136084),
    ((42, 3, 7), 8926387127623230933),
    ((2**32 - 1, 499, 15), 9114586197132891718),
    (("rollouts", 0, 0, 0), 1604722880763767855),
    (("rollouts", 42, 10, 1), 6440461825130413338),
    (("rollouts", 2**32 - 1, 1000, 7), 460525603489831441),
]


@pytest.mark.parametrize("parts, expected", PINNED)
def test_derive_seed_is_pinned(parts, expected):
    assert derive_seed(*parts) == expected


def test_derived_seeds_fit_63_bits_and_name_their_place():
    seeds = {derive_seed(7, p, s) for p in range(20) for s in range(20)}
    assert len(seeds) == 400 and all(0 <= seed < 2**63 for seed in seeds)
    assert derive_seed(1, 23) != derive_seed(12, 3)  # the parts are joined with "/", not run together


def test_the_call_sites_use_the_one_recipe():
    from oneshot_rlvr.fast_trainer import rollout_seed
    from oneshot_rlvr.generation import row_seed

    assert row_seed(42, 3, 7) == derive_seed(42, 3, 7)
    assert rollout_seed(42, 10, 1) == derive_seed("rollouts", 42, 10, 1)


@pytest.mark.parametrize("seed", [0, 1, 2**32 - 1])
def test_a_run_seed_is_numpys_range(seed):
    assert SEED_LIMIT == 2**32
    assert seed_problem(seed) is None


@pytest.mark.parametrize("seed", [-1, 2**32, True, False, 1.5, 1.0, "1", None])
def test_anything_else_is_not_a_run_seed(seed):
    assert seed_problem(seed) == "must be between 0 and 4294967295"
