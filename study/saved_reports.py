"""Saved compare.py reports (--format json), read and checked field by field: put side by
side (--side-by-side), and pooled into one study (--pool).

A damaged or foreign file is refused in one line that names the file and the field.
"""
import os
import stat
import textwrap

import original_net
from study import records, registry, report, verdicts
from study.cli import UsageError, count, listed
from study.records import Checker, Seeds, is_int, is_number, is_pair, is_text
from study.registry import DIGIT_IMAGES, MAX_RATES, MAX_SEEDS

VERDICTS = ("holds", "fails", "unclear", "holds once", "fails once", "no seeds",
            *verdicts.FREQUENCY)


class NotAReport(UsageError):
    """A file given that is no saved report, or reports that cannot be read together: a
    choice of files that cannot work, one line, exit status 2 (a damaged report: Refused,
    1)."""


# The largest file read as a report. A report's bulk is its runs' epoch costs, about 19
# characters each: the largest study at one rate, the command line's 10,000 seeds and 500
# epochs, the extended one with the ablation (200,000 runs), writes 1.9 GB; make_report's
# largest, the curve (2,880 runs), about 30 MB. Reading one costs about five times its
# size in memory (its bytes, its text, and three times it as Python objects, measured):
# 10 GiB at this bound. Larger sweeps are refused, said so.
MAX_REPORT_BYTES = 2 * 2 ** 30


def load(path, option):
    """A saved report's JSON (NotAReport if the file cannot be read, is no regular file or
    is larger than MAX_REPORT_BYTES, both said before it is read, is no JSON, or holds no
    study)."""
    import json
    try:  # without waiting: a FIFO is opened, seen to be one and refused, never read
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as error:
        raise NotAReport(f"{option} {path}: {error.strerror or error}") from None
    with open(fd, "rb") as file:
        mode, size = os.fstat(fd).st_mode, os.fstat(fd).st_size
        if not stat.S_ISREG(mode):
            kind = ("a folder" if stat.S_ISDIR(mode) else "a FIFO" if stat.S_ISFIFO(mode)
                    else "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) else
                    "no regular file")
            raise NotAReport(f"{option} {path}: {kind}, not a saved report")
        content = bytearray()
        try:  # in parts: a file that grows as it is read is read to the bound, no further
            while size <= MAX_REPORT_BYTES and len(content) <= MAX_REPORT_BYTES and (
                    part := file.read(2 ** 20)):
                content += part
        except OSError as error:
            raise NotAReport(f"{option} {path}: {error.strerror or error}") from None
    if size > MAX_REPORT_BYTES or len(content) > MAX_REPORT_BYTES:
        raise NotAReport(f"{option} {path}: larger than any report compare.py reads "
                         f"({MAX_REPORT_BYTES // 2 ** 30} GiB)")
    try:
        data = json.loads(content)
    except (ValueError, RecursionError):
        raise NotAReport(f"{option} {path}: not JSON; give reports of compare.py "
                         "--format json") from None
    if not isinstance(data, dict) or "study" not in data:
        raise NotAReport(f"{option} {path}: no study in it; give reports of compare.py "
                         "--format json")
    return Checker(path, data, option)


def is_list(value, test, most, distinct=False):
    """value is a list of 1 to most items, each passing test (and none twice, if
    distinct)."""
    return (isinstance(value, list) and 1 <= len(value) <= most and all(map(test, value))
            and (not distinct or len(set(map(repr, value))) == len(value)))


