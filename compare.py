"""The article's three experiments, original net against broken back prop net, over seeds.

Trains the nets of original_net.py and broken_net.py on the article's Result 1, 2 and 3
(the nets of one seed share its data split, order and initial weights), prints cost
and accuracy tables, and judges each of the article's claims over the seeds: held in k
of N, a 95% interval, one word (holds, fails, unclear). Runs train in lock-step batches
(lockstep.py), bit for bit as the nets train alone, on parallel processes.

    python3 compare.py                 # ten seeds, both nets: about 1.5 minutes on 2 cores
    python3 compare.py --seeds 1       # one seed: an anecdote, as each of the article's was
    python3 compare.py --ablation --alignment --format markdown --out REPORT.md --plot REPORT.png
"""
import csv
import datetime
import io
import json
import math
import os
import platform
import shlex
import signal
import stat
import sys
import tempfile
import time

import numpy as np

import lockstep
import original_net
from original_net import Parser, UsageError, count, number

EXPERIMENTS = {"Result 1": (18, 20), "Result 2": (48, 56), "Result 3": (28, 36)}
NETS = {"original": (), "broken green,red": ("green", "red"),  # label: its broken lines
        "broken green": ("green",), "broken red": ("red",)}
BROKEN = "broken green,red"  # the article's broken back prop net
CHECKPOINTS = (1, 100, 250)  # and the last epoch
FORMATS = ("text", "markdown", "csv", "json")
MAX_BATCH = 60  # runs in a lock-step batch: more saves little time a run, costs memory
TIE = 0.01      # costs closer than 1% of the larger are a tie: neither is lower
Z95 = 1.959963984540054  # the normal quantile of a two-sided 95% interval


class StudyError(Exception):
    """A run failed: reported in one line naming it, exit status 1."""


class Terminated(Exception):
    """SIGTERM arrived: the study stops as on Ctrl-C, exit status 143."""


# ---------------------------------------------------------------- the runs

def plan(seeds, ablation):
    """Every training run, in the order of the tables: experiment, net, seed."""
    labels = list(NETS) if ablation else ["original", BROKEN]
    return [dict(experiment=experiment, hidden=hidden, net=label, breaks=NETS[label], seed=seed)
            for experiment, hidden in EXPERIMENTS.items()
            for label in labels for seed in range(seeds)]


def split(runs, parts):
    """runs in parts consecutive chunks whose sizes differ by one at most."""
    bounds = [round(i * len(runs) / parts) for i in range(parts + 1)]
    return [runs[lo:hi] for lo, hi in zip(bounds, bounds[1:]) if hi > lo]


def work(batch):
    """A batch's time, roughly, in the time of updating one weight: measured, a step of
    the batch costs about 45,000 of them, and each run about 3,500 plus its weights."""
    h3, h4 = batch[0]["hidden"]
    return 45_000 + len(batch) * (3_500 + 54 + 16 * h3 + h3 * h4 + h4)


def batches(runs, jobs):
    """The runs grouped for lock-step training, the most work first.

    A batch holds runs of one experiment (one shape), at most MAX_BATCH of them. Until
    every process can get as many batches, the batch with the most work is split in
    two, where the split makes the processes finish closest together (joblib hands
    the batches out in this order, each to the first process that is free).
    """
    groups = []
    for experiment in EXPERIMENTS:
        same = [run for run in runs if run["experiment"] == experiment]
        groups += split(same, math.ceil(len(same) / MAX_BATCH)) if same else []
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
    return f"{run['experiment']}, {run['net']}, seed {run['seed']}"


