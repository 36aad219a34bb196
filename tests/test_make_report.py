"""make_report.py: blocks drawn under simulated CPUs, pooled, rendered and stopped."""
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from tests.helpers import HERE, finish, processes_with, run, sessions, wait_for


@pytest.mark.slow
def test_make_report_draws_blocks_under_settings_and_pools_them(tmp_path, monkeypatch,
                                                                capsys):
    from study import cpus
    import make_report
    settings = [("as is", {}, "1.5"), ("SSE", {"NPY_ENABLE_CPU_FEATURES": "X86_V2"}, "2.5")]
    monkeypatch.setattr(cpus, "distinct", lambda: settings)
    for name, value in [("SEEDS", 3), ("BLOCKS", 2), ("EXTENDED_BLOCKS", 1),
                        ("OUT", str(tmp_path)), ("SAVED", str(tmp_path / "reports")),
                        ("STUDY_OPTIONS", ["--epochs", "2", "--jobs", "1"])]:
        monkeypatch.setattr(make_report, name, value)
    assert make_report.main([]) == 0
    err = capsys.readouterr().err
    assert "study 2 of 3: the article's, seeds 3:6, as SSE" in err
    assert max(len(line) for line in err.splitlines() if tmp_path.name not in line) <= 100
    text = (tmp_path / "REPORT.md").read_text()
    for mark in ["2 blocks of 3 fresh seeds", "| 3 to 5 | the article's | SSE |",
                 "`NPY_ENABLE_CPU_FEATURES=X86_V2`", "| agree | pooled (6 seeds) |",
                 "## Nets compared: the mean difference", "Pooled over the 4 digit pairs"]:
        assert mark in text, mark
    assert "${" not in text and "\n\n\n" not in text
    block = json.loads((tmp_path / "reports" / "article-3-6.json").read_text())
    assert block["study"]["environment"]["setting"] == "NPY_ENABLE_CPU_FEATURES=X86_V2"
    assert json.loads((tmp_path / "REPORT.json").read_text())["study"]["settings"]["seeds"] == 3
    assert {p.name for p in tmp_path.iterdir()} == {
        "REPORT.md", "REPORT.json", "REPORT.png", "REPORT-extended.png", "reports"}
    assert make_report.main(["--render"]) == 0  # again from the saved studies
    assert (tmp_path / "REPORT.md").read_text() == text


@pytest.mark.slow
@pytest.mark.parametrize("signum, whom", [(signal.SIGINT, "process"),
                                          (signal.SIGTERM, "group")])
def test_make_report_stops_every_study_it_started(tmp_path, signum, whom):
    """From another folder; its compare.py runs in a session of its own, with workers."""
    (tmp_path / "drive.py").write_text(
        f"import sys; sys.path.insert(0, {str(HERE)!r})\n"
        "from study import cpus\nimport make_report as m\n"
        "cpus.distinct = lambda: [('as is', {}, '1.5')]\n"
        f"m.OUT, m.SAVED = {str(tmp_path)!r}, {str(tmp_path / 'reports')!r}\n"
        "sys.exit(m.main([]))\n")
    process = subprocess.Popen([sys.executable, "drive.py"], cwd=tmp_path, text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               start_new_session=True)
    wait_for(process.stderr, "Ctrl-C stops")  # compare.py's workers are starting
    time.sleep(0.5)
    study, = [int(line.split()[0]) for line in processes_with("compare.py", 0)
              if str(tmp_path) in line]
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
    assert "--render" in run("make_report.py", "--help").stdout
    import make_report
    monkeypatch.setattr(make_report, "SAVED", str(tmp_path / "reports"))
    monkeypatch.setattr(make_report, "OUT", str(tmp_path))
    assert make_report.main(["--render"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "make_report.json" in err and "without --render" in err
    assert os.listdir(tmp_path) == []
