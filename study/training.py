"""A study's runs: planned, grouped into lock-step batches, and trained on this
machine's processes (joblib) or on a Dask cluster's workers, with a progress line.

A Dask cluster's workers get the project's code shipped as one zip (the study package and
the two nets: ship()), and import it afresh.
"""
import math
import os
import signal
import sys
import threading
import time
import warnings

import numpy as np

import original_net
from study import cli, lockstep, records
from study.cli import count
from study.records import Seeds, key
from study.registry import ARTICLE_PAIR

MAX_BATCH = 60  # runs in a lock-step batch: more saves little time a run, costs memory
PACKAGE = os.path.dirname(os.path.abspath(__file__))  # study/, shipped to Dask workers
NETS_SHIPPED = ("original_net.py", "broken_net.py")  # beside it, shipped too


class StudyError(cli.Failure):
    """A run failed: reported in one line naming it, exit status 1."""


# ---------------------------------------------------------------- the runs

def plan(settings):
    """Every training run, in the order of the tables: experiment, digit pair, net, seed."""
    return [records.planned(experiment, digits, net, seed, settings["train_sizes"][digits])
            for experiment in settings["experiments"] for digits in settings["digits"]
            for net in settings["nets"] for seed in Seeds.of(settings)]


def split(runs, parts):
    """runs in parts consecutive chunks whose sizes differ by one at most."""
    bounds = [round(i * len(runs) / parts) for i in range(parts + 1)]
    return [runs[lo:hi] for lo, hi in zip(bounds, bounds[1:]) if hi > lo]


def work(batch):
    """A batch's time, roughly, in the time of updating one weight: measured, a step of
    the batch costs about 45,000 of them, and each run about 3,500 plus its weights."""
    weights = original_net.weight_count(batch[0]["hidden"])
    return batch[0]["train_size"] * (45_000 + len(batch) * (3_500 + weights))


def batches(runs, jobs):
    """The runs grouped for lock-step training, the most work first.

    A batch holds runs of one experiment and digit pair (one shape, one number of
    steps), at most MAX_BATCH of them. Until every process can get as many batches,
    the batch with the most work is split in two, where the split makes the processes
    finish closest together (joblib hands the batches out in this order, each to the
    first process that is free).
    """
    groups = []
    for shape in dict.fromkeys((run["experiment"], run["digits"]) for run in runs):
        same = [run for run in runs if (run["experiment"], run["digits"]) == shape]
        groups += split(same, math.ceil(len(same) / MAX_BATCH))
    while len(groups) % jobs and max(map(len, groups)) > 1:
        largest = max((g for g in groups if len(g) > 1), key=work)
        others = [g for g in groups if g is not largest]
        groups = min(([*others, largest[:k], largest[k:]] for k in range(1, len(largest))),
                     key=lambda candidate: finish(candidate, jobs))
    return sorted(groups, key=work, reverse=True)


def finish(groups, jobs):
    """When the last of jobs processes is done with groups, handed out most work first."""
    free = [0] * jobs
    for group in sorted(groups, key=work, reverse=True):
        free[free.index(min(free))] += work(group)
    return max(free)


def name(run):
    pair = ("" if run["digits"] == ARTICLE_PAIR
            else f", digits {run['digits'][0]}/{run['digits'][1]}")
    return f"{run['experiment']}{pair}, {run['net']}, seed {run['seed']}"


def train_batch(batch, settings, stop=None):
    """Train one batch in lock-step; returns each run's measurements, and the seconds
    the batch took (for the progress line's estimate).

    stop: called after every epoch, where a worker checks that its study still wants
    the batch (StopWhenOrphaned, StopWhenCancelled), so that no run outlives its study.
    """
    start = time.perf_counter()
    data = {}  # load_digits() reads a file: once per seed and digit pair
    for run in batch:
        seed, digits = run["seed"], run["digits"]
        if (seed, digits) not in data:
            data[seed, digits] = original_net.load_data(
                seed, settings["test_sizes"][digits], settings["four_samples"], digits)
    params = [original_net.init_params(run["seed"], run["hidden"]) for run in batch]
    aligned = [i for i, run in enumerate(batch) if settings["alignment"] and run["breaks"]]
    try:
        histories, alignments = lockstep.train(
            params, np.stack([data[run["seed"], run["digits"]][0] for run in batch]),
            np.stack([data[run["seed"], run["digits"]][1] for run in batch]),
            [run["breaks"] for run in batch], settings["epochs"], settings["lr"],
            settings["momentum"], align=aligned, on_epoch=stop,
            frozen=[run["frozen"] for run in batch])
    except lockstep.RunDiverged as error:
        who = (f"one run of {batch[0]['experiment']}" if error.run is None
               else name(batch[error.run]))
        raise StudyError(f"{who}: {error.where}") from None
    results = []
    for r, run in enumerate(batch):
        x_train, y_train, x_test, y_test, _ = data[run["seed"], run["digits"]]
        # All nets have the same forward pass: original_net's predicts for any.
        train_digits = (original_net.predict(params[r], x_train) >= 0.5).astype(int)
        test_right = int(((original_net.predict(params[r], x_test) >= 0.5) == y_test).sum())
        results.append(records.trained(
            run, histories[r], original_net.is_stuck(train_digits, y_train),
            float((train_digits == y_train).mean()), test_right, len(y_test),
            alignments[aligned.index(r)] if r in aligned else None))
    return results, time.perf_counter() - start