def train_batch(batch, settings, parent=None):
    """Train one batch in lock-step; returns each run's measurements.

    parent: the pid of the main process, when this runs in a worker process; the
    worker exits when its parent is gone, so that no run outlives its study.
    """
    data = {}  # load_digits() reads a file: once per seed
    for run in batch:
        if run["seed"] not in data:
            data[run["seed"]] = original_net.load_data(
                run["seed"], four_samples=settings["four_samples"])
    params = [original_net.init_params(run["seed"], run["hidden"]) for run in batch]
    aligned = [i for i, run in enumerate(batch) if settings["alignment"] and run["breaks"]]

    def orphaned(epoch):
        if os.getppid() != parent:
            os._exit(1)

    try:
        histories, alignments = lockstep.train(
            params, np.stack([data[run["seed"]][0] for run in batch]),
            np.stack([data[run["seed"]][1] for run in batch]), [run["breaks"] for run in batch],
            settings["epochs"], settings["lr"], settings["momentum"], align=aligned,
            on_epoch=orphaned if parent else None)
    except lockstep.RunDiverged as error:
        who = f"one run of {batch[0]['experiment']}" if error.run is None else name(batch[error.run])
        raise StudyError(f"{who}: {error}") from None
    results = []
    for r, run in enumerate(batch):
        x_train, y_train, x_test, y_test, _ = data[run["seed"]]
        # Both nets have the same forward pass: original_net's predicts for either.
        train_digits = (original_net.predict(params[r], x_train) >= 0.5).astype(int)
        test_right = int(((original_net.predict(params[r], x_test) >= 0.5) == y_test).sum())
        results.append(dict(run, history=histories[r], stuck=original_net.is_stuck(train_digits),
                            train_accuracy=float((train_digits == y_train).mean()),
                            test_right=test_right, test_size=len(y_test),
                            test_accuracy=test_right / len(y_test),
                            alignment=alignments[aligned.index(r)] if r in aligned else None))
    return results


def run_study(runs, settings, jobs, progress):
    """Every run's results, in the order of runs, and the batches' count.

    One batch at a time here with jobs 1; else on jobs worker processes (joblib's,
    which stop when the study does: on Ctrl-C, on a failed run, or when it exits).
    """
    groups = batches(runs, jobs)
    progress(0, len(groups), 0)
    if jobs == 1:
        done = (train_batch(group, settings) for group in groups)
    else:
        from joblib import Parallel, delayed
        # When a study is stopped, loky's resource tracker (a process of its own) may warn
        # of semaphores already cleaned up: noise after the one line that says why.
        os.environ["PYTHONWARNINGS"] = ",".join(filter(None, [
            os.environ.get("PYTHONWARNINGS"),
            "ignore::UserWarning:joblib.externals.loky.backend.resource_tracker"]))
        parallel = Parallel(n_jobs=jobs, return_as="generator_unordered")
        done = parallel(delayed(train_batch)(group, settings, os.getpid()) for group in groups)
    results = {}
    for finished, batch in enumerate(done, 1):
        results.update({(r["experiment"], r["net"], r["seed"]): r for r in batch})
        progress(finished, len(groups), len(results))
    return [results[run["experiment"], run["net"], run["seed"]] for run in runs], len(groups)


def progress_line(runs, jobs, stream=sys.stderr):
    """A progress callback: batches and runs done, time spent and to go, on stream."""
    start = time.perf_counter()
    tty = stream.isatty()
    width = 0

    def report(finished, total, runs_done):
        nonlocal width
        elapsed = time.perf_counter() - start
        if finished == 0:
            line = (f"compare: {count(runs, 'run')} in "
                    f"{count(total, 'lock-step batch', 'lock-step batches')} on "
                    f"{count(jobs, 'process', 'processes')}; Ctrl-C stops")
        else:
            to_go = elapsed / runs_done * (runs - runs_done)
            line = (f"compare: {finished}/{total} batches done ({runs_done}/{runs} runs), "
                    f"{elapsed:.0f} s" + (f", about {to_go:.0f} s to go" if to_go >= 1 else ""))
        if tty:  # in place, padded over the last line
            print("\r" + line.ljust(width), end="\n" if finished == total else "",
                  file=stream, flush=True)
            width = len(line)
        else:
            print(line, file=stream, flush=True)
    return report


# ---------------------------------------------------------------- statistics

def checkpoints(epochs):
    return [e for e in CHECKPOINTS if e < epochs] + [epochs]


def mean_sd(values):
    """[mean, sd] of values (sd 0 for one value), or None for none."""
    if not len(values):
        return None
    values = np.asarray(values, dtype=float)
    return [float(values.mean()), float(values.std(ddof=1)) if len(values) > 1 else 0.0]


