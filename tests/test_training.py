"""study/registry.py and study/training.py: the runs planned, batched and trained on
processes; a study stopped by Ctrl-C, SIGTERM or a failing run."""
import json
import math
import os
import re
import signal
import subprocess
import sys
import time

import pytest

import compare
from study import records, registry, running, training
from tests.helpers import (HERE, blocked, finish, group_left, in_session, run, start,
                           study_settings, wait_for)


# ---------------------------------------- nets, runs, batches


@pytest.mark.slow
def test_compare_results_do_not_depend_on_batching():
    settings = study_settings(2, nets=list(registry.NETS), alignment=True)
    runs = [r for r in training.plan(settings) if r["experiment"] == "Result 1"]
    whole, _ = training.train_batch(runs, settings)
    alone = [result for r in runs for result in training.train_batch([r], settings)[0]]
    halves = training.train_batch(runs[:3], settings)[0] + training.train_batch(runs[3:],
                                                                             settings)[0]
    for other in (alone, halves):
        for a, b in zip(whole, other):
            assert a["history"] == b["history"] and a["test_right"] == b["test_right"]
            assert a["stuck"] == b["stuck"] and a["train_accuracy"] == b["train_accuracy"]
            assert (a["alignment"] is None) == (b["alignment"] is None)
            assert a["checkpoints"] == b["checkpoints"]
            if a["alignment"] is not None:
                assert a["alignment"].tobytes() == b["alignment"].tobytes()
                last = a["checkpoints"][-1]  # the measures kept: W1's and W2's, as measured
                assert [last[k] for k in records.ALIGNED] == a["alignment"][-1, :, :2].T.ravel(
                ).tolist()


@pytest.mark.parametrize("tune", [False, True])
def test_a_sweeps_runs_are_single_rate_studies_runs_bit_for_bit(tune):
    """Every net of a sweep, the broken and the frozen ones included, at three rates in
    one lock-step batch: each run is the one a study of its rate alone trains."""
    rates = [0.0003, 0.001, 0.003]
    pair = (3, 8)
    settings = study_settings(2, nets=("original", registry.BROKEN, "frozen"), pairs=(pair,),
                              experiments=["Result 1"], lrs=rates, tune=tune,
                              test_sizes={pair: 71}, train_sizes={pair: 286})
    runs = training.plan(settings)
    assert len(runs) == 3 * 3 * 2 and {r["lr"] for r in runs} == set(rates)
    swept = {records.key(r): r for r in training.train_batch(runs, settings)[0]}
    on = "validation" if tune else "test"
    separate = 0
    for lr in rates:
        single = dict(settings, lrs=[lr], lr=lr)
        separate += len(training.batches(training.plan(single), 2))
        for alone in training.train_batch(training.plan(single), single)[0]:
            run = swept[records.key(alone)]
            assert run["history"] == alone["history"], records.key(alone)
            for field in ("stuck", "train_accuracy", f"{on}_right", f"{on}_size"):
                assert run[field] == alone[field], (records.key(alone), field)
    assert len({tuple(r["history"]) for r in swept.values()}) == len(runs)  # all differ
    assert len(training.batches(runs, 2)) < separate  # the rates share batches



def test_a_runs_checkpoints_end_at_its_final_accuracies_and_lecun_weights_are_scaled():
    """Every net, the interventions included, with LeCun's initial weights: the last
    checkpoint is the run's final training and held-out accuracy; each run is its net's
    own (original_net.train from the scaled weights, or broken_net.train with its lines
    or its intervention's hook), bit for bit."""
    import broken_net
    import original_net
    from study import interventions
    pair = (3, 8)
    settings = study_settings(1, nets=list(registry.NETS), pairs=(pair,), epochs=12,
                              experiments=["Result 1"], init="lecun", test_sizes={pair: 71},
                              train_sizes={pair: 286})
    runs, _ = training.train_batch(training.plan(settings), settings)
    assert [c["epoch"] for c in runs[0]["checkpoints"]] == [1, 6, 10, 12]  # 6: the middle
    x, y, *_ = original_net.load_data(0, 71, digits=pair)
    for run in runs:
        last = run["checkpoints"][-1]
        assert [c["cost"] for c in run["checkpoints"]] == [run["history"][e - 1]
                                                          for e in (1, 6, 10, 12)]
        assert last["train_accuracy"] == run["train_accuracy"]
        assert last["test_accuracy"] == run["test_accuracy"]
        alone = training.initial_params(0, (18, 20), "lecun")
        hook = run["redirect"] and interventions.Redirect(run["redirect"], 0, len(y))
        if run["frozen"]:
            continue  # its reference is in tests/test_lockstep.py
        history = broken_net.train(alone, x, y, 12, 0.001, 0.9, breaks=run["breaks"],
                                   on_step=hook)
        assert history == run["history"], run["net"]
    lecun = training.initial_params(4, (28, 36), "lecun")
    normal = original_net.init_params(4, (28, 36))
    assert lecun["W1a"].tobytes() == (normal["W1a"] / 3).tobytes()
    assert lecun["W4"].tobytes() == (normal["W4"] / 28 ** 0.5).tobytes()
    with pytest.raises(ValueError, match="unknown initial weights"):
        training.initial_params(0, (28, 36), "xavier")


