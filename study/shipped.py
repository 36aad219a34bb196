"""The runs behind REPORT.md, shipped beside it: every run of every study make_report.py
trained, so that a reader recomputes any number of the report, and make_report.py
renders it again, on any clone (training is chaotic at rounding level: another CPU draws
other runs, so the runs themselves are the audit).

Two files, written together by make_report.py (docs/METHODS.md, "The shipped runs"):

- REPORT-runs.csv.gz, the table: one row a run (COLUMNS), readable with the standard
  library (gzip and csv). A list column holds one number per checkpoint epoch
  (records.checkpoint_epochs: 1, 10, every 25th, the middle and the last), in the order
  of at_epochs, separated by spaces.
- REPORT-studies.json: one entry a study, what its runs share: its name, part and kind,
  its simulated CPU, and compare.py's description of it (command, code digest, date,
  settings, environment, time).

A study joins them when it is trained, its rows replacing any of the same name; the
table stays one file, rewritten whole and sorted by study, so that it is the same bytes
whoever adds what.
"""
import csv
import gzip
import io
import json
import os

from study import files, records
from study.records import ALIGNED, Refused, checkpoint_epochs, judged_on

RUNS, STUDIES = "REPORT-runs.csv.gz", "REPORT-studies.json"
# The table's columns, and what each holds (docs/METHODS.md repeats this).
COLUMNS = {
    "study": "the study's name in REPORT-studies.json",
    "cpu": "the simulated CPU it ran under ('as is': none)",
    "experiment": "the dense head: Result 1 (18, 20), Result 2 (48, 56) or Result 3 (28, 36)",
    "digits": "the digit pair, A/B; B is label 1",
    "net": "the net: original, broken green,red, frozen, ... (study/registry.py)",
    "lr": "its learning rate",
    "momentum": "its momentum",
    "init": "its initial weights: normal (the article's) or lecun",
    "epochs": "its epochs",
    "seed": "its seed: its split, image order and initial weights",
    "judged_on": "test, or validation for a tuning study (its test images never used)",
    "learned": "1 if it learned, 0 if not (stuck: docs/METHODS.md)",
    "train_right": "training images right at the end",
    "train_size": "its training images",
    "held_right": "held-out images right at the end (test, or validation)",
    "held_size": "its held-out images",
    "at_epochs": "the checkpoint epochs of the list columns below",
    "cost_at": "the epoch's cost (the sum of its per-image costs) at each checkpoint",
    "train_right_at": "training images right at each checkpoint",
    "held_right_at": "held-out images right at each checkpoint",
    **{f"{key}_at": f"where measured, the broken gradient's {key.replace('_', ' ')} "
                    f"against the true one at each checkpoint" for key in ALIGNED},
}


def paths(folder):
    return os.path.join(folder, RUNS), os.path.join(folder, STUDIES)


# ---------------------------------------------------------------- writing

def rows_of(name, cpu, settings, runs):
    """A study's runs as rows of the table."""
    on = judged_on(settings)
    epochs = checkpoint_epochs(settings["epochs"])
    out = []
    for run in runs:
        points = run["checkpoints"]
        aligned = ALIGNED[0] in points[0]
        out.append(dict(
            study=name, cpu=cpu, experiment=run["experiment"],
            digits=f"{run['digits'][0]}/{run['digits'][1]}", net=run["net"], lr=repr(run["lr"]),
            momentum=repr(settings["momentum"]), init=settings.get("init", "normal"),
            epochs=settings["epochs"], seed=run["seed"], judged_on=on,
            learned=int(not run["stuck"]),
            train_right=round(run["train_accuracy"] * run["train_size"]),
            train_size=run["train_size"], held_right=run[f"{on}_right"],
            held_size=run[f"{on}_size"], at_epochs=" ".join(map(str, epochs)),
            cost_at=" ".join(repr(c["cost"]) for c in points),
            train_right_at=" ".join(str(round(c["train_accuracy"] * run["train_size"]))
                                    for c in points),
            held_right_at=" ".join(str(round(c[f"{on}_accuracy"] * run[f"{on}_size"]))
                                   for c in points),
            **{f"{key}_at": " ".join(repr(c[key]) for c in points) if aligned else ""
               for key in ALIGNED}))
    return out


def table_bytes(rows):
    """The table's file: its rows as CSV, gzipped with no time stamp (the same rows, the
    same bytes)."""
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=list(COLUMNS), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    out = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=out, mtime=0) as packed:
        packed.write(text.getvalue().encode())
    return out.getvalue()


