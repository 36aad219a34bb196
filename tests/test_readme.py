"""README.md: its findings are REPORT.json's, word for word and number for number, and its
commands are the ones CI runs."""
import json
import re

from study import reproduction
from tests.helpers import HERE


def test_every_number_of_the_findings_comes_from_report_json():
    """The findings between the markers are what make_report writes from REPORT.json's
    findings: a number edited by hand, or a report regenerated without the README, fails."""
    readme = (HERE / "README.md").read_text()
    found = json.loads((HERE / "REPORT.json").read_text())
    block = readme.split(reproduction.BEGIN, 1)[1].split(reproduction.END, 1)[0]
    assert block == "\n" + reproduction.findings_text(found["findings"])
    numbers = set(re.findall(r"\d+\.\d+|\d+", block))
    assert len(numbers) > 20  # the block says something
    edited = block.replace(numbers.pop(), "123456789", 1)
    assert edited != "\n" + reproduction.findings_text(found["findings"])
    assert readme.index(reproduction.BEGIN) < len("\n".join(readme.splitlines()[:40]))


def test_the_readmes_test_command_is_the_one_ci_runs():
    readme = (HERE / "README.md").read_text().splitlines()
    command = next(line.split("&& ", 1)[1] for line in readme[:10] if "pytest" in line)
    assert command in (HERE / ".ci" / "run").read_text()
