"""compare.py --scheduler: a study on a Dask cluster (study/cluster.py)."""
import json
import os
import signal
import time

import pytest

import compare
from study import cluster as dask_cluster, report
from tests.helpers import blocked, finish, run, start, wait_for


def cluster_state(address):
    """Per worker, the tasks it holds; and whether it still computes a small task."""
    from distributed import Client
    with Client(address, timeout=10, set_as_default=False) as client:
        tasks = client.run(lambda dask_worker: len(dask_worker.state.tasks))
        return tasks, client.submit(lambda: 41 + 1, pure=False).result(timeout=10) == 42


@pytest.mark.slow
def test_a_study_on_a_dask_cluster_gives_the_runs_of_one_process(cluster, tmp_path, capsys):
    args = ["--seeds", "3", "--epochs", "5", "--format", "json"]
    assert compare.main([*args, "--scheduler", cluster, "--out", str(tmp_path / "d.json")]) == 0
    assert compare.main([*args, "--jobs", "1", "--out", str(tmp_path / "one.json")]) == 0
    err = capsys.readouterr().err
    assert "on 2 Dask workers" in err
    there, here = (json.loads((tmp_path / name).read_text()) for name in ("d.json", "one.json"))
    for key in ("results", "claims", "comparisons", "alignment", "runs"):
        assert there[key] == here[key], key
    env = there["study"]["environment"]
    assert env["scheduler"] == cluster and env["workers"] == 2 and there["study"]["jobs"] == 2
    assert {k: v for k, v in env.items() if k not in ("scheduler", "workers")} == \
        here["study"]["environment"]  # the same machine's workers
    text = report.text_report(there["study"], dict(there, runs=there["runs"]), "text")
    assert f"on the Dask cluster at {cluster} (2 workers" in " ".join(text.split())


@pytest.mark.slow
def test_ctrl_c_cancels_the_study_on_the_cluster_and_leaves_it_up(cluster):
    process = start("compare.py", "--seeds", "100", "--scheduler", cluster)
    wait_for(process.stderr, "Ctrl-C stops")
    time.sleep(2)
    os.killpg(process.pid, signal.SIGINT)
    out, err = finish(process, 10)
    assert process.returncode == 130 and err == "compare.py: interrupted\n" and out == ""
    end = time.monotonic() + 5
    while (state := cluster_state(cluster))[0] != {w: 0 for w in state[0]}:
        assert time.monotonic() < end, state  # the batches stop within an epoch
        time.sleep(0.5)
    assert len(state[0]) == 2 and state[1]  # both workers idle and alive


@pytest.mark.slow
def test_an_unreachable_scheduler_is_said_in_one_line(capsys, monkeypatch):
    pytest.importorskip("distributed")
    monkeypatch.setattr(dask_cluster, "CONNECT_SECONDS", 1)
    start_time = time.monotonic()
    assert compare.main(["--seeds", "2", "--scheduler", "tcp://127.0.0.1:1"]) == 1
    assert time.monotonic() - start_time < 5
    assert capsys.readouterr().err == (
        "compare.py: error: no Dask scheduler answers at tcp://127.0.0.1:1 within 1 s\n")


@pytest.mark.slow
def test_without_dask_the_scheduler_option_says_how_to_install_it(tmp_path):
    result = run("compare.py", "--scheduler", "tcp://127.0.0.1:8786",
                 env=blocked(tmp_path, "distributed"))
    assert result.returncode == 2 and result.stderr == (
        'compare.py: error: --scheduler needs Dask: python3 -m pip install "dask[distributed]"\n')
