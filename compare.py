"""The article's experiments over seeds: original net against broken back prop net.

Trains the nets of original_net.py and broken_net.py on the article's Result 1, 2 and 3
(the nets of one seed share its data split, order and initial weights), prints cost
and accuracy tables (study/report.py), and judges each of the article's claims over the
seeds (study/verdicts.py): an exact test per claim, Holm-corrected, one word (holds, fails,
unclear), marked where another study may well not repeat it (docs/METHODS.md). Runs
train in lock-step batches (study/lockstep.py), bit for bit as the nets train alone, on
parallel processes or a Dask cluster (study/training.py).

    python3 compare.py                   # 3 experiments x 2 nets x 30 seeds
    python3 compare.py --seeds 30:60     # another block of 30 seeds
    python3 compare.py --extended        # frozen-conv control, 4 digit pairs
    python3 compare.py --format json --out a.json; python3 compare.py --pool a.json b.json
"""
import os
import signal
import sys


class Terminated(Exception):
    """SIGTERM arrived: the study stops as on Ctrl-C, exit status 143."""


def terminate(signum, frame):
    raise Terminated()


def loading_failed(kind, error, trace):
    """Ctrl-C, SIGTERM or a missing library while the libraries load: one line, as later
    on."""
    if kind is KeyboardInterrupt:
        print("compare.py: interrupted", file=sys.stderr)
    elif kind is Terminated:
        print("compare.py: terminated", file=sys.stderr, flush=True)
        os._exit(143)  # nothing to clean up yet
    elif issubclass(kind, ImportError):  # scipy or joblib, say
        print(f"compare.py: error: {f'cannot import {error.name}' if error.name else error}: "
              "python3 -m pip install -r requirements.txt", file=sys.stderr)
    else:
        sys.__excepthook__(kind, error, trace)


if __name__ == "__main__":
    sys.excepthook = loading_failed
    signal.signal(signal.SIGTERM, terminate)

import argparse
import datetime
import shlex
import stat
import tempfile
import time

import numpy as np

from study import cpus
import original_net
from study import report
from study import saved
from study import training
from study import verdicts
from original_net import Parser, UsageError, number
from study.registry import (ARTICLE_PAIR, ARTICLE_TEST_SIZE, BROKEN, COMPARED, EXPERIMENTS,
                      EXTENDED, HELD_OUT, ORIGINAL, PAIRS, in_words, one_in, study_nets)
from study.training import StudyError, key

FORMATS = ("text", "markdown", "csv", "json")
SEEDS = 30      # the default: enough for the claims that do not sit near a boundary
MAX_SEEDS = 10_000  # seeds a study: a million runs, more than any machine here trains


# ---------------------------------------------------------------- the tables

def group_of(settings):
    """A run's group label: its experiment, its digit pair, or both, as the study varies."""
    pairs, experiments = len(settings["digits"]) > 1, len(settings["experiments"]) > 1

    def label(run):
        pair = f"{run['digits'][0]}/{run['digits'][1]}"
        return f"{run['experiment']}, {pair}" if pairs and experiments else (
            pair if pairs else run["experiment"])
    return label


def pooled_group(strata, settings):
    """A pooled comparison's group label: its experiment and digit pairs, as they vary."""
    label = group_of(settings)(strata[0][1][0][0])
    if len(strata) == 1:
        return label
    pairs = f"all {len(strata)} pairs"
    return f"{strata[0][1][0][0]['experiment']}, {pairs}" if len(settings["experiments"]) > 1 \
        else pairs


def study_tables(results, settings):
    """The study's tables: results (a row per group and net), claims, comparisons,
    alignment, and the runs."""
    group = group_of(settings)
    runs = {key(r): r for r in results}
    seeds = sorted({r["seed"] for r in results})

    def pairs(experiment, digits, a, b):
        return [(runs[experiment, digits, a, s], runs[experiment, digits, b, s])
                for s in seeds
                if (experiment, digits, a, s) in runs and (experiment, digits, b, s) in runs]

    claims = (verdicts.article_claims(lambda e: pairs(e, ARTICLE_PAIR, ORIGINAL, BROKEN),
                                      settings["epochs"])
              if ARTICLE_PAIR in settings["digits"] and not settings["extended"] else [])
    compared = [((experiment, digits, group(pair[0][0])), a, b, pair)
                for experiment in settings["experiments"] for digits in settings["digits"]
                for a, b in COMPARED if (pair := pairs(experiment, digits, a, b))]
    pooled = [verdicts.pooled_comparison(experiment, pooled_group(strata, settings), a, b,
                                         strata)
              for experiment in settings["experiments"] for a, b in COMPARED
              if (strata := [(digits, pair) for digits in settings["digits"]
                             if (pair := pairs(experiment, digits, a, b))])]
    return dict(results=report.summarise(results, settings["epochs"], group), claims=claims,
                comparisons=verdicts.comparisons(compared) + pooled,
                alignment=report.alignment_rows(results, settings["epochs"], group)
                if settings["alignment"] else [], runs=results)