def runs_of(results, experiment, net):
    return [r for r in results if r["experiment"] == experiment and r["net"] == net]


def summarise(results, epochs):
    """One row per experiment and net: its stuck runs, and mean and sd of every
    measurement over the runs that trained (were not stuck)."""
    rows = []
    for experiment in EXPERIMENTS:
        for net in dict.fromkeys(r["net"] for r in results):
            runs = runs_of(results, experiment, net)
            if not runs:
                continue
            trained = [r for r in runs if not r["stuck"]]
            row = dict(experiment=experiment, net=net, hidden=runs[0]["hidden"],
                       seeds=len(runs), stuck=len(runs) - len(trained))
            for e in checkpoints(epochs):
                row[f"cost_epoch_{e}"] = mean_sd([r["history"][e - 1] for r in trained])
            for key in ("train_accuracy", "test_accuracy"):
                row[key] = mean_sd([r[key] for r in trained])
            rows.append(row)
    return rows


def wilson(k, n):
    """The Wilson score 95% interval for a rate of k in n, as [low, high]."""
    if n == 0:
        return [0.0, 1.0]
    z2 = Z95 * Z95
    centre = (k + z2 / 2) / (n + z2)
    half = Z95 * math.sqrt(k * (n - k) / n + z2 / 4) / (n + z2)
    return [max(0.0, centre - half), min(1.0, centre + half)]


def verdict(k, n):
    """One word for a claim held in k of n seeds: holds when the 95% interval of its rate
    lies above one half, fails when below, unclear otherwise; 'once' with one seed."""
    if n == 0:
        return "no seeds"
    if n == 1:
        return "holds once" if k else "fails once"
    low, high = wilson(k, n)
    return "holds" if low > 0.5 else "fails" if high < 0.5 else "unclear"


def lower(a, b):
    """a is clearly lower than b: by more than TIE (1%) of the larger; closer is a tie."""
    return b - a > TIE * max(abs(a), abs(b))


def cost(run, epoch):
    return run["history"][epoch - 1]


def all_right(run):
    return run["test_right"] == run["test_size"]


def article_claims(mid, end):
    """The article's claims: (experiment, claim, test of one seed's (original, broken)
    pair, what to show: the nets and the measure)."""
    right = ("test right", None)
    return [
        ("Result 3", "original net: all test images but one right",
         lambda o, b: o["test_right"] == o["test_size"] - 1, ("original",), right),
        ("Result 1", "both nets 100% test accuracy",
         lambda o, b: all_right(o) and all_right(b), ("original", "broken"), right),
        ("Result 1", f"broken net lower cost at epoch {mid}",
         lambda o, b: lower(cost(b, mid), cost(o, mid)), ("original", "broken"), ("cost", mid)),
        ("Result 2", "broken net higher final cost",
         lambda o, b: lower(cost(o, end), cost(b, end)), ("original", "broken"), ("cost", end)),
        ("Result 2", "broken net 100% test accuracy",
         lambda o, b: all_right(b), ("broken",), right),
        ("Result 2", "original net some test images wrong",
         lambda o, b: not all_right(o), ("original",), right),
        ("Result 3", "both nets 100% test accuracy",
         lambda o, b: all_right(o) and all_right(b), ("original", "broken"), right),
        ("Result 3", "broken net higher final cost",
         lambda o, b: lower(cost(o, end), cost(b, end)), ("original", "broken"), ("cost", end)),
    ]


