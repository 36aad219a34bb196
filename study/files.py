"""The files a study writes: checked before any training (check_path), held by one study
at a time (claim_output), replaced whole or not at all (write_file), and the figure's
format (plot_format)."""
import io
import os
import stat
import sys
import tempfile
import time

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
    try:  # the one sure test: make a file there (unnamed on Linux: a kill leaves none)
        tempfile.TemporaryFile(dir=folder, **temporary_name(target)).close()
    except OSError as error:
        raise UsageError(f"{option} {path}: cannot write in {folder} ({error.strerror})") from None


def lock_path(path):
    """The lock file of an output: hidden, beside the file that path names (a symlink's
    target: two names of one file share it)."""
    folder, name = os.path.split(os.path.realpath(path))
    return os.path.join(folder, f".{name}.lock")


class OutputLock:
    """A study's hold on an output (claim_output), until release()."""

    def __init__(self, path, fd):
        self.path, self.fd = path, fd

    def release(self):
        """The lock file removed while still held (if it is still ours), then let go."""
        try:
            if os.path.samestat(os.fstat(self.fd), os.stat(self.path)):
                os.unlink(self.path)
        except OSError:
            pass
        os.close(self.fd)


def claim_output(path, option):
    """Before any training: the output path held for this study, so that two studies
    never write one file: an flock on its lock file (lock_path), held until release().
    UsageError if another study holds it. The file locked must still be the one at the
    path: a holder that ended between our open and our lock has removed it, and another
    study may hold a new one there; then it is tried again. None without flock."""
    try:
        import fcntl
    except ImportError:  # not on a POSIX system: no lock
        return None
    lock = lock_path(path)
    while True:
        try:
            fd = os.open(lock, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o666)
        except OSError:  # check_path found the folder writable: a lock is not to be had
            return None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 32).decode(errors="replace").strip()
            os.close(fd)
            raise UsageError(f"{option} {path}: another study"
                             + (f" (process {holder})" if holder.isdigit() else "")
                             + " is writing it") from None
        except OSError:  # a file system without flock: no lock
            os.close(fd)
            return None
        try:
            current = os.path.samestat(os.fstat(fd), os.stat(lock))
        except FileNotFoundError:
            current = False
        if current:
            try:  # who holds it, for another study's message
                os.ftruncate(fd, 0)
                os.write(fd, f"{os.getpid()}\n".encode())
            except OSError:  # a full disk: the lock holds all the same
                pass
            return OutputLock(lock, fd)
        os.close(fd)


class WriteFailed(cli.Failure):
    """Writing a report or figure failed: one line, exit status 1; an old file stays."""


def temporary_name(target):
    """The prefix and suffix of the temporary files of target (a file's real path): hidden
    beside it, named after it (.NAME.compare-XXXXXXXX.tmp), so that sweep finds them and
    never touches another's file, or an output lock (.NAME.lock)."""
    return dict(prefix=f".{os.path.basename(target)[:200]}.compare-", suffix=".tmp")


STALE_SECONDS = 60  # a temporary file this old whose writer's lock is free: left by a kill


def sweep(target):
    """The temporary files of target left behind by a writer killed mid-write, removed.
    write_file holds an flock on its temporary file from just after making it until it
    is renamed or removed, so a free lock on one older than STALE_SECONDS (the moment
    between making and locking) is a dead writer's. Nothing is removed without flock."""
    try:
        import fcntl
    except ImportError:
        return
    folder, tell = os.path.dirname(target), temporary_name(target)
    try:
        entries = [entry.name for entry in os.scandir(folder or ".")]
    except OSError:
        return
    for entry in entries:
        if not (entry.startswith(tell["prefix"]) and entry.endswith(tell["suffix"])
                and len(entry) == len(tell["prefix"]) + 8 + len(tell["suffix"])):
            continue
        path = os.path.join(folder, entry)
        try:
            fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0)
                         | getattr(os, "O_NONBLOCK", 0))
        except OSError:
            continue
        try:
            found = os.fstat(fd)
            if stat.S_ISREG(found.st_mode) and time.time() - found.st_mtime >= STALE_SECONDS:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # a live writer's: refused
                if os.path.samestat(found, os.stat(path)):
                    os.unlink(path)
        except OSError:
            pass
        finally:
            os.close(fd)


def write_file(path, content):
    """content (bytes, or write(file), which writes it into an open binary file) to path.
    A regular file (or a symlink's regular target) is replaced whole: the bytes made in
    memory first (a figure takes seconds to draw), then written to a temporary file
    beside it, flushed to the disk, and renamed over it, with the mode a plain write
    would leave (the old file's, or the umask's); if anything fails, the old file stays as
    it was. A temporary file that a kill left there is removed by the next write of the
    file (sweep). Anything else that exists, a FIFO or /dev/stdout, is written through."""
    try:
        if written_through(path):
            with open(path, "wb") as file:
                if isinstance(content, bytes):
                    file.write(content)
                else:
                    content(file)
            return
        if not isinstance(content, bytes):
            made = io.BytesIO()
            content(made)
            content = made.getbuffer()
        target = os.path.realpath(path)
        if os.path.exists(target):
            mode = stat.S_IMODE(os.stat(target).st_mode)
        else:
            umask = os.umask(0)
            os.umask(umask)
            mode = 0o666 & ~umask
        sweep(target)
        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(target), **temporary_name(target))
        try:
            with os.fdopen(fd, "wb") as file:
                hold(file)  # until renamed or removed: sweep leaves it alone
                file.write(content)
                file.flush()
                os.fsync(file.fileno())
                os.chmod(tmp, mode)
                os.replace(tmp, target)
        except BaseException:
            if os.path.lexists(tmp):
                os.unlink(tmp)
            raise
    except OSError as error:
        raise WriteFailed(f"cannot write {path}: {error.strerror or error}; "
                          "nothing was replaced") from None


def hold(file):
    """An flock on an open file, where the system has one (sweep's sign of a live writer)."""
    try:
        import fcntl
        fcntl.flock(file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except (ImportError, OSError):
        pass


def put(text, out):
    """The report to the file out (said on stderr), or to stdout."""
    if out:
        write_file(out, text.encode())
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

