"""The article's three experiments: original net against broken back prop net.

Runs both nets of original_net.py and broken_net.py on Result 1, 2 and 3 (same seed,
data and initial weights for both nets of a pair), prints cost and accuracy tables,
then checks each of the article's claims against what was measured.

    python compare.py                       # 500 epochs, seed 0: about a minute
    python compare.py --seeds 10 --ablation --format markdown --out report.md
    python compare.py --alignment --seeds 10   # how far the broken gradient points
"""
import csv
import io
import json
import os
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

import numpy as np

import broken_net
import original_net
from original_net import Parser, UsageError, number

EXPERIMENTS = {"Result 1": (18, 20), "Result 2": (48, 56), "Result 3": (28, 36)}
CHECKPOINTS = (1, 100, 250)  # and the last epoch
GROUPS = {"W1": ("W1a", "W1b"), "W2": ("W2a", "W2b", "W2c", "W2d"),
          "W3": ("W3",), "W4": ("W4",), "W5": ("W5",)}
FORMATS = ("text", "markdown", "csv", "json")


# ---------------------------------------------------------------- runs

def nets(ablation):
    """(label, breaks) of the nets to run: breaks None is the original net."""
    rows = [("original", None), ("broken green,red", ("green", "red"))]
    if ablation:
        rows += [("broken green", ("green",)), ("broken red", ("red",))]
    return rows


def plan(epochs, seeds, ablation, four_samples, alignment):
    """Every training run, in the order the tables list them."""
    return [dict(experiment=experiment, hidden=hidden, net=label, breaks=breaks, seed=seed,
                 epochs=epochs, four_samples=four_samples,
                 alignment=alignment and breaks is not None)
            for experiment, hidden in EXPERIMENTS.items()
            for label, breaks in nets(ablation)
            for seed in range(seeds)]


def alignment(a, b, starts):
    """Cosine similarity and fraction of equal signs of a and b, per group.

    a and b are (..., n); group g is [..., starts[g]:starts[g+1]]. Identical groups
    score exactly 1; where both parts are zero the cosine is 1 (they agree), where only
    one is, 0: never NaN.
    """
    ends = np.append(starts[1:], a.shape[-1])
    cosine = np.ones(a.shape[:-1] + (len(starts),))
    signs = np.ones_like(cosine)
    for g, (lo, hi) in enumerate(zip(starts, ends)):
        x, y = a[..., lo:hi], b[..., lo:hi]
        if np.array_equal(x, y):  # the common case for the layers no break reaches
            continue
        dot, xx, yy = (x * y).sum(axis=-1), (x * x).sum(axis=-1), (y * y).sum(axis=-1)
        # sqrt(xx * yy) keeps the cosine of equal rows exactly 1; where xx * yy would
        # under- or overflow, the product of the roots does the job.
        product = xx * yy
        norms = np.where((product > 1e-300) & (product < 1e300), np.sqrt(product),
                         np.sqrt(xx) * np.sqrt(yy))
        both_zero = (xx == 0) & (yy == 0)
        cosine[..., g] = np.where(norms > 0, dot / np.where(norms > 0, norms, 1.0), both_zero)
        signs[..., g] = (np.sign(x) == np.sign(y)).mean(axis=-1)
    return cosine, signs


class AlignmentMeter:
    """on_step hook: the broken gradient against the true one at the same weights.

    Each step stores both gradients as rows of an epoch's buffer; at the epoch's end the
    per-step cosines and sign agreements are computed at once and averaged.
    """

    def __init__(self, params, steps_per_epoch, epochs):
        sizes = [sum(params[name].size for name in names) for names in GROUPS.values()]
        self.starts = np.cumsum([0] + sizes[:-1])
        self.broken = np.empty((steps_per_epoch, sum(sizes)))
        self.true = np.empty_like(self.broken)
        self.means = np.zeros((epochs, 2, len(GROUPS)))  # per epoch: cosine, signs; groups
        self.step = 0

    def __call__(self, params, cache, y, grads):
        epoch, row = divmod(self.step, len(self.broken))
        true = broken_net.backward(params, cache, y, breaks=())
        for grad, buffer in ((grads, self.broken), (true, self.true)):
            np.concatenate([grad[name].ravel() for name in original_net.NAMES], out=buffer[row])
        if row == len(self.broken) - 1:
            cosine, signs = alignment(self.broken, self.true, self.starts)
            self.means[epoch] = cosine.mean(axis=0), signs.mean(axis=0)
        self.step += 1


