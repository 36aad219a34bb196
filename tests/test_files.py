"""study/files.py: a report and a figure written whole or not at all."""
import os
import shlex
import signal
import stat
import subprocess
import sys
import threading

import pytest

import compare
from study import files
from tests.helpers import HERE, blocked, in_session, kill_session, run, wait_for


@pytest.mark.slow
def test_a_folder_given_to_plot_writes_no_png_beside_it(tmp_path):
    folder = tmp_path / "figures"
    folder.mkdir()
    result = run("compare.py", "--plot", str(folder))
    assert result.returncode == 2 and "names a folder" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["figures"]


@pytest.mark.slow
@pytest.mark.parametrize("option, name", [("--out", "report.txt"), ("--plot", "figure.png")])
def test_a_full_disk_leaves_the_old_file_as_it_was(full_disk, option, name):
    if option == "--plot":
        pytest.importorskip("matplotlib")
    old = full_disk / name
    old.write_bytes(b"x" * 2675)  # an existing report
    try:  # and the rest of the disk full
        with open(full_disk / "filler", "wb") as filler:
            filler.write(b"f" * 64 * 1024)
    except OSError:
        pass
    result = run("compare.py", "--seeds", "1", "--epochs", "1", "--jobs", "1", option, str(old))
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("compare.py: error")]
    assert errors == [f"compare.py: error: cannot write {old}: No space left on device; "
                      "nothing was replaced"]
    assert old.read_bytes() == b"x" * 2675 and "wrote" not in result.stderr
    assert sorted(p.name for p in full_disk.iterdir()) == sorted([name, "filler"])


@pytest.mark.slow
@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_compare_to_a_full_device_says_so_in_one_line():
    result = run("compare.py", "--seeds", "1", "--epochs", "1", "--jobs", "1", "--out", "/dev/full")
    assert result.returncode == 1 and "wrote" not in result.stderr
    assert result.stderr.splitlines()[-1] == ("compare.py: error: cannot write /dev/full: No "
                                              "space left on device; nothing was replaced")
    with open("/dev/full", "w") as full:
        done = subprocess.run([sys.executable, "compare.py", "--seeds", "1", "--epochs", "1",
                               "--jobs", "1"], stdout=full, stderr=subprocess.PIPE, text=True,
                              cwd=HERE, timeout=120)
    assert done.returncode == 1 and done.stderr.splitlines()[-1] == (
        "compare.py: error: cannot write the output: No space left on device")


@pytest.mark.slow
def test_compare_plot_without_matplotlib_says_how_to_install_it(tmp_path):
    result = run("compare.py", "--epochs", "1", "--plot", str(tmp_path / "c.png"),
                 env=blocked(tmp_path, "matplotlib"))
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr == "compare.py: error: --plot needs matplotlib: pip install matplotlib\n"
    assert not (tmp_path / "c.png").exists()


@pytest.mark.slow
def test_compare_writes_out_and_plot_files(tmp_path):
    pytest.importorskip("matplotlib")
    out, png = tmp_path / "report.md", tmp_path / "curves.png"
    result = run("compare.py", "--epochs", "2", "--seeds", "2", "--format", "markdown",
                 "--out", str(out), "--plot", str(png), "--alignment", "--jobs", "1")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "" and out.read_text().startswith("# Original net against broken")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".compare-")] == []
    assert f"compare.py: wrote {out}" in result.stderr


def test_compare_plot_without_extension_adds_png_and_says_so(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    assert compare.main(["--epochs", "1", "--seeds", "1", "--jobs", "1", "--plot",
                         str(tmp_path / "c")]) == 0
    assert f"has no extension: writing {tmp_path / 'c'}.png" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.png"]


def test_written_files_get_the_mode_a_plain_write_gives(tmp_path):
    fresh, old, private = tmp_path / "fresh", tmp_path / "old", tmp_path / "private"
    old.write_text("old")
    old.chmod(0o644)
    private.write_text("old")
    private.chmod(0o600)
    umask = os.umask(0o027)
    try:
        for path in (fresh, old, private):
            files.write_file(str(path), lambda file: file.write(b"new"))
    finally:
        os.umask(umask)
    assert stat.S_IMODE(fresh.stat().st_mode) == 0o640
    assert stat.S_IMODE(old.stat().st_mode) == 0o644
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    assert old.read_text() == "new" and private.read_text() == "new"


def test_a_symlink_keeps_pointing_at_its_replaced_target(tmp_path):
    target, link = tmp_path / "target.md", tmp_path / "link.md"
    target.write_text("old")
    link.symlink_to(target)
    files.write_file(str(link), lambda file: file.write(b"new"))
    assert link.is_symlink() and target.read_text() == "new"


def test_a_fifo_is_written_through_not_replaced(tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    got = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_text()))
    reader.start()
    files.write_file(str(fifo), lambda file: file.write(b"through"))
    reader.join(timeout=10)
    assert got == ["through"] and stat.S_ISFIFO(fifo.stat().st_mode)


