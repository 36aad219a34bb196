"""walkthrough.ipynb, the learner's way in: it runs top to bottom as a user runs it, with the
requirements and with numpy alone (the four samples, maps printed as arrays, as in an
in-browser notebook), failing on any cell's error; and it is stored without outputs, so
that its diffs stay readable."""
import json

import pytest

from tests.helpers import HERE, blocked

NOTEBOOK = HERE / "walkthrough.ipynb"


def executed():
    """The notebook run top to bottom by a fresh python3 kernel in the project's folder
    (where a user opens it); the kernel inherits this process's environment. A cell that
    raises fails the test with its traceback (CellExecutionError)."""
    nbclient, nbformat = pytest.importorskip("nbclient"), pytest.importorskip("nbformat")
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    # timeout is per cell: the longest, training both nets, takes about 25 s on 2 cores
    nbclient.NotebookClient(notebook, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": str(HERE)}}).execute()
    return notebook


def printed(notebook):
    """What the code cells printed, and the kinds of data they displayed."""
    outputs = [output for cell in notebook.cells if cell.cell_type == "code"
               for output in cell.outputs]
    text = "".join(output.get("text", "") for output in outputs)
    kinds = {kind for output in outputs for kind in output.get("data", {})}
    return text, kinds


@pytest.mark.slow
def test_the_notebook_runs_with_the_requirements():
    text, kinds = printed(executed())
    assert "data: scikit-learn's digits | maps: pictures (matplotlib)" in text
    assert "image/png" in kinds and "text/markdown" in kinds  # the report's own words
    assert "350 training images, 10 test images; 500 epochs" in text
    assert "wording is not available here" not in text


@pytest.mark.slow
def test_the_notebook_runs_with_numpy_alone(tmp_path, monkeypatch):
    """No scikit-learn, matplotlib or scipy, as in JupyterLite: the four embedded samples,
    the maps printed, and what needs scipy skipped."""
    environment = blocked(tmp_path, "sklearn", "matplotlib", "scipy")
    monkeypatch.setenv("PYTHONPATH", environment["PYTHONPATH"])  # the kernel inherits it
    text, kinds = printed(executed())
    assert "data: the four embedded samples | maps: printed arrays" in text
    assert "image/png" not in kinds
    assert "4 training images, 4 test images; 500 epochs, lr 0.01" in text


def test_the_notebook_is_stored_without_outputs():
    """Read as plain JSON: no kernel needed. Clear the outputs before committing (Jupyter's
    Edit > Clear Outputs of All Cells, or jupyter nbconvert --clear-output --inplace)."""
    notebook = json.loads(NOTEBOOK.read_text())
    code = [cell for cell in notebook["cells"] if cell["cell_type"] == "code"]
    assert code
    assert [cell["id"] for cell in code if cell["outputs"] or cell["execution_count"]] == []