def study_of(checker, pooled=False):
    """The checked parts of a saved report's study: settings and environment, each
    bounded as compare.py's command line bounds it, before anything is made from it.
    pooled: the report may be a pooled one, of as many studies as its seed_blocks."""
    get = checker.get
    blocks = checker.data["study"]
    for part in ("settings", "seed_blocks"):
        blocks = blocks.get(part) if isinstance(blocks, dict) else None
    most = MAX_SEEDS * (len(blocks) if pooled and isinstance(blocks, list) and blocks else 1)
    seeds = get("study.settings.seeds", lambda v: is_int(v, 1, most), f"1 to {most} seeds")
    settings = dict(
        seeds=seeds,
        first_seed=get("study.settings.first_seed", lambda v: is_int(v, 0, 2 ** 63 - seeds),
                       "0 to 2**63 - seeds"),
        epochs=get("study.settings.epochs", lambda v: is_int(v, 1, original_net.MAX_EPOCHS),
                   f"1 to {original_net.MAX_EPOCHS:,} epochs"),
        lrs=get("study.settings.lrs", lambda v: is_list(
            v, lambda x: is_number(x) and x > 0, MAX_RATES) and v == sorted(set(v)),
            f"1 to {MAX_RATES} rising rates > 0"),
        momentum=get("study.settings.momentum", lambda v: is_number(v, 0) and v < 1,
                     "0 or more, below 1"),
        init=get("study.settings.init", lambda v: v in ("normal", "lecun"), "normal or lecun")
        if "init" in checker.data["study"]["settings"] else "normal",  # before --init: normal
        data=get("study.settings.data", is_text, "text"),
        tune=get("study.settings.tune", lambda v: isinstance(v, bool), "true or false"))
    if "tuned" in checker.data["study"]["settings"]:
        settings["tuned"] = get("study.settings.tuned", lambda v: isinstance(v, dict) and all(
            net in registry.NETS and x in settings["lrs"] for net, x in v.items()),
            "a rate of lrs a net")
    environment = {key: get(f"study.environment.{key}", is_text, "text")
                   for key in ("python", "numpy", "blas", "cpu", "system", "setting")}
    environment["cpus"] = get("study.environment.cpus", lambda v: is_int(v, 1) or is_text(v),
                              "a count")
    return settings, environment


def settings_of(checker):
    """The checked settings that say what a saved study trained: its experiments, nets,
    digit pairs (each once) and their sizes (images of load_digits), and its flags."""
    get = checker.get
    digits = get("study.settings.digits", lambda v: is_list(v, is_pair, 90, distinct=True),
                 "digit pairs, each once")
    pairs = {f"{a}/{b}" for a, b in digits}

    def sizes(v, beside=None):  # each pair's images; with the test's, within load_digits
        return (isinstance(v, dict) and set(v) == pairs and all(
            is_int(n, 1, DIGIT_IMAGES - (beside[pair] if beside else 0))
            for pair, n in v.items()))
    test = get("study.settings.test_sizes", sizes,
               f"1 to {DIGIT_IMAGES} images a pair")
    return dict(
        experiments=get("study.settings.experiments", lambda v: is_list(
            v, lambda e: is_text(e) and e in registry.EXPERIMENTS, len(registry.EXPERIMENTS),
            distinct=True),
            "its experiments, each once"),
        nets=get("study.settings.nets", lambda v: is_list(
            v, lambda n: is_text(n) and n in registry.NETS, len(registry.NETS), distinct=True),
            "nets, each once"),
        digits=digits, test_sizes=test,
        train_sizes=get("study.settings.train_sizes", lambda v: sizes(v, test),
                        f"1 to {DIGIT_IMAGES} images with test"),
        four_samples=get("study.settings.four_samples", lambda v: isinstance(v, bool),
                         "a flag"),
        extended=get("study.settings.extended", lambda v: isinstance(v, bool), "a flag"))


def claims_of(checker, seeds):
    """The checked claim rows of a saved report, by label."""
    rows = {}
    for i, claim in enumerate(checker.items("claims")):
        def get(key, test, what):
            return checker.get(f"claims[{i}].{key}", test, what, within=(claim, key))
        label = get("label", is_text, "text")
        if "lr" in claim:  # a sweep's claims, one of each at each rate
            label += f" @ lr {get('lr', lambda v: is_number(v) and v > 0, 'a rate'):g}"
        contrast = get("contrast", lambda v: isinstance(v, bool), "true or false")

        def p(v):  # a contrast's p-value; none for how often an outcome came out
            return is_number(v, 0, 1) if contrast else v is None
        rows[label] = dict(
            label=label, seeds=get("seeds", lambda v: v == seeds, f"{seeds}, the study's seeds"),
            held=get("held", lambda v: is_int(v, 0, seeds), f"a count from 0 to {seeds}"),
            contrast=contrast,
            p_value=get("p_value", p, "a p-value" if contrast else "null"),
            p_adjusted=get("p_adjusted", p, "a p-value" if contrast else "null"),
            verdict=get("verdict", lambda v: v in VERDICTS, "a verdict"),
            borderline=get("borderline", lambda v: isinstance(v, bool), "true or false"))
    return rows


