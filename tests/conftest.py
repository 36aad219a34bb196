"""The tests' shared fixtures: an environment without scikit-learn, a full disk, a
short study's JSON report, and a local Dask cluster."""
import subprocess

import pytest

from tests.helpers import SHORT, blocked, compare_json, kill_started


@pytest.fixture(autouse=True)
def nothing_left_running():
    """A test that fails half way leaves none of the processes it started running."""
    yield
    kill_started()


@pytest.fixture
def no_sklearn(tmp_path):
    """An environment in which 'import sklearn' fails, as in an online interpreter."""
    return blocked(tmp_path, "sklearn")


@pytest.fixture(scope="session")
def short_compare():
    """Three epochs, 12 seeds, on two processes: trained once for every test module (each
    changes only copies of it)."""
    return compare_json(*SHORT, "--jobs", "2")


@pytest.fixture
def full_disk(tmp_path):
    """A real 64 KB file system, where this machine lets a test mount one."""
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount)],
                          capture_output=True, text=True)
    if done.returncode:
        pytest.skip(f"no small file system can be mounted here ({done.stderr.strip()})")
    try:
        yield mount
    finally:
        subprocess.run(["umount", str(mount)])


@pytest.fixture(scope="module")
def cluster():
    """A LocalCluster of two worker processes, one thread each: its scheduler's address."""
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as local:
        yield local.scheduler_address
