"""One contract every executor passes: put/submit/map/shutdown, errors through futures."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from planner.exceptions import SpecError
from planner.executors import Executor, LocalExecutor, ProcessExecutor, RayExecutor, make_executor


def _double(x: int) -> int:
    return 2 * x


def _boom(x: int) -> int:
    raise ValueError(f"bad input {x}")


def _sum_rows(rows: list[int], k: int) -> int:
    return sum(rows) + k


def _nap(seconds: float) -> float:
    import time

    time.sleep(seconds)
    return seconds


def _omp_threads() -> str | None:
    from threadpoolctl import threadpool_info

    return os.environ.get("OMP_NUM_THREADS"), max((p["num_threads"] for p in threadpool_info()), default=1)


@pytest.fixture(
    params=[
        pytest.param("local", id="local"),
        pytest.param("process", id="process", marks=pytest.mark.slow),
        pytest.param("ray", id="ray", marks=pytest.mark.slow),
    ]
)
def executor(request):
    if request.param == "ray":
        request.getfixturevalue("ray_local")
        ex = RayExecutor(2)
    elif request.param == "process":
        ex = ProcessExecutor(2)
    else:
        ex = LocalExecutor()
    yield ex
    ex.shutdown()


def test_executor_contract(executor):
    assert isinstance(executor, Executor)
    shared = executor.put(list(range(100)))
    futures = [executor.submit(_sum_rows, shared, k) for k in range(4)]
    assert [f.result(timeout=60) for f in futures] == [4950 + k for k in range(4)]
    assert executor.map(_double, [3, 1, 2]) == [6, 2, 4]
    with pytest.raises(ValueError, match="bad input 7"):
        executor.submit(_boom, 7).result(timeout=60)


def test_stop_ends_a_running_call_and_leaves_finished_ones(executor):
    import concurrent.futures as cf
    import time

    finished = executor.submit(_double, 4)
    assert finished.result(timeout=60) == 8 and not executor.stop(finished)
    if isinstance(executor, LocalExecutor):
        return  # calls run when submitted: nothing is ever running
    running = executor.submit(_nap, 600.0)
    time.sleep(1.0)
    started = time.monotonic()
    assert executor.stop(running)
    with pytest.raises(Exception) as info:  # noqa: PT011 - cancelled (process pool) or TaskCancelledError (Ray)
        running.result(timeout=30)
    assert not isinstance(info.value, cf.TimeoutError), "the call was killed, not left running"
    assert time.monotonic() - started < 30
    assert executor.submit(_double, 5).result(timeout=60) == 10, "the executor goes on after a stop"


@pytest.mark.slow
def test_ray_tasks_run_with_a_thread_budget(ray_local):
    ex = RayExecutor(2)
    env, n_threads = ex.submit(_omp_threads).result(timeout=60)
    assert env == "1" and n_threads == 1
    assert not ex.is_started, "an executor that found Ray running must not own it"
    ex.shutdown()
    assert ray_local.is_initialized()


def test_make_executor_kinds_and_errors():
    assert isinstance(make_executor("local", 1), LocalExecutor)
    assert isinstance(make_executor("ray", 3, address="auto"), RayExecutor)  # Ray starts on first use only
    with pytest.raises(SpecError, match="unknown executor 'dask'"):
        make_executor("dask", 2)
    with pytest.raises(SpecError, match="n_workers must be an integer >= 1, got 0"):
        make_executor("local", 0)
    with pytest.raises(SpecError, match="needs the ray executor"):
        make_executor("local", 1, address="auto")
    with pytest.raises(SpecError, match="max_retries must be an integer >= 0"):
        RayExecutor(2, max_retries=-1)


def test_import_does_not_load_ray():
    code = "import sys, planner, planner.executors, planner.automl; make = planner.executors.make_executor('ray', 2); print('ray' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.slow
def test_process_pool_workers_end_when_the_driver_is_killed(tmp_path):
    """A driver killed by SIGKILL (out of memory) leaves no worker computing on its own."""
    import signal
    import time

    psutil = pytest.importorskip("psutil")
    code = (
        "import time\nfrom planner.executors import ProcessExecutor\n"
        "if __name__ == '__main__':\n"
        "    ex = ProcessExecutor(1)\n    ex.submit(time.sleep, 600)\n    print('ready', flush=True)\n    time.sleep(600)\n"
    )
    script = tmp_path / "driver.py"
    script.write_text(code)
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    workers: list = []
    try:
        assert proc.stdout.readline().strip() == "ready"
        deadline = time.monotonic() + 60
        while not workers and time.monotonic() < deadline:
            workers = [p for p in psutil.Process(proc.pid).children() if "spawn_main" in " ".join(p.cmdline())]
            time.sleep(0.2)
        assert workers, "the worker process started"
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        gone, alive = psutil.wait_procs(workers, timeout=10)
        assert not alive, f"worker {[p.pid for p in alive]} outlived its driver"
    finally:
        if proc.poll() is None:
            proc.kill()
        for worker in workers:  # when the test fails: leave nothing behind
            if worker.is_running():
                worker.kill()
