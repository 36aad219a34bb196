"""make_report.py: blocks drawn under simulated CPUs, pooled, rendered and stopped."""
import json
import os
import re
import signal
import sys
import time

import pytest

from study import reproduction
from tests.helpers import HERE, finish, in_session, processes_with, run, sessions, wait_for


SETTINGS = [("as is", {}, "1.5"), ("SSE", {"NPY_ENABLE_CPU_FEATURES": "X86_V2"}, "2.5"),
            ("Nehalem", {"OPENBLAS_CORETYPE": "Nehalem"}, "3.5")]


def small_report(make_report, monkeypatch, folder):
    """make_report's studies made small: 3 seeds a block, 3 rates, 2 epochs, one process."""
    from study import cpus
    from study.records import Seeds
    monkeypatch.setattr(cpus, "distinct", lambda *args, **kwargs: SETTINGS)
    for name, value in [("SEEDS", 3), ("GRID", (0.0003, 0.001, 0.003)),
                        ("TUNING", Seeds(1000, 1003)), ("ARTICLE_BLOCKS", 2),
                        ("OUT", str(folder)), ("SAVED", str(folder / "reports")),
                        ("STUDY_OPTIONS", ["--epochs", "2", "--jobs", "1"])]:
        monkeypatch.setattr(make_report, name, value)
    (folder / "README.md").write_text(f"# a readme\n\n{reproduction.BEGIN}\nold\n"
                                      f"{reproduction.END}\nthe rest\n")


def timeless(report_md):
    """REPORT.md without the minutes its run took, which no two runs share."""
    return re.sub(r" in \d+ minutes? on ", " in N minutes on ", report_md, count=1)


@pytest.mark.slow
def test_make_report_runs_every_study_reuses_them_and_renders(tmp_path, monkeypatch, capsys):
    import make_report
    small_report(make_report, monkeypatch, tmp_path)
    assert make_report.main([]) == 0
    err = capsys.readouterr().err
    assert "min: the tuned evaluation, seeds 6:9, as SSE\n" in err
    assert "study 8/8 at " in err and "the article's at lr" in err and "reusing" not in err
    assert max(len(line) for line in err.splitlines() if tmp_path.name not in line) <= 100
    text = (tmp_path / "REPORT.md").read_text()
    for mark in ["### At one shared learning rate, across the curve", "(REPORT-curve.png)",
                 "### Each net tuned on its own", "| 3 to 5 | tuned evaluation | Nehalem |",
                 "`NPY_ENABLE_CPU_FEATURES=X86_V2`", "| agree | pooled (6 seeds) |",
                 "W1 norm ratio", "### At 0.001 and two more learning rates"]:
        assert mark in text, mark
    assert "${" not in text and "\n\n\n" not in text
    saved = json.loads((tmp_path / "REPORT.json").read_text())
    tuning = set(range(*next(iter(saved["tuning"].values()))["seeds"]))
    for block in saved["blocks"]:  # every block's settings and words; no runs
        assert "runs" not in block and block["study"]["settings"]
        if block["part"] == "tuned":  # the tuning's seeds are no evaluation's
            settings = block["study"]["settings"]
            assert settings["tuned"] and settings["tuning_seeds"] == [1000, 1003]
            assert not tuning & set(range(settings["first_seed"],
                                          settings["first_seed"] + settings["seeds"]))
    assert {"article", "tuned", "by_rate"} <= set(saved["pooled"])
    assert len(saved["pooled"]["by_rate"]) == 3
    readme = (tmp_path / "README.md").read_text()
    assert reproduction.findings_text(saved["findings"]) in readme
    assert readme.endswith(f"{reproduction.END}\nthe rest\n")
    assert {p.name for p in tmp_path.iterdir()} == {
        "README.md", "REPORT.md", "REPORT.json", "REPORT.png", "REPORT-curve.png",
        "REPORT-extended.png", "reports"}
    # Run again: every study is reused; with one gone, that one alone trains again
    (tmp_path / "reports" / "tuned-3-6.json").unlink()
    assert make_report.main([]) == 0
    err = capsys.readouterr().err
    assert err.count(": reusing ") == 7 and "the tuned evaluation, seeds 3:6, as Nehalem\n" in err
    assert "study 4/8, the tuned evaluation, seeds 6:9: reusing " in err
    # bit for bit the same studies; the time counts the reused studies' own
    assert timeless((tmp_path / "REPORT.md").read_text()) == timeless(text)
    again = json.loads((tmp_path / "REPORT.json").read_text())
    assert again["made"]["minutes"] * 60 > sum(block["study"]["wall_seconds"]
                                               for block in again["blocks"])
    rerun = (tmp_path / "REPORT.md").read_text()
    assert make_report.main(["--render"]) == 0  # again from the saved studies
    assert (tmp_path / "REPORT.md").read_text() == rerun


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
def test_make_report_has_help_and_renders_only_saved_studies(tmp_path, monkeypatch, capsys):
    helped = " ".join(run("make_report.py", "--help").stdout.split())
    assert "--render" in helped and "Every study: about 90 minutes on 2 cores" in helped
    import make_report
    monkeypatch.setattr(make_report, "SAVED", str(tmp_path / "reports"))
    monkeypatch.setattr(make_report, "OUT", str(tmp_path))
    assert make_report.main(["--render"]) == 2
    err = capsys.readouterr().err.replace(os.path.relpath(tmp_path), "/tmp/x")
    assert err == (f"make_report.py: error: no saved studies in /tmp/x/reports/: a full run "
                   f"makes them, {make_report.FULL_RUN}\n")
    assert os.listdir(tmp_path) == []
    (tmp_path / "reports").mkdir()
    (tmp_path / "reports" / "make_report.json").write_text("{")  # damaged: 1 (README)
    assert make_report.main(["--render"]) == 1
    err = capsys.readouterr().err.replace(os.path.relpath(tmp_path), "/tmp/x")
    assert err == ("make_report.py: error: /tmp/x/reports/make_report.json: not a JSON file; "
                   "run without --render\n")
    for args, said in [(["--render", "--fresh"], "--fresh trains every study again"),
                       (["--cpus", "--scheduler", "tcp://h:1"], "--scheduler trains"),
                       (["--scheduler", "tcp://"], "--scheduler tcp://: not an address")]:
        assert make_report.main(args) == 2 and said in capsys.readouterr().err
