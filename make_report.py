"""Train the reproduction report's studies in parts, ship their runs, and render the report.

REPORT.md, its figures, REPORT.json and the findings in README.md all come from the runs
shipped beside them (REPORT-runs.csv.gz, REPORT-studies.json).

    python3 make_report.py --render        # the report from the shipped runs (seconds)
    python3 make_report.py --status        # which parts are shipped, and their times
    python3 make_report.py --part budget   # train one part and ship its runs
    python3 make_report.py                 # every part not yet shipped, then the report
    python3 make_report.py --cpus          # the simulated CPUs it would use here (about 4 s)

The report is made of parts, each a few compare.py studies run one after the other (PARTS
says what each is; each takes about an hour or less on 2 cores), whose runs are shipped as
each study ends: the table of runs is the resume cache. A study is trained again only
where no shipped study was trained by the same code (training.code_version), command and
simulated CPU; a run stopped at any point resumes at the study it was in. Each block of
fresh seeds runs under a simulated CPU, a setting that makes this machine round as another
CPU would (study/cpus.py). --fresh trains every study of the parts asked again;
--scheduler ADDRESS runs them on a Dask cluster.
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

from study import cpus, narrative, reproduction, saved_reports, shipped, tables, training
from study.cli import count
from study.files import write_file
from study.records import Checker, Refused, Seeds
from study.registry import BROKEN, ORIGINAL, SEEDS

if __name__ == "__main__":
    cli.release_signals("make_report.py", held)

HERE = os.path.dirname(os.path.abspath(__file__))  # the code, and where the report goes
OUT = HERE
SAVED = os.path.join(HERE, "reports")  # compare.py's full JSON reports (not in git)
GRID = (0.0001, 0.0002, 0.0003, 0.0005, 0.0007, 0.001, 0.002, 0.003)  # the learning rates
WIDE = GRID + (0.005, 0.01)  # the settings study's grid (times 10 without momentum)
SHARED = 0.001     # the rate the nets run at by default, and the article's study
EPOCHS, MOMENTUM, INIT = 500, 0.9, "normal"  # the article's epochs; the nets' defaults
LONG = 2000        # the budget's epochs
ARTICLE_RATES = 3  # the rates the article's claims are judged at
TUNING = Seeds(1000, 1010)  # the tuning's seeds: no other study draws them
BUDGET, SETTINGS_SEEDS = Seeds(150, 180), Seeds(180, 210)  # fresh blocks
BUDGET_AGAIN = Seeds(210, 240)  # the budget drawn again: fresh seeds, the next simulated CPU
# Four blocks of the tuned evaluation: 120 seeds, enough for "as good" (93, counted in
# seeds: verdicts.MIN_SEEDS_AS_GOOD).
ARTICLE_BLOCKS, EVALUATION_BLOCKS, RATE_BLOCKS = 4, 4, 2
# The settings the article leaves open, each combination (momentum, initial weights)
# tuned and evaluated on its own; today's, (0.9, normal), is the report's main line.
SETTINGS = ((0.9, "lecun"), (0.0, "normal"), (0.0, "lecun"))
STUDY_OPTIONS = []  # more compare.py options for every study (the tests' short epochs)
STOP_SECONDS = 2.5  # how long a study has to stop when asked, before it is killed
# The parts, in the order they run: what each is, and the part it needs first (its
# tuning chooses their rates).
PARTS = {
    "curve": ("the extended study at every rate of the grid, seeds 0:30", None),
    "tuned": ("each net's rate tuned on validation images, then evaluated in blocks", None),
    "article": ("the article's study at 0.001 in four blocks, and at two more rates",
                ("tuned",)),
    "interventions": ("the interventions and each broken line alone at every rate", None),
    "long-tuning": (f"each net's rate and epoch tuned over {LONG:,} epochs", None),
    "budget": (f"{LONG:,} epochs at the tuned rates, seeds {BUDGET}", ("tuned", "long-tuning")),
    "settings": ("momentum 0 and LeCun's weights, each tuned and evaluated", None),
    "budget-again": (f"the budget drawn again: seeds {BUDGET_AGAIN}, another simulated CPU",
                     ("tuned", "long-tuning")),
}


class StudyFailed(Exception):
    """A study ended otherwise than well, which make_report has said: exit with status."""


class NotShipped(cli.UsageError):
    """A part asked for what it needs, or --render for the runs, and they are not shipped:
    one line, exit status 2."""


# ---------------------------------------------------------------- the studies

@dataclass
class Study:
    """One compare.py study of the report."""
    name: str      # its file in reports/, without .json, and its name in the shipped runs
    part: str      # the part of make_report it is in (PARTS)
    kind: str      # what it is to the report: curve, tuning, tuned, article, rates, ...
    args: list     # compare.py's options, but --format, --out and STUDY_OPTIONS
    setting: dict  # its simulated CPU: name, env (the variables), fingerprint
    what: str      # what it is, in make_report's line


def block(i):
    """Block i's seeds: 0 to 29, 30 to 59, ..."""
    return Seeds(i * SEEDS, (i + 1) * SEEDS)


