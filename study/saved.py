"""Saved compare.py reports (--format json): read and checked field by field, put side by
side (--side-by-side), and pooled into one study (--pool).

A damaged or foreign file is refused in one line that names the file and the field.
"""
import datetime
import math
import os

from study import cli, registry
from study import report
from study import verdicts
from study.cli import count

VERDICTS = ("holds", "fails", "unclear", "holds once", "fails once", "no seeds")


class Refused(cli.Failure):
    """A saved report that cannot be read or used: one line, exit status 1."""


# ---------------------------------------------------------------- reading and checking

def is_int(value, low=-math.inf, high=math.inf):
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def is_number(value, low=-math.inf, high=math.inf):
    return (isinstance(value, (int, float)) and not isinstance(value, bool)
            and math.isfinite(value) and low <= value <= high)


def is_text(value):
    return isinstance(value, str)


def is_pair(value):
    return (isinstance(value, list) and len(value) == 2
            and all(is_int(v, 0, 9) for v in value) and value[0] != value[1])


class Checker:
    """Reads fields of one saved report, each checked; Refused names the file and field."""

    def __init__(self, path, data, option):
        self.path, self.data, self.option = path, data, option

    def refuse(self, field, what):
        raise Refused(f"{self.option} {self.path}: {field} {what}")

    def get(self, field, test, what, within=None):
        """The value at field (dotted, with [i] for list items) that passes test."""
        value = self.data if within is None else within[0]
        for part in field.split(".") if within is None else [within[1]]:
            if not isinstance(value, dict) or part not in value:
                self.refuse(field, "is missing")
            value = value[part]
        if not test(value):
            self.refuse(field, f"is not {what}")
        return value

    def items(self, field, within=None):
        """The list at field, each item a dict."""
        value = self.get(field, lambda v: isinstance(v, list), "a list", within)
        for i, item in enumerate(value):
            if not isinstance(item, dict):
                self.refuse(f"{field}[{i}]", "is not an object")
        return value


def load(path, option):
    """A saved report's JSON, or Refused in one line (OSError: the file cannot be read)."""
    import json
    try:
        with open(path) as file:
            return Checker(path, json.load(file), option)
    except OSError as error:
        raise Refused(f"{option} {path}: {error.strerror or error}") from None
    except (ValueError, RecursionError):
        raise Refused(f"{option} {path}: not a JSON file") from None


def study_of(checker):
    """The checked parts of a saved report's study: settings and environment."""
    get = checker.get
    settings = dict(
        seeds=get("study.settings.seeds", lambda v: is_int(v, 1), "a count of seeds"),
        first_seed=get("study.settings.first_seed", lambda v: is_int(v, 0), "a seed"),
        epochs=get("study.settings.epochs", lambda v: is_int(v, 1), "a count of epochs"),
        lr=get("study.settings.lr", lambda v: is_number(v) and v > 0, "a learning rate"),
        momentum=get("study.settings.momentum", lambda v: is_number(v, 0, 1), "a momentum"),
        data=get("study.settings.data", is_text, "text"))
    environment = {key: get(f"study.environment.{key}", is_text, "text")
                   for key in ("python", "numpy", "blas", "cpu", "system", "setting")}
    environment["cpus"] = get("study.environment.cpus", lambda v: is_int(v, 1) or is_text(v),
                              "a count")
    return settings, environment