# ---------------------------------------------------------------- files

def written_through(path):
    """path exists and is no regular file (a FIFO, /dev/stdout): written, not replaced."""
    return os.path.exists(path) and not stat.S_ISREG(os.stat(path).st_mode)


def check_path(path, option):
    """Before any training: path names a file that can be written (UsageError if not)."""
    if not path:
        raise UsageError(f"{option} needs a file name")
    if os.path.isdir(path) or path.endswith(os.sep):
        raise UsageError(f"{option} {path}: names a folder; give a file name")
    if written_through(path):
        if not os.access(path, os.W_OK):  # a FIFO or a device: written through
            raise UsageError(f"{option} {path}: not writable")
        return
    target = os.path.realpath(path)
    if os.path.exists(target) and (not os.access(target, os.W_OK)
                                   or not os.stat(target).st_mode & stat.S_IWUSR):
        raise UsageError(f"{option} {path}: is read-only; make it writable or name another")
    folder = os.path.dirname(target)
    if not os.path.isdir(folder):
        raise UsageError(f"{option} {path}: no such folder {folder}")
    try:  # the one sure test: make a file there
        fd, probe = tempfile.mkstemp(dir=folder, prefix=".compare-")
        os.close(fd)
        os.unlink(probe)
    except OSError as error:
        raise UsageError(f"{option} {path}: cannot write in {folder} ({error.strerror})") from None


class WriteFailed(Exception):
    """Writing a report or figure failed: one line, exit status 1; an old file stays."""


def write_file(path, write):
    """write(file) writes the content into an open binary file. A regular file (or a
    symlink's regular target) is replaced whole: written to a temporary file beside it,
    flushed to the disk and closed, then renamed over it, with the mode a plain write
    would leave (the old file's, or the umask's); if anything fails, the old file stays
    as it was. Anything else that exists, a FIFO or /dev/stdout, is written through."""
    try:
        if written_through(path):
            with open(path, "wb") as file:
                write(file)
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
        try:
            with os.fdopen(fd, "wb") as file:
                write(file)
                file.flush()
                os.fsync(file.fileno())
            os.chmod(tmp, mode)
            os.replace(tmp, target)
        except BaseException:
            os.unlink(tmp)
            raise
    except OSError as error:
        raise WriteFailed(f"cannot write {path}: {error.strerror or error}; "
                          "nothing was replaced") from None


def put(text, out):
    """The report to the file out (said on stderr), or to stdout."""
    if out:
        write_file(out, lambda file: file.write(text.encode()))
        print(f"compare.py: wrote {out}", file=sys.stderr)
    else:
        print(text, end="", flush=True)


def plot_format(path):
    """The plot's file name and format: its extension, which matplotlib must write; with
    none, .png is added (and said)."""
    from matplotlib.backend_bases import FigureCanvasBase
    formats = FigureCanvasBase.get_supported_filetypes()
    extension = os.path.splitext(path)[1][1:].lower()
    if not extension and written_through(path):  # a FIFO or a device: PNG, written through
        return path, "png"
    if not extension:
        print(f"compare.py: --plot {path} has no extension: writing {path}.png", file=sys.stderr)
        return path + ".png", "png"
    if extension not in formats:
        raise UsageError(f"--plot {path}: matplotlib writes no .{extension}; try .png, .pdf "
                         "or .svg")
    return path, extension


# ---------------------------------------------------------------- command line

