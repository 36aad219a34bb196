"""A study's runs: planned, grouped into lock-step batches, and trained on this
machine's processes (joblib) or on a Dask cluster's workers (cluster.py), with a
progress line.
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
from study import cli, cluster as dask_cluster, lockstep, records
from study.alignment import MEASURES
from study.cli import UsageError, count
from study.records import Seeds, key
from study.registry import ARTICLE_PAIR, ARTICLE_TEST_SIZE, HELD_OUT, NETS, PAIRS, one_in

MAX_BATCH = 60  # runs in a lock-step batch: more saves little time a run, costs memory


class StudyError(cli.Failure):
    """A run failed: reported in one line naming it, exit status 1. 'Result 2, 3/8,
    original, lr 0.001, seed 4: diverged in epoch 7 (overflow)'; where that is too long
    for one line, without its cause."""

    def __init__(self, said):
        said = str(said)
        if len(said) > cli.ROOM and " (" in said:
            said = said.rsplit(" (", 1)[0]
        super().__init__(said)


# ---------------------------------------------------------------- the runs

def data_settings(args):
    """The data the study trains on: digit pairs, their test and training sizes, and a
    one-line description."""
    x_train, *_, source = original_net.load_data(four_samples=args.four_samples)
    four = x_train is original_net.FOUR_X
    if four and not args.four_samples:
        if args.extended or tuple(args.digits) != ARTICLE_PAIR:
            raise UsageError("other digit pairs need scikit-learn: the four embedded samples "
                             "are digits 0 and 1")
        if args.test_size is not None:
            raise UsageError("--test-size needs scikit-learn (the four embedded samples train "
                             "and test on all four)")
        print("compare.py: scikit-learn is not installed: training on the four embedded "
              "samples, with their settings", file=sys.stderr)
    pairs = PAIRS if args.extended else (tuple(args.digits),)
    if four:
        if args.tune:
            raise UsageError("--tune needs scikit-learn: the four embedded samples have no "
                             "images to spare for validation")
        four = len(original_net.FOUR_Y)
        return dict(four_samples=True, digits=[ARTICLE_PAIR], test_sizes={ARTICLE_PAIR: four},
                    train_sizes={ARTICLE_PAIR: four}, data=source)
    from sklearn.datasets import load_digits
    target = load_digits().target
    sizes = {pair: int(np.isin(target, pair).sum()) for pair in pairs}
    test = {pair: round(n / HELD_OUT) if args.extended else
            (ARTICLE_TEST_SIZE if args.test_size is None else args.test_size)
            for pair, n in sizes.items()}
    for pair, n in sizes.items():
        if not 1 <= test[pair] < n:
            raise UsageError(f"--test-size must be from 1 to {n - 1}, got {test[pair]}")
    train = {pair: sizes[pair] - test[pair] for pair in pairs}
    if args.tune:  # a fifth of each training split judges the runs; the test images rest
        held = {pair: round(n / HELD_OUT) for pair, n in train.items()}
        described = "; ".join(f"{a} and {b}: {train[a, b] - held[a, b]} train, "
                              f"{held[a, b]} validation" for a, b in pairs)
        return dict(four_samples=False, digits=list(pairs), test_sizes=test,
                    validation_sizes=held, train_sizes={p: train[p] - held[p] for p in pairs},
                    data=f"sklearn digits {described} ({one_in(HELD_OUT)} of each training "
                         f"split held out for validation; the test images unused)")
    described = "; ".join(f"{a} and {b}: {train[a, b]} train, {test[a, b]} test"
                          for a, b in pairs)
    return dict(four_samples=False, digits=list(pairs), test_sizes=test, data=
                f"sklearn digits {described}"
                + (f" ({one_in(HELD_OUT)} held out)" if args.extended else ""),
                train_sizes=train)


def plan(settings):
    """Every training run, in the order of the tables: experiment, digit pair, net,
    learning rate, seed. The runs of every rate share lock-step batches."""
    return [records.planned(experiment, digits, net, seed, settings["train_sizes"][digits],
                            lr)
            for experiment in settings["experiments"] for digits in settings["digits"]
            for net in settings["nets"] for lr in records.rates_of(settings, net)
            for seed in Seeds.of(settings)]


INITS = ("normal", "lecun")  # the initial weights' scales: the article's, and LeCun's


def initial_params(seed, hidden, init="normal"):
    """A run's initial weights: the nets' standard normal ones (init_params, the
    article's), or with "lecun" each divided by the square root of its fan-in, the inputs
    of one of its units (9 for a 3x3 kernel, 16 for W3, H3 for W4, H4 for W5): LeCun,
    Bottou, Orr and Mueller, Efficient BackProp, 1998."""
    params = original_net.init_params(seed, hidden)
    if init == "normal":
        return params
    if init != "lecun":
        raise ValueError(f"unknown initial weights {init!r}: choose from {', '.join(INITS)}")
    return {name: w / math.sqrt(9 if w.shape == (3, 3) else w.shape[0])
            for name, w in params.items()}


def held_out(settings, data):
    """A run's training images and labels, and the held-out ones it is judged on: the
    test images; or, when the study tunes, a fifth of its training images (the first
    fifth of its seed's order), the test images never looked at."""
    x_train, y_train, x_test, y_test, _ = data
    if not settings.get("tune"):
        return x_train, y_train, x_test, y_test
    fifth = round(len(y_train) / HELD_OUT)
    return x_train[fifth:], y_train[fifth:], x_train[:fifth], y_train[:fifth]


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
    """A run as an error line names it: 'Result 3, 3/8, broken, lr 0.001, seed 4' (the
    pair where it is not the article's; the net's short name: the line fits 100 columns)."""
    a, b = run["digits"]
    pair = "" if (a, b) == ARTICLE_PAIR else f", {a}/{b}"
    return (f"{run['experiment']}{pair}, {NETS[run['net']].short}, lr {run['lr']:g}, "
            f"seed {run['seed']}")


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
            data[seed, digits] = held_out(settings, original_net.load_data(
                seed, settings["test_sizes"][digits], settings["four_samples"], digits))
    params = [initial_params(run["seed"], run["hidden"], settings.get("init", INITS[0]))
              for run in batch]
    aligned = [i for i, run in enumerate(batch)
               if settings["alignment"] and run["breaks"] and not run["redirect"]]
    epochs, on = records.checkpoint_epochs(settings["epochs"]), records.judged_on(settings)
    own = [data[run["seed"], run["digits"]] for run in batch]
    try:
        found = lockstep.train(
            params, np.stack([d[0] for d in own]), np.stack([d[1] for d in own]),
            [run["breaks"] for run in batch], settings["epochs"],
            [run["lr"] for run in batch], settings["momentum"], align=aligned,
            on_epoch=stop, frozen=[run["frozen"] for run in batch],
            redirect=[run["redirect"] for run in batch], seeds=[run["seed"] for run in batch],
            held=(np.stack([d[2] for d in own]), np.stack([d[3] for d in own])),
            checkpoints=epochs)
    except lockstep.RunDiverged as error:
        who = (f"one run of {batch[0]['experiment']}" if error.run is None
               else name(batch[error.run]))
        raise StudyError(f"{who}: {error.where}") from None
    results = []
    for r, (run, (x_train, y_train, x_held, y_held)) in enumerate(zip(batch, own)):
        # All nets have the same forward pass: original_net's predicts for any.
        train_digits = (original_net.predict(params[r], x_train) >= 0.5).astype(int)
        right = int(((original_net.predict(params[r], x_held) >= 0.5) == y_held).sum())
        alignment = found.alignments[aligned.index(r)] if r in aligned else None
        checkpoints = [dict({"epoch": e, "cost": found.histories[r][e - 1],
                             "train_accuracy": int(rights[0]) / len(y_train),
                             f"{on}_accuracy": int(rights[1]) / len(y_held)},
                            **({} if alignment is None else aligned_at(alignment, e)))
                       for e, rights in zip(epochs, found.rights[r])]
        results.append(records.trained(
            run, found.histories[r], original_net.is_stuck(train_digits, y_train),
            float((train_digits == y_train).mean()), right, len(y_held), alignment, on=on,
            checkpoints=checkpoints))
    return results, time.perf_counter() - start


def code_version():
    """The code that trains a study's runs, as a short digest: the nets, lockstep.py,
    interventions.py and alignment.py whole, and the parts of this package that plan a
    run, load its data and train it (the nets' registry entries, the functions), each as
    code (code_text: comments, docstrings and layout left out). A saved study is reused
    (make_report.py) only where this is what it was trained by: an edit to a comment, a
    report, a figure or a message does not make its runs stale, one to the training does."""
    import hashlib

    import broken_net
    from study import alignment, interventions, registry
    parts = [code_text(part) for part in (
        original_net, broken_net, lockstep, interventions, alignment, plan, held_out,
        initial_params, train_batch, records.planned, records.trained,
        records.checkpoint_epochs, data_settings)]
    parts.append(repr([(net.key, net.breaks, net.frozen, net.redirect)
                       for net in registry.NETS.values()]))
    parts.append(repr((registry.EXPERIMENTS, registry.PAIRS, registry.HELD_OUT, INITS)))
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:12]


def code_text(part):
    """A module's or a function's code, written out again from its syntax tree without
    its docstrings (ast.unparse): the same text whatever its comments and layout."""
    import ast
    import inspect
    import textwrap
    tree = ast.parse(textwrap.dedent(inspect.getsource(part)))
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if (isinstance(node, (ast.Module, ast.FunctionDef, ast.ClassDef)) and body
                and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant)
                and isinstance(body[0].value.value, str)):
            node.body = body[1:] or [ast.Pass()]
    return ast.unparse(tree)


