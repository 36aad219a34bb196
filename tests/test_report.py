"""study/report.py: summaries and text."""
import json

import pytest


from study import report
from tests.helpers import BROKEN, HERE, fake_run, judged


def test_summaries_are_medians_over_the_runs_that_learned():
    runs = [dict(fake_run("Result 3", "original", s, {1: 10.0 * (s + 1)}, 10), digits=(0, 1),
                 hidden=(28, 36), train_accuracy=1.0) for s in range(2)]
    runs += [dict(fake_run("Result 3", "original", s, {1: 89.0}, 5, stuck=True), digits=(0, 1),
                  hidden=(28, 36), train_accuracy=0.5) for s in range(2, 5)]
    row, = report.summarise(runs, 1, lambda r: r["experiment"])
    assert row["stuck"] == 3 and row["seeds"] == 5
    assert row["train_accuracy"] == [1.0, 1.0, 1.0]           # not the stuck runs' 0.5
    assert row["test_accuracy"] == [1.0, 1.0, 1.0]
    assert row["cost_epoch_1"] == [15.0, 12.5, 17.5]


def test_one_seed_reads_as_sentences(capsys):
    runs = [fake_run("Result 3", "original", 0, {}, 9), fake_run("Result 3", BROKEN, 0, {}, 10)]
    rows = list(judged(runs).values())
    text = "\n".join(report.claims_section(rows, False))
    assert "held in the one seed" in text and "did not hold in the one seed" in text
    assert "again" not in text and "once" not in text


def test_the_text_of_the_full_study_fits_100_columns():
    """The 500-epoch figures of REPORT.json are wider than a short run's."""
    saved = json.loads((HERE / "REPORT.json").read_text())
    if "study" not in saved:
        pytest.skip("the article's part is not shipped yet")
    assert saved["study"]["settings"]["epochs"] == 500
    text = report.text_report(saved["study"], dict(saved, alignment=[], runs=[]), "text")
    assert max(map(len, text.splitlines())) <= 100 and "cost@250" in text
