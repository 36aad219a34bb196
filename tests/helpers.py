"""Helpers the tests share: running the scripts and watching their processes, small
nets' weights and finite differences, hand-made runs, and compare.py's JSON report."""
import contextlib
import importlib
import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from sklearn.datasets import load_digits

import compare
from study import records, registry, verdicts


HERE = Path(__file__).resolve().parent.parent  # the project's folder
DIGITS = load_digits()
NETS = ["original_net", "broken_net"]


def net(name):
    return importlib.import_module(name)


def run(*args, stdin=None, env=None, cwd=HERE):
    """Run python with args; returns the CompletedProcess (text)."""
    return subprocess.run([sys.executable, *args], input=stdin, capture_output=True, text=True,
                          env=env, cwd=cwd, timeout=120)


def blocked(tmp_path, *modules):
    """An environment in which 'import module' fails for each of modules, as where they
    are not installed."""
    folder = tmp_path / "blocker"
    folder.mkdir()
    for module in modules:
        (folder / f"{module}.py").write_text(f"raise ImportError('no {module} here')\n")
    return dict(os.environ, PYTHONPATH=str(folder))


STARTED = []  # every session a test starts: conftest kills what is left of it after the test


def in_session(command, cwd=HERE, sigint=signal.SIG_DFL, **options):
    """A process in a session of its own (so that its whole group can be seen and
    signalled), with pipes; Ctrl-C's default handling even where the tests run without it,
    or sigint SIG_IGN as a script's background job (&) or nohup runs it. Whatever is left
    of it when the test ends, passed or failed, is killed (kill_started)."""
    STARTED.append(process := subprocess.Popen(
        list(command), cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True, preexec_fn=lambda: signal.signal(signal.SIGINT, sigint),
        **options))
    return process


def start(*args):
    """A script of this folder, run by this Python in a session of its own (in_session)."""
    return in_session([sys.executable, *args])


def kill_session(process):
    """SIGKILL to what is left of process's session; its pipes closed."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait(timeout=10)
    for stream in (process.stdout, process.stderr):
        if stream:
            stream.close()


def kill_started():
    while STARTED:
        kill_session(STARTED.pop())


def wait_for(stream, text, timeout=60):
    """Read stream until a line holds text."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        line = stream.readline()
        if text in line:
            return
        assert line, f"the stream ended before {text!r}"
    raise AssertionError(f"no {text!r} within {timeout} s")


def group_left(process, timeout):
    """The processes of process's group still alive after up to timeout seconds."""
    end = time.monotonic() + timeout
    while True:
        left = subprocess.run(["ps", "-o", "pid=,stat=,args=", "-g", str(process.pid)],
                              capture_output=True, text=True).stdout.strip()
        left = "\n".join(line for line in left.splitlines() if " Z" not in line)  # zombies
        if not left or time.monotonic() > end:
            return left
        time.sleep(0.2)


def finish(process, timeout):
    try:
        return process.communicate(timeout=timeout)
    finally:
        if group_left(process, 0):
            os.killpg(process.pid, signal.SIGKILL)


def processes_with(text, timeout):
    """The processes whose command line holds text, still alive after up to timeout s."""
    end = time.monotonic() + timeout
    while True:
        ps = subprocess.run(["ps", "-ww", "-eo", "pid=,stat=,args="], capture_output=True,
                            text=True).stdout.splitlines()
        left = [line for line in ps if text in line and " Z" not in line and "ps -eo" not in line]
        if not left or time.monotonic() > end:
            return left
        time.sleep(0.2)


def sessions(leader, timeout=0):
    """The live processes of the session that leader leads, after up to timeout s."""
    end = time.monotonic() + timeout
    while True:
        left = [line for line in subprocess.run(
            ["ps", "-o", "pid=,stat=", "-s", str(leader)], capture_output=True,
            text=True).stdout.splitlines() if "Z" not in line.split()[-1]]
        if not left or time.monotonic() > end:
            return left
        time.sleep(0.2)


