"""The article's experiments over seeds: original net against broken back prop net.

Trains the nets of original_net.py and broken_net.py on the article's Result 1, 2 and 3
(the nets of one seed share its data split, order and initial weights), prints cost
and accuracy tables (study/report.py), and judges each of the article's claims over the
seeds (study/verdicts.py): an exact test per claim, Holm-corrected, one word (holds, fails,
unclear), marked where another study may well not repeat it (docs/METHODS.md). With
several --lr every net trains at every rate; --tune chooses each net's rate on validation
images and --tuned evaluates each at its own. Runs train in lock-step batches
(study/lockstep.py), bit for bit as the nets train alone, on parallel processes or a Dask
cluster (study/training.py, study/cluster.py).

    python3 compare.py                   # 3 experiments x 2 nets x 30 seeds
    python3 compare.py --seeds 30:60     # another block of 30 seeds
    python3 compare.py --extended        # frozen-conv control, 4 digit pairs
    python3 compare.py --extended --lr 0.0003 0.001 0.003     # each net at every rate
    python3 compare.py --format json --out a.json; python3 compare.py --pool a.json b.json
"""
import signal
import sys

from study import cli


def loading_failed(kind, error, trace):
    """A missing library while the libraries load: one line, as later on."""
    if issubclass(kind, ImportError):  # scipy or joblib, say
        print(f"compare.py: error: {f'cannot import {error.name}' if error.name else error}: "
              "python3 -m pip install -r requirements.txt", file=sys.stderr)
    else:
        sys.__excepthook__(kind, error, trace)


if __name__ == "__main__":
    sys.excepthook = loading_failed
    held = cli.hold_signals()  # a Ctrl-C while the libraries load: said once they have
    cli.stop_with_parent()  # under make_report: stop when it is gone, however it ended

import argparse
import os

import original_net
from study import cluster, running, saved_reports, training
from study.cli import Parser, UsageError, listed, number
from study.files import check_path, claim_output, plot_format, put, written_through
from study.records import Seeds
from study.registry import (ARTICLE_PAIR, EXTENDED, HELD_OUT, MAX_RATES, MAX_SEEDS, NETS, PAIRS,
                            SEEDS, net_of, one_in)

if __name__ == "__main__":
    cli.release_signals("compare.py", held)

FORMATS = ("text", "markdown", "csv", "json")


EPILOG = """Output: the report goes to stdout (or --out), progress and messages to stderr. Each of
the article's claims gets one word over the seeds (holds, fails or unclear; a ? marks a
word another study may well not repeat), and the nets are compared on their mean test
accuracy over every seed and digit pair (worse, better, no difference shown; as good by
TOST; too few seeds below 40, or 93 for as good). How each word is reached, and why:
docs/METHODS.md. Exit status: 2 for a command line or files that cannot work, 1 for a
failed run, write or cluster, or a damaged report; 130 on Ctrl-C.
"""


def seed_block(text):
    """An argparse type: 'N' is seeds 0..N-1, 'A:B' seeds A..B-1: Seeds(A, B)."""
    first, colon, stop = text.partition(":")
    try:
        first, stop = (0, int(first)) if not colon else (int(first), int(stop))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not N or A:B, whole numbers") from None
    if not 0 <= first < stop or stop - first > MAX_SEEDS or stop > 2 ** 63:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not 1 to {MAX_SEEDS} seeds (N, or A:B with 0 <= A < B)")
    return Seeds(first, stop)


def net_name(text):
    """An argparse type: a net's short name (--nets), as its key."""
    try:
        return net_of(text)
    except StopIteration:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not {', '.join(net.short for net in NETS.values())}") from None