def rates_args(rates):
    return ["--lr", *(f"{lr:g}" for lr in rates)]


def common(epochs=EPOCHS, momentum=MOMENTUM, init=INIT):
    """The options every study gives, though they are compare.py's defaults: a study's
    command says all that its runs depend on."""
    return ["--epochs", str(epochs), "--momentum", f"{momentum:g}", "--init", init]


def tag(seeds):
    return f"{seeds.first}-{seeds.stop}"


def part_studies(part, settings, chosen, scheduler=None):
    """A part's studies, in the order they run. settings: the simulated CPUs; chosen(name):
    the rates the tuning study of that name chose, {net: lr} (it must have run). The
    tuned evaluation blocks run on the last settings, the article's take them in turn
    (numpy's SSE paths, the second setting, are the slowest: no extended study takes them
    where there are four; the budget drawn again takes the fourth)."""
    def cpu(i):
        return settings[i % len(settings)]
    more = ["--scheduler", scheduler] if scheduler else []

    def study(name, kind, args, setting, what):
        return Study(name, part, kind, [*args, *more], setting, what)

    def tuned_by(tuning):
        return ["--tuned", os.path.relpath(saved_path(tuning), HERE)]
    tuning, long_tuning = f"tuning-{tag(TUNING)}", f"budget-tuning-{tag(TUNING)}"

    def budget_study(seeds, setting):  # the budget's rates: those the tunings chose
        rates = budget_rates(chosen(tuning), chosen(long_tuning, over_epochs=True))
        return study(f"budget-{tag(seeds)}", "budget",
                     ["--extended", *rates_args(rates), *common(LONG), "--seeds", str(seeds)],
                     setting, f"the budget at lr {', '.join(f'{lr:g}' for lr in rates)}, "
                              f"seeds {seeds}")
    if part == "curve":
        yield study(f"curve-{tag(block(0))}", "curve",
                    ["--extended", *rates_args(GRID), *common(), "--alignment", "--seeds",
                     str(block(0))], cpu(0), f"the curve ({len(GRID)} rates), seeds {block(0)}")
    elif part == "tuned":
        yield study(tuning, "tuning", ["--extended", *rates_args(GRID), *common(), "--tune",
                                       "--seeds", str(TUNING)],
                    cpu(0), f"the tuning ({len(GRID)} rates), seeds {TUNING}")
        for i in range(EVALUATION_BLOCKS):
            seeds = block(i + 1)
            yield study(f"tuned-{tag(seeds)}", "tuned",
                        ["--extended", *tuned_by(tuning), *common(), "--seeds", str(seeds)],
                        cpu(-1 - i), f"the tuned evaluation, seeds {seeds}")
    elif part == "article":
        for i in range(ARTICLE_BLOCKS):
            extra = ["--ablation", "--alignment"] if i == 0 else []
            yield study(f"article-{tag(block(i))}", "article",
                        [*common(), "--seeds", str(block(i)), *extra], cpu(i),
                        f"the article's, seeds {block(i)}")
        rates = other_rates(chosen(tuning))
        for i in range(RATE_BLOCKS):
            yield study(f"rates-{tag(block(i))}", "rates",
                        [*rates_args(rates), *common(), "--seeds", str(block(i))], cpu(i),
                        f"the article's at lr {', '.join(f'{lr:g}' for lr in rates)}, "
                        f"seeds {block(i)}")
    elif part == "interventions":
        yield study(f"interventions-{tag(block(0))}", "interventions",
                    ["--extended", *rates_args(GRID), "--nets", "green", "red", "noise",
                     "scaled", *common(), "--seeds", str(block(0))], cpu(0),
                    f"the interventions ({len(GRID)} rates), seeds {block(0)}")
    elif part == "long-tuning":
        yield study(long_tuning, "budget-tuning",
                    ["--extended", *rates_args(GRID), *common(LONG), "--tune", "--seeds",
                     str(TUNING)], cpu(0), f"the tuning over {LONG:,} epochs, seeds {TUNING}")
    elif part == "budget":
        yield budget_study(BUDGET, cpu(0))
    elif part == "budget-again":  # its word drawn again: fresh seeds, another simulated CPU
        yield budget_study(BUDGET_AGAIN, cpu(3))
    elif part == "settings":
        for momentum, init in SETTINGS:
            name = setting_name(momentum, init)
            grid = WIDE if momentum else [round(10 * lr, 12) for lr in WIDE]
            yield study(f"{name}-tuning-{tag(TUNING)}", "settings-tuning",
                        ["--extended", *rates_args(grid), *common(EPOCHS, momentum, init),
                         "--tune", "--seeds", str(TUNING)], cpu(0),
                        f"the tuning under momentum {momentum:g}, {init} weights")
            yield study(f"{name}-{tag(SETTINGS_SEEDS)}", "settings-tuned",
                        ["--extended", *tuned_by(f"{name}-tuning-{tag(TUNING)}"),
                         *common(EPOCHS, momentum, init), "--seeds", str(SETTINGS_SEEDS)],
                        cpu(0), f"its evaluation, seeds {SETTINGS_SEEDS}")


