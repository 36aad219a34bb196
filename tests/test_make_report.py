"""make_report.py: parts trained and shipped, the shipped runs as the resume cache, the
report rendered from them alone, and studies that end badly."""
import contextlib
import io
import json
import os
import signal
import sys
import time

import pytest

import compare
from study import narrative, shipped
from tests.helpers import HERE, finish, in_session, processes_with, run, sessions, wait_for


SETTINGS = [("as is", {}, "1.5"), ("SSE", {"NPY_ENABLE_CPU_FEATURES": "X86_V2"}, "2.5"),
            ("Nehalem", {"OPENBLAS_CORETYPE": "Nehalem"}, "3.5")]


def small_report(make_report, monkeypatch, folder):
    """make_report's studies made small (3 seeds a block, 3 rates, 2 epochs, one process),
    each run as compare.main in this process (no interpreter to start): the names of the
    studies trained, as they train."""
    from study import cpus
    from study.records import Seeds
    monkeypatch.setattr(cpus, "distinct", lambda *args, **kwargs: SETTINGS)
    for name, value in [("SEEDS", 3), ("GRID", (0.0003, 0.001, 0.003)), ("WIDE", (0.001, 0.003)),
                        ("TUNING", Seeds(1000, 1003)), ("ARTICLE_BLOCKS", 2),
                        ("EVALUATION_BLOCKS", 2),
                        ("BUDGET", Seeds(300, 303)), ("SETTINGS_SEEDS", Seeds(303, 306)),
                        ("BUDGET_AGAIN", Seeds(306, 309)),
                        ("SETTINGS", ((0.0, "lecun"),)), ("OUT", str(folder)),
                        ("SAVED", str(folder / "reports")),
                        ("STUDY_OPTIONS", ["--epochs", "2", "--jobs", "1"])]:
        monkeypatch.setattr(make_report, name, value)
    trained = []

    def here(study):  # compare.py as make_report runs it, but in this process: it records
        trained.append(study.name)  # its simulated CPU's variables, which cannot act here
        cwd = os.getcwd()
        os.chdir(HERE)
        try:
            with contextlib.redirect_stderr(io.StringIO()), monkeypatch.context() as env:
                for key in cpus.SIMULATING:  # as make_report's child: none but the study's
                    env.delenv(key, raising=False)
                for key, value in study.setting["env"].items():
                    env.setenv(key, value)
                assert compare.main(make_report.command_of(study)) == 0
        finally:
            os.chdir(cwd)
    monkeypatch.setattr(make_report, "run_study", here)
    return trained


def readme(folder):
    (folder / "README.md").write_text(f"# a readme\n\n{narrative.BEGIN}\nold\n"
                                      f"{narrative.END}\nthe rest\n")