def claims(results, epochs):
    """Each claim judged seed by seed on the pair (original, broken green,red): held in
    k of N seeds, and k' of the N' seeds in which neither net of the pair was stuck."""
    mid = 250 if epochs >= 250 else max(1, epochs // 2)
    rows = []
    for experiment, claim, holds, shown, (measure, epoch) in article_claims(mid, epochs):
        original = {r["seed"]: r for r in runs_of(results, experiment, "original")}
        broken = {r["seed"]: r for r in runs_of(results, experiment, BROKEN)}
        pairs = [(original[s], broken[s]) for s in sorted(original) if s in broken]
        if not pairs:
            continue
        held = [bool(holds(o, b)) for o, b in pairs]
        trained = [h for h, (o, b) in zip(held, pairs) if not (o["stuck"] or b["stuck"])]
        k, n = sum(held), len(held)
        runs = dict(original=[o for o, _ in pairs], broken=[b for _, b in pairs])
        values = []
        for net in shown:
            if measure == "cost":
                values.append(f"{net} {np.median([cost(r, epoch) for r in runs[net]]):.3g}")
            else:
                values.append(f"{net} {np.median([r['test_right'] for r in runs[net]]):g}"
                              f"/{pairs[0][0]['test_size']}")
        rows.append(dict(experiment=experiment, claim=claim,
                         measured=("" if n == 1 else "median: ") + ", ".join(values),
                         held=k, seeds=n, interval=wilson(k, n), verdict=verdict(k, n),
                         trained_held=sum(trained), trained_seeds=len(trained),
                         trained_verdict=verdict(sum(trained), len(trained))))
    return rows


def alignment_rows(results, epochs):
    """Per experiment, broken net and checkpoint: mean and sd, over the runs that
    trained, of the per-epoch mean cosine and sign agreement of each group."""
    rows = []
    for experiment in EXPERIMENTS:
        for net in dict.fromkeys(r["net"] for r in results if r["alignment"] is not None):
            runs = [r for r in runs_of(results, experiment, net) if not r["stuck"]]
            for e in checkpoints(epochs):
                row = dict(experiment=experiment, net=net, epoch=e, seeds=len(runs))
                for g, group in enumerate(lockstep.GROUPS):
                    for k, key in enumerate(("cosine", "signs")):
                        row[f"{group}_{key}"] = mean_sd([r["alignment"][e - 1, k, g] for r in runs])
                rows.append(row)
    return rows


def reading(results, claim_rows):
    """A few sentences that say what the tables say."""
    words = [c["verdict"].split()[0] for c in claim_rows]  # 'holds once' counts as 'holds'
    held, failed, unclear = (words.count(w) for w in ("holds", "fails", "unclear"))
    seeds = max(c["seeds"] for c in claim_rows)
    if seeds == 1:
        text = [f"With one seed each claim was seen once: {held} held and {failed} did not. "
                f"One run is an anecdote; judge the claims over ten seeds (the default)."]
    else:
        text = [f"Over {seeds} seeds, of the article's {len(claim_rows)} claims {held} "
                f"{'holds' if held == 1 else 'hold'}, {failed} {'fails' if failed == 1 else 'fail'}"
                f" and {unclear} {'stays' if unclear == 1 else 'stay'} unclear (a claim holds when "
                f"the 95% interval of the rate at which it held lies above one half, fails "
                f"when it lies below)."]
        for word, label in (("holds", "Holding"), ("fails", "Failing"), ("unclear", "Unclear")):
            names = [f"{c['experiment']}: {c['claim']}" for c in claim_rows if c["verdict"] == word]
            if names:
                text.append(f"{label}: " + "; ".join(names) + ".")
    stuck = {net: sum(r["stuck"] for r in results if r["net"] == net)
             for net in dict.fromkeys(r["net"] for r in results)}
    total = {net: sum(r["net"] == net for r in results) for net in stuck}
    text.append(f"{sum(stuck.values())} of {len(results)} runs got stuck (every training "
                "image given one digit, from the saturated start of standard-normal weights "
                "on raw pixels): " + ", ".join(f"{net} {stuck[net]}/{total[net]}" for net in stuck)
                + ".")
    return text


# ---------------------------------------------------------------- environment

def environment():
    """Where the numbers came from: Python, numpy, BLAS and its kernel, the CPUs."""
    blas = "unknown"
    try:
        from threadpoolctl import threadpool_info
        found = [m for m in threadpool_info() if m.get("user_api") == "blas"]
        # numpy's own BLAS first: scikit-learn's scipy may bring another one.
        found.sort(key=lambda m: "numpy" not in m.get("filepath", ""))
        if found:
            blas = (f"{found[0].get('internal_api')} {found[0].get('version')}, "
                    f"kernel {found[0].get('architecture', 'unknown')}")
    except ImportError:  # threadpoolctl comes with scikit-learn; numpy knows its build
        try:
            built = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
            blas = f"{built['name']} {built['version']} (kernel unknown)"
        except (TypeError, KeyError):  # numpy before 1.25
            pass
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as info:
            cpu = next(line.split(":", 1)[1].strip() for line in info
                       if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return dict(python=platform.python_version(), numpy=np.__version__, blas=blas,
                cpu=cpu, cpus=os.cpu_count(), system=f"{platform.system()} {platform.machine()}")


# ---------------------------------------------------------------- output

def cell(value, digits=3):
    """mean ± sd (the mean alone when sd is 0); a dash where no run trained."""
    if value is None:
        return "-"
    mean, sd = value
    return f"{mean:.{digits}f}" if sd == 0 else f"{mean:.{digits}f} ± {sd:.{digits}f}"


def result_table(rows, epochs):
    header = (["experiment", "net"] + [f"cost@{e}" for e in checkpoints(epochs)]
              + ["train acc", "test acc", "stuck"])
    body = [[r["experiment"], r["net"]] + [cell(r[f"cost_epoch_{e}"]) for e in checkpoints(epochs)]
            + [cell(r["train_accuracy"]), cell(r["test_accuracy"]), f"{r['stuck']}/{r['seeds']}"]
            for r in rows]
    return header, body


def claims_table(rows):
    header = ["experiment", "the article says", "we measured", "held", "95% interval",
              "verdict", "not stuck"]
    body = [[r["experiment"], r["claim"], r["measured"], f"{r['held']}/{r['seeds']}",
             "{:.2f}-{:.2f}".format(*r["interval"]), r["verdict"],
             f"{r['trained_held']}/{r['trained_seeds']} {r['trained_verdict']}"] for r in rows]
    return header, body


def alignment_table(rows, experiment):
    header = ["net", "epoch"] + [f"{g} {k}" for g in lockstep.GROUPS for k in ("cos", "signs")]
    return header, [[r["net"], str(r["epoch"])] + [cell(r[f"{g}_{k}"])
                                                   for g in lockstep.GROUPS
                                                   for k in ("cosine", "signs")]
                    for r in rows if r["experiment"] == experiment]


def render(header, body, markdown):
    if markdown:
        lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in body])
    widths = [max(len(row[i]) for row in [header] + body) for i in range(len(header))]
    return "\n".join("  ".join(v.ljust(w) for v, w in zip(row, widths)).rstrip()
                     for row in [header] + body)