def terminal_output(*args):
    """What a script writes to a terminal (a pseudo-terminal here)."""
    import pty
    main, replica = pty.openpty()
    process = subprocess.Popen([sys.executable, *args], stdout=replica, stderr=replica, cwd=HERE)
    os.close(replica)
    chunks = []
    while True:
        try:
            chunk = os.read(main, 4096)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    assert process.wait(timeout=60) == 0
    return b"".join(chunks).decode()


def random_image(seed):
    """Non-integer pixels in 0..16: no pooling ties, no ReLU exactly at 0."""
    return np.random.default_rng(seed).uniform(0, 16, (8, 8))


def small_params(module, seed, hidden=(28, 36), scale=0.3):
    """Weights scaled down so the activations are not saturated and gradients are not tiny."""
    return {k: v * scale for k, v in module.init_params(seed, hidden).items()}


def numeric_gradient(module, params, x, y, eps=1e-6):
    """Central finite differences of the cost 0.5 * (y_hat - y)**2, for every weight."""
    def cost():
        return 0.5 * (module.forward(params, x)[0] - y) ** 2
    grads = {}
    for name, w in params.items():
        g = np.zeros_like(w)
        for i in np.ndindex(w.shape):
            old = w[i]
            w[i] = old + eps
            up = cost()
            w[i] = old - eps
            down = cost()
            w[i] = old
            g[i] = (up - down) / (2 * eps)
        grads[name] = g
    return grads


def relative_error(a, b):
    return np.linalg.norm(a - b) / max(np.linalg.norm(a) + np.linalg.norm(b), 1e-300)


def fake_run(experiment, net, seed, costs, test_right, test_size=10, stuck=False):
    history = [50.0] * 500
    for epoch, value in costs.items():
        history[epoch - 1] = value
    return dict(experiment=experiment, net=net, seed=seed, lr=0.001, history=history,
                stuck=stuck, test_right=test_right, test_size=test_size,
                test_accuracy=test_right / test_size,
                checkpoints=[dict(epoch=e, cost=history[e - 1])
                             for e in records.checkpoint_epochs(500)])


BROKEN = registry.BROKEN


def judged(runs, epochs=500):
    """The claims judged on hand-made runs, by label."""
    pairs = {}
    for r in runs:
        pairs.setdefault(r["experiment"], {}).setdefault(r["seed"], {})[r["net"]] = r
    rows = verdicts.article_claims(
        lambda e: [(s["original"], s[BROKEN]) for _, s in sorted(pairs.get(e, {}).items())],
        epochs)
    return {c["label"]: c for c in rows}


def study_settings(seeds, nets=("original", "broken green,red"), pairs=((0, 1),), **more):
    return dict(dict(epochs=2, lr=0.001, lrs=[0.001], momentum=0.9, four_samples=False,
                     alignment=False,
                     seeds=seeds, first_seed=0, experiments=list(registry.EXPERIMENTS),
                     nets=list(nets),
                     digits=list(pairs), test_sizes={p: 10 for p in pairs},
                     train_sizes={p: 350 for p in pairs}, extended=False), **more)


def compare_json(*args, env=None, here=False):
    """compare's JSON report and its stderr: in a process of its own, or here (compare_here)."""
    args = ("--format", "json", *args)
    result = compare_here(*args) if here else run("compare.py", *args, env=env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout), result.stderr


def compare_here(*args):
    """compare.main(args) in this process (no start-up to wait for): as run() returns."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = compare.main(list(args))
    return subprocess.CompletedProcess(args, status, out.getvalue(), err.getvalue())


SHORT = ("--epochs", "3", "--seeds", "12")  # enough seeds for every test to have a p-value


POOLED_CONTRACT = {"pooled", "nets", "digits", "seeds", "mean_difference", "interval",
                   "equivalence_interval", "verdict", "equivalent", "margin", "failed",
                   "discordant", "mcnemar_p", "learned_mean_difference", "learned_interval",
                   "learned_equivalent"}


def damaged(saved_report, change):
    """A deep copy of a saved report with change(copy) applied."""
    copy = json.loads(json.dumps(saved_report))
    change(copy)
    return copy
