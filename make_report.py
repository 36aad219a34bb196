"""Regenerate REPORT.md, the reproduction report, its figures and REPORT.json.

    python3 make_report.py            # about 25 minutes on 2 cores
    python3 make_report.py --cpus     # the simulated CPUs it would use here (seconds)
    python3 make_report.py --render   # REPORT.md again from the saved studies, no training

It runs compare.py's studies one after the other, each block of fresh seeds under its own
simulated CPU (cpus.py): the article's study as four blocks of 30 seeds, the first with
the ablation and the alignment measure (REPORT.png), and the extended study as two; then
it pools each study's blocks (compare.py --pool) and fills docs/REPORT_TEMPLATE.md.
REPORT.json keeps the first block's claims, for `python3 compare.py --side-by-side
REPORT.json yours.json`; every study's full JSON report stays in reports/.
"""
import signal
import sys

from study import cli

if __name__ == "__main__":
    held = cli.hold_signals()  # a Ctrl-C while the libraries load: said once they have

import json
import os
import string
import subprocess
import threading
import time

from study import cpus, figures, report, saved_reports, tables, verdicts
from study.cli import count
from study.files import write_file
from study.records import Seeds
from study.registry import BROKEN, FROZEN, ORIGINAL, PAIRS, SEEDS

if __name__ == "__main__":
    cli.release_signals("make_report.py", held)

HERE = os.path.dirname(os.path.abspath(__file__))  # the code, and where the report goes
OUT = HERE
SAVED = os.path.join(HERE, "reports")  # the studies' full JSON reports (not in git)
TEMPLATE = os.path.join(HERE, "docs", "REPORT_TEMPLATE.md")
BLOCKS, EXTENDED_BLOCKS = 4, 2
STUDY_OPTIONS = []  # more compare.py options for every study (the tests' short epochs)
STOP_SECONDS = 2.5  # how long a study has to stop when asked, before it is killed


class StudyFailed(Exception):
    """A study ended with an error, which compare.py has said: exit with its status."""


class NotSaved(cli.UsageError):
    """--render without the saved studies: one line, exit status 2."""


# ---------------------------------------------------------------- the studies

def blocks(how_many):
    """The seeds of each block: 0 to 29, 30 to 59, ..."""
    return [Seeds(i * SEEDS, (i + 1) * SEEDS) for i in range(how_many)]


def saved_name(seeds, extended=False):
    """Where the study of these seeds is saved."""
    return os.path.join(SAVED, f"{'extended' if extended else 'article'}-{seeds.first}-"
                               f"{seeds.stop}.json")