@pytest.mark.slow
def test_parts_ship_their_runs_which_resume_and_render_the_same_report(tmp_path, monkeypatch,
                                                                      capsys):
    import make_report
    trained = small_report(make_report, monkeypatch, tmp_path)
    readme(tmp_path)
    assert make_report.main(["--part", "curve"]) == 0  # one part: the others not yet run
    err = capsys.readouterr().err
    assert ("not yet run: tuned, article, interventions, long-tuning, budget, settings, "
            "budget-again") in err
    text = (tmp_path / "REPORT.md").read_text()
    assert text.count("*Not run yet: `python3 make_report.py --part") >= 5
    assert "${" not in text and "\n\n\n" not in text
    assert make_report.main(["--part", "article"]) == 2  # it needs the tuning's rates
    assert capsys.readouterr().err.endswith(
        "error: part article needs part tuned: run make_report.py --part tuned first\n")
    assert make_report.main([]) == 0  # every part: the curve is reused, the rest trains
    err = capsys.readouterr().err
    assert "curve: the curve (3 rates), seeds 0:3: shipped, reused" in err
    assert len(trained) == len(set(trained)) == 14
    assert max(len(line) for line in err.splitlines() if tmp_path.name not in line) <= 100
    files = {p.name for p in tmp_path.iterdir()}
    assert files == {"README.md", "REPORT.md", "REPORT.json", "REPORT.png", "REPORT-curve.png",
                     "REPORT-extended.png", "REPORT-budget.png", "reports", shipped.RUNS,
                     shipped.STUDIES}
    text = (tmp_path / "REPORT.md").read_text()
    for mark in ["### At one shared learning rate, across the curve", "(REPORT-curve.png)",
                 "### Each net tuned on its own", "### Slower or lower? The training budget",
                 "### The settings the article leaves open", "### Why the broken net falls short",
                 "| tuned-6-9 | 6 to 8 | SSE |", "`NPY_ENABLE_CPU_FEATURES=X86_V2`",
                 "| agree | pooled (6 seeds) |", "### At 0.001 and two more learning rates",
                 "| 0 | lecun |"]:
        assert mark in text, mark
    assert "Not run yet" not in text and "${" not in text and "\n\n\n" not in text
    saved = json.loads((tmp_path / "REPORT.json").read_text())
    assert saved["runs_count"] == sum(1 for _ in shipped_rows(tmp_path))
    assert saved["runs_file"] == shipped.RUNS
    for key in ("interventions", "alignment_over_training", "budget", "settings_study"):
        assert saved[key], key  # the JSON contracts of issues 41 and 42
    assert {row["net"] for row in saved["interventions"]} == {
        "broken green", "broken red", "matched noise", "scaled true"}
    assert {"net", "lr", "digits", "seeds", "mean_test_accuracy", "interval", "stuck"} <= set(
        saved["interventions"][0])
    assert {"net", "lr", "epoch", "learned", "cosine", "norm_ratio"} <= set(
        saved["alignment_over_training"][0])
    assert set(saved["alignment_over_training"][0]["cosine"]) == {"W1", "W2"}
    budget = saved["budget"]
    assert {"net", "lr", "epoch", "mean_test_accuracy", "interval", "stuck"} <= set(
        budget["rows"][0])
    assert {"nets", "lr", "epoch", "mean_difference", "interval", "verdict"} <= set(
        budget["comparisons"][0])
    assert {"momentum", "init", "tuning", "comparisons"} <= set(saved["settings_study"][0])
    assert all("checkpoints" in run for run in json.loads(
        (tmp_path / "reports" / "curve-0-3.json").read_text())["runs"])
    for claim in saved["pooled"]["article"]["claims"]:  # the JSON contract of issue 40
        assert {"share", "share_interval", "contrast"} <= set(claim)
    pooled = [c for c in saved["pooled"]["tuned"]["comparisons"] if c["pooled"]]
    assert all(c["unit"] == "seed" and c["clusters"] == 6 for c in pooled)
    readme_text = (tmp_path / "README.md").read_text()
    assert narrative.findings_text(saved) in readme_text
    assert readme_text.endswith(f"{narrative.END}\nthe rest\n")
    # A fresh clone: no reports/, only what is shipped. Nothing trains again, and the
    # report renders the same bytes.
    before = {name: (tmp_path / name).read_bytes() for name in files if name != "reports"}
    for path in (tmp_path / "reports").iterdir():
        path.unlink()
    trained.clear()
    assert make_report.main([]) == 0 and trained == []
    assert capsys.readouterr().err.count(": shipped, reused") == 14
    after = {name: (tmp_path / name).read_bytes() for name in before}
    assert after == before
    assert make_report.main(["--status"]) == 0
    status = capsys.readouterr().out
    assert "budget" in status and "studies" in status.splitlines()[0]
    assert "tuned             3 of 3" in status and "settings          2 of 2" in status


def shipped_rows(folder):
    import csv
    import gzip
    with gzip.open(folder / shipped.RUNS, "rt", newline="") as file:
        yield from csv.DictReader(file)


@pytest.mark.slow
def test_a_damaged_saved_study_is_said_and_trained_again(tmp_path, monkeypatch, capsys):
    """A study of reports/ that is valid JSON but damaged is checked as --pool checks a
    report, said in one line and trained again."""
    import make_report
    trained = small_report(make_report, monkeypatch, tmp_path)
    study = next(make_report.part_studies("curve", make_report.choose_cpus(), None))
    os.makedirs(tmp_path / "reports")
    make_report.run_study(study)
    damaged = json.loads((tmp_path / "reports" / "curve-0-3.json").read_text())
    del damaged["runs"][0]["history"]
    (tmp_path / "reports" / "curve-0-3.json").write_text(json.dumps(damaged))
    trained.clear()
    assert make_report.main(["--part", "curve"]) == 0 and trained == ["curve-0-3"]
    err = capsys.readouterr().err
    assert "make_report.py: saved study " in err and (
        "curve-0-3.json: runs[0].history is missing; training it again\n") in err


