"""A two-node Ray cluster on this machine; one node dies mid-search.

Ray reruns the tasks of the dead node elsewhere (``max_retries``); the driver, the only
writer of the SQLite study, never notices beyond a slower trial.
"""

from __future__ import annotations

import os
import threading
import time

import optuna
import pytest

from planner.automl import run_search
from planner.executors import RayExecutor

pytestmark = pytest.mark.slow
COMPLETE = optuna.trial.TrialState.COMPLETE


@pytest.fixture
def cluster():
    ray = pytest.importorskip("ray")
    from ray.cluster_utils import Cluster

    if ray.is_initialized():
        ray.shutdown()
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    cluster = Cluster(
        initialize_head=True,
        head_node_args={
            "num_cpus": 1,
            "include_dashboard": False,
            # notice a dead node within ~2 s instead of Ray's default ~30 s
            "_system_config": {"health_check_period_ms": 500, "health_check_failure_threshold": 3},
        },
    )
    worker = cluster.add_node(num_cpus=1)
    ray.init(address=cluster.address, log_to_driver=False)
    cluster.wait_for_nodes()
    try:
        yield cluster, worker
    finally:
        ray.shutdown()
        cluster.shutdown()


def test_killing_a_node_mid_search_loses_no_trial(kim_ce, storage_url, cluster):
    cluster, worker = cluster
    X, y = kim_ce
    # 5: fewer than the 5 finished trials median pruning waits for, so every trial must COMPLETE
    n_trials = 5
    seen_before_kill: dict[int, float] = {}
    killed = threading.Event()

    def kill_when_one_finished() -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                all_trials = optuna.load_study(study_name="s", storage=storage_url).get_trials(deepcopy=False)
            except KeyError:  # the study is not created yet
                all_trials = []
            trials = [t for t in all_trials if t.state == COMPLETE]
            running = [t for t in all_trials if t.state == optuna.trial.TrialState.RUNNING]
            import ray

            # Kill while the search is live: a trial finished, others in flight. When both CPUs are
            # busy one of them runs on the doomed node (Ray reruns it); on a fast machine the
            # search may not wait for that, so any trial in flight after the first finish will do.
            both_busy = ray.available_resources().get("CPU", 0) == 0
            if len(trials) >= 1 and running and (both_busy or len(trials) >= 2):
                seen_before_kill.update({t.number: t.value for t in trials})
                cluster.remove_node(worker)
                killed.set()
                return
            time.sleep(0.05)

    optuna.storages.RDBStorage(storage_url)  # create the schema once: two threads creating it race
    killer = threading.Thread(target=kill_when_one_finished, daemon=True)
    killer.start()
    study = run_search(
        X, y, task="regression", search_space="fast", storage_url=storage_url, study_name="s",
        n_trials=n_trials, seed=0, n_workers=2, executor=RayExecutor(2, max_retries=3),
    )
    killer.join(timeout=5)
    assert killed.is_set(), "the node was not killed during the search"
    assert [t.state for t in study.trials] == [COMPLETE] * n_trials, [(t.number, t.state, t.user_attrs.get("failure_reason")) for t in study.trials]
    # the trial rerun after the kill shows as the longest one (pytest -s prints them)
    print("trial seconds:", [round((t.datetime_complete - t.datetime_start).total_seconds(), 2) for t in study.trials])
    after = {t.number: t.value for t in study.trials}
    assert {n: after[n] for n in seen_before_kill} == seen_before_kill