def run_study(args, out, env, what):
    """Run compare.py with args, its JSON report into out, under the simulated CPU env;
    what: the line that says so.

    compare.py runs in a session of its own, so that it and its workers are stopped
    together (its process group) when make_report is; its stderr is passed on line by
    line until then, so that a stopped study says nothing more than make_report's line.
    """
    command = [sys.executable, os.path.join(HERE, "compare.py"), "--format", "json",
               "--out", os.path.relpath(out, HERE), *args, *STUDY_OPTIONS]
    print(f"make_report.py: {what}", file=sys.stderr, flush=True)
    child_env = {k: v for k, v in os.environ.items() if k not in cpus.SIMULATING}
    # A pipe whose write end only this process holds: however this process ends, even by
    # SIGKILL, the study sees the pipe end and stops (cli.stop_with_parent).
    alive, held = os.pipe()
    try:
        child = subprocess.Popen(command, env=dict(child_env, **env,
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
    with open(out) as file:
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
    found = cpus.distinct()
    print(f"make_report.py: {count(len(found), 'setting')} computing other bits here: "
          + "; ".join(name for name, *_ in found), file=sys.stderr, flush=True)
    return [dict(name=name, env=env, fingerprint=f) for name, env, f in found]


def setting_of(settings, i, extended=False):
    """The setting block i runs under: the article's blocks take them in turn; the
    extended study's start as is and then go back from the last, since the first after
    'as is' (numpy's SSE paths only) is the slowest and the extended study is the larger."""
    return settings[(-i if extended else i) % len(settings)]


def train_all(settings):
    """Every study, each block under its setting (setting_of); returns the minutes it
    took."""
    start = time.perf_counter()
    os.makedirs(SAVED, exist_ok=True)
    studies = BLOCKS + EXTENDED_BLOCKS
    for i, seeds in enumerate(blocks(BLOCKS)):
        extra = ["--ablation", "--alignment", "--plot", os.path.join(OUT, "REPORT.png")] \
            if i == 0 else []
        setting = setting_of(settings, i)
        run_study(["--seeds", str(seeds), *extra], saved_name(seeds), setting["env"],
                  f"study {i + 1} of {studies}: the article's, seeds {seeds}, "
                  f"{as_cpu_text(setting)}")
    for i, seeds in enumerate(blocks(EXTENDED_BLOCKS)):
        setting = setting_of(settings, i, extended=True)
        run_study(["--extended", "--seeds", str(seeds)], saved_name(seeds, True),
                  setting["env"], f"study {BLOCKS + i + 1} of {studies}: the extended one, "
                  f"seeds {seeds}, {as_cpu_text(setting)}")
    return (time.perf_counter() - start) / 60


def as_cpu_text(setting):
    """'as is', or 'as Sandybridge + SSE'."""
    return "as is" if not setting["env"] else f"as {setting['name']}"


def load(path):
    """A saved JSON study (NotSaved if it cannot be read: run without --render first)."""
    try:
        with open(path) as file:
            return json.load(file)
    except (OSError, ValueError, RecursionError) as error:
        raise NotSaved(f"{os.path.relpath(path)}: "
                       f"{getattr(error, 'strerror', None) or 'not a JSON file'}; "
                       "run without --render first") from None


def pooled(paths):
    """compare.py --pool of saved studies, in this process: (study, tables, results,
    settings)."""
    study, results, settings = saved_reports.pool(paths, lambda line: None)
    return study, tables.study_tables(results, settings), results, settings


# ---------------------------------------------------------------- the report

def build(render):
    """Run the studies (or, with render, load the saved ones) and write the report."""
    info = os.path.join(SAVED, "make_report.json")
    if render:
        made = load(info)
    else:
        settings = choose_cpus()
        minutes = train_all(settings)
        made = dict(settings=settings, minutes=minutes)
        write_file(info, lambda file: file.write(json.dumps(made, indent=1).encode()))
    article = [saved_name(seeds) for seeds in blocks(BLOCKS)]
    extended = [saved_name(seeds, True) for seeds in blocks(EXTENDED_BLOCKS)]
    first = load(article[0])
    article_blocks = [first] + [load(path) for path in article[1:]]
    extended_blocks = [load(path) for path in extended]
    article_pool = pooled(article)  # saved_reports.Refused (one line, exit 1) if one is damaged
    extended_pool = pooled(extended)
    text = fill(made, article_blocks, article_pool, extended_blocks, extended_pool)
    write_file(os.path.join(OUT, "REPORT.md"), lambda file: file.write(text.encode()))
    compact = {key: first[key] for key in ("study", "claims", "comparisons", "results")}
    write_file(os.path.join(OUT, "REPORT.json"), lambda file: file.write(
        (json.dumps(compact, indent=1) + "\n").encode()))
    study, _, results, settings = extended_pool
    write_file(os.path.join(OUT, "REPORT-extended.png"), lambda file: figures.plot(
        results, tables.group_of(settings), False, file, "png"))
    print("make_report.py: wrote REPORT.md, REPORT.json and REPORT-extended.png"
          + ("" if render else f" ({made['minutes']:.0f} minutes)"), file=sys.stderr)
    return 0


def fill(made, article_blocks, article_pool, extended_blocks, extended_pool):
    """REPORT.md: docs/REPORT_TEMPLATE.md filled from the studies' saved reports."""
    first = article_blocks[0]
    parts = report.sections(first["study"], saved_tables(first), "markdown")
    ext_study, ext_tables, *_ = extended_pool
    ext_parts = report.sections(ext_study, ext_tables, "markdown")
    _, pool_tables, *_ = article_pool
    settings = made["settings"]
    s = first["study"]["settings"]
    values = dict(
        date=first["study"]["date"], minutes=f"{made['minutes']:.0f}",
        claims_count=len(verdicts.CLAIMS), seeds=SEEDS, blocks=len(article_blocks),
        seeds_total=SEEDS * len(article_blocks), pairs_count=len(PAIRS),
        environment=environment_line(first["study"]["environment"]),
        cpus_table=cpus_table(settings, article_blocks, extended_blocks),
        cpus_note=cpus_note(settings), mark=verdicts.BORDERLINE,
        claims_answer=claims_answer(article_blocks, pool_tables["claims"]),
        blocks_table=blocks_table(settings, article_blocks, pool_tables["claims"]),
        blocks_differ=blocks_differ_text(article_blocks),
        first_block=Seeds.of(s).span(),
        block_claims=parts["claims"], block_stuck=report.stuck_text(first["runs"]),
        block_cost=parts["cost"], block_accuracy=parts["accuracy"],
        block_alignment=parts["alignment"],
        extended_data=ext_study["settings"]["data"], extended_blocks=len(extended_blocks),
        extended_seconds=f"{sum(b['wall_seconds'] for b in ext_study['blocks']):.0f}",
        extended_answer=extended_answer(ext_tables["comparisons"]),
        extended_blocks_table=extended_table(settings, extended_blocks,
                                             ext_tables["comparisons"]),
        extended_agree=extended_agree_text(extended_blocks, ext_tables["comparisons"]),
        margin=f"{100 * verdicts.MARGIN:g}", ci=report.CI, tost=report.TOST,
        stuck_level=report.STUCK,
        extended_pooled=ext_parts["pooled"], extended_pairs=ext_parts["pairs"],
        extended_accuracy=ext_parts["accuracy"].replace(
            "## Accuracy", f"## Accuracy on the {len(PAIRS)} digit pairs", 1),
        runs_total=sum(b["study"]["settings"]["runs"] for b in article_blocks + extended_blocks))
    with open(TEMPLATE) as file:
        return string.Template(file.read()).substitute(values)


def saved_tables(saved_report):
    """A saved JSON report's tables, as report.sections takes them."""
    return {key: saved_report[key] for key in ("results", "claims", "comparisons", "alignment",
                                               "runs")}


def environment_line(env):
    return "Every block: " + report.environment_text(dict(env, setting=""))


def cpus_table(settings, article_blocks, extended_blocks):
    """A row per block: its seeds, the study, its simulated CPU, the variables, the
    fingerprint and the kernel OpenBLAS reported."""
    body = []
    for study, studies in (("the article's", article_blocks), ("extended", extended_blocks)):
        for i, b in enumerate(studies):
            setting = setting_of(settings, i, study == "extended")
            body.append([Seeds.of(b["study"]["settings"]).span(),
                         study, setting["name"],
                         f"`{cpus.words(setting['env'])}`" if setting["env"] else "none",
                         setting["fingerprint"],
                         b["study"]["environment"]["blas"].rsplit("kernel ", 1)[-1]])
    return report.render(["seeds", "study", "simulated CPU", "variables", "fingerprint",
                          "OpenBLAS kernel"], body, True)


def cpus_note(settings):
    if len(settings) >= BLOCKS:
        return (f"The {count(len(settings), 'setting')} end at {len(settings)} different "
                f"fingerprints: each block is another draw of the rounding, as well as of the "
                f"seeds.")
    return (f"Only {count(len(settings), 'setting')} computed other bits on this machine, so "
            f"some blocks share one: they differ in their seeds alone.")


def claims_answer(article_blocks, pooled_claims):
    """The pooled words in a sentence, and how many claims every block agrees on."""
    seeds = SEEDS * len(article_blocks)
    agree = [c["label"] for c in pooled_claims
             if all(block_claim(b, c["label"])["verdict"] == c["verdict"]
                    for b in article_blocks)]
    return (f"Pooled over the {len(article_blocks)} blocks ({seeds} seeds), of the article's "
            f"{len(pooled_claims)} claims, {report.tally_text(pooled_claims, marks=False)}. "
            f"{len(agree)} of the {len(pooled_claims)} words come out in every block: "
            + "; ".join(agree) + ".")


def block_claim(saved_report, label):
    return next(c for c in saved_report["claims"] if c["label"] == label)


def block_headers(settings, saved_reports, extended=False):
    """A column header per block: 'seeds 30 to 59, Nehalem'."""
    return [f"seeds {Seeds.of(b['study']['settings']).span()}, "
            f"{setting_of(settings, i, extended)['name']}" for i, b in enumerate(saved_reports)]


def blocks_table(settings, article_blocks, pooled_claims):
    header = (["claim"] + block_headers(settings, article_blocks)
              + ["agree", f"pooled ({SEEDS * len(article_blocks)} seeds)"])
    body = []
    for c in pooled_claims:
        cells = [block_claim(b, c["label"]) for b in article_blocks]
        body.append([c["label"]] + [
            f"{x['held']}/{x['seeds']}, {report.p_text(x['p_adjusted'])}, "
            f"**{verdicts.shown_word(x)}**"
            for x in cells]
            + [f"{sum(x['verdict'] == c['verdict'] for x in cells)} of {len(cells)}",
               f"{c['held']}/{c['seeds']}, {report.p_text(c['p_adjusted'])}, **{c['verdict']}**"])
    return report.render(header, body, True)


def blocks_differ_text(article_blocks):
    differ = verdicts.differing([{c["label"]: c for c in b["claims"]} for b in article_blocks])
    if not differ:
        return "Every claim has the same word in every block."
    return ("Words that differ between the blocks: " + "; ".join(differ) + ". A word near the "
            f"{report.LEVEL} line comes out significant again only about half the time "
            "(Goodman 1992): "
            "the pooled word is the one to trust, and the borderline mark says which words a "
            "single 30-seed study should not.")


def pooled_rows(comparisons):
    return [r for r in comparisons if r["pooled"]]


def extended_table(settings, extended_blocks, pooled_comparisons):
    """The pooled words of each extended block and of all blocks, a row per pair of nets."""
    header = (["a - b"] + block_headers(settings, extended_blocks, extended=True)
              + [f"all ({sum(b['study']['settings']['seeds'] for b in extended_blocks)} "
                 f"seeds a pair)"])
    body = []
    for row in pooled_rows(pooled_comparisons):
        cells = [next(r for r in pooled_rows(b["comparisons"]) if r["nets"] == row["nets"])
                 for b in extended_blocks] + [row]
        body.append([report.nets_text(row)] + [
            f"{report.points_text(r['mean_difference'], r['interval'])}, **{r['verdict']}**"
            + (", as good" if r["equivalent"] else "") for r in cells])
    return report.render(header, body, True)


def extended_agree_text(extended_blocks, pooled_comparisons):
    rows = pooled_rows(pooled_comparisons)
    same = [all(next(r for r in pooled_rows(b["comparisons"]) if r["nets"] == row["nets"])
                ["verdict"] == row["verdict"] for b in extended_blocks) for row in rows]
    return (f"The pooled words {'agree' if all(same) else 'do not all agree'} across the "
            f"{len(extended_blocks)} blocks: {sum(same)} of {len(rows)} come out in every block.")


def extended_answer(comparisons):
    """The article's question answered from the pooled rows over every block."""
    rows = {tuple(r["nets"]): r for r in pooled_rows(comparisons)}
    broken, frozen, between = (rows[BROKEN, ORIGINAL], rows[FROZEN, ORIGINAL],
                               rows[BROKEN, FROZEN])
    said = {"worse": "worse than", "better": "better than",
            "no difference shown": "not shown to differ from",
            "too few seeds": "too few seeds to tell from", "no variation": "alike to"}
    conclusion = ("Yes" if broken["equivalent"] else
                  "No" if broken["verdict"] == "worse" else "Not shown")
    margin = f"{100 * broken['margin']:g}"
    learned = ("" if broken["learned_mean_difference"] is None else
               f"Where both nets learned ({count(broken['learned_seeds'], 'seed')}), the mean "
               f"difference is {mean_text(broken, 'learned_')}, "
               + ("within" if broken["learned_equivalent"] else "not shown within")
               + f" {margin} points. ")
    return (f"{conclusion}. Pooled over the {len(broken['digits'])} digit pairs "
            f"({count(broken['seeds'], 'paired seed')}), the broken net's held-out test "
            f"accuracy is {said[broken['verdict']]} the original's: a mean of "
            f"{mean_text(broken)}, " + ("as good" if broken["equivalent"] else "not as good")
            + f" within {margin} points (TOST). It did not learn in {broken['failed'][0]} of "
            f"its {broken['seeds']} runs, the original in {broken['failed'][1]} (exact McNemar "
            f"p {report.p_text(broken['mcnemar_p'])} on the {sum(broken['discordant'])} seeds "
            f"where only one did). " + learned
            + f"The frozen-conv control, whose conv layers never learn, is "
            f"{said[frozen['verdict']]} the original, a mean of {mean_text(frozen)}: on this "
            f"task learning in the conv layers "
            + ("matters, so the task can tell broken gradients from none. "
               if frozen["verdict"] == "worse" else "is not shown to matter. ")
            + f"Against that control the broken net is {said[between['verdict']]} it: a mean "
            f"of {mean_text(between)}"
            + ("" if between["learned_mean_difference"] is None else
               f"; where both learned, it is {said[learned_word(between)]} it: "
               f"{mean_text(between, 'learned_')}") + ".")


def learned_word(row):
    """A pooled row's word over the seeds where both nets learned (some did)."""
    return verdicts.difference_word(verdicts.Interval(*row["learned_interval"]))


def mean_text(row, prefix=""):
    """'-8.3 points (95% interval -11 to -5.6)': a pooled row's mean difference."""
    low, high = row[prefix + "interval"] or [None, None]
    return (f"{100 * row[prefix + 'mean_difference']:+.1f} points ({report.CI} interval "
            f"{report.interval_text(*(None if v is None else 100 * v for v in (low, high)), 2)})")


# ---------------------------------------------------------------- command line

def main(argv=None):
    """The command line; returns the exit status."""
    handler = cli.stop_on_sigterm()  # the studies are stopped as on Ctrl-C
    try:
        return cli.run_main("make_report.py", run, argv)
    finally:
        signal.signal(signal.SIGTERM, handler)


def run(argv):
    parser = cli.Parser(description=__doc__.splitlines()[0], allow_abbrev=False)
    what = parser.add_mutually_exclusive_group()
    what.add_argument("--render", action="store_true",
                      help="no training: REPORT.md again from the studies the last full run "
                           "saved in reports/")
    what.add_argument("--cpus", action="store_true",
                      help="print the simulated CPUs the blocks would run under here, one "
                           "line each: name, variables, fingerprint")
    args = parser.parse_args(argv)
    if args.cpus:
        for name, env, digits in cpus.distinct():
            print(f"{name:<18} {cpus.words(env) or '-':<60} {digits}", flush=True)
        return 0
    try:
        return build(args.render)
    except StudyFailed as failed:  # compare.py has said why
        return failed.args[0]


if __name__ == "__main__":
    sys.exit(main())
