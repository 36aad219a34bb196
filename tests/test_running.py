"""study/running.py and study/tables.py: a study run from compare.py's command line,
and its report in every format (the JSON contract)."""
import io
import json
import re
import os

import numpy as np
import pytest
from scipy import stats

import compare
import original_net
from study import registry, report, verdicts
from tests.helpers import DIGITS, POOLED_CONTRACT, blocked, compare_here, compare_json, run


# ---------------------------------------- studies and their reports


@pytest.mark.slow
def test_compare_runs_every_experiment_and_net_over_the_seeds(short_compare):
    report, stderr = short_compare
    seeds = 12
    assert compare.parse_args([]).seeds.count == registry.SEEDS == 30  # the default
    assert report["study"]["settings"]["seeds"] == seeds
    pairs = [(r["experiment"], r["net"]) for r in report["results"]]
    assert pairs == [(e, n) for e in registry.EXPERIMENTS for n in ("original", "broken green,red")]
    for row in report["results"]:
        assert row["seeds"] == seeds and 0 <= row["stuck"] <= seeds
        trained = [r for r in report["runs"] if (r["experiment"], r["net"]) ==
                   (row["experiment"], row["net"]) and not r["stuck"]]
        assert row["stuck"] == seeds - len(trained)
        if trained:
            assert row["cost_epoch_3"] == pytest.approx(
                list(np.percentile([r["history"][2] for r in trained], [50, 25, 75])))
    assert len(report["runs"]) == 6 * seeds and report["study"]["settings"]["four_samples"] is False
    assert all(r["digits"] == [0, 1] for r in report["runs"])
    assert [c["label"] for c in report["claims"]] == [c.label for c in verdicts.CLAIMS]
    for claim in report["claims"]:  # the JSON contract: a share, and the contrasts
        assert set(claim) >= {"held", "seeds", "share", "share_interval", "frequency",
                              "contrast", "verdict", "p_value", "p_adjusted", "borderline",
                              "trained_held", "trained_seeds", "trained_verdict"}
        assert claim["seeds"] == seeds and claim["share"] == claim["held"] / seeds
        ci = stats.binomtest(claim["held"], seeds).proportion_ci(method="exact")
        assert claim["share_interval"] == pytest.approx([ci.low, ci.high])
        assert claim["frequency"] in verdicts.FREQUENCY
        assert claim["contrast"] == (claim["kind"] != "rate")
        if not claim["contrast"]:
            assert claim["verdict"] == claim["frequency"] and claim["p_value"] is None
            continue
        assert claim["verdict"] in ("holds", "fails", "unclear")
        assert claim["borderline"] == verdicts.is_borderline(
            claim["verdict"], claim["p_value"], claim["p_adjusted"])
        assert claim["p_adjusted"] >= claim["p_value"]
        if claim["kind"] == "cost":
            assert set(claim) >= {"median_ratio", "ratio_interval"}
    pooled = [row for row in report["comparisons"] if row["pooled"]]
    for row in report["comparisons"]:
        assert row["nets"] == ["broken green,red", "original"] and "as_good" not in row
        if row["pooled"]:
            continue
        assert set(row) >= {"experiment", "digits", "nets", "median_difference", "interval",
                            "wins", "ties", "losses", "p_value", "p_adjusted", "verdict"}
        assert row["wins"] + row["ties"] + row["losses"] == seeds
    assert [row["experiment"] for row in pooled] == list(registry.EXPERIMENTS)
    for row in pooled:
        assert set(row) >= POOLED_CONTRACT and row["seeds"] == seeds and row["digits"] == [[0, 1]]
    env = report["study"]["environment"]
    assert env["numpy"] == np.__version__ and env["cpus"] == os.cpu_count() and env["blas"]
    assert f"{6 * seeds} runs in" in stderr and "batches done" in stderr


def test_compare_csv_parses_with_the_table_columns():
    import csv
    result = compare_here("--epochs", "3", "--format", "csv", "--seeds", "2", "--jobs", "1")
    assert result.returncode == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [(r["experiment"], r["net"]) for r in rows] == [
        (e, n) for e in registry.EXPERIMENTS for n in ("original", "broken green,red")]
    for row in rows:
        assert row["seeds"] == "2" and row["stuck"] in ("0", "1", "2") and row["digits"] == "0/1"
        if row["stuck"] != "2":
            for key in ("cost_epoch_1", "cost_epoch_3", "train_accuracy", "test_accuracy"):
                low, median, high = (float(row[f"{key}_{s}"]) for s in ("q1", "median", "q3"))
                assert 0 <= low <= median <= high
    assert rows[4]["W3"] == "16x28" and rows[4]["W4"] == "28x36" and rows[4]["W5"] == "36x1"