def test_the_code_digest_names_the_training_code_not_its_comments():
    """A saved study is reused while the code that trains it is the same: the digest
    moves with a training function's code, not with its comments or docstring."""
    import original_net
    found = training.code_version()
    real = training.train_batch
    try:
        training.train_batch = lambda *args: real(*args)  # another function
        assert training.code_version() != found
    finally:
        training.train_batch = real
    assert training.code_version() == found and len(found) == 12
    text = training.code_text(original_net)
    assert "Red star" not in text and "def forward(params, x):" in text  # comments out
    assert "The net, for one 8x8 image" not in text  # and docstrings

def test_batches_keep_one_shape_and_share_the_work():
    runs = training.plan(study_settings(10, nets=list(registry.NETS)))
    for jobs in (1, 2, 3, 5):
        groups = training.batches(runs, jobs)
        assert sorted(map(id, (r for g in groups for r in g))) == sorted(map(id, runs))
        assert len(groups) % jobs == 0 and all(len(g) <= training.MAX_BATCH for g in groups)
        assert all(len({(r["experiment"], r["digits"]) for r in g}) == 1 for g in groups)
    groups = training.batches(training.plan(study_settings(10)), 2)
    assert [len(g) for g in groups] == [20, 20, 11, 9]  # Result 2 split unevenly ...
    free = [0, 0]
    for g in groups:  # ... so that the two processes, handed the batches in turn, ...
        free[free.index(min(free))] += training.work(g)
    one_run = training.work(groups[2][:2]) - training.work(groups[2][:1])
    assert abs(free[0] - free[1]) < one_run  # ... end within one run of each other
    at_most = math.ceil(2000 / training.MAX_BATCH)  # batches for 2000 runs of one shape
    assert len(training.batches(training.plan(study_settings(1000)), 2)) == 3 * at_most
    pairs = registry.PAIRS  # digit pairs of one shape train in batches of their own
    runs = training.plan(study_settings(30, nets=("original", registry.BROKEN, "frozen"),
                                        pairs=pairs, experiments=["Result 3"]))
    assert [len(g) for g in training.batches(runs, 2)] == [45] * 8  # 90 runs a pair


def test_the_progress_estimate_follows_the_work_done(monkeypatch):
    """Batches of unequal work: after the first, the estimate is the planned work at the
    pace the finished batch kept."""
    clock = iter([0.0, 30.0, 40.0])  # the start, a heartbeat, the first batch done
    monkeypatch.setattr(training.time, "perf_counter", lambda: next(clock))
    lines = []
    stream = type("S", (), dict(isatty=lambda self: False,
                                write=lambda self, text: lines.append(text),
                                flush=lambda self: None))()
    runs = training.plan(study_settings(10))
    groups = training.batches(runs, 1)
    progress = training.progress_line(groups, 1, stream=stream)
    progress()  # a long first batch: said, with no estimate yet
    progress(groups[0], 40.0)  # 40 s for the first batch's work
    total = 40.0 * training.finish(groups, 1) / training.work(groups[0])
    said = "".join(lines).splitlines()
    assert said[1] == "compare.py: 0/3 batches done (0/60 runs), 30 s"
    assert said[2].endswith(f", 40 s, about {total - 40:.0f} s to go")