def aligned_at(alignment, epoch):
    """A run's alignment at the end of an epoch, from its (epochs, measures, groups) array:
    the measures of W1 and W2 (records.ALIGNED), as floats."""
    return {f"{group}_{measure}": float(alignment[epoch - 1, k, g])
            for g, group in enumerate(("W1", "W2")) for k, measure in enumerate(MEASURES)}


class StopWhenOrphaned:
    """A worker process's stop: it exits when the study's process is gone."""

    def __init__(self):
        self.parent = os.getpid()  # made in the study's process, called in the worker

    def __call__(self, epoch):
        if os.getppid() != self.parent:
            os._exit(1)


PARENT_POLL_SECONDS = 0.5  # how often a worker process checks that its study is there


def exit_with_parent(parent):
    """A worker process's watchdog, started as it starts (loky's initializer): a thread
    that ends the process when its parent, the study's process, is gone, whatever
    killed it and whether or not the worker is training (StopWhenOrphaned is checked
    only between epochs)."""
    def watch():
        while os.getppid() == parent:
            time.sleep(PARENT_POLL_SECONDS)
        os._exit(1)
    threading.Thread(target=watch, name="exit_with_parent", daemon=True).start()


def watched_loky():
    """joblib's loky backend, its workers started with exit_with_parent (loky's
    initializer, which joblib 1.4 to 1.6 pass on from the backend's configure)."""
    from joblib.parallel import LokyBackend
    parent = os.getpid()

    class WatchedLoky(LokyBackend):
        def configure(self, *args, **kwargs):
            return super().configure(*args, initializer=exit_with_parent, initargs=(parent,),
                                     **kwargs)
    return WatchedLoky()



