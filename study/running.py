"""A study run from compare.py's command line: its data and settings, its runs trained
(training.py), its tables (tables.py) and its report and figure written (report.py,
files.py)."""
import datetime
import os
import shlex
import sys
import time

import original_net
from study import cli, cluster as dask_cluster, cpus, figures, report, tables, training, verdicts
from study.cli import UsageError
from study.files import WriteFailed, put, write_file
from study.registry import EXPERIMENTS, EXTENDED, NETS, PAIRS, in_words, study_nets
from study.training import StudyError


def available_cpus():
    """The CPUs this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


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
                         f"need {need / 2 ** 30:,.0f} GiB, {free / 2 ** 30:,.0f} free")


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


def train_and_report(args, argv):
    """Run the study that args describe and write its report; returns the exit status."""
    data = training.data_settings(args)
    defaults = original_net.FOUR_SAMPLE_DEFAULTS if data["four_samples"] else original_net.DEFAULTS
    nets = ([net for net in NETS if net in args.nets] if args.nets else
            study_nets(args.ablation, args.controls or args.extended, args.interventions))
    rates = (sorted(set(args.tuned["lrs"].values())) if args.tuned
             else args.lr or [defaults["lr"]])
    settings = dict(data, epochs=args.epochs, seeds=args.seeds.count,
                    first_seed=args.seeds.first,
                    **({"lr": rates[0]} if len(rates) == 1 and not args.tuned else {}),
                    lrs=rates,
                    momentum=defaults["momentum"] if args.momentum is None else args.momentum,
                    init=args.init,
                    experiments=[EXTENDED] if args.extended else list(EXPERIMENTS),
                    nets=nets, ablation=any(NETS[n].ablation for n in nets),
                    alignment=args.alignment,
                    extended=args.extended, tune=args.tune)
    if args.tuned:
        settings.update(tuned_settings(args.tuned, settings, args.seeds))
    runs = training.plan(settings)
    settings["runs"] = len(runs)
    check_memory(runs, settings)
    cluster = None
    if args.scheduler:
        cluster, threads = dask_cluster.connect(args.scheduler)
        jobs = threads if args.jobs is None else args.jobs
    else:
        jobs = local_jobs(args.jobs)
    try:
        start = time.perf_counter()
        results, n_batches = training.run_study(runs, settings, min(jobs, len(runs)), cluster,
                                                args.stall_seconds)
        seconds = time.perf_counter() - start
        environment = (cpus.environment() if cluster is None
                       else cluster_environment(cluster, args.scheduler))
    finally:
        if cluster is not None:
            dask_cluster.disconnect(cluster)
    steps = sum(args.epochs * run["train_size"] for run in runs)
    title = (f"Beyond the article: the frozen-conv control and {in_words(len(PAIRS))} digit "
             "pairs" if args.extended
             else "Original net against broken back prop net"
             + (", with the frozen-conv control" if args.controls else ""))
    title += (": each net's learning rate tuned on validation images" if args.tune else
              ": each net at its tuned learning rate" if args.tuned else
              f": {len(rates)} learning rates" if len(rates) > 1 else "")
    study = dict(title=title, command=shlex.join(["python3", "compare.py"] + list(argv)),
                 date=datetime.date.today().isoformat(), code=training.code_version(),
                 settings=dict(settings, digits=[list(p) for p in settings["digits"]],
                               test_sizes=by_pair(data["test_sizes"]),
                               train_sizes=by_pair(data["train_sizes"]),
                               **({"validation_sizes": by_pair(data["validation_sizes"])}
                                  if args.tune else {})),
                 environment=environment, jobs=min(jobs, len(runs)), batches=n_batches,
                 wall_seconds=seconds,
                 run_steps_per_second=steps / seconds)
    return write_report(args, study, results, settings)


# What an evaluation must share with its tuning: all but the seeds, the CPU and the rates.
TUNED_SAME = ("epochs", "momentum", "init", "experiments", "digits", "test_sizes",
              "four_samples", "extended", "nets")


def tuned_settings(tuning, settings, seeds):
    """An evaluation's settings from its tuning report (saved_reports.tuning_of): each
    net's rate, and the tuning's seeds, which must be other seeds than the evaluation's.
    UsageError where they overlap, or where the tuning's settings differ."""
    differ = [key for key in TUNED_SAME if tuning["settings"][key] != settings[key]]
    if differ:
        raise UsageError(f"--tuned {tuning['file']}: its {cli.listed(differ)} differ from "
                         "this study's")
    tuned_on = tuning["seeds"]
    if seeds.first < tuned_on.stop and tuned_on.first < seeds.stop:
        raise UsageError(f"--tuned {tuning['file']}: seeds {tuned_on} overlap --seeds")
    return dict(tuned=tuning["lrs"], tuning_seeds=[tuned_on.first, tuned_on.stop],
                tuning_report=tuning["file"])


def draw(found, settings, file, fmt, title=""):
    """The study's figure into file, titled with what it shows (the study, its rates and
    seeds): a sweep's accuracy against the learning rate (with each net's chosen rate
    when it tunes); else its runs' curves."""
    title = f"{title}: {report.rates_text(settings)}, {report.seeds_text(settings)}"
    if found["sweep"]:
        chosen = {net: row["lr"] for net, row in found["tuning"].items()}
        figures.sweep_plot(found["sweep"], file, fmt, chosen or None, title)
    else:
        figures.plot(found["runs"], tables.group_of(settings), settings["alignment"], file,
                     fmt, title)


def write_report(args, study, results, settings):
    """The report of a study (trained or pooled) in args.format to args.out or stdout,
    and its figure to args.plot; returns the exit status."""
    try:
        found = tables.study_tables(results, settings)
    except verdicts.NotJudged as error:
        raise StudyError(error) from None
    text = (report.json_report(study, found) if args.format == "json"
            else report.text_report(study, found, args.format))
    status, stdout_failed = 0, None  # one output failing does not lose the other
    try:
        put(text, args.out)
    except WriteFailed as error:
        cli.say(f"compare.py: error: {error}")
        status = 1
    except OSError as error:  # stdout closed (| head) or full: said last
        stdout_failed = error
    if args.plot:
        try:
            write_file(args.plot, lambda file: draw(found, settings, file, args.plot_format,
                                                    study["title"]))
            print(f"compare.py: wrote {args.plot}", file=sys.stderr)
        except WriteFailed as error:
            cli.say(f"compare.py: error: {error}")
            status = 1
    if stdout_failed:
        return max(status, cli.output_failed("compare.py", stdout_failed))
    return status