@pytest.mark.slow
def test_both_outputs_are_attempted_and_each_failure_said(full_disk, tmp_path):
    """--out on a full disk does not lose the figure, whose folder is fine."""
    pytest.importorskip("matplotlib")
    old = full_disk / "report.txt"
    old.write_bytes(b"x" * 2675)
    try:
        with open(full_disk / "filler", "wb") as filler:
            filler.write(b"f" * 64 * 1024)
    except OSError:
        pass
    figure = tmp_path / "ok.png"
    result = run("compare.py", "--seeds", "1", "--epochs", "1", "--jobs", "1", "--out", str(old),
                 "--plot", str(figure))
    assert result.returncode == 1 and figure.stat().st_size > 1000
    assert [line for line in result.stderr.splitlines() if "error" in line] == [
        f"compare.py: error: cannot write {old}: No space left on device; nothing was replaced"]
    assert old.read_bytes() == b"x" * 2675


@pytest.mark.slow
def test_a_closed_pipe_still_gets_the_figure_written(tmp_path):
    pytest.importorskip("matplotlib")
    figure = tmp_path / "p.png"
    done = subprocess.run(f"{shlex.quote(sys.executable)} compare.py --seeds 1 --epochs 1 "
                          f"--jobs 1 --plot {shlex.quote(str(figure))} | true; "
                          "exit ${PIPESTATUS[0]}", shell=True, executable="/bin/bash", cwd=HERE,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 141 and figure.stat().st_size > 1000
    assert "error" not in done.stderr


def test_a_device_given_to_plot_is_written_through(capsys):
    pytest.importorskip("matplotlib")
    assert compare.main(["--seeds", "1", "--epochs", "1", "--jobs", "1", "--plot",
                         "/dev/null"]) == 0
    assert not os.path.exists("/dev/null.png") and "no extension" not in capsys.readouterr().err


# ---------------------------------------- a kill at any moment of a write leaves no file

DRIVER = """import os, sys, time
sys.path.insert(0, {here!r})
import compare
from study import running
folder, mode = {folder!r}, {mode!r}


def stop(what):
    print(what, flush=True)
    time.sleep(60)  # killed here


if mode == "probe":  # check_path's file, made to see that the folder is writable
    real_open = os.open

    def slow_open(path, *args, **kwargs):
        fd = real_open(path, *args, **kwargs)
        if os.path.dirname(os.fspath(path)) == folder or os.fspath(path) == folder:
            stop("probing")
        return fd
    os.open = slow_open
elif mode == "draw":  # the figure drawn (matplotlib takes seconds)
    real_draw = running.draw
    running.draw = lambda *args: (stop("drawing"), real_draw(*args))
else:  # the bytes written to the temporary file
    os.fsync = lambda fd: stop("writing")
sys.exit(compare.main(["--seeds", "1", "--epochs", "1", "--jobs", "1", "--plot",
                       os.path.join(folder, "c.png")]))
"""


def temporary_files(folder):
    return [name for name in os.listdir(folder) if ".compare-" in name]


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["probe", "draw", "write"])
def test_a_study_killed_while_it_writes_its_figure_leaves_no_temporary_file(
        tmp_path, monkeypatch, mode):
    """SIGKILL while check_path tries the folder, while the figure is drawn, or while its
    bytes are written: no temporary file is left (a probe has no name; the figure is
    drawn in memory), or, killed in the write itself, the next write of the figure
    removes it (files.sweep), and only it."""
    pytest.importorskip("matplotlib")
    folder = tmp_path / "figures"
    folder.mkdir()
    (tmp_path / "drive.py").write_text(DRIVER.format(here=str(HERE), folder=str(folder),
                                                     mode=mode))
    driver = in_session([sys.executable, "drive.py"], cwd=tmp_path)
    try:
        wait_for(driver.stdout, {"probe": "probing", "draw": "drawing",
                                 "write": "writing"}[mode])
        os.kill(driver.pid, signal.SIGKILL)
        driver.wait(timeout=10)
    finally:
        kill_session(driver)
    if mode != "write":
        assert temporary_files(folder) == []
        return
    left, = temporary_files(folder)  # the kill came with the bytes half written
    other = folder / ".d.png.compare-abcdefgh.tmp"  # another figure's: not this one's to sweep
    other.write_bytes(b"")
    live = folder / ".c.png.compare-livewrit.tmp"  # another study writing c.png right now
    with open(live, "wb") as writing:
        files.hold(writing)
        monkeypatch.setattr(files, "STALE_SECONDS", 0)
        files.write_file(str(folder / "c.png"), lambda file: file.write(b"figure"))
    assert sorted(temporary_files(folder)) == sorted([other.name, live.name])
    assert ".c.png.lock" in os.listdir(folder)  # the killed study's lock, for the next to take
    assert (folder / "c.png").read_bytes() == b"figure"