def run(spec):
    """Train one net of one experiment with one seed; returns its measurements."""
    module = original_net if spec["breaks"] is None else broken_net
    settings = module.FOUR_SAMPLE_DEFAULTS if spec["four_samples"] else module.DEFAULTS
    x_train, y_train, x_test, y_test, _ = module.load_data(
        spec["seed"], four_samples=spec["four_samples"])
    params = module.init_params(spec["seed"], spec["hidden"])
    extra = {} if spec["breaks"] is None else {"breaks": spec["breaks"]}
    meter = AlignmentMeter(params, len(x_train), spec["epochs"]) if spec["alignment"] else None
    start = time.perf_counter()
    try:
        history = module.train(params, x_train, y_train, spec["epochs"], settings["lr"],
                               settings["momentum"], on_step=meter, **extra)
    except module.TrainingDiverged as error:
        raise RuntimeError(f"{spec['experiment']}, {spec['net']}, seed {spec['seed']}: "
                           f"{error}") from None
    seconds = time.perf_counter() - start

    def right(images, labels):
        return int(((module.predict(params, images) >= 0.5) == labels).sum())

    test_right = right(x_test, y_test)
    return dict(spec, history=history, train_accuracy=right(x_train, y_train) / len(y_train),
                test_accuracy=test_right / len(y_test), test_right=test_right,
                test_size=len(y_test), seconds=seconds,
                alignment=None if meter is None else meter.means)


def run_all(specs, jobs, progress=None):
    """All runs, in parallel on jobs processes; results in the order of specs."""
    results = [None] * len(specs)
    if jobs == 1:
        for i, spec in enumerate(specs):
            results[i] = run(spec)
            if progress:
                progress(i + 1)
        return results
    with ProcessPoolExecutor(jobs) as pool:
        futures = {pool.submit(run, spec): i for i, spec in enumerate(specs)}
        for done, future in enumerate(as_completed(futures), 1):
            results[futures[future]] = future.result()
            if progress:
                progress(done)
    return results


def progress_line(total, stream=sys.stderr):
    """A progress callback: runs done, elapsed time and ETA, on stream."""
    start = time.perf_counter()
    tty = stream.isatty()

    def report(done):
        elapsed = time.perf_counter() - start
        eta = elapsed / done * (total - done)
        line = f"compare: {done}/{total} runs done, {elapsed:.0f} s elapsed, ETA {eta:.0f} s"
        print(("\r" + line) if tty else line, end="\n" if not tty or done == total else "",
              file=stream, flush=True)
    return report


# ---------------------------------------------------------------- statistics

def checkpoints(epochs):
    return [e for e in CHECKPOINTS if e < epochs] + [epochs]


def mean_sd(values):
    values = np.asarray(values, dtype=float)
    return float(values.mean()), float(values.std(ddof=1)) if len(values) > 1 else 0.0


def summarise(results, epochs):
    """One row per experiment and net: mean and sd over seeds of every measurement."""
    rows = []
    for experiment in EXPERIMENTS:
        for label in dict.fromkeys(r["net"] for r in results):
            runs = [r for r in results if r["experiment"] == experiment and r["net"] == label]
            if not runs:
                continue
            row = dict(experiment=experiment, net=label, hidden=runs[0]["hidden"],
                       seeds=len(runs))
            for e in checkpoints(epochs):
                row[f"cost_epoch_{e}"] = mean_sd([r["history"][e - 1] for r in runs])
            for key in ("train_accuracy", "test_accuracy", "seconds"):
                row[key] = mean_sd([r[key] for r in runs])
            rows.append(row)
    return rows


