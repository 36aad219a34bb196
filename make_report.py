"""Regenerate REPORT.md, the reproduction report, its figures, REPORT.json and the findings
in README.md.

    python3 make_report.py            # every study: about 90 minutes on 2 cores
    python3 make_report.py --cpus     # the simulated CPUs it would use here (about 4 s)
    python3 make_report.py --render   # the report again from the saved studies, no training

It runs compare.py's studies one after the other, each saved in reports/, then reads
them back (study/reproduction.py) and writes the report:

1. the curve: the extended study (4 digit pairs, the frozen-conv control) at every rate
   of GRID, seeds 0:30, with the alignment measure;
2. the tuning: the same at every rate on TUNING seeds, each run judged on a validation
   fifth of its training images, never the test images: each net's rate chosen;
3. the tuned evaluation: each net at its chosen rate on the test images of fresh seeds,
   two blocks on distinct simulated CPUs, pooled;
4. the article's study at 0.001 (the rate its nets run at): four blocks of 30 seeds,
   each on another simulated CPU, the first with the ablation and the alignment
   measure, pooled;
5. the article's study at two more rates (each net's tuned rate, or the grid's nearest
   to 0.001), on the first two blocks' seeds: its claims at three rates.

Interrupted (Ctrl-C, a lost machine), run it again: every study already saved by this
code, with the same command and simulated CPU, is reused, and said so. --fresh trains
every study again. --scheduler ADDRESS runs every study on a Dask cluster.
"""
import signal
import sys

from study import cli

if __name__ == "__main__":
    held = cli.hold_signals()  # a Ctrl-C while the libraries load: said once they have

import json
import os
import shlex
import subprocess
import threading
import time
from dataclasses import dataclass

from study import cpus, reproduction, training
from study.cli import count
from study.files import write_file
from study.records import Seeds
from study.registry import BROKEN, ORIGINAL, SEEDS

if __name__ == "__main__":
    cli.release_signals("make_report.py", held)

HERE = os.path.dirname(os.path.abspath(__file__))  # the code, and where the report goes
OUT = HERE
SAVED = os.path.join(HERE, "reports")  # the studies' full JSON reports (not in git)
GRID = (0.0001, 0.0002, 0.0003, 0.0005, 0.0007, 0.001, 0.002, 0.003)  # the learning rates
SHARED = 0.001     # the rate the nets run at by default, and the article's study
EPOCHS, MOMENTUM, INIT = 500, 0.9, "normal"  # the article's epochs; the nets' defaults
ARTICLE_RATES = 3  # the rates the article's claims are judged at
TUNING = Seeds(1000, 1010)  # the tuning's seeds: no other study draws them
ARTICLE_BLOCKS, EVALUATION_BLOCKS, RATE_BLOCKS = 4, 2, 2
STUDY_OPTIONS = []  # more compare.py options for every study (the tests' short epochs)
STOP_SECONDS = 2.5  # how long a study has to stop when asked, before it is killed
FULL_RUN = "about 90 minutes"  # on 2 cores of an Intel Xeon (docs/SPEED.md)


class StudyFailed(Exception):
    """A study ended with an error, which compare.py has said: exit with its status."""


class NotSaved(cli.UsageError):
    """--render without the saved studies: one line, exit status 2."""


# ---------------------------------------------------------------- the studies

@dataclass
class Study:
    """One compare.py study of the report."""
    name: str      # its file in reports/, without .json: curve-0-30
    part: str      # which part of the report it is: curve, tuning, tuned, article, rates
    args: list     # compare.py's options, but --format, --out and STUDY_OPTIONS
    setting: dict  # its simulated CPU: name, env (the variables), fingerprint
    what: str      # what it is, in make_report's line


def block(i):
    """Block i's seeds: 0 to 29, 30 to 59, ..."""
    return Seeds(i * SEEDS, (i + 1) * SEEDS)


def grid_args(grid=None):
    return ["--lr", *(f"{lr:g}" for lr in grid or GRID)]


def common(epochs=EPOCHS, momentum=MOMENTUM, init=INIT):
    """The options every study gives, though they are compare.py's defaults: a study's
    command says all that its runs depend on."""
    return ["--epochs", str(epochs), "--momentum", f"{momentum:g}", "--init", init]