# ---------------------------------------------------------------- side by side

def side_by_side(paths):
    """The claims of saved JSON reports side by side: per claim and report its count,
    p-value after Holm's correction and word; then the claims whose word differs."""
    reports = []
    for path in paths:
        checker = load(path, "--side-by-side")
        settings, env = study_of(checker, pooled=True)
        claims = claims_of(checker, settings["seeds"])
        if not claims:
            raise NotAReport(f"--side-by-side {path}: judges none of the article's claims")
        seeds = report.seeds_text(settings)
        setup = (f"{seeds}, {count(settings['epochs'], 'epoch')}, {report.rates_text(settings)}"
                 f", momentum {settings['momentum']}, {settings['data']}")
        reports.append((os.path.basename(path), env, setup, claims))
    labels = list(dict.fromkeys(label for *_, claims in reports for label in claims))
    lines = [line for i, (name, env, setup, _) in enumerate(reports)
             for said in (f"{i + 1}: {name}: BLAS {env['blas']}; {env['cpu']}"
                          + (f"; computing as another CPU: {env['setting']}"
                             if env["setting"] else ""), f"   {setup}")
             for line in textwrap.wrap(said, report.WIDTH, subsequent_indent="   ",
                                       break_long_words=False, break_on_hyphens=False)]
    for start in range(0, len(reports), 3):  # three reports a table: within 100 columns
        block = reports[start:start + 3]
        header = ["claim"] + [f"{start + i + 1}: held, Holm p, word" for i in range(len(block))]
        body = []
        for label in labels:
            row = [label]
            for *_, claims in block:
                c = claims.get(label)
                row.append("-" if c is None else f"{c['held']}/{c['seeds']} "
                           + (f"{report.p_text(c['p_adjusted'])} " if c["contrast"] else "")
                           + verdicts.shown_word(c))
            body.append(row)
        lines += ["", report.render(header, body, False)]
    differ = verdicts.differing([claims for *_, claims in reports])
    summary = (("Words differ: " + "; ".join(differ) + ".") if differ
               else "Every claim has the same word in every report.")
    if len({setup.split(", ", 1)[1] for _, _, setup, _ in reports}) > 1:
        summary += " The reports' settings differ (above): their words need not agree."
    lines += ["", report.paragraph(summary, False)]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- pooled

# Settings that must be the same in every report pooled: all but the seeds, the CPU and
# the extras one block may add (nets of the ablation, the alignment measure).
SAME = ("epochs", "lrs", "momentum", "init", "data", "experiments", "digits", "test_sizes",
        "train_sizes", "four_samples", "extended", "tune", "tuned")


def runs_of(checker, settings):
    """The checked runs of a saved report with these settings: as many as its settings
    plan (every seed, experiment, digit pair, net and rate), each once."""
    if "tuned" in settings:
        checker.get("study.settings.tuned", lambda v: set(v) == set(settings["nets"]),
                    "a rate for each net")
    planned = settings["seeds"] * len(settings["experiments"]) * len(settings["digits"]) * sum(
        len(records.rates_of(settings, net)) for net in settings["nets"])
    checker.get("runs", lambda v: isinstance(v, list) and len(v) == planned,
                f"the {planned:,} runs it plans")
    runs, seen = [], {}
    for i, item in enumerate(checker.items("runs")):
        run = records.run_from_json(checker, i, item, settings)
        if records.key(run) in seen:
            checker.refuse(f"runs[{i}]", f"is runs[{seen[records.key(run)]}] again")
        seen[records.key(run)] = i
        runs.append(run)
    return runs