def setting_name(momentum, init):
    """'settings-m0-lecun': a combination's studies' names."""
    return f"settings-m{momentum:g}-{init}"


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


def budget_rates(tuned, long_tuned):
    """The budget's rates: the original's and the broken net's, as the tuning at the
    article's epochs chose them, and as the tuning over rate and epoch chose them (the
    frozen control trains at each of them too)."""
    return sorted({choice[net] for choice in (tuned, long_tuned) for net in (ORIGINAL, BROKEN)})


def saved_path(name):
    return os.path.join(SAVED, f"{name}.json")


def command_of(study):
    """compare.py's command line for a study: what its saved report records."""
    out = os.path.relpath(saved_path(study.name), HERE)
    return ["--format", "json", "--out", out, *study.args, *STUDY_OPTIONS]


def identity(study_dict):
    """What makes two studies' runs the same: the code that trains them, their command
    (but where it ran: --scheduler) and the simulated CPU (a cluster's workers compute as
    their own CPUs: not compared)."""
    words = shlex.split(study_dict["command"])
    if "--scheduler" in words:
        at = words.index("--scheduler")
        return study_dict["code"], shlex.join(words[:at] + words[at + 2:]), None
    return (study_dict["code"], study_dict["command"],
            study_dict["environment"].get("setting", ""))


def planned_identity(study):
    """identity() of the study as it would run now."""
    return identity(dict(code=training.code_version(), command=shlex.join(
        ["python3", "compare.py", *command_of(study)]), environment=dict(
        setting=cpus.words(study.setting["env"]))))


# ---------------------------------------------------------------- training a part