def run_study(runs, settings, jobs, cluster=None, stall_seconds=dask_cluster.STALL_SECONDS):
    """Every run's results, in the order of runs, and the batches' count.

    One batch at a time here with jobs 1; else on jobs worker processes (joblib's,
    which stop when the study does: on Ctrl-C, on a failed run, or when it exits), or
    with a cluster (a dask.distributed Client), as tasks of its workers, the study ended
    if the cluster stalls for stall_seconds (cluster.on_cluster).
    """
    groups = batches(runs, jobs)
    progress = progress_line(groups, jobs, "Dask worker" if cluster else "process")
    if cluster:
        done = dask_cluster.on_cluster(cluster, groups, settings, train_batch, stall_seconds)
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
        # Each worker watches this process from its start (exit_with_parent): killed, the
        # study leaves no worker waiting for batches (loky's own idle timeout is 300 s).
        parallel = Parallel(n_jobs=jobs, return_as="generator_unordered",
                            backend=watched_loky())
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
    beating = heartbeat(progress)
    try:
        for batch, seconds in done:
            results.update({key(r): r for r in batch})
            progress(batch, seconds)
    finally:
        beating.set()
    return [results[key(run)] for run in runs], len(groups)


def quiet_executor_thread(args, default=threading.excepthook):
    """threading.excepthook: loky's executor thread, which may fail on a pipe that a
    stopped study has closed, prints no traceback (what matters reaches the study's own
    thread: joblib raises it there); any other thread's as Python does."""
    if args.thread is None or args.thread.name != "ExecutorManagerThread":
        default(args)