class StopWhenOrphaned:
    """A worker process's stop: it exits when the study's process is gone."""

    def __init__(self):
        self.parent = os.getpid()  # made in the study's process, called in the worker

    def __call__(self, epoch):
        if os.getppid() != self.parent:
            os._exit(1)


class Cancelled(Exception):
    """The study no longer wants this batch."""


class StopWhenCancelled:
    """A Dask task's stop: it ends when its future is cancelled (Ctrl-C) or released
    (the study's client is gone); the worker is then free for other work."""

    def __call__(self, epoch):
        from distributed import get_worker
        worker = get_worker()
        task = worker.state.tasks.get(worker.get_current_task())
        if task is None or task.state != "executing":
            raise Cancelled()


def run_study(runs, settings, jobs, cluster=None):
    """Every run's results, in the order of runs, and the batches' count.

    One batch at a time here with jobs 1; else on jobs worker processes (joblib's,
    which stop when the study does: on Ctrl-C, on a failed run, or when it exits), or
    with a cluster (a dask.distributed Client), as tasks of its workers.
    """
    groups = batches(runs, jobs)
    progress = progress_line(groups, jobs, "Dask worker" if cluster else "process")
    if cluster:
        done = on_cluster(cluster, groups, settings)
    elif jobs == 1:
        done = (train_batch(group, settings) for group in groups)
    else:
        from joblib import Parallel, delayed
        # When a study is stopped, loky's resource tracker (a process of its own) may warn
        # of semaphores already cleaned up: noise after the one line that says why.
        os.environ["PYTHONWARNINGS"] = ",".join(filter(None, [
            os.environ.get("PYTHONWARNINGS"),
            "ignore::UserWarning:joblib.externals.loky.backend.resource_tracker"]))
        threading.excepthook = quiet_executor_thread
        parallel = Parallel(n_jobs=jobs, return_as="generator_unordered")
        # The workers start here, their stderr on /dev/null: Ctrl-C reaches them too, and
        # one still loading its libraries would print a traceback. What goes wrong in a
        # batch comes back here, to be said in one line. A Ctrl-C that comes while they
        # start is noted, and raised once they have.
        noted = []
        handler = signal.signal(signal.SIGINT, lambda signum, frame: noted.append(signum))
        stderr = os.dup(2)
        try:
            quiet = os.open(os.devnull, os.O_WRONLY)
            os.dup2(quiet, 2)
            os.close(quiet)
            done = parallel(delayed(train_batch)(group, settings, StopWhenOrphaned())
                            for group in groups)
        finally:  # stderr back before anything can be said
            os.dup2(stderr, 2)
            os.close(stderr)
            signal.signal(signal.SIGINT, handler)
        if noted:
            with warnings.catch_warnings():  # joblib would warn of the batches it cancels
                warnings.simplefilter("ignore")
                done.close()
            raise KeyboardInterrupt
    results = {}
    for batch, seconds in done:
        results.update({key(r): r for r in batch})
        progress(batch, seconds)
    return [results[key(run)] for run in runs], len(groups)


def quiet_executor_thread(args, default=threading.excepthook):
    """threading.excepthook: loky's executor thread, which may fail on a pipe that a
    stopped study has closed, prints no traceback (what matters reaches the study's own
    thread: joblib raises it there); any other thread's as Python does."""
    if args.thread is None or args.thread.name != "ExecutorManagerThread":
        default(args)


# ---------------------------------------------------------------- on a Dask cluster

class NoCluster(cli.Failure):
    """The Dask scheduler cannot be reached or used: one line, exit status 1."""


CONNECT_SECONDS = 5  # how long a scheduler has to answer