def planned(settings, scheduler=None):
    """The studies before the article's other rates (which the tuning chooses): the
    curve, the tuning, its evaluation blocks and the article's blocks, in the order they
    run. The evaluation blocks run on the last settings, the article's take them in turn
    (numpy's SSE paths, the second setting, are the slowest: no extended study takes
    them where there are four)."""
    def cpu(i):
        return settings[i % len(settings)]
    more = ["--scheduler", scheduler] if scheduler else []
    curve, tuning = block(0), TUNING
    studies = [
        Study(f"curve-{curve.first}-{curve.stop}", "curve",
              ["--extended", *grid_args(), *common(), "--alignment", "--seeds", str(curve),
               *more], cpu(0), f"the curve ({len(GRID)} rates), seeds {curve}"),
        Study(f"tuning-{tuning.first}-{tuning.stop}", "tuning",
              ["--extended", *grid_args(), *common(), "--tune", "--seeds", str(tuning), *more],
              cpu(0), f"the tuning ({len(GRID)} rates), seeds {tuning}")]
    for i in range(EVALUATION_BLOCKS):
        seeds = block(i + 1)
        studies.append(Study(
            f"tuned-{seeds.first}-{seeds.stop}", "tuned",
            ["--extended", "--tuned", os.path.relpath(saved_path(studies[1].name), HERE),
             *common(), "--seeds", str(seeds), *more], cpu(-1 - i),
            f"the tuned evaluation, seeds {seeds}"))
    for i in range(ARTICLE_BLOCKS):
        seeds = block(i)
        extra = ["--ablation", "--alignment"] if i == 0 else []
        studies.append(Study(f"article-{seeds.first}-{seeds.stop}", "article",
                             [*common(), "--seeds", str(seeds), *extra, *more], cpu(i),
                             f"the article's, seeds {seeds}"))
    return studies


def with_rates(studies, settings, rates, scheduler=None):
    """The studies and then the article's at its other rates, on the first blocks' seeds
    and simulated CPUs."""
    more = ["--scheduler", scheduler] if scheduler else []
    return studies + [
        Study(f"rates-{block(i).first}-{block(i).stop}", "rates",
              ["--lr", *(f"{lr:g}" for lr in rates), *common(), "--seeds", str(block(i)),
               *more], settings[i % len(settings)],
              f"the article's at lr {', '.join(f'{lr:g}' for lr in rates)}, seeds {block(i)}")
        for i in range(RATE_BLOCKS)]


def other_rates(chosen):
    """The article's rates besides SHARED: each net's tuned rate (chosen: {net: lr}),
    then the grid's rates nearest SHARED, until there are ARTICLE_RATES."""
    rates = {SHARED, chosen[ORIGINAL], chosen[BROKEN]}
    middle = GRID.index(SHARED)
    for lr in sorted(GRID, key=lambda lr: (abs(GRID.index(lr) - middle), -lr)):
        if len(rates) >= ARTICLE_RATES:
            break
        rates.add(lr)
    return sorted(rates - {SHARED})


def saved_path(name):
    return os.path.join(SAVED, f"{name}.json")


def command_of(study):
    """compare.py's command line for a study: what its saved report records."""
    out = os.path.relpath(saved_path(study.name), HERE)
    return ["--format", "json", "--out", out, *study.args, *STUDY_OPTIONS]


