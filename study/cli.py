"""The study's command-line plumbing, in one place: argument types, the one-line error,
and the one rule by which every study script ends (run_main).

The exit status: 0 done; 2 a command line, or a choice of files, that cannot work; 1 a
run that fails, a saved report that is damaged, a cluster that fails or a write that
fails; 130 Ctrl-C, 143 SIGTERM; 141 a reader that went away (| head), without a word.
Every error is one line on stderr, never a traceback.

number, looks_negative, count, UsageError, Parser and output_failed are also in
original_net.py and broken_net.py, which must stand alone; a test keeps the three
copies the same, line for line.
"""
import argparse
import math
import os
import signal
import sys
import threading
import time

def number(kind, low, high=math.inf, low_ok=False):
    """An argparse type: a kind (int or float) above low (or equal, if low_ok), below high."""
    def convert(text):
        try:
            value = kind(text)
        except ValueError:
            what = "a whole number" if kind is int else "a number"
            raise argparse.ArgumentTypeError(f"{text!r} is not {what}") from None
        if not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"{text!r} is not a finite number")
        if not (low <= value < high if low_ok else low < value < high):
            least = low if low_ok else low + 1  # whole numbers: from least to high - 1
            bound = (f"at least {low}" if low_ok else f"greater than {low}") if kind is float \
                else f"from {least} to {high - 1}" if high < math.inf else f"at least {least}"
            bound += f" and below {high}" if kind is float and high < math.inf else ""
            raise argparse.ArgumentTypeError(f"{text!r} must be {bound}")
        return value
    return convert


def looks_negative(text):
    """text is a negative number (argparse would take -1e-3 for an option)."""
    try:
        return text.startswith("-") and float(text) < 0
    except ValueError:
        return False


def count(n, word, plural=None):
    """'1 epoch', '2 epochs'; plural where an added s will not do."""
    return f"{n} {word if n == 1 else plural or word + 's'}"


WIDTH = 100  # the widest line a script says, its error lines included
ROOM = WIDTH - len("compare.py: error: ")  # what a study's error line says after its start


def clipped(text, room):
    """text cut to room characters, '...' marking a cut."""
    return text if len(text) <= room else text[:max(room - 3, 0)] + "..."


def listed(items, most=2):
    """'a', 'a and b', 'a, b and 3 more': a list said within a one-line error, however long
    it is."""
    items = [str(item) for item in items]
    if len(items) > most:
        return ", ".join(items[:most]) + f" and {len(items) - most} more"
    return " and ".join([", ".join(items[:-1]), items[-1]]) if len(items) > 1 else "".join(items)


class UsageError(Exception):
    """A bad command line: reported in one line, exit status 2."""


class Parser(argparse.ArgumentParser):
    def error(self, message):
        """A bad command line, in one line: argparse's list of choices made shorter, and
        the option meant named where an unknown one is close to it."""
        head, found, rest = message.partition(": invalid choice: ")
        if found and " (choose from " in rest:
            value, choices = rest[:-1].split(" (choose from ", 1)
            *most, last = [choice.strip("'") for choice in choices.split(", ")]
            message = f"{head}: {value} is not {', '.join(most)} or {last}"
        if message.startswith("unrecognized arguments: "):
            import difflib
            word = message.split()[2].split("=")[0]
            close = difflib.get_close_matches(word, [o for o in self._option_string_actions
                                                     if o.startswith("--")], n=1, cutoff=0.75)
            message += f"; did you mean {close[0]}?" if close else ""
        raise UsageError(message)

    def parse_known_args(self, args=None, namespace=None):
        """As argparse's, but a negative number such as -1e-3 after an option is its value
        (argparse takes one with an exponent for an option of its own)."""
        args = list(sys.argv[1:] if args is None else args)
        for i in range(len(args) - 1, 0, -1):
            if args[i - 1] in self._option_string_actions and looks_negative(args[i]):
                args[i - 1:i + 1] = [f"{args[i - 1]}={args[i]}"]
        return super().parse_known_args(args, namespace)

    def print_help(self, file=None):  # argparse's own ignores a failed write
        (file or sys.stdout).write(self.format_help())