def parse_args(argv):
    parser = Parser(description=__doc__.splitlines()[0], epilog=EPILOG, allow_abbrev=False,
                    formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=seed_block, default=Seeds(0, SEEDS), metavar="N or A:B",
                        help=f"seeds 0..N-1, or A..B-1; every claim is judged over them "
                             f"(default {SEEDS}, at most {MAX_SEEDS} a study)")
    parser.add_argument("--epochs", type=number(int, 0, original_net.MAX_EPOCHS + 1),
                        default=500, help=f"default 500, at most {original_net.MAX_EPOCHS:,}")
    parser.add_argument("--ablation", action="store_true",
                        help="also run each broken line alone (broken green, broken red)")
    parser.add_argument("--controls", action="store_true",
                        help="also run the frozen-conv control: W1a..W2d never learn")
    parser.add_argument("--interventions", action="store_true",
                        help="also run the intervention nets: the true conv gradient turned "
                             "to the broken one's cosine (noise) or scaled by it (scaled)")
    parser.add_argument("--nets", nargs="+", metavar="NET", type=net_name,
                        help="train these nets only, by short name: "
                             f"{', '.join(net.short for net in NETS.values())}")
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
    parser.add_argument("--lr", type=number(float, 0), nargs="+", metavar="LR",
                        help="learning rate (default the nets': 0.001; 0.01 on four samples); "
                             "several sweep them: every net at every rate, on the same seeds "
                             f"(at most {MAX_RATES})")
    parser.add_argument("--tune", action="store_true",
                        help="judge each run on a validation fifth of its training images, "
                             "never the test images, and choose each net's best --lr")
    parser.add_argument("--tuned", metavar="JSON",
                        help="each net at the rate a saved --tune report chose for it (on "
                             "other seeds than the tuning's), judged on the test images")
    parser.add_argument("--momentum", type=number(float, 0, 1, low_ok=True),
                        help="default the nets': 0.9")
    parser.add_argument("--init", choices=training.INITS, default=training.INITS[0],
                        help="initial weights: normal (standard normal, the article's; "
                             "default) or lecun (each divided by the root of its fan-in)")
    parser.add_argument("--jobs", type=number(int, 0),
                        help=f"parallel processes (default and most: the CPUs, "
                             f"{running.available_cpus()}); with --scheduler, batches at once "
                             f"(default: the workers' threads)")
    parser.add_argument("--scheduler", metavar="ADDRESS",
                        help="run the batches on a Dask cluster: its scheduler's address, "
                             "such as tcp://host:8786 (needs dask[distributed])")
    parser.add_argument("--stall-seconds", type=number(float, 5, low_ok=True), metavar="S",
                        help="with --scheduler: a worker that sends no heartbeat for S "
                             "seconds is removed, its batch trained by another; a scheduler "
                             "that neither answers nor finishes a batch for as long, or no "
                             "worker left, ends the study (default "
                             f"{cluster.STALL_SECONDS}, at least 5)")
    parser.add_argument("--format", choices=FORMATS, default="text",
                        help="text (default, within 100 columns), markdown, csv (the cost "
                             "and accuracy table) or json (everything)")
    parser.add_argument("--out", help="write the report to this file instead of stdout")
    parser.add_argument("--plot", help="draw the figure into this file (.png, .svg, .pdf; "
                                       "needs matplotlib)")
    parser.add_argument("--four-samples", action="store_true",
                        help="train and test on the four embedded samples")
    reading = parser.add_mutually_exclusive_group()
    reading.add_argument("--side-by-side", nargs="+", metavar="JSON",
                       help="no training: the claims of saved --format json reports side by "
                            "side, and which words differ")
    reading.add_argument("--pool", nargs="+", metavar="JSON",
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
        if given:  # within 100 columns however many were given
            raise UsageError(f"{option} takes only {listed(['--' + t for t in takes], 3)}: "
                             f"not {listed(given, 1)}")
        if len(getattr(args, reading)) < 2:
            raise UsageError(f"{option} needs two or more saved reports")
    if not reading and args.digits[0] == args.digits[1]:
        raise UsageError(f"--digits needs two different digits, got {args.digits[0]} twice")
    if args.extended and (tuple(args.digits) != ARTICLE_PAIR or args.test_size is not None):
        raise UsageError("--extended sets its own digit pairs and test sizes: no --digits "
                         "or --test-size")
    if args.four_samples and (args.extended or args.test_size is not None
                              or tuple(args.digits) != ARTICLE_PAIR):
        raise UsageError("--four-samples takes no --test-size, --digits or --extended")
    if args.nets and (args.ablation or args.controls or args.interventions):
        raise UsageError("--nets names every net the study trains: no --ablation, --controls "
                         "or --interventions")
    if args.nets and len(set(args.nets)) < len(args.nets):
        raise UsageError("--nets names a net more than once")
    check_rates(args)
    if args.out is not None:
        check_path(args.out, "--out")
    if args.scheduler is not None:
        cluster.checked_scheduler(args.scheduler)
    elif args.stall_seconds is not None:
        raise UsageError("--stall-seconds needs --scheduler: it bounds a Dask cluster's silence")
    args.stall_seconds = args.stall_seconds or cluster.STALL_SECONDS
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


def check_rates(args):
    """--lr, --tune and --tuned: a list of distinct rates, sorted; a tuning that has rates
    to choose from; an evaluation that takes its rates from a tuning report (read here)."""
    if args.lr and len(set(args.lr)) < len(args.lr):
        twice = sorted({lr for lr in args.lr if args.lr.count(lr) > 1})
        raise UsageError(f"--lr gives {listed([f'{lr:g}' for lr in twice])} more than once"
                         if len(twice) <= 2 else f"--lr gives {len(twice)} rates more than "
                         f"once: {listed([f'{lr:g}' for lr in twice])}")
    if args.lr and len(args.lr) > MAX_RATES:
        raise UsageError(f"--lr gives {len(args.lr)} rates; a study takes at most {MAX_RATES}")
    args.lr = sorted(args.lr) if args.lr else None
    if args.tune and (not args.lr or len(args.lr) < 2):
        raise UsageError("--tune chooses among rates: give two or more, --lr A B ...")
    if args.tuned is not None:
        if args.lr or args.tune or args.four_samples:
            raise UsageError("--tuned takes each net's rate from its report: no --lr, --tune "
                             "or --four-samples")
        args.tuned = saved_reports.tuning_of(args.tuned)


def main(argv=None):
    """The command line; returns the exit status."""
    argv = sys.argv[1:] if argv is None else argv
    handler = cli.stop_on_sigterm()  # a study stops its workers as on Ctrl-C
    held = []  # the outputs' locks (claim_output), until the report is written
    try:
        return cli.run_main("compare.py", lambda argv: run(argv, held), argv)
    finally:
        signal.signal(signal.SIGTERM, handler)
        for lock in filter(None, held):
            lock.release()


def run(argv, held):
    """Parse the command line, hold the outputs, then read saved reports or train a
    study, and write its report; returns the exit status. held: the locks taken."""
    args = parse_args(argv)
    for path, option in ((args.out, "--out"), (args.plot, "--plot")):
        if path is not None and not written_through(path):
            held.append(claim_output(path, option))
    if args.side_by_side:
        put(saved_reports.side_by_side(args.side_by_side), args.out)
        return 0
    if args.pool:
        return running.write_report(args, *saved_reports.pool(args.pool, lambda line: print(
            f"compare.py: {line}", file=sys.stderr)))
    import scipy.stats  # noqa: F401 (verdicts.py needs it; missing, it is said before training)
    return running.train_and_report(args, argv)


if __name__ == "__main__":
    sys.exit(main())