def test_compare_text_fits_100_columns_and_keeps_the_articles_order():
    result = compare_here("--epochs", "2", "--seeds", "3", "--ablation", "--controls",
                          "--alignment", "--jobs", "1")
    assert result.returncode == 0, result.stderr
    text = result.stdout
    assert max(map(len, text.splitlines())) <= 100
    quotes = re.findall(r'(?:Training|Result [123]) +"([^"]+)" \(', " ".join(text.split()))
    assert quotes == [c.quote for c in verdicts.CLAIMS]
    assert "cost @1:" in text and "half the study's epochs" in text
    for mark in ["Cost: median (interquartile range)", "The article's claims over 3 seeds",
                 "Environment: Python", "broken green", "broken red", "frozen", "Result 1",
                 "Holm", "learned", "run-steps a second", "Accuracy: median", "Nets compared",
                 "green - original"]:
        assert mark in text, mark
    assert text.count("Alignment of the broken gradient with the true one") == 1
    assert "W1 cosine" in text and "W1 signs" not in text  # the text has room for cosines


def test_compare_markdown_shows_the_tables():
    result = compare_here("--epochs", "2", "--format", "markdown", "--ablation",
                          "--alignment", "--seeds", "2", "--jobs", "1")
    assert result.returncode == 0, result.stderr
    for mark in ["# Original net against broken back prop net", "| Result 2 | broken green,red |",
                 "Written by `python3 compare.py --epochs 2", "| word |", "| W1 signs |",
                 '| "classified every image on test set except for one" |']:
        assert mark in result.stdout, mark


def test_controls_and_the_extended_study_keep_the_json_contract():
    extended, _ = compare_json("--epochs", "2", "--seeds", "2", "--extended", "--jobs", "1",
                             here=True)
    settings = extended["study"]["settings"]
    assert settings["digits"] == [list(p) for p in registry.PAIRS] and settings["extended"]
    assert {r["net"] for r in extended["runs"]} == {"original", "broken green,red", "frozen"}
    assert {tuple(r["digits"]) for r in extended["runs"]} == set(registry.PAIRS)
    assert all(r["test_size"] == round(sum(np.isin(DIGITS.target, r["digits"])) / 5)
               for r in extended["runs"])
    assert extended["claims"] == []  # the article's claims are about its own setup
    nets = (("broken green,red", "original"), ("frozen", "original"),
            ("broken green,red", "frozen"))
    compared = {(tuple(c["digits"]), tuple(c["nets"])) for c in extended["comparisons"]
                if not c["pooled"]}
    assert compared == {(p, n) for p in registry.PAIRS for n in nets}
    pooled = [c for c in extended["comparisons"] if c["pooled"]]
    assert [tuple(c["nets"]) for c in pooled] == list(nets)
    for row in pooled:  # over every digit pair: 2 seeds each
        assert set(row) >= POOLED_CONTRACT and row["seeds"] == 2 == row["clusters"]
        assert row["unit"] == "seed" and row["runs"] == 2 * len(registry.PAIRS)
        assert row["digits"] == [list(p) for p in registry.PAIRS] and row["group"] == "all 4 pairs"
        assert row["failed"] == [sum(r["stuck"] for r in extended["runs"] if r["net"] == n)
                                 for n in row["nets"]]
    frozen = [r for r in extended["results"] if r["net"] == "frozen"]
    assert len(frozen) == 4
    text = report.text_report(extended["study"], dict(extended), "text")
    assert max(map(len, text.splitlines())) <= 100
    controls, _ = compare_json("--epochs", "2", "--seeds", "2", "--controls", "--jobs", "1",
                               here=True)
    assert {r["net"] for r in controls["results"]} == {"original", "broken green,red", "frozen"}
    assert len(controls["claims"]) == len(verdicts.CLAIMS)