def connect(address):
    """A dask.distributed Client of the scheduler at address, with the project's code
    shipped to its workers (ship), and its workers' threads."""
    timeout = CONNECT_SECONDS
    import logging
    from distributed import Client
    from distributed.comm import parse_address
    from distributed.comm.registry import backends
    logging.getLogger("distributed").setLevel(logging.ERROR)  # its lines are not ours
    scheme, location = parse_address(address)
    if scheme not in backends or not location:  # a Client half made would fail at exit
        raise NoCluster(f"--scheduler {address}: not a scheduler's address, such as "
                        "tcp://host:8786")
    try:
        with warnings.catch_warnings():  # another version on the cluster: its workers'
            warnings.simplefilter("ignore")  # imports below say what matters
            client = Client(address, timeout=timeout, set_as_default=False)
    except (OSError, TimeoutError, ValueError):
        raise NoCluster(f"no Dask scheduler answers at {address} within {timeout} s") from None
    try:
        threads = sum(w["nthreads"] for w in client.scheduler_info()["workers"].values())
        if not threads:
            raise NoCluster(f"the Dask scheduler at {address} has no workers")
        ship(client)
    except BaseException:
        client.close()
        raise
    return client, threads


def ship(client):
    """The project's code to every worker of client, as one zip (the study package and
    the nets), which each worker imports afresh: a worker that ran an older version
    forgets it. NoCluster, with the worker's reason, if a worker cannot import it."""
    import tempfile
    import zipfile
    project = os.path.dirname(PACKAGE)
    files = [os.path.join("study", name) for name in sorted(os.listdir(PACKAGE))
             if name.endswith(".py")] + list(NETS_SHIPPED)
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "study.zip")
        with zipfile.ZipFile(path, "w") as bundle:
            for name in files:
                bundle.write(os.path.join(project, name), name)
        try:
            client.upload_file(path)  # on sys.path, also of workers started later
            client.run(import_afresh)
        except Exception as error:  # the worker's import failed: its message says why
            raise NoCluster(f"the Dask workers cannot import the study package "
                            f"({type(error).__name__}: {str(error).splitlines()[0][:50]})"
                            ) from None


def import_afresh():
    """On a worker: the project's modules imported again from the newest zip shipped."""
    import importlib
    for name in list(sys.modules):
        if name in ("study", "original_net", "broken_net") or name.startswith("study."):
            del sys.modules[name]
    importlib.invalidate_caches()
    importlib.import_module("study.training")


def on_cluster(client, groups, settings):
    """The batches' results as the cluster's workers finish them, through joblib's Dask
    backend; on Ctrl-C (or any stop) every task still wanted is cancelled, and the
    cluster stays up for others."""
    from joblib import Parallel, delayed, parallel_config
    try:
        with parallel_config(backend="dask", client=client):
            yield from Parallel(n_jobs=-1, return_as="generator_unordered")(
                delayed(train_batch)(group, settings, StopWhenCancelled()) for group in groups)
    finally:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            client.cancel(list(client.futures))


def progress_line(groups, jobs, worker="process", stream=None):
    """A progress callback, called with each finished batch and the seconds it took:
    batches and runs done, time spent, and the time to go. That is the batches' work
    (work()) handed out to the processes (finish()) at the pace, in work a second, that
    the finished batches kept."""
    start = time.perf_counter()
    stream = stream or sys.stderr
    tty = stream.isatty()
    runs, planned = sum(map(len, groups)), finish(groups, jobs)
    done = dict(batches=0, runs=0, work=0.0, seconds=0.0)
    width = 0

    def report(batch=None, seconds=0.0):
        nonlocal width
        elapsed = time.perf_counter() - start
        if batch is None:
            line = (f"compare.py: {count(runs, 'run')} in "
                    f"{count(len(groups), 'lock-step batch', 'lock-step batches')} on "
                    f"{count(jobs, worker, worker + 'es' if worker == 'process' else None)}; "
                    "Ctrl-C stops")
        else:
            for what, value in (("batches", 1), ("runs", len(batch)), ("work", work(batch)),
                                ("seconds", seconds)):
                done[what] += value
            to_go = planned * done["seconds"] / max(done["work"], 1) - elapsed
            line = (f"compare.py: {done['batches']}/{len(groups)} batches done ({done['runs']}/"
                    f"{runs} runs), {elapsed:.0f} s"
                    + (f", about {to_go:.0f} s to go" if to_go >= 1 else ""))
        last = done["batches"] == len(groups)
        if tty:  # in place, padded over the last line
            print("\r" + line.ljust(width), end="\n" if last else "", file=stream, flush=True)
            width = len(line)
            cli.open_line["stream"] = None if last else stream
        else:
            print(line, file=stream, flush=True)
    report()
    return report