def add(folder, entry, runs):
    """A study (its entry: name, part, kind, cpu, study) and its runs into the shipped
    files in folder, replacing any study of the same name; the studies stay in the order
    of make_report's parts (entry["order"])."""
    entries, rows = read_raw(folder)
    entries = [e for e in entries if e["name"] != entry["name"]] + [entry]
    entries.sort(key=lambda e: e["order"])
    rows = [r for r in rows if r["study"] != entry["name"]]
    rows += rows_of(entry["name"], entry["cpu"]["name"], entry["study"]["settings"], runs)
    order = {e["name"]: i for i, e in enumerate(entries)}
    rows.sort(key=lambda r: order[r["study"]])  # stable: each study's runs keep their order
    runs_path, studies_path = paths(folder)
    files.write_file(runs_path, lambda file: file.write(table_bytes(rows)))
    text = json.dumps(dict(about=__doc__.split("\n\n")[0].replace("\n", " "),
                           runs=RUNS, columns=COLUMNS, studies=entries), indent=1) + "\n"
    files.write_file(studies_path, lambda file: file.write(text.encode()))


# ---------------------------------------------------------------- reading

def read_raw(folder):
    """The shipped studies' entries and the table's rows (dicts of text), as they are;
    none where nothing is shipped yet."""
    runs_path, studies_path = paths(folder)
    if not os.path.exists(studies_path):
        return [], []
    try:
        with open(studies_path) as file:
            entries = json.load(file)["studies"]
        with gzip.open(runs_path, "rt", newline="") as file:
            rows = list(csv.DictReader(file))
    except (OSError, ValueError, KeyError, TypeError, EOFError) as error:
        raise Refused(f"{os.path.relpath(studies_path)} and {RUNS}: cannot be read "
                      f"({getattr(error, 'strerror', None) or error})") from None
    return entries, rows


def load(folder):
    """The shipped studies, each its entry and its runs as records.Run (their costs and
    accuracies at the checkpoints; no full history): {name: (entry, runs)}, in order."""
    entries, rows = read_raw(folder)
    by_study = {e["name"]: (e, []) for e in entries}
    for i, row in enumerate(rows, 2):  # the line in the CSV, after its header
        if row.get("study") not in by_study:
            raise Refused(f"{RUNS}: line {i} names no shipped study")
        entry, runs = by_study[row["study"]]
        try:
            runs.append(run_of(row, entry["study"]["settings"]))
        except (KeyError, ValueError, TypeError, IndexError, ZeroDivisionError) as error:
            raise Refused(f"{RUNS}: line {i} is damaged ({type(error).__name__}: {error}); "
                          "git checkout it, or make_report.py --fresh") from None
    return by_study


def numbers(text, kind=float):
    return [kind(v) for v in text.split()]


def run_of(row, settings):
    """A row of the table as the run it records."""
    on = row["judged_on"]
    digits = tuple(map(int, row["digits"].split("/")))
    run = records.planned(row["experiment"], digits, row["net"], int(row["seed"]),
                          int(row["train_size"]), float(row["lr"]))
    epochs = numbers(row["at_epochs"], int)
    if epochs != checkpoint_epochs(int(row["epochs"])):
        raise ValueError("at_epochs are not the checkpoint epochs")
    train, held = int(row["train_size"]), int(row["held_size"])
    columns = dict(cost=numbers(row["cost_at"]),
                   train_accuracy=[r / train for r in numbers(row["train_right_at"], int)],
                   **{f"{on}_accuracy": [r / held for r in numbers(row["held_right_at"], int)]})
    columns.update({key: numbers(row[f"{key}_at"]) for key in ALIGNED if row[f"{key}_at"]})
    if any(len(v) != len(epochs) for v in columns.values()):
        raise ValueError("a list column's length is not the checkpoints'")
    checkpoints = [dict(epoch=e, **{key: values[i] for key, values in columns.items()})
                   for i, e in enumerate(epochs)]
    return records.trained(run, None, row["learned"] == "0", int(row["train_right"]) / train,
                           int(row["held_right"]), held, on=on, checkpoints=checkpoints)


def study_settings(entry):
    """A shipped study's settings as a study holds them: digit pairs as tuples, its sizes
    by pair (as saved_reports reads a saved report's)."""
    settings = dict(entry["study"]["settings"])
    settings["digits"] = [tuple(p) for p in settings["digits"]]
    return settings