def available_cpus():
    """The CPUs this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


EPILOG = """Output: the report goes to stdout (or --out), progress and messages to stderr. Each of
the article's claims gets one word over the seeds (holds, fails or unclear; a ? marks a
word another study may well not repeat), and the nets are compared on their mean test
accuracy over every seed and digit pair (worse, better, no difference shown; as good by
TOST). How each word is reached, and why: docs/METHODS.md.
"""


def seed_block(text):
    """An argparse type: 'N' is seeds 0..N-1, 'A:B' seeds A..B-1; returns (A, B)."""
    first, colon, stop = text.partition(":")
    try:
        first, stop = (0, int(first)) if not colon else (int(first), int(stop))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not N or A:B, whole numbers") from None
    if not 0 <= first < stop or stop - first > MAX_SEEDS or stop > 2 ** 63:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not 1 to {MAX_SEEDS} seeds (N, or A:B with 0 <= A < B)")
    return first, stop


def parse_args(argv):
    parser = Parser(description=__doc__.splitlines()[0], epilog=EPILOG, allow_abbrev=False,
                    formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=seed_block, default=(0, SEEDS), metavar="N or A:B",
                        help=f"seeds 0..N-1, or A..B-1; every claim is judged over them "
                             f"(default {SEEDS}, at most {MAX_SEEDS} a study)")
    parser.add_argument("--epochs", type=number(int, 0, original_net.MAX_EPOCHS + 1),
                        default=500, help=f"default 500, at most {original_net.MAX_EPOCHS:,}")
    parser.add_argument("--ablation", action="store_true",
                        help="also run each broken line alone (broken green, broken red)")
    parser.add_argument("--controls", action="store_true",
                        help="also run the frozen-conv control: W1a..W2d never learn")
    parser.add_argument("--extended", action="store_true",
                        help=f"the extended study: {EXTENDED}'s head on digits "
                             f"{', '.join(f'{a}/{b}' for a, b in PAIRS)}, "
                             f"{one_in(HELD_OUT)} held out, with the frozen-conv control")
    parser.add_argument("--digits", type=number(int, 0, 10, low_ok=True), nargs=2,
                        metavar=("A", "B"), default=ARTICLE_PAIR,
                        help="the two digits told apart; B is label 1 (default 0 1)")
    parser.add_argument("--test-size", type=number(int, 0),
                        help="test images of each seed's split (default 10, the article's)")
    parser.add_argument("--alignment", action="store_true",
                        help="measure each broken gradient against the true one")
    parser.add_argument("--lr", type=number(float, 0),
                        help="learning rate (default the nets': 0.001; 0.01 on four samples)")
    parser.add_argument("--momentum", type=number(float, 0, 1, low_ok=True),
                        help="default the nets': 0.9")
    parser.add_argument("--jobs", type=number(int, 0),
                        help=f"parallel processes (default and most: the CPUs, "
                             f"{available_cpus()}); with --scheduler, batches at once "
                             f"(default: the workers' threads)")
    parser.add_argument("--scheduler", metavar="ADDRESS",
                        help="run the batches on a Dask cluster: its scheduler's address, "
                             "such as tcp://host:8786 (needs dask[distributed])")
    parser.add_argument("--format", choices=FORMATS, default="text",
                        help="text (default, within 100 columns), markdown, csv (the cost "
                             "and accuracy table) or json (everything)")
    parser.add_argument("--out", help="write the report to this file instead of stdout")
    parser.add_argument("--plot", help="draw the figure into this file (.png, .svg, .pdf; "
                                       "needs matplotlib)")
    parser.add_argument("--four-samples", action="store_true",
                        help="train and test on the four embedded samples")
    saved = parser.add_mutually_exclusive_group()
    saved.add_argument("--side-by-side", nargs="+", metavar="JSON",
                       help="no training: the claims of saved --format json reports side by "
                            "side, and which words differ")
    saved.add_argument("--pool", nargs="+", metavar="JSON",
                       help="no training: one report over the runs of saved --format json "
                            "reports of one study on other seeds (blocks)")
    args = parser.parse_args(argv)
    reading = "side_by_side" if args.side_by_side else "pool" if args.pool else None
    if reading:  # saved reports, no training: only the options that say where output goes
        takes = ("out",) if reading == "side_by_side" else ("out", "format", "plot")
        given = [f"--{key.replace('_', '-')}" for key, value in vars(args).items()
                 if key not in (reading, *takes)
                 and (tuple(value) if isinstance(value, list) else value)
                 != parser.get_default(key)]
        option = f"--{reading.replace('_', '-')}"
        if given:
            raise UsageError(f"{option} reads saved reports: it takes "
                             f"{', '.join('--' + t for t in takes)}, not {', '.join(given)}")
        if len(getattr(args, reading)) < 2:
            raise UsageError(f"{option} needs two or more saved reports")
    args.first_seed, stop = args.seeds
    args.seeds = stop - args.first_seed
    if not reading and args.digits[0] == args.digits[1]:
        raise UsageError(f"--digits needs two different digits, got {args.digits[0]} twice")
    if args.extended and (tuple(args.digits) != ARTICLE_PAIR or args.test_size is not None):
        raise UsageError("--extended sets its own digit pairs and test sizes: no --digits "
                         "or --test-size")
    if args.four_samples and (args.extended or args.test_size is not None
                              or tuple(args.digits) != ARTICLE_PAIR):
        raise UsageError("--four-samples takes no --test-size, --digits or --extended")
    if args.out is not None:
        check_path(args.out, "--out")
    if args.scheduler is not None:
        try:
            import distributed  # noqa: F401
        except ImportError:
            raise UsageError('--scheduler needs Dask: python3 -m pip install '
                             '"dask[distributed]"') from None
    if args.plot is not None:
        check_path(args.plot, "--plot")  # before a .png is added: a folder is refused
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


def main(argv=None):
    """The command line; returns the exit status."""
    argv = sys.argv[1:] if argv is None else argv
    try:
        try:
            args = parse_args(argv)
        except SystemExit as done:  # --help has printed its text
            sys.stdout.flush()
            return done.code
        if args.side_by_side:
            put(saved.side_by_side(args.side_by_side), args.out)
            return 0
        if args.pool:
            return write_report(args, *saved.pool(args.pool, lambda line: print(
                f"compare.py: {line}", file=sys.stderr)))
    except saved.Refused as error:
        print(f"compare.py: error: {error}", file=sys.stderr)
        return 1
    except UsageError as error:
        print(f"compare.py: error: {error}", file=sys.stderr)
        return 2
    except (WriteFailed, StudyError) as error:
        print(f"compare.py: error: {error}", file=sys.stderr)
        return 1
    except OSError as error:  # stdout closed or full
        return original_net.output_failed("compare.py", error)
    handler = signal.signal(signal.SIGTERM, terminate)  # stop the workers as on Ctrl-C
    try:
        import scipy.stats  # noqa: F401 (verdicts.py needs it; missing, it is said before training)
        return study(args, argv)
    except KeyboardInterrupt:
        say("compare.py: interrupted")
        return 130
    except Terminated:
        print("compare.py: terminated", file=sys.stderr)
        return 143
    except UsageError as error:  # found before any training: the data do not fit
        print(f"compare.py: error: {error}", file=sys.stderr)
        return 2
    except (StudyError, WriteFailed, training.NoCluster) as error:
        say(f"compare.py: error: {error}")
        return 1
    except ImportError as error:
        print(f"compare.py: error: cannot import {error.name or error}: python3 -m pip install "
              "-r requirements.txt", file=sys.stderr)
        return 1
    except OSError as error:  # stdout closed (| head) or full
        return original_net.output_failed("compare.py", error)
    finally:
        signal.signal(signal.SIGTERM, handler)


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
    described = "; ".join(f"{a} and {b}: {sizes[a, b] - test[a, b]} train, {test[a, b]} test"
                          for a, b in pairs)
    return dict(four_samples=False, digits=list(pairs), test_sizes=test, data=
                f"sklearn digits {described}"
                + (f" ({one_in(HELD_OUT)} held out)" if args.extended else ""),
                train_sizes={pair: sizes[pair] - test[pair] for pair in pairs})


# Bytes an epoch of one run costs a study: its cost in the batch's array, as a Python
# float in a list, and as about 20 characters of the JSON report; 80 more if aligned.
EPOCH_BYTES, ALIGNED_BYTES = 8 + 32 + 20, 80


def check_memory(runs, settings):
    """Before anything is allocated: the runs' epoch costs fit in the memory available
    (UsageError if they need more than half of it)."""
    need = settings["epochs"] * sum(
        EPOCH_BYTES + (ALIGNED_BYTES if settings["alignment"] and run["breaks"] else 0)
        for run in runs)
    free = available_memory()
    if free and need > free / 2:
        raise UsageError(f"--epochs {settings['epochs']:,}: {len(runs):,} runs' epoch costs "
                         f"need {need / 2 ** 30:,.0f} GiB; {free / 2 ** 30:,.0f} GiB are free")


def available_memory():
    """Bytes of memory available here (None if unknown)."""
    try:
        with open("/proc/meminfo") as info:
            return next(int(line.split()[1]) * 1024 for line in info
                        if line.startswith("MemAvailable:"))
    except (OSError, StopIteration, ValueError, IndexError):
        try:
            return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        except (ValueError, OSError, AttributeError):
            return None


def local_jobs(asked):
    """The processes a study runs on here: asked (or the CPUs), at most the CPUs, and one
    without joblib; each limit said."""
    jobs = min(asked or available_cpus(), available_cpus())
    if asked and asked > jobs:
        print(f"compare.py: --jobs {asked} is more than the {available_cpus()} CPUs here: "
              f"using {jobs}", file=sys.stderr)
    if jobs > 1:
        try:
            import joblib  # noqa: F401
        except ImportError:
            print("compare.py: joblib is not installed: training on one process",
                  file=sys.stderr)
            jobs = 1
    return jobs


def cluster_environment(cluster, address):
    """The environment of a Dask cluster's workers (cpus.environment on each, their
    values joined where they differ), with the scheduler and the workers' count."""
    found = list(cluster.run(cpus.environment).values())
    env = {key: "; ".join(dict.fromkeys(str(e[key]) for e in found)) for key in found[0]}
    cpus_each = set(e["cpus"] for e in found)  # each worker's machine's
    env["cpus"] = cpus_each.pop() if len(cpus_each) == 1 else env["cpus"]
    return dict(env, scheduler=address, workers=len(found))