def output_failed(script, error):
    """The exit status when writing stdout failed: 141 without a word when the reader
    went away (| head), else one line and 1. Nothing more is written to stdout."""
    try:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    except (OSError, ValueError):  # no real stdout (a notebook): nothing to silence
        pass
    if isinstance(error, BrokenPipeError):
        return 141
    print(f"{script}: error: cannot write the output: {error.strerror or error}", file=sys.stderr)
    return 1


class Failure(Exception):
    """A run, a saved report, a cluster or a write that failed: one line, exit status 1."""


class Terminated(BaseException):
    """SIGTERM arrived: the script stops as on Ctrl-C; exit status 143."""


def stop_on_sigterm():
    """From now on SIGTERM raises Terminated (where the script can stop its workers);
    returns the handler it replaced."""
    def terminate(signum, frame):
        raise Terminated()
    return signal.signal(signal.SIGTERM, terminate)


def hold_signals():
    """Ctrl-C and SIGTERM noted, not raised, while a script loads its libraries (one that
    lands inside numpy's import comes out as an ImportError); release_signals acts on
    them. Returns the list the signals are noted in."""
    noted = []
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda signum, frame: noted.append(signum))
    return noted


def release_signals(script, noted):
    """Ctrl-C raises KeyboardInterrupt again, SIGTERM Terminated; a signal noted while
    they were held ends the script now: one line, exit 130 or 143."""
    signal.signal(signal.SIGINT, signal.default_int_handler)
    stop_on_sigterm()
    if noted:
        print(f"{script}: {'interrupted' if noted[0] == signal.SIGINT else 'terminated'}",
              file=sys.stderr, flush=True)
        sys.exit(128 + noted[0])


PARENT_FD = "COMPARE_PARENT_FD"  # a pipe's read end from the process that runs the study
STOP_SECONDS = 5  # how long a study told to stop has, before it exits at once


def stop_with_parent():
    """Under make_report (its pipe's read end in COMPARE_PARENT_FD): when the pipe ends,
    make_report is gone, however it was killed, and the study stops as on SIGTERM; if it
    has not within STOP_SECONDS, it exits at once (its workers follow it)."""
    try:
        fd = int(os.environ.pop(PARENT_FD))
        os.fstat(fd)
    except (KeyError, ValueError, OSError):  # not run so, or no such pipe here
        return

    def watch():
        try:
            while os.read(fd, 512):
                pass
        except OSError:
            pass
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(STOP_SECONDS)
        os._exit(143)
    threading.Thread(target=watch, name="stop_with_parent", daemon=True).start()


# A progress line left open on a terminal (written in place, without its newline):
# the next message starts on a line of its own.
open_line = {"stream": None}


def say(message):
    """message on stderr, on a line of its own even after an in-place progress line."""
    if open_line["stream"] is sys.stderr:
        sys.stderr.write("\n")
    open_line["stream"] = None
    print(message, file=sys.stderr, flush=True)


def run_main(script, body, argv=None):
    """body(argv), a script's work, under the study scripts' one rule: returns its exit
    status, and turns every way it can end into one line on stderr and the status the
    module docstring gives. --help's SystemExit ends it with argparse's status."""
    try:
        try:
            status = body(argv)
        except SystemExit as done:  # --help has printed its text
            status = done.code
        sys.stdout.flush()  # a failed write shows here, not after main has returned
        return status
    except UsageError as error:
        say(f"{script}: error: {error}")
        return 2
    except Failure as error:
        say(f"{script}: error: {error}")
        return 1
    except KeyboardInterrupt:
        say(f"{script}: interrupted")
        return 130
    except Terminated:
        say(f"{script}: terminated")
        return 143
    except ImportError as error:  # a library the requirements name is missing
        say(f"{script}: error: cannot import {error.name or error}: python3 -m pip install "
            "-r requirements.txt")
        return 1
    except OSError as error:  # stdout closed (| head) or on a full device
        return output_failed(script, error)
