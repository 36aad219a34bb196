"""Faults: what compare.py and make_report.py do when the world around a study fails
(study/cluster.py, study/files.py's output locks, study/cli.py's parent watch).

A real Dask cluster (a `dask scheduler` and a `dask worker --nworkers 2 --nthreads 1`,
each a process in a session of its own), real signals, bounded waits. Each was seen to
fail on the code before its fix, or with its fix undone.
"""
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

import compare
import original_net
from study import cluster, files
from tests.helpers import HERE, in_session, kill_session

SMALL = ["--seeds", "4", "--epochs", "20"]  # a study of 24 runs: seconds
LONG = ["--seeds", "4", "--epochs", "400"]  # one that is still training when it is hit


# ---------------------------------------------------------------- helpers: processes

def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def study(*args, sigint=signal.SIG_DFL):
    """compare.py with args, in a session of its own."""
    return in_session([sys.executable, "compare.py", *args], sigint=sigint)


def alive(session):
    """The live processes (pid, command) of a session (its leader's pid)."""
    lines = subprocess.run(["ps", "-ww", "-o", "pid=,stat=,args=", "-s", str(session)],
                           capture_output=True, text=True).stdout.splitlines()
    return [line for line in lines if "Z" not in line.split()[1]]


def left_after(session, seconds):
    """The session's live processes once it is empty, or after seconds."""
    end = time.monotonic() + seconds
    while (left := alive(session)) and time.monotonic() < end:
        time.sleep(0.1)
    return left


def read_until(stream, text, seconds=60):
    """Lines of stream up to the one that holds text."""
    end, lines = time.monotonic() + seconds, []
    while time.monotonic() < end:
        line = stream.readline()
        assert line, f"the stream ended before {text!r}: {lines}"
        lines.append(line)
        if text in line:
            return lines
    raise AssertionError(f"no {text!r} within {seconds} s: {lines}")


def ended(process, seconds):
    """(stdout, stderr, seconds it took) of a process that must end within seconds."""
    start = time.monotonic()
    try:
        out, err = process.communicate(timeout=seconds)
    except subprocess.TimeoutExpired:
        kill_session(process)
        raise AssertionError(f"still running after {seconds} s") from None
    return out, err, time.monotonic() - start


# ---------------------------------------------------------------- helpers: a Dask cluster

class Cluster:
    """A scheduler and two worker processes under one nanny process, on this machine."""

    def __init__(self):
        pytest.importorskip("distributed")
        self.address = f"tcp://127.0.0.1:{free_port()}"
        self.scheduler = in_session([sys.executable, "-m", "dask", "scheduler", "--host",
                                     "127.0.0.1", "--port", self.address.rsplit(":", 1)[1],
                                     "--dashboard-address", ":0", "--no-show"])
        self.workers = None
        try:
            read_until(self.scheduler.stderr, "Scheduler at:", 60)
            self.workers = in_session([sys.executable, "-m", "dask", "worker", self.address,
                                       "--nworkers", "2", "--nthreads", "1", "--no-dashboard"])
            self.wait_for_workers(2)
        except BaseException:
            self.stop()
            raise

    def worker_count(self):
        from distributed import Client
        with Client(self.address, timeout=10, set_as_default=False) as client:
            return len(client.scheduler_info()["workers"])

    def wait_for_workers(self, count, seconds=60):
        end = time.monotonic() + seconds
        while self.worker_count() != count:
            assert time.monotonic() < end, f"not {count} workers within {seconds} s"
            time.sleep(0.3)

    def busy_worker(self, seconds=30):
        """The pid of a worker process that is running a task."""
        from distributed import Client
        end = time.monotonic() + seconds
        with Client(self.address, timeout=10, set_as_default=False) as client:
            pids = client.run(os.getpid)
            while time.monotonic() < end:
                busy = [worker for worker, tasks in client.processing().items() if tasks]
                if busy:
                    return pids[busy[0]]
                time.sleep(0.2)
        raise AssertionError(f"no worker busy within {seconds} s")

    def worker_processes(self):
        """The pids of the worker processes (the nanny process's children)."""
        return [int(pid) for pid in subprocess.run(
            ["pgrep", "-P", str(self.workers.pid)], capture_output=True,
            text=True).stdout.split()
            if "spawn_main" in Path(f"/proc/{pid}/cmdline").read_text()]

    def stop(self):
        for process in (self.workers, self.scheduler):
            if process is not None:
                kill_session(process)


@pytest.fixture
def dask_cluster():
    cluster = Cluster()
    try:
        yield cluster
    finally:
        cluster.stop()


def one_line(err):
    assert err.count("\n") == 1 and "Traceback" not in err, err
    return err.rstrip("\n")


# ---------------------------------------------------------------- a bad --scheduler