def reusable(study):
    """The study's saved report, if it is complete and was made by this code with this
    command under this simulated CPU; else None."""
    try:
        with open(saved_path(study.name)) as file:
            found = json.load(file)
        recorded = found["study"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    same_cpu = ("--scheduler" in study.args  # the workers compute as their own CPUs do
                or recorded.get("environment", {}).get("setting", "")
                == cpus.words(study.setting["env"]))
    same = (recorded.get("command") == shlex.join(["python3", "compare.py",
                                                   *command_of(study)])
            and recorded.get("code") == training.code_version() and same_cpu)
    return found if same and "runs" in found else None


def run_study(study):
    """Run compare.py for a study, its JSON report into reports/, under its simulated CPU.

    compare.py runs in a session of its own, so that it and its workers are stopped
    together (its process group) when make_report is; its stderr is passed on line by
    line until then, so that a stopped study says nothing more than make_report's line.
    """
    command = [sys.executable, os.path.join(HERE, "compare.py"), *command_of(study)]
    child_env = {k: v for k, v in os.environ.items() if k not in cpus.SIMULATING}
    # A pipe whose write end only this process holds: however this process ends, even by
    # SIGKILL, the study sees the pipe end and stops (cli.stop_with_parent).
    alive, held = os.pipe()
    try:
        child = subprocess.Popen(command, env=dict(child_env, **study.setting["env"],
                                                   **{cli.PARENT_FD: str(alive)}),
                                 cwd=HERE, stderr=subprocess.PIPE, text=True,
                                 start_new_session=True, pass_fds=(alive,))
    except BaseException:
        os.close(held)
        raise
    finally:
        os.close(alive)
    passing = threading.Event()
    passing.set()

    def pass_on():
        for line in child.stderr:
            if passing.is_set():
                sys.stderr.write(line)
                sys.stderr.flush()
    reader = threading.Thread(target=pass_on, daemon=True)
    reader.start()
    try:
        status = child.wait()
    except BaseException:  # Ctrl-C, SIGTERM or anything else: stop the study first
        passing.clear()
        end(child)
        raise
    finally:
        os.close(held)
    reader.join()
    if status:
        raise StudyFailed(status)
    with open(saved_path(study.name)) as file:
        return json.load(file)


def end(child):
    """Stop a study and its workers: SIGTERM to its process group (compare.py stops its
    workers and exits), then SIGKILL to whatever is left after STOP_SECONDS."""
    for signum, seconds in ((signal.SIGTERM, STOP_SECONDS), (signal.SIGKILL, 5)):
        try:
            os.killpg(child.pid, signum)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            child.poll()  # reaped, compare.py no longer counts as a member of its group
            try:
                os.killpg(child.pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.05)


def choose_cpus():
    """The simulated CPUs the blocks run under (cpus.distinct), said on stderr."""
    found = cpus.distinct(progress=lambda line: cli.say(f"make_report.py: {line}"))
    cli.say(f"make_report.py: {count(len(found), 'setting')} computing other bits here: "
            + "; ".join(name for name, *_ in found))
    return [dict(name=name, env=env, fingerprint=f) for name, env, f in found]


def train_all(settings, fresh=False, scheduler=None):
    """Every study, each reused where a saved one will do (unless fresh); returns the
    saved reports by name, the article's other rates, and the minutes the studies took:
    this run's, and the training time recorded in each study it reused (so that a resumed
    run reports what making them all cost, not what was left)."""
    start = time.perf_counter()
    os.makedirs(SAVED, exist_ok=True)
    saved, reused_seconds = {}, []

    def run_each(studies, total):
        for i, study in enumerate(studies, 1 + len(saved)):
            found = None if fresh else reusable(study)
            where = os.path.relpath(saved_path(study.name))
            if found is not None:
                cli.say(f"make_report.py: study {i}/{total}, {study.what}: reusing {where}")
                reused_seconds.append(found["study"].get("wall_seconds", 0))
            else:
                elapsed = (time.perf_counter() - start) / 60
                cli.say(f"make_report.py: study {i}/{total} at {elapsed:.0f} min: {study.what}, "
                        f"{as_cpu_text(study.setting)}")
                found = run_study(study)
            saved[study.name] = found

    first = planned(settings, scheduler)
    total = len(first) + RATE_BLOCKS
    run_each(first, total)
    chosen = {net: row["lr"] for net, row in saved[first[1].name]["tuning"].items()}
    rates = other_rates(chosen)
    run_each(with_rates([], settings, rates, scheduler), total)
    return saved, rates, (time.perf_counter() - start + sum(reused_seconds)) / 60


def as_cpu_text(setting):
    """'as is', or 'as Sandybridge + SSE'."""
    return "as is" if not setting["env"] else f"as {setting['name']}"


def load(path):
    """A saved JSON study: NotSaved (exit 2) if there is none, cli.Failure (exit 1) if it
    is damaged; either way, a run without --render makes what is missing."""
    try:
        with open(path) as file:
            return json.load(file)
    except FileNotFoundError:
        raise NotSaved(f"no saved studies in {os.path.relpath(SAVED)}/: a full run makes "
                       f"them, {FULL_RUN}") from None
    except (OSError, ValueError, RecursionError) as error:
        why = getattr(error, "strerror", None) or "not a JSON file"
        raise cli.Failure(f"{os.path.relpath(path)}: {why}; run without --render") from None


# ---------------------------------------------------------------- the report

def build(render, fresh=False, scheduler=None):
    """Run the studies (or, with render, load the saved ones) and write the report."""
    info = os.path.join(SAVED, "make_report.json")
    if render:
        made = load(info)
        studies = with_rates(planned(made["settings"]), made["settings"], made["rates"])
        saved = {study.name: load(saved_path(study.name)) for study in studies}
    else:
        settings = choose_cpus()
        saved, rates, minutes = train_all(settings, fresh, scheduler)
        studies = with_rates(planned(settings, scheduler), settings, rates, scheduler)
        made = dict(settings=settings, rates=rates, minutes=minutes, cores=os.cpu_count(),
                    grid=list(GRID), shared=SHARED, scheduler=scheduler)
        write_file(info, lambda file: file.write(json.dumps(made, indent=1).encode()))
    parts = {study.name: study.part for study in studies}
    paths = {study.name: saved_path(study.name) for study in studies}
    found = reproduction.gather(made, saved, parts, paths)
    write_file(os.path.join(OUT, "REPORT.md"),
               lambda file: file.write(reproduction.markdown(found).encode()))
    write_file(os.path.join(OUT, "REPORT.json"), lambda file: file.write(
        (json.dumps(found, indent=1) + "\n").encode()))
    for name, draw in reproduction.figures(found, paths, parts).items():
        write_file(os.path.join(OUT, name), draw)
    readme = os.path.join(OUT, "README.md")
    if os.path.exists(readme):
        with open(readme) as file:
            text = reproduction.with_findings(file.read(), found)
        write_file(readme, lambda file: file.write(text.encode()))
    cli.say("make_report.py: wrote REPORT.md, REPORT.json, its figures and README.md's "
            "findings" + ("" if render else f" ({count(round(made['minutes']), 'minute')})"))
    return 0


# ---------------------------------------------------------------- command line

def main(argv=None):
    """The command line; returns the exit status."""
    handler = cli.stop_on_sigterm()  # the studies are stopped as on Ctrl-C
    try:
        return cli.run_main("make_report.py", run, argv)
    finally:
        signal.signal(signal.SIGTERM, handler)


def run(argv):
    parser = cli.Parser(description=__doc__.splitlines()[0], allow_abbrev=False, epilog=(
        f"Every study: {FULL_RUN} on 2 cores of an Intel Xeon (docs/SPEED.md). Stopped at any "
        "point, run it again: the studies already saved are reused, and it says which."))
    what = parser.add_mutually_exclusive_group()
    what.add_argument("--render", action="store_true",
                      help="no training: the report again from the studies saved in reports/ "
                           "(seconds)")
    what.add_argument("--cpus", action="store_true",
                      help="print the simulated CPUs the blocks would run under here: name, "
                           "variables, fingerprint (about 4 s on the machine below)")
    parser.add_argument("--fresh", action="store_true",
                        help="train every study again, reusing none of reports/ (by default "
                             "a study saved by this code with the same command is reused)")
    parser.add_argument("--scheduler", metavar="ADDRESS",
                        help="run every study on a Dask cluster (compare.py --scheduler); its "
                             "workers compute as their own CPUs do")
    args = parser.parse_args(argv)
    if args.scheduler and (args.render or args.cpus):
        raise cli.UsageError("--scheduler trains: it takes no --render or --cpus")
    if args.fresh and (args.render or args.cpus):
        raise cli.UsageError("--fresh trains every study again: it takes no --render or --cpus")
    if args.scheduler:
        from study import cluster
        cluster.checked_scheduler(args.scheduler)
    if args.cpus:
        cli.say("make_report.py: trying each candidate setting with a 3-epoch fingerprint run")
        found = cpus.distinct(progress=lambda line: cli.say(f"make_report.py: {line}"))
        print(f"{'setting':<18} {'variables':<60} fingerprint", flush=True)
        for name, env, digits in found:
            print(f"{name:<18} {cpus.words(env) or '-':<60} {digits}", flush=True)
        cli.say(f"make_report.py: {count(len(found), 'setting')} compute other bits here; "
                "which do depends on the CPU (docs/METHODS.md, 'Replication')")
        return 0
    try:
        return build(args.render, args.fresh, args.scheduler)
    except StudyFailed as failed:  # compare.py has said why
        return failed.args[0]


if __name__ == "__main__":
    sys.exit(main())