def describe(study):
    """The lines that say what ran where: command, data and settings, environment, time."""
    env, s = study["environment"], study["settings"]
    seeds = f"seeds 0 to {s['seeds'] - 1}" if s["seeds"] > 1 else "seed 0"
    return [f"Written by `{study['command']}` on {study['date']}.",
            f"Data: {s['data']}. {count(s['epochs'], 'epoch')}, lr {s['lr']}, momentum "
            f"{s['momentum']}, {seeds}.",
            f"Environment: Python {env['python']}, numpy {env['numpy']}, BLAS {env['blas']}; "
            f"{env['cpu']}, {count(env['cpus'], 'CPU')}, {env['system']}.",
            f"Time: {study['wall_seconds']:.1f} s for {count(s['runs'], 'run')} in "
            f"{count(study['batches'], 'lock-step batch', 'lock-step batches')} on "
            f"{count(study['jobs'], 'process', 'processes')}: "
            f"{study['run_steps_per_second']:,.0f} run-steps a second."]


def report(results, study, fmt, alignment):
    """The whole report as text in the format fmt."""
    epochs = study["settings"]["epochs"]
    rows = summarise(results, epochs)
    claim_rows = claims(results, epochs)
    aligned = alignment_rows(results, epochs) if alignment else []
    if fmt == "json":
        runs = [{k: r[k] for k in ("experiment", "net", "seed", "stuck", "history",
                                   "train_accuracy", "test_accuracy", "test_right")}
                for r in results]
        return json.dumps(dict(study=study, results=rows, claims=claim_rows,
                               alignment=aligned, runs=runs), indent=1) + "\n"
    if fmt == "csv":
        out = io.StringIO()
        keys = [k for k in rows[0] if k.startswith("cost_epoch") or k.endswith("accuracy")]
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["experiment", "net", "W3", "W4", "W5", "seeds", "stuck"]
                        + [f"{k}_{s}" for k in keys for s in ("mean", "sd")])
        for r in rows:
            h3, h4 = r["hidden"]
            writer.writerow([r["experiment"], r["net"], f"16x{h3}", f"{h3}x{h4}", f"{h4}x1",
                             r["seeds"], r["stuck"]]
                            + [v for k in keys for v in (r[k] or ["", ""])])
        return out.getvalue()
    markdown = fmt == "markdown"
    title = "## " if markdown else ""
    settings = study["settings"]
    over = (f"mean ± sd over the runs that trained; stuck: runs that gave every training "
            f"image one digit, of {settings['seeds']}" if settings["seeds"] > 1
            else "stuck: the run gave every training image one digit")
    parts = [("# " if markdown else "") + "Original net against broken back prop net",
             "\n".join(describe(study)),
             f"{title}Cost and accuracy ({over})",
             render(*result_table(rows, epochs), markdown),
             f"{title}The article's claims (each judged on the pair original, {BROKEN} "
             f"of every seed; not stuck: the seeds in which neither net of the pair was stuck)",
             render(*claims_table(claim_rows), markdown),
             "\n".join(reading(results, claim_rows))]
    for experiment, (h3, h4) in EXPERIMENTS.items() if alignment else ():
        parts += [f"{title}Alignment of the broken gradient with the true one, {experiment} "
                  f"(W3 16x{h3}, W4 {h3}x{h4}, W5 {h4}x1): mean cosine and sign agreement "
                  f"per epoch, over the runs that trained",
                  render(*alignment_table(aligned, experiment), markdown)]
    return "\n\n".join(parts) + "\n"