@pytest.mark.parametrize("address", ["127.0.0.1:notaport", "tcp://", "foo://bar",
                                     "tcp://127.0.0.1", "tcp://127.0.0.1:70000",
                                     "tcp://:8786", "inproc://x", "tcp://host:+80"])
def test_a_malformed_scheduler_address_is_refused_before_any_data_loads(address, monkeypatch,
                                                                         capsys):
    pytest.importorskip("distributed")

    def no_data(*args, **kwargs):
        raise AssertionError("the data were loaded")
    monkeypatch.setattr(original_net, "load_data", no_data)
    assert compare.main([*SMALL, "--scheduler", address]) == 2
    err = one_line(capsys.readouterr().err)
    assert err.startswith(f"compare.py: error: --scheduler {address}: ") and len(err) <= 100


@pytest.mark.slow
def test_a_malformed_scheduler_address_costs_no_client_and_no_wait():
    pytest.importorskip("distributed")
    start = time.monotonic()
    result = subprocess.run([sys.executable, "compare.py", *SMALL, "--scheduler",
                             "127.0.0.1:notaport"], cwd=HERE, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 2 and time.monotonic() - start < 5
    assert one_line(result.stderr).startswith("compare.py: error: --scheduler 127.0.0.1:notaport")


@pytest.mark.slow
def test_a_service_that_is_not_dask_is_said_in_one_line_within_the_connect_time(tmp_path):
    port = free_port()
    server = in_session([sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"],
                        cwd=tmp_path)
    try:
        read_until(server.stdout, "Serving HTTP", 30)
        address = f"tcp://127.0.0.1:{port}"
        process = study(*SMALL, "--scheduler", address)
        out, err, seconds = ended(process, 30)
        assert process.returncode == 1 and out == ""
        assert one_line(err) == (f"compare.py: error: no Dask scheduler answers at {address} "
                                 f"within {cluster.CONNECT_SECONDS} s")
        assert seconds < cluster.CONNECT_SECONDS + 5  # the interpreter, the data, the wait
    finally:
        kill_session(server)


@pytest.mark.slow
def test_a_dask_worker_address_is_said_to_be_no_scheduler(dask_cluster, capsys):
    from distributed import Client
    with Client(dask_cluster.address, timeout=10, set_as_default=False) as client:
        worker = next(iter(client.scheduler_info()["workers"]))
    assert compare.main([*SMALL, "--scheduler", worker]) == 1
    assert one_line(capsys.readouterr().err) == (
        f"compare.py: error: {worker} is a Dask worker, not a scheduler")


# ---------------------------------------------------------------- the cluster fails mid-study

@pytest.mark.slow
def test_a_scheduler_killed_mid_study_is_said_in_one_line_and_nothing_is_written(
        dask_cluster, tmp_path):
    out = tmp_path / "study.json"
    process = study(*LONG, "--format", "json", "--out", str(out),
                    "--scheduler", dask_cluster.address)
    read_until(process.stderr, "Ctrl-C stops")
    time.sleep(2)
    os.killpg(dask_cluster.scheduler.pid, signal.SIGKILL)
    stdout, err, seconds = ended(process, 30)
    assert process.returncode == 1 and stdout == ""
    assert one_line(err) == (f"compare.py: error: lost the Dask scheduler at "
                             f"{dask_cluster.address} mid-study")
    assert seconds < 10
    assert os.listdir(tmp_path) == []  # no report, no temporary file, no lock


@pytest.mark.slow
def test_every_worker_lost_mid_study_is_said_in_one_line(dask_cluster, tmp_path):
    out = tmp_path / "study.json"
    process = study(*LONG, "--format", "json", "--out", str(out),
                    "--scheduler", dask_cluster.address, sigint=signal.SIG_IGN)
    read_until(process.stderr, "Ctrl-C stops")
    time.sleep(2)
    os.killpg(dask_cluster.workers.pid, signal.SIGKILL)  # the nannies and their workers
    stdout, err, seconds = ended(process, cluster.NO_WORKERS_SECONDS + 30)
    assert process.returncode == 1 and stdout == ""
    assert one_line(err) == (f"compare.py: error: the Dask cluster at {dask_cluster.address} "
                             f"has had no workers for {cluster.NO_WORKERS_SECONDS} s")
    assert seconds < cluster.NO_WORKERS_SECONDS + 10
    assert os.listdir(tmp_path) == []
    assert dask_cluster.scheduler.poll() is None  # the scheduler is left up


def assert_runs_of_one_process(args, there):
    """The study of args trained again by one process gives the runs in there, bit for
    bit: every epoch's cost, every accuracy."""
    one = subprocess.run([sys.executable, "compare.py", *args, "--jobs", "1", "--out",
                          str(there.with_name("one.json"))], cwd=HERE, capture_output=True,
                         timeout=120)
    assert one.returncode == 0
    runs = [json.loads(path.read_text())["runs"] for path in (there, there.with_name("one.json"))]
    assert runs[0] == runs[1]


@pytest.mark.slow
def test_a_worker_killed_mid_study_is_restarted_and_the_runs_are_those_of_one_process(
        dask_cluster, tmp_path):
    args = ["--seeds", "2", "--epochs", "40", "--format", "json"]
    process = study(*args, "--out", str(tmp_path / "dask.json"),
                    "--scheduler", dask_cluster.address)
    read_until(process.stderr, "Ctrl-C stops")
    victim = dask_cluster.busy_worker()
    os.kill(victim, signal.SIGKILL)
    _, err, _ = ended(process, 120)
    assert process.returncode == 0, err
    assert f"compare.py: wrote {tmp_path / 'dask.json'}" in err
    assert victim not in dask_cluster.worker_processes()  # it was killed, and restarted:
    dask_cluster.wait_for_workers(2, 30)
    assert_runs_of_one_process(args, tmp_path / "dask.json")


# ---------------------------------------------------------------- the cluster stalls mid-study

STALL = 5  # --stall-seconds: the least compare.py takes


@pytest.mark.slow
@pytest.mark.parametrize("stopped", ["scheduler", "workers"])
def test_a_stalled_cluster_ends_the_study_in_one_line_within_the_stall_bound(
        dask_cluster, tmp_path, stopped):
    """A hung scheduler (SIGSTOP: its connections stay open, nothing answers) is not a lost
    one, nor are hung workers (they send no heartbeat): the study waits --stall-seconds,
    and ends in one line, writing nothing, the cluster left up."""
    process = study(*LONG, "--format", "json", "--out", str(tmp_path / "study.json"),
                    "--scheduler", dask_cluster.address, "--stall-seconds", str(STALL))
    read_until(process.stderr, "Ctrl-C stops")
    time.sleep(2)
    group = getattr(dask_cluster, stopped).pid  # the scheduler, or the nanny and its workers
    os.killpg(group, signal.SIGSTOP)
    try:
        stdout, err, seconds = ended(process, STALL + 30)
    finally:
        os.killpg(group, signal.SIGCONT)
    assert process.returncode == 1 and stdout == ""
    assert one_line(err) == (
        f"compare.py: error: the Dask scheduler at {dask_cluster.address} has not answered "
        f"for {STALL} s" if stopped == "scheduler" else
        f"compare.py: error: the Dask cluster at {dask_cluster.address}: its workers have "
        f"sent no heartbeat for {STALL} s")
    assert seconds < STALL + 10
    assert os.listdir(tmp_path) == []  # no report, no temporary file, no lock
    assert dask_cluster.scheduler.poll() is None  # the scheduler is left up
    print(f"the study ended {seconds:.1f} s after its {stopped} stopped")


@pytest.mark.slow
def test_a_worker_stopped_mid_study_is_removed_and_its_batch_trained_by_another(
        dask_cluster, tmp_path):
    """A hung worker sends no heartbeat: after --stall-seconds the study has the scheduler
    remove it, its batch goes to the other worker, and the runs are those of one process."""
    args = ["--seeds", "2", "--epochs", "60", "--format", "json"]
    process = study(*args, "--out", str(tmp_path / "dask.json"),
                    "--scheduler", dask_cluster.address, "--stall-seconds", str(STALL))
    read_until(process.stderr, "Ctrl-C stops")
    victim = dask_cluster.busy_worker()
    os.kill(victim, signal.SIGSTOP)
    try:
        _, err, seconds = ended(process, STALL + 60)
        assert process.returncode == 0, err
        assert dask_cluster.worker_count() == 1  # the stopped worker, removed
    finally:
        os.kill(victim, signal.SIGCONT)
    assert f"compare.py: wrote {tmp_path / 'dask.json'}" in err
    assert_runs_of_one_process(args, tmp_path / "dask.json")
    print(f"the study ended {seconds:.1f} s after one of its workers stopped")


# ---------------------------------------------------------------- nothing of a study is left

@pytest.mark.slow
@pytest.mark.parametrize("when", ["training", "idle"])
def test_compare_killed_leaves_none_of_its_workers(tmp_path, when):
    """idle: the batches are done and compare.py is blocked writing its report into a
    FIFO nobody reads, so its two workers wait for work that will not come."""
    if when == "idle":
        out = tmp_path / "fifo"
        os.mkfifo(out)
        process = study(*SMALL, "--jobs", "2", "--out", str(out))
        read_until(process.stderr, "4/4 batches done")
    else:
        process = study(*LONG, "--jobs", "2")
        read_until(process.stderr, "Ctrl-C stops")
        time.sleep(2)
    workers = [line for line in alive(process.pid) if "loky" in line]
    assert len(workers) >= 2, alive(process.pid)  # the workers and loky's resource tracker
    start = time.monotonic()
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=10)
    try:
        assert left_after(process.pid, 5) == []
    finally:
        kill_session(process)
    print(f"{when}: the study's session empty {time.monotonic() - start:.1f} s after SIGKILL")


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGKILL, signal.SIGHUP])
def test_make_report_killed_leaves_no_study_running(tmp_path, signum):
    """make_report's study runs in a session of its own: killed, make_report cannot stop
    it; the study sees its pipe from make_report end, and stops itself and its workers."""
    (tmp_path / "drive.py").write_text(
        f"import sys; sys.path.insert(0, {str(HERE)!r})\n"
        "from study import cpus\nimport make_report as m\n"
        "cpus.distinct = lambda *args, **kwargs: [('as is', {}, '1.5')]\n"
        f"m.OUT, m.SAVED = {str(tmp_path)!r}, {str(tmp_path / 'reports')!r}\n"
        "m.STUDY_OPTIONS = ['--epochs', '400', '--seeds', '4', '--jobs', '2']\n"
        "sys.exit(m.main([]))\n")
    driver = in_session([sys.executable, "drive.py"], cwd=tmp_path)
    study_pid = None
    try:
        read_until(driver.stderr, "Ctrl-C stops")
        time.sleep(1)
        study_pid, = map(int, subprocess.run(["pgrep", "-P", str(driver.pid)],
                                             capture_output=True, text=True).stdout.split())
        assert len(alive(study_pid)) >= 3  # compare.py and its two workers
        start = time.monotonic()
        os.kill(driver.pid, signum)
        driver.wait(timeout=10)
        assert left_after(study_pid, 8) == []
    finally:
        kill_session(driver)
        if study_pid:
            try:
                os.killpg(study_pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    print(f"{signal.Signals(signum).name}: the study's session empty "
          f"{time.monotonic() - start:.1f} s after make_report was killed")
    assert os.listdir(tmp_path / "reports") == []


# ---------------------------------------------------------------- one --out, one study

@pytest.mark.slow
def test_a_second_study_writing_the_same_out_is_refused_before_training(tmp_path):
    out = tmp_path / "study.json"
    first = study(*LONG, "--jobs", "1", "--format", "json", "--out", str(out))
    try:
        read_until(first.stderr, "Ctrl-C stops")
        link = tmp_path / "link.json"  # the same file by another name
        link.symlink_to(out.name)
        for name in (out, link):
            start = time.monotonic()
            second = subprocess.run([sys.executable, "compare.py", *SMALL, "--out", str(name)],
                                    cwd=HERE, capture_output=True, text=True, timeout=60)
            assert second.returncode == 2 and time.monotonic() - start < 10
            assert one_line(second.stderr) == (
                f"compare.py: error: --out {name}: another study (process {first.pid}) is "
                "writing it")
    finally:
        os.killpg(first.pid, signal.SIGINT)
        ended(first, 15)
    assert first.returncode == 130 and not out.exists()
    assert sorted(os.listdir(tmp_path)) == ["link.json"]  # the lock is gone with its study


@pytest.mark.slow
def test_an_out_lock_is_taken_again_once_released(tmp_path, capsys):
    out = str(tmp_path / "a.json")
    held = files.claim_output(out, "--out")
    with pytest.raises(files.UsageError, match="another study"):
        files.claim_output(out, "--out")  # flock: another open file, even in one process
    held.release()
    again = files.claim_output(out, "--out")
    again.release()
    assert os.listdir(tmp_path) == []
    assert compare.main([*SMALL, "--jobs", "1", "--out", out]) == 0
    assert sorted(os.listdir(tmp_path)) == ["a.json"]


def test_an_out_lock_replaced_while_it_was_taken_is_taken_again(tmp_path, monkeypatch):
    """A study that opened the lock file just before its holder removed it, and locked it
    just after, holds a file no longer at the path: it must lock the one that is."""
    import fcntl
    out = str(tmp_path / "a.json")
    real_flock, calls = fcntl.flock, []

    def flock_after_a_replace(fd, operation):
        calls.append(fd)
        if len(calls) == 1:  # between this study's open and its lock, another holder's
            stale = tmp_path / "stale"
            stale.write_text("")
            os.replace(stale, files.lock_path(out))
        return real_flock(fd, operation)
    monkeypatch.setattr(fcntl, "flock", flock_after_a_replace)
    held = files.claim_output(out, "--out")
    try:
        assert len(calls) == 2  # the first lock was let go, the file at the path taken
        assert os.fstat(held.fd).st_ino == os.stat(files.lock_path(out)).st_ino
    finally:
        held.release()
