"""study/shipped.py and the runs shipped beside REPORT.md: one compact table a reader can
read with the standard library, whose runs are those the studies trained, and from which
METHODS' recomputation gives REPORT.json's numbers."""
import csv
import gzip
import json
import re
import subprocess
import sys

import pytest

from study import records, shipped
from tests.helpers import HERE

RUNS, STUDIES = HERE / shipped.RUNS, HERE / shipped.STUDIES


def rows():
    with gzip.open(RUNS, "rt", newline="") as file:
        return list(csv.DictReader(file))


def test_the_shipped_runs_are_one_small_table_with_the_documented_columns():
    assert RUNS.stat().st_size < 20 * 2 ** 20  # under 20 MB
    found = rows()
    assert list(found[0]) == list(shipped.COLUMNS)
    studies = json.loads(STUDIES.read_text())["studies"]
    assert [s["name"] for s in studies] == list(dict.fromkeys(r["study"] for r in found))
    report = json.loads((HERE / "REPORT.json").read_text())
    assert report["runs_file"] == shipped.RUNS and report["runs_count"] == len(found)
    for row in found[:50]:
        epochs = [int(e) for e in row["at_epochs"].split()]
        assert epochs == records.checkpoint_epochs(int(row["epochs"]))
        assert len(row["cost_at"].split()) == len(epochs)


def test_a_study_written_and_read_back_is_the_runs_it_was(tmp_path):
    """rows_of, then load: every field a report reads, the same (the cost and accuracies
    at the checkpoints, exactly)."""
    planned = records.planned("Result 3", (3, 8), "broken green,red", 4, 229, 0.0003)
    points = [dict(epoch=e, cost=1 / (e + 3), train_accuracy=e / 229,
                   validation_accuracy=e / 57, **{k: 0.1 * e for k in records.ALIGNED})
              for e in records.checkpoint_epochs(3)]
    run = records.trained(planned, [1.0, 0.5, 1 / 6], False, 1 / 229, 1, 57, on="validation",
                          checkpoints=points)
    settings = dict(epochs=3, momentum=0.9, init="lecun", tune=True, digits=[[3, 8]],
                    first_seed=4, seeds=1)
    entry = dict(name="t", part="tuned", kind="tuning", order=0, cpu=dict(name="as is"),
                 study=dict(settings=settings))
    shipped.add(str(tmp_path), entry, [run])
    (read,), = [runs for _, runs in shipped.load(str(tmp_path)).values()]
    for key in ("experiment", "digits", "net", "seed", "lr", "stuck", "train_accuracy",
                "validation_right", "validation_size", "validation_accuracy", "checkpoints"):
        assert read[key] == run[key], key
    again = (tmp_path / shipped.RUNS).read_bytes()
    shipped.add(str(tmp_path), entry, [run])  # added again: the same bytes, one study
    assert (tmp_path / shipped.RUNS).read_bytes() == again


def test_methods_recomputes_the_tuned_answer_from_the_shipped_runs(tmp_path):
    """The few lines of Python docs/METHODS.md gives, run on the shipped runs, print
    REPORT.json's tuned broken - original mean and 95% interval."""
    report = json.loads((HERE / "REPORT.json").read_text())
    if "tuned" not in report["pooled"]:
        pytest.skip("the tuned part is not shipped yet")
    methods = (HERE / "docs" / "METHODS.md").read_text()
    code = re.search(r"```python\n(.*?)```", methods, re.S).group(1)
    out = subprocess.run([sys.executable, "-c", code], cwd=HERE, capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    row = next(r for r in report["pooled"]["tuned"]["comparisons"]
               if r["pooled"] and r["nets"] == ["broken green,red", "original"])
    mean, low, high = (100 * v for v in (row["mean_difference"], *row["interval"]))
    assert out.stdout.strip() == f"{mean:+.2f} points, 95% {low:+.2f} to {high:+.2f}"


def test_the_long_runs_first_500_epochs_are_the_articles_budget_runs():
    """The long tuning trains the tuning's seeds and rates for 2,000 epochs: its runs at
    epoch 500 are the tuning's own, bit for bit (the same cost, the same answers)."""
    found = rows()
    long = {(r["net"], r["lr"], r["seed"], r["digits"]): r for r in found
            if r["study"].startswith("budget-tuning-")}
    if not long:
        pytest.skip("the long-tuning part is not shipped yet")
    short = [r for r in found if r["study"].startswith("tuning-")]
    assert len(short) == len(long)
    for r in short:
        other = long[r["net"], r["lr"], r["seed"], r["digits"]]
        at = other["at_epochs"].split().index("500")
        assert other["cost_at"].split()[at] == r["cost_at"].split()[-1]
        assert other["held_right_at"].split()[at] == r["held_right"]