@pytest.mark.slow
def test_a_new_net_is_one_registry_entry(tmp_path):
    """A fourth broken net registered in a copy of the project trains, is compared with the
    original, and is drawn, with no other change."""
    (tmp_path / "study").mkdir()
    for path in [*HERE.glob("*.py"), *HERE.glob("study/*.py")]:
        (tmp_path / path.relative_to(HERE)).write_text(path.read_text())
    registry_py = tmp_path / "study" / "registry.py"
    anchor = '    Net(FROZEN, "frozen", "tab:gray", frozen=True),'
    text = registry_py.read_text()
    assert anchor in text
    registry_py.write_text(text.replace(anchor, anchor + '\n    Net("broken red again", '
                                        '"red again", "tab:purple", ("red",), ablation=True),'))
    result = run(str(tmp_path / "compare.py"), "--ablation", "--seeds", "2", "--epochs", "2",
                 "--jobs", "1", "--format", "json", "--plot", str(tmp_path / "f.png"),
                 cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    saved_report = json.loads(result.stdout)
    assert {r["net"] for r in saved_report["runs"]} >= {"broken red again", "broken red"}
    assert ["broken red again", "original"] in [c["nets"] for c in saved_report["comparisons"]]
    red, again = ([r["history"] for r in saved_report["runs"] if r["net"] == net]
                  for net in ("broken red", "broken red again"))
    assert red == again and (tmp_path / "f.png").stat().st_size > 1000  # the same lines


# ---------------------------------------- a study stopped: signals and failing runs


@pytest.mark.slow
def test_ctrl_c_stops_a_large_study_within_2_s_leaving_no_process():
    process = start("compare.py", "--seeds", "1000")
    wait_for(process.stderr, "Ctrl-C stops")
    time.sleep(2)  # the workers are busy training
    os.killpg(process.pid, signal.SIGINT)
    sent = time.monotonic()
    out, err = finish(process, 10)
    assert time.monotonic() - sent < 2
    assert process.returncode == 130 and out == "" and err == "compare.py: interrupted\n"
    assert group_left(process, 2) == ""


@pytest.mark.slow
@pytest.mark.parametrize("moment", ["loading", "starting workers"])
def test_ctrl_c_at_the_start_of_a_study_says_one_line(moment):
    """While compare loads its libraries, and while its workers load theirs."""
    process = start("compare.py", "--seeds", "1000")
    if moment == "loading":  # numpy's core mapped: past Python's own start-up, mid-imports
        maps, limit = f"/proc/{process.pid}/maps", time.monotonic() + 10
        if not os.path.exists(maps):
            pytest.skip("needs /proc to see when the libraries load")
        while "_multiarray_umath" not in open(maps).read() and time.monotonic() < limit:
            time.sleep(0.01)
    else:
        wait_for(process.stderr, "Ctrl-C stops")
    os.killpg(process.pid, signal.SIGINT)
    out, err = finish(process, 10)
    assert process.returncode in (130, -signal.SIGINT) and out == ""
    assert err == "compare.py: interrupted\n" and group_left(process, 2) == ""


@pytest.mark.slow
def test_compare_without_scipy_says_what_to_install(tmp_path):
    result = subprocess.run([sys.executable, "compare.py"], cwd=HERE, capture_output=True,
                            text=True, env=blocked(tmp_path, "scipy"))
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.startswith("compare.py: error:") and result.stderr.count("\n") == 1
    assert "scipy" in result.stderr and "pip install -r requirements.txt" in result.stderr


@pytest.mark.slow
def test_sigterm_to_the_main_process_alone_leaves_no_worker():
    process = start("compare.py", "--seeds", "1000")
    wait_for(process.stderr, "Ctrl-C stops")
    time.sleep(2)
    process.terminate()
    out, err = finish(process, 10)
    assert process.returncode == 143 and err == "compare.py: terminated\n"
    assert group_left(process, 10) == ""


FAILING_STUDY = """
import sys, time
import compare
from study import training

def train_batch(batch, settings, stop=None):  # sent to the workers by value
    if batch[0]["experiment"] == "Result 3":
        time.sleep(3600)  # a batch that would not end for an hour
    time.sleep(0.5)
    raise training.StudyError(training.name(batch[0]) + ": made to fail")

training.train_batch = train_batch
sys.exit(compare.main(["--seeds", "2", "--jobs", "2"]))
"""


@pytest.mark.slow
@pytest.mark.skipif(running.available_cpus() < 2, reason="needs two processes at once")
def test_the_first_failing_run_stops_the_study_in_one_line(tmp_path):
    """One batch fails while another would run for an hour: the study stops at once."""
    script = tmp_path / "failing_study.py"
    script.write_text(FAILING_STUDY)
    process = in_session([sys.executable, str(script)],
                         env=dict(os.environ, PYTHONPATH=str(HERE)))
    began = time.monotonic()
    out, err = finish(process, 30)
    assert time.monotonic() - began < 15
    assert process.returncode == 1 and out == ""
    assert re.fullmatch(r"compare\.py: error: Result [12], original, lr 0.001, seed 0: made to "
                        r"fail",
                        err.splitlines()[-1]), err
    assert "Traceback" not in err
    assert group_left(process, 10) == ""


@pytest.mark.slow
def test_a_diverging_run_in_a_worker_is_named_in_one_line():
    process = start("compare.py", "--lr", "1e100", "--seeds", "2", "--epochs", "5", "--jobs", "2")
    out, err = finish(process, 60)
    assert process.returncode == 1 and out == ""
    assert re.fullmatch(r"compare\.py: error: Result \d, (original|broken), "
                        r"lr 1e\+100, seed \d: "
                        r"diverged in epoch 1 \((overflow|invalid value)\)",
                        err.splitlines()[-1]), err
    assert "Traceback" not in err


def test_compare_in_process_reports_a_diverging_run_in_one_line(capsys):
    assert compare.main(["--epochs", "2", "--seeds", "1", "--jobs", "1", "--lr", "1e100"]) == 1
    err = capsys.readouterr().err.splitlines()
    assert re.fullmatch(r"compare\.py: error: Result \d, .*, seed 0: diverged .*", err[-1])