def test_a_study_that_ends_well_without_its_report_is_said_in_one_line(tmp_path, monkeypatch,
                                                                     capsys):
    """compare.py ended with status 0, yet reports/ holds no report made as planned (a
    simulated CPU's variables leaking into it would do that): one line, exit 1."""
    import make_report
    small_report(make_report, monkeypatch, tmp_path)
    monkeypatch.setattr(make_report, "run_study", lambda study: None)
    assert make_report.main(["--part", "curve"]) == 1
    assert capsys.readouterr().err.splitlines()[-1] == (
        "make_report.py: error: curve-0-3 wrote no report made as planned "
        f"({os.path.relpath(tmp_path / 'reports' / 'curve-0-3.json')})")


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGKILL, signal.SIGSEGV])
def test_a_study_killed_by_a_signal_is_named_with_how_to_resume(tmp_path, signum):
    """compare.py killed by a signal (as the kernel's out-of-memory killer would):
    make_report names the study, the signal and how to resume, exits 1, renders nothing."""
    (tmp_path / "drive.py").write_text(
        f"import sys; sys.path.insert(0, {str(HERE)!r})\n"
        "from study import cpus\nimport make_report as m\n"
        "cpus.distinct = lambda *args, **kwargs: [('as is', {}, '1.5')]\n"
        f"m.OUT, m.SAVED = {str(tmp_path)!r}, {str(tmp_path / 'reports')!r}\n"
        "m.STUDY_OPTIONS = ['--epochs', '400', '--seeds', '4', '--jobs', '1']\n"
        "sys.exit(m.main(['--part', 'curve']))\n")
    driver = in_session([sys.executable, "drive.py"], cwd=tmp_path)
    wait_for(driver.stderr, "Ctrl-C stops")
    saved = os.path.relpath(tmp_path / "reports", HERE)
    study, = [int(line.split()[0]) for line in processes_with("compare.py", 0)
              if saved in line]
    os.kill(study, signum)
    out, err = finish(driver, 20)
    assert driver.returncode == 1 and out == ""
    assert err.splitlines()[-1] == (
        f"make_report.py: error: curve-0-30 was killed by {signal.Signals(signum).name}; run "
        f"make_report.py again to resume (the studies shipped are kept)")
    assert not (tmp_path / "REPORT.md").exists() and not (tmp_path / shipped.RUNS).exists()


@pytest.mark.slow
@pytest.mark.parametrize("signum, whom", [(signal.SIGINT, "process"),
                                          (signal.SIGTERM, "group")])
def test_make_report_stops_every_study_it_started(tmp_path, signum, whom):
    """From another folder; its compare.py runs in a session of its own, with workers."""
    (tmp_path / "drive.py").write_text(
        f"import sys; sys.path.insert(0, {str(HERE)!r})\n"
        "from study import cpus\nimport make_report as m\n"
        "cpus.distinct = lambda *args, **kwargs: [('as is', {}, '1.5')]\n"
        f"m.OUT, m.SAVED = {str(tmp_path)!r}, {str(tmp_path / 'reports')!r}\n"
        "sys.exit(m.main([]))\n")
    process = in_session([sys.executable, "drive.py"], cwd=tmp_path)
    wait_for(process.stderr, "Ctrl-C stops")  # compare.py's workers are starting
    time.sleep(0.5)
    saved = os.path.relpath(tmp_path / "reports", HERE)  # as the study's --out names it
    study, = [int(line.split()[0]) for line in processes_with("compare.py", 0)
              if saved in line]
    assert len(sessions(study)) >= 3  # compare.py, its two workers (and loky's tracker)
    (os.killpg if whom == "group" else os.kill)(process.pid, signum)
    out, err = finish(process, 10)
    word = "interrupted" if signum == signal.SIGINT else "terminated"
    assert process.returncode == 128 + signum and out == ""
    assert err == f"make_report.py: {word}\n"  # compare.py's own line is not passed on
    assert sessions(study, 3) == []  # compare.py and its workers are gone
    assert os.listdir(tmp_path / "reports") == [] and not (tmp_path / "REPORT.md").exists()


@pytest.mark.slow
def test_make_report_has_help_and_renders_only_shipped_runs(tmp_path, monkeypatch, capsys):
    helped = " ".join(run("make_report.py", "--help").stdout.split())
    assert "--render" in helped and "--part PART [PART ...]" in helped
    import make_report
    monkeypatch.setattr(make_report, "SAVED", str(tmp_path / "reports"))
    monkeypatch.setattr(make_report, "OUT", str(tmp_path))
    assert make_report.main(["--render"]) == 2
    err = capsys.readouterr().err.replace(os.path.relpath(tmp_path), "/tmp/x")
    assert err == ("make_report.py: error: no shipped runs in /tmp/x: make_report.py --part "
                   "curve makes the first\n")
    assert os.listdir(tmp_path) == []
    (tmp_path / shipped.STUDIES).write_text("{")  # damaged: 1 (README)
    assert make_report.main(["--render"]) == 1
    err = capsys.readouterr().err.replace(os.path.relpath(tmp_path), "/tmp/x")
    assert err.startswith(f"make_report.py: error: /tmp/x/{shipped.STUDIES} and {shipped.RUNS}: "
                          "cannot be read") and err.count("\n") == 1
    for args, said in [(["--render", "--fresh"], "--fresh trains the studies again"),
                       (["--cpus", "--scheduler", "tcp://h:1"], "--scheduler trains"),
                       (["--scheduler", "tcp://"], "--scheduler tcp://: not an address"),
                       (["--part", "nope"], "--part: 'nope' is not curve, tuned")]:
        assert make_report.main(args) == 2 and said in capsys.readouterr().err