def by_seed(results, experiment, label):
    return {r["seed"]: r for r in results if r["experiment"] == experiment and r["net"] == label}


def mean_run(runs):
    """A run whose history and test score are the means of runs'."""
    return dict(history=np.mean([r["history"] for r in runs], axis=0),
                test_right=float(np.mean([r["test_right"] for r in runs])),
                test_size=runs[0]["test_size"])


def claims(results, epochs):
    """The article's claims (SPEC), each checked seed by seed against the results."""
    mid = 250 if epochs >= 250 else max(1, epochs // 2)
    broken = "broken green,red"

    def cost(r, epoch):
        return r["history"][epoch - 1]

    def right(r):
        return f"{round(r['test_right'], 1):g}/{r['test_size']}"

    table = [
        ("Result 3", "original net: all test images but one right",
         lambda o, b: o["test_right"] >= o["test_size"] - 1,
         lambda o, b: f"original {right(o)}"),
        ("Result 1", "both nets 100% test accuracy",
         lambda o, b: o["test_accuracy"] == 1 and b["test_accuracy"] == 1,
         lambda o, b: f"original {right(o)}, broken {right(b)}"),
        ("Result 1", f"broken net lower cost at epoch {mid}",
         lambda o, b: cost(b, mid) < cost(o, mid),
         lambda o, b: f"original {cost(o, mid):.3f}, broken {cost(b, mid):.3f}"),
        ("Result 2", "broken net higher final cost",
         lambda o, b: cost(b, epochs) > cost(o, epochs),
         lambda o, b: f"original {cost(o, epochs):.3f}, broken {cost(b, epochs):.3f}"),
        ("Result 2", "broken net 100% test accuracy",
         lambda o, b: b["test_accuracy"] == 1,
         lambda o, b: f"broken {right(b)}"),
        ("Result 2", "original net some test images wrong",
         lambda o, b: o["test_accuracy"] < 1,
         lambda o, b: f"original {right(o)}"),
        ("Result 3", "both nets 100% test accuracy",
         lambda o, b: o["test_accuracy"] == 1 and b["test_accuracy"] == 1,
         lambda o, b: f"original {right(o)}, broken {right(b)}"),
        ("Result 3", "broken net higher final cost",
         lambda o, b: cost(b, epochs) > cost(o, epochs),
         lambda o, b: f"original {cost(o, epochs):.3f}, broken {cost(b, epochs):.3f}"),
    ]
    rows = []
    for experiment, claim, holds, measured in table:
        original = by_seed(results, experiment, "original")
        broken_runs = by_seed(results, experiment, broken)
        pairs = [(original[s], broken_runs[s]) for s in sorted(original) if s in broken_runs]
        held = sum(bool(holds(o, b)) for o, b in pairs)
        if len(pairs) == 1:
            verdict = "holds" if held else "does not hold"
            seen = measured(*pairs[0])
        else:
            verdict = f"{held}/{len(pairs)} seeds"
            seen = "mean: " + measured(*[mean_run(runs) for runs in zip(*pairs)])
        rows.append(dict(experiment=experiment, claim=claim, measured=seen,
                         held=held, seeds=len(pairs), verdict=verdict))
    return rows


def alignment_rows(results, epochs):
    """Per experiment, break and checkpoint: mean and sd over seeds of the per-epoch
    mean cosine and sign agreement of each parameter group."""
    rows = []
    for experiment in EXPERIMENTS:
        for label in dict.fromkeys(r["net"] for r in results if r["alignment"] is not None):
            runs = [r for r in results if r["experiment"] == experiment and r["net"] == label]
            for e in checkpoints(epochs):
                row = dict(experiment=experiment, net=label, epoch=e, seeds=len(runs))
                for g, group in enumerate(GROUPS):
                    row[f"{group}_cosine"] = mean_sd([r["alignment"][e - 1, 0, g] for r in runs])
                    row[f"{group}_signs"] = mean_sd([r["alignment"][e - 1, 1, g] for r in runs])
                rows.append(row)
    return rows


# ---------------------------------------------------------------- output

def cell(value, digits=3):
    """mean +- sd (sd only when there are several seeds)."""
    mean, sd = value
    return f"{mean:.{digits}f}" if sd == 0 else f"{mean:.{digits}f} ± {sd:.{digits}f}"


def result_table(rows, epochs):
    header = (["experiment", "net"] + [f"cost@{e}" for e in checkpoints(epochs)]
              + ["train acc", "test acc", "time s"])
    body = [[r["experiment"], r["net"]] + [cell(r[f"cost_epoch_{e}"]) for e in checkpoints(epochs)]
            + [cell(r["train_accuracy"]), cell(r["test_accuracy"]), cell(r["seconds"], 1)]
            for r in rows]
    return header, body


def claim_table(rows):
    header = ["experiment", "the article says", "we measured", "verdict"]
    return header, [[r["experiment"], r["claim"], r["measured"], r["verdict"]] for r in rows]


def alignment_table(rows, experiment):
    header = ["net", "epoch"] + [f"{g} {k}" for g in GROUPS for k in ("cos", "signs")]
    return header, [[r["net"], str(r["epoch"])] + [cell(r[f"{g}_{k}"])
                                                   for g in GROUPS for k in ("cosine", "signs")]
                    for r in rows if r["experiment"] == experiment]


def render(header, body, markdown):
    if markdown:
        lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in body])
    widths = [max(len(row[i]) for row in [header] + body) for i in range(len(header))]
    return "\n".join("  ".join(v.ljust(w) for v, w in zip(row, widths)).rstrip()
                     for row in [header] + body)