def by_pair(sizes):
    """{(a, b): n} as JSON keys: {"a/b": n}."""
    return {f"{a}/{b}": n for (a, b), n in sizes.items()}


def study(args, argv):
    """Run the study that args describe and write its report; returns the exit status."""
    data = data_settings(args)
    defaults = original_net.FOUR_SAMPLE_DEFAULTS if data["four_samples"] else original_net.DEFAULTS
    nets = study_nets(args.ablation, args.controls or args.extended)
    settings = dict(data, epochs=args.epochs, seeds=args.seeds, first_seed=args.first_seed,
                    lr=args.lr or defaults["lr"],
                    momentum=defaults["momentum"] if args.momentum is None else args.momentum,
                    experiments=[EXTENDED] if args.extended else list(EXPERIMENTS),
                    nets=nets, ablation=args.ablation, alignment=args.alignment,
                    extended=args.extended)
    runs = training.plan(settings)
    settings["runs"] = len(runs)
    check_memory(runs, settings)
    cluster = None
    if args.scheduler:
        cluster, threads = training.connect(args.scheduler)
        jobs = threads if args.jobs is None else args.jobs
    else:
        jobs = local_jobs(args.jobs)
    try:
        start = time.perf_counter()
        results, n_batches = training.run_study(runs, settings, min(jobs, len(runs)), cluster)
        seconds = time.perf_counter() - start
        environment = (cpus.environment() if cluster is None
                       else cluster_environment(cluster, args.scheduler))
    finally:
        if cluster is not None:
            cluster.close()
    steps = sum(args.epochs * run["train_size"] for run in runs)
    title = (f"Beyond the article: the frozen-conv control and {in_words(len(PAIRS))} digit "
             "pairs" if args.extended
             else "Original net against broken back prop net"
             + (", with the frozen-conv control" if args.controls else ""))
    study = dict(title=title, command=shlex.join(["python3", "compare.py"] + list(argv)),
                 date=datetime.date.today().isoformat(),
                 settings=dict(settings, digits=[list(p) for p in settings["digits"]],
                               test_sizes=by_pair(data["test_sizes"]),
                               train_sizes=by_pair(data["train_sizes"])),
                 environment=environment, jobs=min(jobs, len(runs)), batches=n_batches,
                 wall_seconds=seconds,
                 run_steps_per_second=steps / seconds)
    return write_report(args, study, results, settings)


def write_report(args, study, results, settings):
    """The report of a study (trained or pooled) in args.format to args.out or stdout,
    and its figure to args.plot; returns the exit status."""
    try:
        found = study_tables(results, settings)
    except verdicts.NotJudged as error:
        raise StudyError(error) from None
    text = (report.json_report(study, found) if args.format == "json"
            else report.text_report(study, found, args.format))
    status, stdout_failed = 0, None  # one output failing does not lose the other
    try:
        put(text, args.out)
    except WriteFailed as error:
        say(f"compare.py: error: {error}")
        status = 1
    except OSError as error:  # stdout closed (| head) or full: said last
        stdout_failed = error
    if args.plot:
        try:
            write_file(args.plot, lambda file: report.plot(
                results, group_of(settings), settings["alignment"], file, args.plot_format))
            print(f"compare.py: wrote {args.plot}", file=sys.stderr)
        except WriteFailed as error:
            say(f"compare.py: error: {error}")
            status = 1
    if stdout_failed:
        return max(status, original_net.output_failed("compare.py", stdout_failed))
    return status

if __name__ == "__main__":
    sys.exit(main())
