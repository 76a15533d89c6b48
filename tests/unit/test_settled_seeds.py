"""Which seeds a daily run may leave out next time: loaded, and every test on them passed (orchestration/assets/dbt.py).
A seed whose test failed or warned must be loaded and tested again by the next run, not left out with its tests."""

from orchestration.assets.dbt import settled_seeds

SEED_A, SEED_B, SEED_C = "seed.p.rates", "seed.p.thresholds", "seed.p.presets"


def _test(*parents: str) -> dict:
    return {"resource_type": "test", "depends_on": {"nodes": list(parents)}}


NODES = {
    SEED_A: {"resource_type": "seed", "depends_on": {"nodes": []}},
    SEED_B: {"resource_type": "seed", "depends_on": {"nodes": []}},
    SEED_C: {"resource_type": "seed", "depends_on": {"nodes": []}},
    "test.p.unique_rates": _test(SEED_A),
    "test.p.not_null_thresholds": _test(SEED_B),
    "test.p.relationships_model_thresholds": _test("model.p.m", SEED_B),
    "test.p.accepted_presets": _test(SEED_C),
}


def _results(**status: str) -> list[dict]:
    return [{"unique_id": uid, "status": value} for uid, value in status.items()]


def test_a_seed_whose_tests_all_passed_is_settled_and_one_with_a_failing_test_is_not() -> None:
    results = [
        *_results(**{SEED_A: "success", SEED_B: "success", SEED_C: "success"}),
        *_results(**{"test.p.unique_rates": "pass", "test.p.not_null_thresholds": "pass"}),
        *_results(**{"test.p.relationships_model_thresholds": "fail", "test.p.accepted_presets": "warn"}),
    ]
    assert settled_seeds(results, NODES, [SEED_A, SEED_B, SEED_C]) == {SEED_A: True, SEED_B: False, SEED_C: False}


def test_a_seed_that_failed_to_load_or_did_not_run_is_not_settled() -> None:
    results = _results(**{SEED_A: "error", "test.p.unique_rates": "skipped"})
    assert settled_seeds(results, NODES, [SEED_A, SEED_B]) == {SEED_A: False}  # SEED_B: not in this build