def pool(paths, say):
    """One study from the runs of saved reports of the same study on other seeds: the
    study's description, its runs and its settings, as tables.study_tables takes them. say:
    a function for a line on stderr (the nets left out)."""
    blocks = []
    for path in paths:
        checker = load(path, "--pool")
        settings, env = block_of(checker)
        blocks.append((path, settings, env, runs_of(checker, settings)))
    return pool_blocks(blocks, say)


def block_of(checker):
    """A saved study's checked settings (with its title and time) and environment: what
    pool_blocks takes of it, beside its runs."""
    settings, env = study_of(checker)
    settings.update(settings_of(checker), title=checker.get("study.title", is_text, "text"),
                    wall_seconds=checker.get("study.wall_seconds", lambda v: is_number(v, 0),
                                             "seconds"),
                    date=checker.get("study.date", is_text, "a date"))
    settings["digits"] = [tuple(p) for p in settings["digits"]]
    return settings, env


def pool_blocks(blocks, say):
    """pool() of blocks read already: (path, settings, environment, runs) each."""
    first = blocks[0][1]
    for path, settings, *_ in blocks[1:]:
        differ = [key for key in SAME if settings.get(key) != first.get(key)]
        if differ:
            raise NotAReport(f"--pool {path}: its {listed(differ)} differ from "
                             f"{blocks[0][0]}'s")
    taken = {}
    for path, settings, *_ in blocks:
        for seed in Seeds.of(settings):
            if seed in taken:
                raise NotAReport(f"--pool {path}: seed {seed} is also in {taken[seed]}: a "
                                 "seed counts once")
            taken[seed] = path
    nets = [n for n in first["nets"] if all(n in s["nets"] for _, s, *_ in blocks)]
    left = [n for _, s, *_ in blocks for n in s["nets"] if n not in nets]
    if left:
        say(f"--pool: {', '.join(dict.fromkeys(left))} not in every report: left out")
    results = [run for *_, runs in blocks for run in runs if run["net"] in nets]
    ranges = sorted([s["first_seed"], Seeds.of(s).stop] for _, s, *_ in blocks)
    settings = dict({key: first[key] for key in SAME if key in first}, nets=nets, seeds=len(taken),
                    first_seed=min(taken), seed_blocks=ranges, runs=len(results), alignment=False,
                    ablation=any(registry.NETS[n].ablation for n in nets))
    study = dict(
        title=first["title"] + f", pooled over {len(blocks)} reports",
        command="python3 compare.py --pool " + " ".join(os.path.basename(p) for p, *_ in blocks),
        date=max(s["date"] for _, s, *_ in blocks),  # the newest block's: the same any day
        settings=dict(settings, digits=[list(p) for p in settings["digits"]]),
        environment=blocks[0][2],
        blocks=[dict(file=os.path.basename(path), first_seed=s["first_seed"], seeds=s["seeds"],
                     environment=env, wall_seconds=s["wall_seconds"])
                for path, s, env, _ in sorted(blocks, key=lambda b: b[1]["first_seed"])])
    return study, results, settings


# ---------------------------------------------------------------- a tuning's choice

def tuning_of(path):
    """The learning rates a saved --tune report chose, for compare.py --tuned: a dict of
    lrs ({net: rate}), seeds (the tuning's Seeds), settings (those an evaluation must
    share, as a study holds them) and file. NotAReport if it is no tuning report;
    Refused if it is damaged."""
    checker = load(path, "--tuned")
    settings, _ = study_of(checker)
    if not settings["tune"]:
        raise NotAReport(f"--tuned {path}: not a --tune report; give one of compare.py --tune")
    settings.update(settings_of(checker))
    lrs = {net: checker.get(f"tuning.{net}.lr", lambda v: v in settings["lrs"],
                            "one of the study's rates") for net in settings["nets"]}
    return dict(lrs=lrs, seeds=Seeds.of(settings), file=os.path.basename(path),
                settings=dict(settings, digits=[tuple(p) for p in settings["digits"]],
                              test_sizes={tuple(map(int, k.split("/"))): v
                                          for k, v in settings["test_sizes"].items()}))
