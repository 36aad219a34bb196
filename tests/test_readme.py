"""README.md and REPORT.md: rendered from the shipped runs alone, byte for byte what is
committed (REPORT.json but for its floats' last bits on other CPUs); README's findings
are REPORT.json's, every number of them in REPORT.md; its commands are the ones CI
runs; a five-minute read."""
import json
import math
import re
import shutil

import pytest

from study import narrative, shipped
from tests.helpers import HERE


def findings_block(readme):
    return readme.split(narrative.BEGIN, 1)[1].split(narrative.END, 1)[0]


def test_every_number_of_the_findings_comes_from_report_json_and_is_in_report_md():
    """The findings between the markers are what make_report writes from REPORT.json: a
    number edited by hand, or a report regenerated without the README, fails; and a reader
    finds each of their numbers in REPORT.md."""
    readme = (HERE / "README.md").read_text()
    found = json.loads((HERE / "REPORT.json").read_text())
    block = findings_block(readme)
    assert block == "\n" + narrative.findings_text(found)
    numbers = set(re.findall(r"[-+]?\d+\.\d+|\d+", block))
    assert len(numbers) > 5  # the block says something
    edited = block.replace(sorted(numbers)[0], "123456789", 1)
    assert edited != "\n" + narrative.findings_text(found)
    report = (HERE / "REPORT.md").read_text()
    missing = [n for n in numbers if n not in report]
    assert missing == []
    assert readme.index(narrative.BEGIN) < len("\n".join(readme.splitlines()[:40]))


def test_the_words_of_readme_and_report_are_report_jsons():
    """A comparison's word, in README and REPORT.md, is the phrase REPORT.json holds for
    its row ("said"): each tuned block's and the pooled tuned answer's."""
    found = json.loads((HERE / "REPORT.json").read_text())
    if "tuned" not in found["pooled"]:
        pytest.skip("the tuned part is not shipped yet")
    readme, report = ((HERE / name).read_text() for name in ("README.md", "REPORT.md"))
    rows = [r for r in found["pooled"]["tuned"]["comparisons"] if r["pooled"]]
    blocks = [r for b in found["blocks"] if b["kind"] == "tuned" for r in b["comparisons"]
              if r["pooled"]]
    for row in rows + blocks:
        assert f"**{row['said']}**" in report, row["said"]
    answer = next(r for r in rows if r["nets"] == ["broken green,red", "original"])
    assert f"**{answer['said']}**: " in readme


def test_the_readme_is_a_five_minute_read_that_shows_the_way_in():
    readme = (HERE / "README.md").read_text()
    assert len(readme) < 8000
    first_screen = "\n".join(readme.splitlines()[:25])
    assert "walkthrough.ipynb" in first_screen and '-m "not slow"' in first_screen


def test_the_readmes_test_command_is_the_one_ci_runs():
    readme = (HERE / "README.md").read_text().splitlines()
    command = next(line.split("&& ", 1)[1] for line in readme[:12] if "pytest" in line)
    assert command in (HERE / ".ci" / "run").read_text()


@pytest.mark.slow
def test_the_report_renders_from_the_shipped_runs_as_committed(tmp_path, monkeypatch):
    """What make_report.py --render writes on a fresh clone, from REPORT-runs.csv.gz and
    REPORT-studies.json alone (no reports/): the committed REPORT.md, REPORT.json and
    README.md byte for byte; REPORT.json's every word and count, and its floats to 1e-12
    (numpy's vector exp, log and sums round the last bits otherwise on other CPUs)."""
    import make_report
    for name in (shipped.RUNS, shipped.STUDIES, "README.md"):
        shutil.copy(HERE / name, tmp_path / name)
    monkeypatch.setattr(make_report, "OUT", str(tmp_path))
    monkeypatch.setattr(make_report, "SAVED", str(tmp_path / "reports"))
    assert make_report.main(["--render"]) == 0
    for name in ("REPORT.md", "README.md"):
        assert (tmp_path / name).read_bytes() == (HERE / name).read_bytes(), name
    here, there = (json.loads((folder / "REPORT.json").read_text()) for folder in (tmp_path, HERE))
    assert same_but_last_bits(here, there)


def same_but_last_bits(a, b, rel=1e-12):
    """JSON values equal, floats to a relative rel (and 0 to 1e-15)."""
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=rel, abs_tol=1e-15)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same_but_last_bits(a[k], b[k], rel) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same_but_last_bits(x, y, rel) for x, y in zip(a, b))
    return type(a) is type(b) and a == b


def test_json_compared_but_for_last_bits_still_tells_a_changed_number():
    report = {"a": [0.6653611199254755, {"w": "worse", "n": 3}], "b": None}
    assert same_but_last_bits(report, {"a": [0.6653611199254754, {"w": "worse", "n": 3}],
                                       "b": None})
    for other in ({"a": [0.66536112, {"w": "worse", "n": 3}], "b": None},
                  {"a": [0.6653611199254755, {"w": "better", "n": 3}], "b": None},
                  {"a": [0.6653611199254755, {"w": "worse", "n": 3.0}], "b": None},
                  {"a": [0.6653611199254755], "b": None}):
        assert not same_but_last_bits(report, other)