def report(results, args):
    """The whole report as text in the chosen format."""
    rows = summarise(results, args.epochs)
    claim_rows = claims(results, args.epochs)
    aligned = alignment_rows(results, args.epochs) if args.alignment else []
    if args.format == "json":
        return json.dumps(dict(epochs=args.epochs, seeds=args.seeds, four_samples=args.four_samples,
                               results=rows, claims=claim_rows, alignment=aligned,
                               runs=[dict(experiment=r["experiment"], net=r["net"], seed=r["seed"],
                                          history=r["history"], train_accuracy=r["train_accuracy"],
                                          test_accuracy=r["test_accuracy"], seconds=r["seconds"])
                                     for r in results]), indent=1) + "\n"
    if args.format == "csv":
        out = io.StringIO()
        keys = [k for k in rows[0] if k not in ("experiment", "net", "hidden", "seeds")]
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["experiment", "net", "W3", "W4", "W5", "seeds"]
                        + [f"{k}_{s}" for k in keys for s in ("mean", "sd")])
        for r in rows:
            h3, h4 = r["hidden"]
            writer.writerow([r["experiment"], r["net"], f"16x{h3}", f"{h3}x{h4}", f"{h4}x1",
                             r["seeds"]] + [v for k in keys for v in r[k]])
        return out.getvalue()
    markdown = args.format == "markdown"
    seeds = f"{args.seeds} seeds (mean ± sd)" if args.seeds > 1 else "seed 0"
    data = ("the four embedded samples" if args.four_samples
            else "sklearn digits 0 and 1, 350 train, 10 test")
    title = "## " if markdown else ""
    parts = [f"{title}Cost and accuracy: {args.epochs} epochs, {seeds}, {data}",
             render(*result_table(rows, args.epochs), markdown),
             f"{title}The article's claims", render(*claim_table(claim_rows), markdown)]
    for experiment, (h3, h4) in EXPERIMENTS.items() if args.alignment else ():
        parts += [f"{title}Alignment of the broken gradient with the true one, {experiment} "
                  f"(W3 16x{h3}, W4 {h3}x{h4}, W5 {h4}x1): mean cosine and sign agreement",
                  render(*alignment_table(aligned, experiment), markdown)]
    return "\n\n".join(parts) + "\n"