def run_study(study):
    """Run compare.py for a study, its JSON report into reports/, under its simulated CPU;
    StudyFailed, said in one line, if it ends otherwise than well.

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
        how = (f"was killed by {signal.Signals(-status).name}" if status < 0 and
               -status in signal.valid_signals() else f"ended with exit status {status}")
        cli.say(f"make_report.py: error: {study.name} {how}; run make_report.py again to "
                f"resume (the studies shipped are kept)")
        raise StudyFailed(1)


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


def saved_runs(study):
    """The runs of a study's saved report in reports/, checked as --pool checks a report
    (its settings and every run's fields), if it is there, complete and made as the study
    would be now; None if it is not there or not the same study; Refused if it is
    damaged."""
    try:
        with open(saved_path(study.name)) as file:
            data = json.load(file)
        same = identity(data["study"]) == planned_identity(study)
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        same = False
    if not same:
        return None
    checker = Checker(os.path.relpath(saved_path(study.name)), data, "saved study")
    settings, env = saved_reports.block_of(checker)
    return data["study"], saved_reports.runs_of(checker, settings)


def ship(study, study_dict, runs, order):
    """A study's runs into the shipped files."""
    shipped.add(OUT, dict(name=study.name, part=study.part, kind=study.kind, order=order,
                          cpu=study.setting, study=study_dict), runs)


def train_parts(parts, settings, fresh=False, scheduler=None):
    """The studies of parts, each shipped as it ends: reused where the shipped runs hold it
    (made by this code, with this command and simulated CPU) unless fresh, else taken from
    reports/ where compare.py saved it so, else trained."""
    os.makedirs(SAVED, exist_ok=True)
    found = shipped.load(OUT)
    order = list(PARTS)

    def chosen(name, over_epochs=False):
        """The rates a shipped tuning study chose: at its last epoch, or over_epochs,
        with the epoch (reproduction.best_rate_and_epoch)."""
        entry, runs = found[name]
        settings = shipped.study_settings(entry)
        if over_epochs:
            return {net: reproduction.best_rate_and_epoch(runs, settings["lrs"], net)["lr"]
                    for net in settings["nets"]}
        return {net: row["lr"] for net, row in tables.tuning(runs, settings).items()}
    start = time.perf_counter()
    for at, part in enumerate(parts):
        for needs in PARTS[part][1] or ():
            if needs not in parts[:at] and not any(entry["part"] == needs
                                                   for entry, _ in found.values()):
                raise NotShipped(f"part {part} needs part {needs}: run make_report.py "
                                 f"--part {needs} first")
        for i, study in enumerate(part_studies(part, settings, chosen, scheduler)):
            index = order.index(part) * 100 + i
            entry = found.get(study.name, (None,))[0]
            if not fresh and entry and identity(entry["study"]) == planned_identity(study):
                cli.say(f"make_report.py: {part}: {study.what}: shipped, reused")
                continue
            try:
                saved = None if fresh else saved_runs(study)
            except Refused as damaged:
                cli.say(f"make_report.py: {damaged}; training it again")
                saved = None
            if saved is None:
                cli.say(f"make_report.py: {part} at {(time.perf_counter() - start) / 60:.0f} "
                        f"min: {study.what}, {as_cpu_text(study.setting)}")
                run_study(study)
                saved = saved_runs(study)
                if saved is None:  # it ended well, yet its report is not the one planned
                    cli.say(f"make_report.py: error: {study.name} wrote no report made as "
                            f"planned ({os.path.relpath(saved_path(study.name))})")
                    raise StudyFailed(1)
            else:
                cli.say(f"make_report.py: {part}: {study.what}: shipping "
                        f"{os.path.relpath(saved_path(study.name))}")
            ship(study, *saved, index)
            found = shipped.load(OUT)
            if study.kind.endswith("tuning"):  # a tuned evaluation reads it from reports/
                write_tuning(study.name, *found[study.name])


def write_tuning(name, entry, runs):
    """A tuning study's choice in reports/, as compare.py --tuned reads it, where it was
    shipped without its saved report (another machine trained it)."""
    if not os.path.exists(saved_path(name)):
        text = json.dumps(dict(study=entry["study"], tuning=tables.tuning(
            runs, shipped.study_settings(entry))), indent=1)
        write_file(saved_path(name), lambda file: file.write(text.encode()))


def as_cpu_text(setting):
    """'as is', or 'as Sandybridge + SSE'."""
    return "as is" if not setting["env"] else f"as {setting['name']}"


# ---------------------------------------------------------------- the report

def render():
    """REPORT.md, REPORT.json, the figures and README.md's findings from the shipped
    runs; a part not shipped yet is said so where its section would be."""
    found = shipped.load(OUT)
    if not found:
        raise NotShipped(f"no shipped runs in {os.path.relpath(OUT) or '.'}: "
                         f"make_report.py --part curve makes the first")
    studies = reproduction.load(found)
    report = reproduction.gather(studies, dict(grid=list(GRID), shared=SHARED, parts=PARTS))
    write_file(os.path.join(OUT, "REPORT.md"),
               lambda file: file.write(narrative.markdown(report).encode()))
    write_file(os.path.join(OUT, "REPORT.json"), lambda file: file.write(
        (json.dumps(report, indent=1) + "\n").encode()))
    for name, draw in reproduction.figures(report, studies).items():
        write_file(os.path.join(OUT, name), draw)
    readme = os.path.join(OUT, "README.md")
    if os.path.exists(readme):
        with open(readme) as file:
            text = narrative.with_findings(file.read(), report)
        write_file(readme, lambda file: file.write(text.encode()))
    missing = [part for part in PARTS if part not in report["made"]["parts_shipped"]]
    cli.say("make_report.py: wrote REPORT.md, REPORT.json, its figures and README.md's "
            "findings" + (f"; not yet run: {', '.join(missing)}" if missing else ""))


def planned_count(part):
    """How many studies a part trains."""
    return {"tuned": 1 + EVALUATION_BLOCKS, "article": ARTICLE_BLOCKS + RATE_BLOCKS,
            "settings": 2 * len(SETTINGS)}.get(part, 1)


def status():
    """Each part: its studies shipped of those it trains, and the minutes they took."""
    found = shipped.load(OUT)
    print(f"{'part':<14} {'studies':>8} {'minutes':>8}  what")
    for part, (what, _) in PARTS.items():
        studies = [entry for entry, _ in found.values() if entry["part"] == part]
        minutes = sum(entry["study"]["wall_seconds"] for entry in studies) / 60
        print(f"{part:<14} {len(studies):>4} of {planned_count(part)} {minutes:>6.0f}  {what}")
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
        "Each part takes about an hour or less on 2 cores (--status gives each shipped "
        "part's time). Stopped at any point, run it again: the studies already shipped are "
        "reused, and it says which."))
    what = parser.add_mutually_exclusive_group()
    what.add_argument("--render", action="store_true",
                      help="no training: the report again from the shipped runs (seconds)")
    what.add_argument("--status", action="store_true",
                      help="no training: which parts are shipped, and their times")
    what.add_argument("--cpus", action="store_true",
                      help="print the simulated CPUs the blocks would run under here: name, "
                           "variables, fingerprint (about 4 s)")
    what.add_argument("--part", nargs="+", choices=list(PARTS), metavar="PART",
                      help=f"train these parts only: {', '.join(PARTS)}")
    parser.add_argument("--fresh", action="store_true",
                        help="train the studies again, reusing none of the shipped runs")
    parser.add_argument("--scheduler", metavar="ADDRESS",
                        help="run the studies on a Dask cluster (compare.py --scheduler); its "
                             "workers compute as their own CPUs do")
    args = parser.parse_args(argv)
    trains = not (args.render or args.status or args.cpus)
    if args.scheduler and not trains:
        raise cli.UsageError("--scheduler trains: it takes no --render, --status or --cpus")
    if args.fresh and not trains:
        raise cli.UsageError("--fresh trains the studies again: it takes no --render, "
                             "--status or --cpus")
    if args.scheduler:
        from study import cluster
        cluster.checked_scheduler(args.scheduler)
    if args.status:
        return status()
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
        if trains:
            train_parts(args.part or list(PARTS), choose_cpus(), args.fresh, args.scheduler)
        render()
    except StudyFailed as failed:  # said already
        return failed.args[0]
    return 0


if __name__ == "__main__":
    sys.exit(main())