COLOURS = {"original": "tab:blue", BROKEN: "tab:red",  # one colour a net, in every panel
           "broken green": "tab:green", "broken red": "tab:orange"}


def plot(results, alignment, path, fmt):
    """Per experiment, each net's median cost curve and interquartile band over the runs
    that trained, its stuck runs counted in the legend; with alignment, a second row:
    the median cosine of the broken gradient with the true one, W1 solid, W2 dashed."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D
    rows = 2 if alignment else 1
    fig, axes = plt.subplots(rows, 3, figsize=(11, 3.6 * rows), squeeze=False)
    nets = list(dict.fromkeys(r["net"] for r in results))
    epochs = np.arange(1, len(results[0]["history"]) + 1)
    for col, (experiment, (h3, h4)) in enumerate(EXPERIMENTS.items()):
        ax = axes[0, col]
        for net in nets:
            runs = runs_of(results, experiment, net)
            trained = np.array([r["history"] for r in runs if not r["stuck"]])
            label = f"{net}: {len(runs) - len(trained)}/{len(runs)} stuck"
            if len(trained):
                low, median, high = np.percentile(trained, [25, 50, 75], axis=0)
                ax.plot(epochs, median, color=COLOURS[net], lw=1.4, label=label)
                ax.fill_between(epochs, low, high, color=COLOURS[net], alpha=0.15, lw=0)
            else:
                ax.plot([], [], color=COLOURS[net], label=label)
        ax.set(title=f"{experiment}: W3 16x{h3}, W4 {h3}x{h4}", xlabel="epoch", yscale="log",
               ylabel="epoch cost: median, IQR" if col == 0 else None)
        ax.legend(fontsize=8.5)
        if alignment:
            ax = axes[1, col]
            for net in nets:
                runs = [r for r in runs_of(results, experiment, net)
                        if r["alignment"] is not None and not r["stuck"]]
                if runs:
                    cosines = np.median([r["alignment"][:, 0, :2] for r in runs], axis=0)
                    ax.plot(epochs, cosines[:, 0], color=COLOURS[net], lw=1.2)
                    if "green" in NETS[net]:  # without it W2's gradient is the true one
                        ax.plot(epochs, cosines[:, 1], color=COLOURS[net], lw=1.2, ls="--")
            ax.axhline(0, color="grey", lw=0.6)
            ax.set(title=f"{experiment}: broken against true gradient", xlabel="epoch",
                   ylim=(-0.25, 1.05), ylabel="cosine (median)" if col == 0 else None)
            ax.legend([Line2D([], [], color="k"), Line2D([], [], color="k", ls="--")],
                      ["W1 (W1a, W1b)", "W2 (W2a..W2d)"], fontsize=8.5, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, format=fmt, dpi=100)
    plt.close(fig)


# ---------------------------------------------------------------- files

def written_through(path):
    """path exists and is no regular file (a FIFO, /dev/stdout): written, not replaced."""
    return os.path.exists(path) and not stat.S_ISREG(os.stat(path).st_mode)


def check_path(path, option):
    """Before any training: path can be written (raises UsageError if not)."""
    if os.path.isdir(path):
        raise UsageError(f"{option} {path}: is a folder; give a file name")
    if written_through(path):
        if not os.access(path, os.W_OK):  # a FIFO or a device: written through
            raise UsageError(f"{option} {path}: not writable")
        return
    folder = os.path.dirname(os.path.realpath(path))
    if not os.path.isdir(folder):
        raise UsageError(f"{option} {path}: no such folder {folder}")
    try:  # the one sure test: make a file there
        fd, probe = tempfile.mkstemp(dir=folder, prefix=".compare-")
        os.close(fd)
        os.unlink(probe)
    except OSError as error:
        raise UsageError(f"{option} {path}: cannot write in {folder} ({error.strerror})") from None


def write_file(path, write):
    """write(name) writes the file. A regular file (or a symlink's regular target) is
    replaced whole: a temporary file beside it, renamed over it, with the mode a plain
    write would leave (the old file's, or the umask's). Anything else that exists, a FIFO
    or /dev/stdout, is written through."""
    if written_through(path):
        write(path)
        return
    target = os.path.realpath(path)
    if os.path.exists(target):
        mode = stat.S_IMODE(os.stat(target).st_mode)
    else:
        umask = os.umask(0)
        os.umask(umask)
        mode = 0o666 & ~umask
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(target), prefix=".compare-",
                               suffix=os.path.splitext(target)[1])
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        os.unlink(tmp)
        raise


def plot_format(path):
    """The plot's file name and format: its extension, which matplotlib must write; with
    none, .png is added (and said)."""
    from matplotlib.backend_bases import FigureCanvasBase
    formats = FigureCanvasBase.get_supported_filetypes()
    extension = os.path.splitext(path)[1][1:].lower()
    if not extension:
        print(f"compare.py: --plot {path} has no extension: writing {path}.png", file=sys.stderr)
        return path + ".png", "png"
    if extension not in formats:
        raise UsageError(f"--plot {path}: matplotlib cannot write .{extension}; use one of "
                         + ", ".join(f".{f}" for f in sorted(formats)))
    return path, extension


# ---------------------------------------------------------------- command line

def cpus():
    """The CPUs this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def parse_args(argv):
    parser = Parser(description=__doc__.splitlines()[0], allow_abbrev=False)
    parser.add_argument("--epochs", type=number(int, 0), default=500, help="default 500")
    parser.add_argument("--seeds", type=number(int, 0, 10001), default=10,
                        help="seeds 0..N-1; every claim is judged over them (default 10, "
                             "at most 10000)")
    parser.add_argument("--ablation", action="store_true",
                        help="also run each broken line alone (broken green, broken red)")
    parser.add_argument("--alignment", action="store_true",
                        help="measure each broken gradient against the true one")
    parser.add_argument("--lr", type=number(float, 0),
                        help="learning rate (default the nets': 0.001; 0.01 on four samples)")
    parser.add_argument("--momentum", type=number(float, 0, 1, low_ok=True),
                        help="default the nets': 0.9")
    parser.add_argument("--jobs", type=number(int, 0), default=cpus(),
                        help=f"parallel processes (default and most: the CPUs, {cpus()})")
    parser.add_argument("--format", choices=FORMATS, default="text")
    parser.add_argument("--out", help="write the report to this file instead of stdout")
    parser.add_argument("--plot", help="draw the cost curves into this file (.png, .svg, .pdf; "
                                       "needs matplotlib)")
    parser.add_argument("--four-samples", action="store_true",
                        help="train and test on the four embedded samples")
    args = parser.parse_args(argv)
    if args.out:
        check_path(args.out, "--out")
    if args.plot:
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            raise UsageError("--plot needs matplotlib: pip install matplotlib") from None
        args.plot, args.plot_format = plot_format(args.plot)
        check_path(args.plot, "--plot")
        if args.out and os.path.realpath(args.out) == os.path.realpath(args.plot):
            raise UsageError("--out and --plot name the same file")
    return args


def say(message):
    """message on stderr, on a line of its own even after an in-place progress line."""
    print(("\n" if sys.stderr.isatty() else "") + message, file=sys.stderr)


def terminate(signum, frame):
    raise Terminated()


def main(argv=None):
    """The command line; returns the exit status."""
    argv = sys.argv[1:] if argv is None else argv
    try:
        args = parse_args(argv)
    except UsageError as error:
        print(f"compare.py: error: {error}", file=sys.stderr)
        return 2
    handler = signal.signal(signal.SIGTERM, terminate)  # stop the workers as on Ctrl-C
    try:
        return study(args, argv)
    except KeyboardInterrupt:
        say("compare.py: interrupted")
        return 130
    except Terminated:
        print("compare.py: terminated", file=sys.stderr)
        return 143
    except StudyError as error:
        say(f"compare.py: error: {error}")
        return 1
    except BrokenPipeError:  # the reader went away (| head): stop without a word
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    finally:
        signal.signal(signal.SIGTERM, handler)


def study(args, argv):
    """Run the study that args describe and write its report; returns the exit status."""
    x_train, *_, data = original_net.load_data(four_samples=args.four_samples)
    four = x_train is original_net.FOUR_X
    if four and not args.four_samples:
        print("compare.py: scikit-learn is not installed: training on the four embedded "
              "samples, with their settings", file=sys.stderr)
    defaults = original_net.FOUR_SAMPLE_DEFAULTS if four else original_net.DEFAULTS
    settings = dict(epochs=args.epochs, seeds=args.seeds, lr=args.lr or defaults["lr"],
                    momentum=defaults["momentum"] if args.momentum is None else args.momentum,
                    four_samples=four, data=data, ablation=args.ablation,
                    alignment=args.alignment)
    runs = plan(args.seeds, args.ablation)
    settings["runs"] = len(runs)
    jobs = min(args.jobs, cpus())
    if args.jobs > jobs:
        print(f"compare.py: --jobs {args.jobs} is more than the {cpus()} CPUs here: using "
              f"{jobs}", file=sys.stderr)
    if jobs > 1:
        try:
            import joblib  # noqa: F401
        except ImportError:
            print("compare.py: joblib is not installed: training on one process",
                  file=sys.stderr)
            jobs = 1
    jobs = min(jobs, len(runs))
    start = time.perf_counter()
    results, n_batches = run_study(runs, settings, jobs, progress_line(len(runs), jobs))
    seconds = time.perf_counter() - start
    study = dict(command=shlex.join(["python3", "compare.py"] + list(argv)),
                 date=datetime.date.today().isoformat(), settings=settings,
                 environment=environment(), jobs=jobs, batches=n_batches, wall_seconds=seconds,
                 run_steps_per_second=len(runs) * args.epochs * len(x_train) / seconds)
    text = report(results, study, args.format, args.alignment)
    if args.out:
        write_file(args.out, lambda name: open(name, "w").write(text))
        print(f"compare.py: wrote {args.out}", file=sys.stderr)
    else:
        print(text, end="", flush=True)
    if args.plot:
        write_file(args.plot, lambda name: plot(results, args.alignment, name, args.plot_format))
        print(f"compare.py: wrote {args.plot}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