def plot(results, args, path):
    """Cost curves of every run (and, with --alignment, cosine per layer)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    rows = 2 if args.alignment else 1
    fig, axes = plt.subplots(rows, 3, figsize=(15, 4.5 * rows), squeeze=False)
    colours = {label: f"C{i}" for i, (label, _) in enumerate(nets(True))}
    for col, (experiment, (h3, h4)) in enumerate(EXPERIMENTS.items()):
        ax = axes[0, col]
        for r in results:
            if r["experiment"] == experiment:
                ax.plot(range(1, args.epochs + 1), r["history"], color=colours[r["net"]], lw=0.8,
                        alpha=0.7, label=r["net"] if r["seed"] == 0 else None)
        ax.set(title=f"{experiment}: W3 16x{h3}, W4 {h3}x{h4}", xlabel="epoch",
               ylabel="epoch cost", yscale="log")
        ax.legend()
        if args.alignment:
            ax = axes[1, col]
            for r in results:
                if r["experiment"] == experiment and r["alignment"] is not None and r["seed"] == 0:
                    for g, group in enumerate(GROUPS):
                        if group in ("W1", "W2"):
                            ax.plot(range(1, args.epochs + 1), r["alignment"][:, 0, g], lw=0.8,
                                    label=f"{r['net']}: {group}")
            ax.set(title=f"{experiment}: cosine(broken, true gradient), seed 0",
                   xlabel="epoch", ylabel="mean cosine", ylim=(-1.05, 1.05))
            ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=90)


def write_whole(path, writer):
    """Write a file whole or not at all: writer(tmp) fills a temporary file, renamed after."""
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".compare-", suffix=os.path.splitext(path)[1])
    os.close(fd)
    try:
        writer(tmp)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


# ---------------------------------------------------------------- command line

def parse_args(argv):
    parser = Parser(description=__doc__.splitlines()[0], allow_abbrev=False)
    parser.add_argument("--epochs", type=number(int, 0), default=500,
                        help="default 500")
    parser.add_argument("--seeds", type=number(int, 0), default=1,
                        help="seeds 0..N-1; cells become mean ± sd (default 1)")
    parser.add_argument("--ablation", action="store_true",
                        help="also run each break alone (green, red)")
    parser.add_argument("--alignment", action="store_true",
                        help="measure the broken gradient against the true one")
    parser.add_argument("--jobs", type=number(int, 0), default=os.cpu_count() or 1,
                        help="parallel trainings (default: all cores)")
    parser.add_argument("--format", choices=FORMATS, default="text")
    parser.add_argument("--out", help="write the report to this file (whole or not at all)")
    parser.add_argument("--plot", help="draw the cost curves into this PNG (needs matplotlib)")
    parser.add_argument("--four-samples", action="store_true",
                        help="train and test on the four embedded samples")
    args = parser.parse_args(argv)
    for path in (args.out, args.plot):
        if path and not os.path.isdir(os.path.dirname(os.path.abspath(path))):
            raise UsageError(f"cannot write {path}: no such folder")
    if args.plot:
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            raise UsageError("--plot needs matplotlib: pip install matplotlib") from None
    return args


def main(argv=None):
    try:
        args = parse_args(sys.argv[1:] if argv is None else argv)
    except UsageError as error:
        print(f"compare.py: error: {error}", file=sys.stderr)
        return 2
    specs = plan(args.epochs, args.seeds, args.ablation, args.four_samples, args.alignment)
    start = time.perf_counter()
    try:
        results = run_all(specs, min(args.jobs, len(specs)), progress_line(len(specs)))
    except RuntimeError as error:
        print(f"compare.py: error: {error}", file=sys.stderr)
        return 1
    text = report(results, args)
    if args.out:
        write_whole(args.out, lambda tmp: Path(tmp).write_text(text))
    else:
        print(text, end="")
    if args.plot:
        write_whole(args.plot, lambda tmp: plot(results, args, tmp))
    print(f"compare: {len(specs)} runs in {time.perf_counter() - start:.1f} s on "
          f"{min(args.jobs, len(specs))} processes", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