HEARTBEAT = 30  # seconds a study may train without a line that says so


def progress_line(groups, jobs, worker="process", stream=None):
    """A progress callback, called with each finished batch and the seconds it took:
    batches and runs done, time spent, and the time to go. That is the batches' work
    (work()) handed out to the processes (finish()) at the pace, in work a second, that
    the finished batches kept. Called with no batch, it says where the study is (the
    heartbeat of a long batch)."""
    start = time.perf_counter()
    stream = stream or sys.stderr
    tty = stream.isatty()
    runs, planned = sum(map(len, groups)), finish(groups, jobs)
    done = dict(batches=0, runs=0, work=0.0, seconds=0.0)
    width, lock, said = 0, threading.Lock(), dict(at=0.0)

    def say(line):
        nonlocal width
        last = done["batches"] == len(groups)
        if tty:  # in place, padded over the last line
            print("\r" + line.ljust(width), end="\n" if last else "", file=stream, flush=True)
            width = len(line)
            cli.open_line["stream"] = None if last else stream
        else:
            print(line, file=stream, flush=True)

    def report(batch=None, seconds=0.0):
        with lock:
            elapsed = time.perf_counter() - start
            if batch is None and elapsed - said["at"] < HEARTBEAT / 2:
                return  # a batch was said of just now: no heartbeat needed
            said["at"] = elapsed
            if batch is not None:
                for what, value in (("batches", 1), ("runs", len(batch)),
                                    ("work", work(batch)), ("seconds", seconds)):
                    done[what] += value
            to_go = planned * done["seconds"] / max(done["work"], 1) - elapsed
            say(f"compare.py: {done['batches']}/{len(groups)} batches done ({done['runs']}/"
                f"{runs} runs), {elapsed:.0f} s"
                + (f", about {to_go:.0f} s to go" if done["work"] and to_go >= 1 else ""))

    say(f"compare.py: {count(runs, 'run')} in "
        f"{count(len(groups), 'lock-step batch', 'lock-step batches')} on "
        f"{count(jobs, worker, worker + 'es' if worker == 'process' else None)}; Ctrl-C stops")
    return report


def heartbeat(progress, every=HEARTBEAT):
    """A daemon thread that calls progress() every so many seconds, until the returned
    event is set: a long batch is not silence."""
    stop = threading.Event()

    def beat():
        while not stop.wait(every):
            progress()
    threading.Thread(target=beat, name="heartbeat", daemon=True).start()
    return stop
