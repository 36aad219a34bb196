"""Every error line within 100 columns (cli.WIDTH), whatever the study: the longest each
one-line error of compare.py and the study package can be, built here on purpose (long
lists of settings or options, long labels, the largest numbers the command line takes).
A user's path or address is theirs: counted as 8 characters."""
import itertools

import pytest

import compare
from study import cli, cluster, lockstep, records, running, training, verdicts
from study.records import Seeds
from tests.helpers import compare_here

USER = "bad.json"  # what a user's path counts for


def fits(line, *theirs):
    """The line, its user's paths and addresses counted as USER, within 100 columns."""
    for text in theirs:
        line = line.replace(str(text), USER)
    assert len(line) <= cli.WIDTH, f"{len(line)} columns: {line}"
    return line


EVERY_OPTION = ["--seeds", "3", "--epochs", "2", "--ablation", "--controls", "--alignment",
                "--four-samples", "--stall-seconds", "60", "--jobs", "2", "--momentum", "0.5",
                "--tune", "--lr", "0.1", "0.2", "--test-size", "5", "--digits", "3", "8",
                "--scheduler", "tcp://127.0.0.1:1", "--extended"]


@pytest.mark.parametrize("reading", ["--pool", "--side-by-side"])
def test_reading_reports_with_every_training_option(reading):
    result = compare_here(reading, "a.json", "b.json", *EVERY_OPTION)
    assert result.returncode == 2
    line = fits(result.stderr.rstrip("\n"))
    assert line.startswith(f"compare.py: error: {reading} takes only --out") and "more" in line


def test_fifty_rates_given_twice():
    rates = [f"{1.23456789e-5 * (1 + i / 1000):.9g}" for i in range(50)]
    result = compare_here("--lr", *rates, *rates)
    assert result.returncode == 2
    assert fits(result.stderr.rstrip("\n")).startswith(
        "compare.py: error: --lr gives 50 rates more than once: 1.23457e-05, ")


def test_a_run_that_diverges_with_the_longest_name(monkeypatch):
    """The longest experiment, a pair not the article's, the longest short name, a rate of
    six digits, a six-digit seed, the millionth epoch: the cause is left out to fit."""
    def diverge(params, *args, **kwargs):
        raise lockstep.RunDiverged(0, settings["epochs"], "divide by zero", 0.000123456789)
    monkeypatch.setattr(lockstep, "train", diverge)
    run = records.planned("Result 2", (3, 8), "original", 999_999, 286, 0.000123456789)
    settings = dict(test_sizes={(3, 8): 71}, four_samples=False, tune=False, alignment=False,
                    epochs=1_000_000, momentum=0.9)
    with pytest.raises(training.StudyError) as error:
        training.train_batch([run], settings)
    settings["epochs"] = 10
    assert fits(f"compare.py: error: {error.value}") == (
        "compare.py: error: Result 2, 3/8, original, lr 0.000123457, seed 999999: diverged in "
        "epoch 1000000")
    run = records.planned("Result 2", (3, 8), "original", 4, 286, 0.001)  # short: all said
    with pytest.raises(training.StudyError, match=r"seed 4: diverged in epoch 10 "
                                                  r"\(divide by zero\)$"):
        training.train_batch([run], settings)


def test_an_evaluation_unlike_its_tuning_in_every_setting():
    keys = running.TUNED_SAME
    tuning = dict(file=USER, lrs={}, seeds=Seeds(2 ** 63 - 10_000, 2 ** 63),
                  settings={key: f"tuned {key}" for key in keys})
    with pytest.raises(cli.UsageError) as error:
        running.tuned_settings(tuning, {key: key for key in keys}, Seeds(0, 1))
    assert fits(f"compare.py: error: {error.value}").endswith(
        f"and {len(keys) - 2} more differ from this study's")
    tuning["settings"] = {key: key for key in keys}
    with pytest.raises(cli.UsageError) as error:
        running.tuned_settings(tuning, tuning["settings"], Seeds(2 ** 63 - 1, 2 ** 63))
    fits(f"compare.py: error: {error.value}")


def test_the_most_runs_at_the_most_epochs_on_a_large_machine(monkeypatch):
    """10,000 seeds of the extended study with the ablation at 100 rates: 20 million runs."""
    class Many:
        def __len__(self):
            return 20_000_000

        def __iter__(self):
            return itertools.repeat(dict(breaks=("green",)), len(self))
    monkeypatch.setattr(running, "available_memory", lambda: 1024 * 2 ** 30)
    with pytest.raises(cli.UsageError) as error:
        running.check_memory(Many(), dict(epochs=1_000_000, alignment=True))
    assert fits(f"compare.py: error: {error.value}") == (
        "compare.py: error: --epochs 1,000,000: 20,000,000 runs' epoch costs need 2,607,703 "
        "GiB, 1,024 free")


def test_a_cost_ratio_that_is_not_finite():
    with pytest.raises(verdicts.NotJudged) as error:
        verdicts.log_ratio(1.23456789e-05, 0.0, "Result 2, seed 9223372036854775806")
    fits(f"compare.py: error: {error.value}")


def test_workers_that_cannot_import_the_study_say_why_in_part():
    pytest.importorskip("distributed")

    class Failing:
        def register_plugin(self, plugin, name):
            raise ModuleNotFoundError("No module named 'numpy'; " * 20)
    with pytest.raises(cluster.NoCluster) as error:
        cluster.ship(Failing())
    assert fits(f"compare.py: error: {error.value}").startswith(
        "compare.py: error: the Dask workers cannot import the study: No module named 'numpy'")


def test_a_service_that_calls_itself_anything(monkeypatch):
    pytest.importorskip("distributed")
    address = "tcp://127.0.0.1:1"
    monkeypatch.setattr(cluster, "identity", lambda *args: {"type": "Whatever" * 100})
    with pytest.raises(cluster.NoCluster) as error:
        cluster.connect(address)
    assert fits(f"compare.py: error: {error.value}", address) == (
        f"compare.py: error: {USER} is no Dask scheduler")