def claims_of(checker, seeds):
    """The checked claim rows of a saved report, by label."""
    rows = {}
    for i, claim in enumerate(checker.items("claims")):
        def get(key, test, what):
            return checker.get(f"claims[{i}].{key}", test, what, within=(claim, key))
        label = get("label", is_text, "text")
        rows[label] = dict(
            label=label, seeds=get("seeds", lambda v: v == seeds, f"{seeds}, the study's seeds"),
            held=get("held", lambda v: is_int(v, 0, seeds), f"a count from 0 to {seeds}"),
            p_value=get("p_value", lambda v: is_number(v, 0, 1), "a p-value"),
            p_adjusted=get("p_adjusted", lambda v: is_number(v, 0, 1), "a p-value"),
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
        settings, env = study_of(checker)
        claims = claims_of(checker, settings["seeds"])
        if not claims:
            raise Refused(f"--side-by-side {path}: judges none of the article's claims (the "
                          "extended study, or other digits)")
        seeds = report.seeds_text(settings)
        setup = (f"{seeds}, {count(settings['epochs'], 'epoch')}, lr {settings['lr']}, "
                 f"momentum {settings['momentum']}, {settings['data']}")
        reports.append((os.path.basename(path), env, setup, claims))
    labels = list(dict.fromkeys(label for *_, claims in reports for label in claims))
    lines = [line for i, (name, env, setup, _) in enumerate(reports)
             for line in (f"{i + 1}: {name}: BLAS {env['blas']}; {env['cpu']}"
                          + (f"; {env['setting']}" if env["setting"] else ""), f"   {setup}")]
    for start in range(0, len(reports), 3):  # three reports a table: within 100 columns
        block = reports[start:start + 3]
        header = ["claim"] + [f"{start + i + 1}: held, Holm p, word" for i in range(len(block))]
        body = []
        for label in labels:
            row = [label]
            for *_, claims in block:
                c = claims.get(label)
                row.append("-" if c is None else f"{c['held']}/{c['seeds']} "
                           f"{report.p_text(c['p_adjusted'])} {verdicts.shown(c)}")
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
SAME = ("epochs", "lr", "momentum", "data", "experiments", "digits", "test_sizes",
        "train_sizes", "four_samples", "extended")


def runs_of(checker, settings, nets):
    """The checked runs of a saved report, as compare.train_batch returns them."""
    seeds = range(settings["first_seed"], settings["first_seed"] + settings["seeds"])
    runs = []
    for i, run in enumerate(checker.items("runs")):
        def get(key, test, what):
            return checker.get(f"runs[{i}].{key}", test, what, within=(run, key))
        size = get("test_size", lambda v: is_int(v, 1), "a count of images")
        history = get("history", lambda v: isinstance(v, list) and len(v) == settings["epochs"]
                      and all(is_number(c, 0) for c in v), f"{settings['epochs']} epoch costs")
        experiment = get("experiment", lambda v: v in settings["experiments"], "an experiment")
        runs.append(dict(
            experiment=experiment, hidden=tuple(registry.EXPERIMENTS[experiment]),
            digits=tuple(get("digits", lambda v: is_pair(v) and tuple(v) in settings["digits"],
                             "a digit pair of the study")),
            net=get("net", lambda v: v in nets, "a net of the study"),
            seed=get("seed", lambda v: is_int(v) and v in seeds, "one of the study's seeds"),
            stuck=get("stuck", lambda v: isinstance(v, bool), "true or false"), history=history,
            train_accuracy=get("train_accuracy", lambda v: is_number(v, 0, 1), "a share"),
            test_accuracy=get("test_accuracy", lambda v: is_number(v, 0, 1), "a share"),
            test_right=get("test_right", lambda v: is_int(v, 0, size), f"0 to {size}"),
            test_size=size, alignment=None))
    return runs


def pool(paths, say):
    """One study from the runs of saved reports of the same study on other seeds: the
    study's description, its runs and its settings, as compare.tables takes them. say:
    a function for a line on stderr (the nets left out)."""
    blocks = []
    for path in paths:
        checker = load(path, "--pool")
        settings, env = study_of(checker)
        get = checker.get
        settings.update(
            experiments=get("study.settings.experiments", lambda v: isinstance(v, list) and all(
                e in registry.EXPERIMENTS for e in v), "a list of the article's experiments"),
            nets=get("study.settings.nets", lambda v: isinstance(v, list) and all(
                n in registry.NETS for n in v), "a list of nets"),
            digits=get("study.settings.digits", lambda v: isinstance(v, list) and v and all(
                map(is_pair, v)), "a list of digit pairs"),
            test_sizes=get("study.settings.test_sizes", lambda v: isinstance(v, dict), "sizes"),
            train_sizes=get("study.settings.train_sizes", lambda v: isinstance(v, dict), "sizes"),
            four_samples=get("study.settings.four_samples", lambda v: isinstance(v, bool),
                             "a flag"),
            extended=get("study.settings.extended", lambda v: isinstance(v, bool), "a flag"),
            title=get("study.title", is_text, "text"),
            wall_seconds=get("study.wall_seconds", lambda v: is_number(v, 0), "seconds"))
        settings["digits"] = [tuple(p) for p in settings["digits"]]
        blocks.append((path, settings, env, runs_of(checker, settings, settings["nets"])))
    first = blocks[0][1]
    for path, settings, *_ in blocks[1:]:
        differ = [key for key in SAME if settings[key] != first[key]]
        if differ:
            raise Refused(f"--pool {path}: its {', '.join(differ)} differ from "
                          f"{blocks[0][0]}'s: only seeds and CPUs may")
    taken = {}
    for path, settings, *_ in blocks:
        for seed in range(settings["first_seed"], settings["first_seed"] + settings["seeds"]):
            if seed in taken:
                raise Refused(f"--pool {path}: seed {seed} is also in {taken[seed]}: a seed "
                              "counts once")
            taken[seed] = path
    nets = [n for n in first["nets"] if all(n in s["nets"] for _, s, *_ in blocks)]
    left = [n for _, s, *_ in blocks for n in s["nets"] if n not in nets]
    if left:
        say(f"--pool: {', '.join(dict.fromkeys(left))} not in every report: left out")
    results = [run for *_, runs in blocks for run in runs if run["net"] in nets]
    ranges = sorted([s["first_seed"], s["first_seed"] + s["seeds"]] for _, s, *_ in blocks)
    settings = dict({key: first[key] for key in SAME}, nets=nets, seeds=len(taken),
                    first_seed=min(taken), seed_blocks=ranges, runs=len(results), alignment=False,
                    ablation=any(registry.NETS[n].ablation for n in nets))
    study = dict(
        title=first["title"] + f", pooled over {len(blocks)} reports",
        command="python3 compare.py --pool " + " ".join(os.path.basename(p) for p in paths),
        date=datetime.date.today().isoformat(),
        settings=dict(settings, digits=[list(p) for p in settings["digits"]]),
        environment=blocks[0][2],
        blocks=[dict(file=os.path.basename(path), first_seed=s["first_seed"], seeds=s["seeds"],
                     environment=env, wall_seconds=s["wall_seconds"])
                for path, s, env, _ in sorted(blocks, key=lambda b: b[1]["first_seed"])])
    return study, results, settings