def test_compare_counts_stuck_runs_of_a_real_short_run():
    """At lr 1e6 the outputs saturate at once: most runs do not learn."""
    saved, _ = compare_json("--epochs", "2", "--seeds", "2", "--lr", "1e6", "--jobs", "1",
                            here=True)
    stuck = {(r["experiment"], r["net"], r["seed"]): r["stuck"] for r in saved["runs"]}
    assert sum(stuck.values()) >= 8
    for row in saved["results"]:
        assert row["stuck"] == sum(stuck[row["experiment"], row["net"], s] for s in (0, 1))
    text = report.text_report(saved["study"], dict(saved, runs=saved["runs"]), "text")
    assert f"{sum(stuck.values())} of 12 runs did not learn" in text


@pytest.mark.slow
def test_compare_without_sklearn_uses_the_four_samples_and_says_so(tmp_path):
    result = run("compare.py", "--epochs", "20", "--seeds", "2", "--format", "json",
                 env=blocked(tmp_path, "sklearn"))
    assert result.returncode == 0, result.stderr
    assert ("compare.py: scikit-learn is not installed: training on the four embedded samples"
            in result.stderr)
    settings = json.loads(result.stdout)["study"]["settings"]
    assert settings["four_samples"] is True and settings["lr"] == 0.01
    assert "four embedded samples" in settings["data"]


@pytest.mark.slow
def test_compare_without_sklearn_refuses_a_test_size(tmp_path):
    result = run("compare.py", "--test-size", "5", env=blocked(tmp_path, "sklearn"))
    assert result.returncode == 2 and result.stderr.endswith(
        "compare.py: error: --test-size needs scikit-learn (the four embedded samples train "
        "and test on all four)\n")


@pytest.mark.slow
def test_jobs_above_the_cpu_count_are_capped_with_one_line():
    result = run("compare.py", "--epochs", "1", "--seeds", "1", "--jobs", "1000")
    assert result.returncode == 0, result.stderr
    cpus = len(os.sched_getaffinity(0))
    assert f"compare.py: --jobs 1000 is more than the {cpus} CPUs here: using {cpus}\n" in (
        result.stderr)
    assert f"on {original_net.count(min(cpus, 6), 'process', 'processes')};" in result.stderr


def test_no_tuning_decision_reads_test_data(monkeypatch):
    """Every test label flipped and every test image blanked: a tuning chooses the same
    rates from the same runs, while a sweep judged on the test images sees it."""
    tune = ["--extended", "--lr", "0.001", "0.003", "--seeds", "2", "--epochs", "3",
            "--jobs", "1"]
    honest = [compare_json(*tune, *more, here=True)[0] for more in (["--tune"], [])]
    load = original_net.load_data

    def flipped(*args, **kwargs):
        x_train, y_train, x_test, y_test, source = load(*args, **kwargs)
        return x_train, y_train, np.zeros_like(x_test), 1 - y_test, source
    monkeypatch.setattr(original_net, "load_data", flipped)
    tuned, swept = (compare_json(*tune, *more, here=True)[0] for more in (["--tune"], []))
    assert tuned["tuning"] == honest[0]["tuning"] and tuned["runs"] == honest[0]["runs"]
    assert swept["sweep"] != honest[1]["sweep"]  # the check can fail: the test data count


@pytest.mark.parametrize("fmt", ["text", "markdown"])
def test_a_sweep_a_tuning_and_a_tuned_evaluation_fit_100_columns(tmp_path, fmt):
    """The text of each fits 100 columns; the sweep's has its table by rate, the
    tuning's its choice, the evaluation each net's rate; markdown keeps every table."""
    common = ["--extended", "--seeds", "2", "--epochs", "2", "--jobs", "1"]
    tuning = tmp_path / "tuning.json"
    assert compare.main([*common, "--lr", "0.001", "0.003", "--tune", "--seeds", "100:102",
                         "--format", "json", "--out", str(tuning)]) == 0
    for args, marks in [(["--lr", "0.001", "0.003"], ["Held-out test accuracy by learning "
                                                      "rate", "0.003"]),
                        (["--lr", "0.001", "0.003", "--tune", "--seeds", "100:102"],
                         ["Each net's learning rate, chosen on validation images", "Chosen:"]),
                        (["--tuned", str(tuning)], ["lr tuned: original"])]:
        result = compare_here(*common, *args, "--format", fmt)
        assert result.returncode == 0, result.stderr
        text = result.stdout.replace(str(tmp_path), "/tmp")
        assert all(mark in " ".join(text.split()) for mark in marks), (args, marks)
        if fmt == "text":
            assert max(map(len, text.splitlines())) <= 100, args
