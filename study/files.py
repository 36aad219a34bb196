"""The files a study writes: checked before any training (check_path), replaced whole or
not at all (write_file), and the figure's format (plot_format)."""
import os
import stat
import sys
import tempfile

from study import cli
from study.cli import UsageError


def written_through(path):
    """path exists and is no regular file (a FIFO, /dev/stdout): written, not replaced."""
    return os.path.exists(path) and not stat.S_ISREG(os.stat(path).st_mode)


def check_path(path, option):
    """Before any training: path names a file that can be written (UsageError if not)."""
    if not path:
        raise UsageError(f"{option} needs a file name")
    if os.path.isdir(path) or path.endswith(os.sep):
        raise UsageError(f"{option} {path}: names a folder; give a file name")
    if written_through(path):
        if not os.access(path, os.W_OK):  # a FIFO or a device: written through
            raise UsageError(f"{option} {path}: not writable")
        return
    target = os.path.realpath(path)
    if os.path.exists(target) and (not os.access(target, os.W_OK)
                                   or not os.stat(target).st_mode & stat.S_IWUSR):
        raise UsageError(f"{option} {path}: is read-only; make it writable or name another")
    folder = os.path.dirname(target)
    if not os.path.isdir(folder):
        raise UsageError(f"{option} {path}: no such folder {folder}")
    try:  # the one sure test: make a file there
        fd, probe = tempfile.mkstemp(dir=folder, prefix=".compare-")
        os.close(fd)
        os.unlink(probe)
    except OSError as error:
        raise UsageError(f"{option} {path}: cannot write in {folder} ({error.strerror})") from None


class WriteFailed(cli.Failure):
    """Writing a report or figure failed: one line, exit status 1; an old file stays."""


def write_file(path, write):
    """write(file) writes the content into an open binary file. A regular file (or a
    symlink's regular target) is replaced whole: written to a temporary file beside it,
    flushed to the disk and closed, then renamed over it, with the mode a plain write
    would leave (the old file's, or the umask's); if anything fails, the old file stays
    as it was. Anything else that exists, a FIFO or /dev/stdout, is written through."""
    try:
        if written_through(path):
            with open(path, "wb") as file:
                write(file)
            return
        target = os.path.realpath(path)
        if os.path.exists(target):
            mode = stat.S_IMODE(os.stat(target).st_mode)
        else:
            umask = os.umask(0)
            os.umask(umask)
            mode = 0o666 & ~umask
        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(target), prefix=".compare-",
                                   suffix=os.path.splitext(target)[1])
        try:
            with os.fdopen(fd, "wb") as file:
                write(file)
                file.flush()
                os.fsync(file.fileno())
            os.chmod(tmp, mode)
            os.replace(tmp, target)
        except BaseException:
            os.unlink(tmp)
            raise
    except OSError as error:
        raise WriteFailed(f"cannot write {path}: {error.strerror or error}; "
                          "nothing was replaced") from None


def put(text, out):
    """The report to the file out (said on stderr), or to stdout."""
    if out:
        write_file(out, lambda file: file.write(text.encode()))
        print(f"compare.py: wrote {out}", file=sys.stderr)
    else:
        print(text, end="", flush=True)


def plot_format(path):
    """The plot's file name and format: its extension, which matplotlib must write; with
    none, .png is added (and said)."""
    from matplotlib.backend_bases import FigureCanvasBase
    formats = FigureCanvasBase.get_supported_filetypes()
    extension = os.path.splitext(path)[1][1:].lower()
    if not extension and written_through(path):  # a FIFO or a device: PNG, written through
        return path, "png"
    if not extension:
        print(f"compare.py: --plot {path} has no extension: writing {path}.png", file=sys.stderr)
        return path + ".png", "png"
    if extension not in formats:
        raise UsageError(f"--plot {path}: matplotlib writes no .{extension}; try .png, .pdf "
                         "or .svg")
    return path, extension

