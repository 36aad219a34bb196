"""The tests, grouped by module in the order of the package's layout.

    python3 -m pytest -q test_scripts.py                  # all of them (about two minutes)
    python3 -m pytest -q -m "not slow" test_scripts.py    # those that run no process
"""
import contextlib
import importlib
import io
import json
import math
import os
import re
import shlex
import signal
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from scipy import stats
from scipy.signal import convolve2d
from sklearn.datasets import load_digits

import broken_net
import compare
import digits_4samples
import original_net
from study import alignment, files, lockstep, registry, report, running, training, verdicts


# ---------------------------------------------------------------- helpers: running the scripts


HERE = Path(__file__).resolve().parent
DIGITS = load_digits()
NETS = ["original_net", "broken_net"]


def net(name):
    return importlib.import_module(name)


def run(*args, stdin=None, env=None, cwd=HERE):
    """Run python with args; returns the CompletedProcess (text)."""
    return subprocess.run([sys.executable, *args], input=stdin, capture_output=True, text=True,
                          env=env, cwd=cwd, timeout=120)


def blocked(tmp_path, module):
    """An environment in which 'import module' fails, as where it is not installed."""
    folder = tmp_path / "blocker"
    folder.mkdir()
    (folder / f"{module}.py").write_text(f"raise ImportError('no {module} here')\n")
    return dict(os.environ, PYTHONPATH=str(folder))


def start(*args):
    """A script in a session of its own (so that its whole process group can be seen and
    signalled), with Ctrl-C's default handling even where the tests run without it."""
    return subprocess.Popen([sys.executable, *args], cwd=HERE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


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


# ---------------------------------------------------------------- the nets: gradients


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


@pytest.mark.parametrize("seed, hidden, y", [(0, (28, 36), 1.0), (1, (18, 20), 0.0),
                                             (2, (48, 56), 1.0)])
def test_every_gradient_matches_finite_differences(seed, hidden, y):
    params = small_params(original_net, seed, hidden)
    x = random_image(seed)
    _, cache = original_net.forward(params, x)
    grads = original_net.backward(params, cache, y)
    numeric = numeric_gradient(original_net, params, x, y)
    assert list(grads) == list(original_net.NAMES)
    for name in original_net.NAMES:
        assert grads[name].shape == params[name].shape, name
        assert np.linalg.norm(numeric[name]) > 1e-9, f"{name}: a zero gradient proves nothing"
        assert relative_error(grads[name], numeric[name]) <= 1e-6, name


def test_gradient_check_can_fail():
    """The check above catches a wrong gradient: a transposed W2a gradient fails it."""
    params = small_params(original_net, 0)
    x = random_image(0)
    grads = original_net.backward(params, original_net.forward(params, x)[1], 1.0)
    numeric = numeric_gradient(original_net, params, x, 1.0)
    assert relative_error(grads["W2a"].T, numeric["W2a"]) > 1e-3


# ---------------------------------------------------------------- the nets: forward pass


def reference_forward(params, x):
    """The network written plainly with scipy, one channel at a time."""
    p = params

    def conv(a, w):  # zero padding, then a true convolution (kernel flipped)
        return convolve2d(np.pad(a, 1), w, mode="valid")

    def pool(a):
        n = a.shape[0] // 2
        return a.reshape(n, 2, n, 2).max(axis=(1, 3))

    z1 = [conv(x, p["W1a"]), conv(x, p["W1b"])]
    a1a, a1b = pool(np.maximum(z1[0], 0)), pool(np.arctan(z1[1]))
    z2 = [conv(a1a, p["W2a"]), conv(a1a, p["W2b"]), conv(a1b, p["W2c"]), conv(a1b, p["W2d"])]
    a2 = [pool(np.arctan(z2[0])), pool(np.maximum(z2[1], 0)), pool(np.arctan(z2[2])),
          pool(np.tanh(z2[3]))]
    f = np.concatenate([m.ravel() for m in a2])
    h3 = np.arctan(f @ p["W3"])
    h4 = np.tanh(h3 @ p["W4"])
    y_hat = 1 / (1 + np.exp(-(h4 @ p["W5"])[0]))
    return y_hat, np.array(z1), np.array(z2), f


@pytest.mark.parametrize("module_name", NETS)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_forward_equals_plain_scipy_reference(module_name, seed):
    module = net(module_name)
    params = small_params(module, seed)
    x = random_image(seed + 10)
    y_hat, cache = module.forward(params, x)
    ref_y, ref_z1, ref_z2, ref_f = reference_forward(params, x)
    np.testing.assert_allclose(module.as_image(cache["z1"]), ref_z1, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(module.as_image(cache["z2"]), ref_z2, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(cache["f"], ref_f, rtol=1e-12, atol=1e-12)
    assert y_hat == pytest.approx(ref_y, rel=1e-12, abs=1e-15)


def test_forward_reference_tells_convolution_from_correlation():
    """The reference test can fail: an unflipped kernel (correlation) gives other maps."""
    params = small_params(original_net, 0)
    x = random_image(3)
    _, cache = original_net.forward(params, x)
    correlation = convolve2d(np.pad(x, 1), params["W1a"][::-1, ::-1], mode="valid")
    assert not np.allclose(original_net.as_image(cache["z1"])[0], correlation)


def test_max_pool_routes_to_the_first_maximum_only():
    maps = np.zeros((1, 1, 1, 4))  # one window, all four tied
    pooled, mask = original_net.maxpool(maps)
    assert pooled.shape == (1, 1, 1) and mask.sum() == 1 and mask[0, 0, 0, 0]
    maps[0, 0, 0, 2:] = 2.0  # a tie in the window's lower row
    pooled, mask = original_net.maxpool(maps)
    assert pooled[0, 0, 0] == 2.0 and mask.sum() == 1 and mask[0, 0, 0, 2]


# ---------------------------------------------------------------- the nets: training, data, stuck runs


@pytest.mark.parametrize("module_name", NETS)
def test_same_seed_same_history_bit_for_bit(module_name):
    module = net(module_name)
    x_train, y_train, *_ = module.load_data(seed=3)
    histories = []
    for seed in (3, 3, 4):
        params = module.init_params(seed)
        histories.append(module.train(params, x_train[:60], y_train[:60], epochs=3))
    assert histories[0] == histories[1]
    assert histories[0] != histories[2]


def test_short_training_run_learns():
    x_train, y_train, *_ = original_net.load_data(seed=0)
    params = original_net.init_params(0)
    history = original_net.train(params, x_train[:100], y_train[:100], epochs=20)
    assert len(history) == 20 and history[-1] < history[0] / 4
    accuracy = ((original_net.predict(params, x_train[:100]) >= 0.5) == y_train[:100]).mean()
    assert accuracy >= 0.95


def test_train_updates_params_in_place_and_reports_each_epoch():
    x_train, y_train, *_ = original_net.load_data(seed=0)
    params = original_net.init_params(0)
    before = {k: v.copy() for k, v in params.items()}
    seen = []
    history = original_net.train(params, x_train[:10], y_train[:10], epochs=2,
                                 on_epoch=lambda e, c: seen.append((e, c)))
    assert seen == [(1, history[0]), (2, history[1])]
    assert all(not np.array_equal(before[k], params[k]) for k in params)


def test_data_split_is_the_articles():
    x_train, y_train, x_test, y_test, source = original_net.load_data(seed=0)
    assert x_train.shape == (350, 8, 8) and x_test.shape == (10, 8, 8)
    assert set(np.unique(y_train)) == {0, 1} and x_train.max() == 16
    assert "350 train, 10 test" in source
    again = original_net.load_data(seed=0)
    assert np.array_equal(again[2], x_test)
    assert not np.array_equal(original_net.load_data(seed=1)[2], x_test)


@pytest.mark.parametrize("module_name", NETS)
def test_train_raises_training_diverged_on_non_finite_numbers(module_name):
    module = net(module_name)
    x_train, y_train, *_ = module.load_data(seed=0)
    params = module.init_params(0)
    params["W4"][0, 0] = np.inf
    with pytest.raises(module.TrainingDiverged, match="diverged in epoch 1"):
        module.train(params, x_train[:5], y_train[:5], epochs=2)


def test_a_stuck_run_is_no_better_than_the_majority_digit():
    labels = np.array([1] * 177 + [0] * 173)                    # majority 177/350 = 0.506
    right = labels.copy()
    assert not original_net.is_stuck(right, labels)              # all right: learned
    chance = labels.copy()
    chance[:180] = 1 - chance[:180]                               # 170 of 350 right
    assert original_net.is_stuck(chance, labels)                  # at chance: stuck ...
    assert len(set(chance)) == 2                                  # ... though not one digit
    good = labels.copy()
    good[:130] = 1 - good[:130]                                   # 220 right: p < 0.001
    assert not original_net.is_stuck(good, labels)
    four = np.array([0, 1, 1, 0])  # four samples: even 4/4 is no test at 1%: one digit is stuck
    assert not original_net.is_stuck(four, four) and original_net.is_stuck(np.ones(4), four)


# ---------------------------------------------------------------- the nets: the four samples and pasted text


@pytest.mark.slow
def test_embedded_samples_match_digits_4samples_and_load_digits():
    assert digits_4samples.check(HERE) == []
    assert digits_4samples.from_sklearn() == digits_4samples.BLOCK
    for name in NETS:
        assert np.array_equal(net(name).FOUR_X, digits_4samples.FOUR_X)
        assert np.array_equal(net(name).FOUR_Y, digits_4samples.FOUR_Y)
    result = run("digits_4samples.py", "--check")
    assert result.returncode == 0, result.stderr
    assert run("digits_4samples.py").stdout == digits_4samples.BLOCK


@pytest.fixture
def no_sklearn(tmp_path):
    """An environment in which 'import sklearn' fails, as in an online interpreter."""
    return blocked(tmp_path, "sklearn")


@pytest.mark.slow
@pytest.mark.parametrize("script", ["original_net.py", "broken_net.py"])
def test_pasted_text_runs_without_sklearn(script, no_sklearn, tmp_path):
    text = (HERE / script).read_text()
    # From stdin, as an online interpreter runs pasted code.
    result = run("-", stdin=text, env=no_sklearn, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert "scikit-learn is not installed: training on the four embedded samples" in result.stdout
    assert "test accuracy 4/4" in result.stdout
    pair = run("-", "--digits", "0", "1", "--epochs", "5", stdin=text, env=no_sklearn, cwd=tmp_path)
    assert pair.returncode == 0 and "four embedded samples" in pair.stdout
    other = run("-", "--digits", "3", "8", stdin=text, env=no_sklearn, cwd=tmp_path)
    assert other.returncode == 2 and other.stdout == ""
    assert other.stderr == ("-: error: --digits 3 8 needs scikit-learn (the four embedded samples "
                            "are 0 and 1)\n").replace("-:", f"{script}:")


@pytest.mark.slow
def test_pasted_text_refuses_a_mistyped_option():
    """python - reads the script from stdin; its options are the user's: a typo is an error."""
    result = run("-", "--epoch", "20", stdin=(HERE / "original_net.py").read_text())
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr == "original_net.py: error: unrecognized arguments: --epoch 20\n"


@pytest.mark.slow
def test_pasted_text_runs_as_a_notebook_cell(no_sklearn, tmp_path):
    """exec() of the text under a kernel's sys.argv, as a notebook cell does."""
    code = ("import sys\nsys.argv = ['/usr/lib/python3/ipykernel_launcher.py', '-f', 'k.json']\n"
            f"exec(compile(open({str(HERE / 'original_net.py')!r}).read(), 'cell', 'exec'),"
            " {'__name__': '__main__'})\n"
            "print('cell finished')\n")
    result = run("-c", code, env=no_sklearn, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "test accuracy 4/4" in result.stdout and "cell finished" in result.stdout


@pytest.mark.slow
def test_four_samples_flag_uses_the_embedded_samples():
    result = run("original_net.py", "--four-samples", "--epochs", "50")
    assert result.returncode == 0, result.stderr
    assert "the four embedded samples" in result.stdout and "lr 0.01" in result.stdout
    assert "scikit-learn is not installed" not in result.stdout


@pytest.mark.slow
@pytest.mark.parametrize("script", ["original_net.py", "broken_net.py"])
def test_a_net_without_sklearn_refuses_a_test_size(script, no_sklearn, tmp_path):
    result = run(str(HERE / script), "--test-size", "400", env=no_sklearn, cwd=tmp_path)
    assert result.returncode == 2 and result.stdout == "" and result.stderr == (
        f"{script}: error: --test-size needs scikit-learn (the four embedded samples train and "
        "test on all four)\n")


# ---------------------------------------------------------------- the nets: command line, signals and pipes


def test_cli_prints_the_articles_results(capsys):
    assert original_net.main(["--epochs", "3", "--test-size", "5"]) == 0
    out = capsys.readouterr().out
    assert "epoch    3/3  cost" in out
    assert "image  truth  probability  prediction" in out
    assert "test accuracy" in out and "/5 = " in out
    assert "us per step" in out


@pytest.mark.parametrize("args, message", [
    (["--epochs", "0"], "--epochs"), (["--epochs", "-3"], "--epochs"),
    (["--epochs", "ten"], "not a whole number"), (["--lr", "0"], "--lr"),
    (["--lr", "-0.1"], "--lr"), (["--lr", "nan"], "not a finite number"),
    (["--lr", "inf"], "not a finite number"), (["--lr", "abc"], "not a number"),
    (["--momentum", "1.5"], "--momentum"), (["--hidden", "0", "36"], "--hidden"),
    (["--hidden", "28"], "--hidden"), (["--test-size", "0"], "--test-size"),
    (["--test-size", "360"], "--test-size"), (["--seed", "-1"], "--seed"),
    (["--bogus"], "unrecognized"), (["--lr", "-1e-3"], "must be greater than 0"),
    (["--digits", "3", "3"], "two different digits"), (["--digits", "0", "10"], "from 0 to 9"),
    (["--digits", "a", "b"], "not a whole number"), (["--digits", "3"], "--digits"),
    (["--four-samples", "--test-size", "5"], "--four-samples takes no --test-size"),
    (["--hidden", "5000", "5000"], "weights, more than 10,000,000"),
])
@pytest.mark.parametrize("module_name", NETS)
def test_bad_input_gives_one_line_and_exit_2(module_name, args, message, capsys):
    assert net(module_name).main(args) == 2  # in this process: quick, as the CLI below
    out, err = capsys.readouterr()
    lines = err.splitlines()
    assert out == "" and len(lines) == 1 and len(lines[0]) <= 100, err
    assert lines[0].startswith(f"{module_name}.py: error:") and message in lines[0]


@pytest.mark.slow
@pytest.mark.parametrize("script", ["original_net.py", "broken_net.py", "compare.py"])
def test_bad_input_on_the_command_line_gives_one_line_and_exit_2(script):
    result = run(script, "--epochs", "0")
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.count("\n") == 1 and result.stderr.startswith(f"{script}: error:")


@pytest.mark.slow
@pytest.mark.parametrize("script", ["original_net.py", "broken_net.py"])
def test_diverging_run_stops_with_a_clear_message_and_exit_1(script):
    result = run(script, "--lr", "1e100", "--epochs", "5", "--test-size", "300", "--quiet")
    assert result.returncode == 1
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and "diverged in epoch" in lines[0], result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.slow
def test_normal_run_prints_no_warnings():
    result = run("-W", "error", "original_net.py", "--epochs", "2")
    assert result.returncode == 0 and result.stderr == ""


@pytest.mark.parametrize("module_name", NETS)
def test_a_stuck_run_says_so_and_exits_0(module_name, capsys):
    assert net(module_name).main(["--lr", "1e6", "--epochs", "3", "--quiet"]) == 0
    out, err = capsys.readouterr()
    lines = out.splitlines()
    stuck = [i for i, line in enumerate(lines) if line.startswith("stuck:")]
    assert len(stuck) == 1 and "majority digit" in lines[stuck[0]] and err == ""
    assert "--seed" in lines[stuck[0] + 1] and "smaller --lr" in lines[stuck[0] + 1]
    assert max(map(len, lines)) <= 100
    assert net(module_name).main(["--epochs", "3", "--quiet"]) == 0
    assert "stuck" not in capsys.readouterr().out


@pytest.mark.slow
@pytest.mark.parametrize("script", ["original_net.py", "broken_net.py"])
def test_ctrl_c_stops_a_net_with_one_line_and_exit_130(script):
    process = start(script)
    wait_for(process.stdout, "epoch")
    os.killpg(process.pid, signal.SIGINT)
    _, err = finish(process, 10)
    assert process.returncode == 130 and err == f"{script}: interrupted\n"


@pytest.mark.slow
def test_a_closed_pipe_ends_a_net_quietly():
    process = start("original_net.py", "--epochs", "50", "--four-samples")
    wait_for(process.stdout, "epoch")
    process.stdout.close()  # as | head does after its lines
    err = process.stderr.read()
    assert process.wait(timeout=30) == 141 and err == ""


@pytest.mark.slow
@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
@pytest.mark.parametrize("args", [("original_net.py", "--epochs", "3", "--four-samples"),
                                  ("broken_net.py", "--epochs", "3", "--four-samples"),
                                  ("-m", "study.lockstep", "--help")])
def test_a_full_stdout_gives_one_line_and_exit_1(args):
    with open("/dev/full", "w") as full:
        result = subprocess.run([sys.executable, *args], stdout=full, stderr=subprocess.PIPE,
                                text=True, cwd=HERE, timeout=120)
    assert result.returncode == 1
    assert result.stderr.endswith(": error: cannot write the output: No space left on device\n")
    assert result.stderr.count("\n") == 1


@pytest.mark.slow
@pytest.mark.parametrize("script", ["original_net.py", "broken_net.py"])
def test_a_net_refuses_a_head_too_big_for_memory_before_allocating(script):
    result = run(script, "--hidden", "100000", "100000")
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr == (f"{script}: error: --hidden 100000 100000: 10,001,700,054 "
                             "weights, more than 10,000,000\n")


@pytest.mark.slow
def test_progress_is_in_place_on_a_terminal_and_periodic_otherwise():
    tty = terminal_output("original_net.py", "--epochs", "20", "--test-size", "3")
    assert "\repoch    2/20" in tty and "\repoch   20/20" in tty
    # Each line overwrites the last one whole: it is padded to at least its length.
    progress = [p for p in tty[tty.index("\repoch"):].split("\n")[0].split("\r") if p]
    assert all(len(b) >= len(a.rstrip()) for a, b in zip(progress, progress[1:]))
    assert any(b.endswith(" ") for b in progress)  # some cost got shorter: it was padded
    piped = run("original_net.py", "--epochs", "20", "--test-size", "3").stdout
    assert [line.split()[1] for line in piped.splitlines() if line.startswith("epoch")] == [
        "1/20", "2/20", "4/20", "6/20", "8/20", "10/20", "12/20", "14/20", "16/20", "18/20",
        "20/20"]


@pytest.mark.slow
def test_counts_are_singular_or_plural():
    assert original_net.count(1, "epoch") == "1 epoch"
    assert original_net.count(2, "epoch") == "2 epochs"
    assert original_net.count(1, "process", "processes") == "1 process"
    assert original_net.count(3, "process", "processes") == "3 processes"
    out = run("original_net.py", "--epochs", "1", "--four-samples").stdout
    assert "\n1 epoch, lr" in out and "for 4 training steps" in out


# ---------------------------------------------------------------- broken_net.py: the broken lines and the twin rule


CONV = ["W1a", "W1b", "W2a", "W2b", "W2c", "W2d"]
DENSE = ["W3", "W4", "W5"]


# What SPEC says each break changes: green (layer 2's pooled gradient) reaches W2 and,
# through layer 2, W1; red (layer 1's mask) reaches only W1.
CHANGED = {("green", "red"): CONV, ("green",): CONV, ("red",): ["W1a", "W1b"], (): []}


@pytest.mark.parametrize("breaks", list(CHANGED))
def test_each_break_changes_only_the_layers_spec_names(breaks):
    params = small_params(broken_net, 5)
    x = random_image(5)
    _, cache = broken_net.forward(params, x)
    broken = broken_net.backward(params, cache, 1.0, breaks=breaks)
    proper = original_net.backward(params, original_net.forward(params, x)[1], 1.0)
    for name in original_net.NAMES:
        if name in CHANGED[breaks]:
            assert relative_error(broken[name], proper[name]) > 1e-4, name
        else:
            assert np.array_equal(broken[name], proper[name]), name


def test_broken_gradients_are_wrong_exactly_where_intended():
    """Dense gradients still equal finite differences; the convolution ones do not."""
    params = small_params(broken_net, 6)
    x = random_image(6)
    grads = broken_net.backward(params, broken_net.forward(params, x)[1], 0.0)
    numeric = numeric_gradient(broken_net, params, x, 0.0)
    for name in DENSE:
        assert relative_error(grads[name], numeric[name]) <= 1e-6, name
    for name in CONV:
        assert relative_error(grads[name], numeric[name]) > 1e-4, name  # far past 1e-6


def test_no_breaks_gradients_match_finite_differences():
    params = small_params(broken_net, 7)
    x = random_image(7)
    grads = broken_net.backward(params, broken_net.forward(params, x)[1], 1.0, breaks=())
    numeric = numeric_gradient(broken_net, params, x, 1.0)
    for name in original_net.NAMES:
        assert relative_error(grads[name], numeric[name]) <= 1e-6, name


def test_breaks_none_trains_bit_for_bit_like_the_original():
    x_train, y_train, *_ = original_net.load_data(seed=2)
    a, b = original_net.init_params(2), broken_net.init_params(2)
    history_a = original_net.train(a, x_train[:80], y_train[:80], epochs=3)
    history_b = broken_net.train(b, x_train[:80], y_train[:80], epochs=3, breaks=())
    assert history_a == history_b
    assert all(np.array_equal(a[k], b[k]) for k in a)
    c = broken_net.init_params(2)
    assert broken_net.train(c, x_train[:80], y_train[:80], epochs=3) != history_a


@pytest.mark.slow
def test_breaks_none_cli_prints_the_originals_numbers(capsys):
    def numbers(module, *extra):  # in this process: quick, as the command line
        assert net(module).main(["--epochs", "2", "--test-size", "4", *extra]) == 0
        out = capsys.readouterr().out.splitlines()
        return [line for line in out if line.startswith(("epoch", " ", "test accuracy"))]
    original = numbers("original_net")
    assert original == numbers("broken_net", "--breaks", "none")
    assert original != numbers("broken_net")


@pytest.mark.parametrize("choice, shown", [("none", "none"), ("green", "green"),
                                           ("red", "red"), ("green,red", "green, red")])
def test_final_printout_names_the_active_breaks(choice, shown, capsys):
    assert broken_net.main(["--epochs", "1", "--breaks", choice, "--test-size", "3"]) == 0
    assert f"broken lines active: {shown}\n" in capsys.readouterr().out


@pytest.mark.slow
def test_bad_breaks_are_refused():
    result = run("broken_net.py", "--breaks", "blue")
    assert result.returncode == 2 and len(result.stderr.splitlines()) == 1
    assert result.stderr == ("broken_net.py: error: argument --breaks: 'blue' is not green,red, "
                             "green, red or none\n")  # argparse's list, shorter
    with pytest.raises(ValueError, match="unknown breaks"):
        broken_net.train(broken_net.init_params(0), original_net.FOUR_X,
                         original_net.FOUR_Y, epochs=1, breaks=("gren",))


TAGS = ("# GREEN", "# RED", "# BLUE", "# BREAKS")


def twin_violations(original_text, broken_text):
    """Lines in which the twins differ that are neither docstring, name, nor tagged."""
    import difflib
    a, b = original_text.splitlines(), broken_text.splitlines()

    def header_end(lines):  # the module docstring and the NAME line may differ
        closing = next(i for i, line in enumerate(lines) if i > 0 and line.endswith('"""'))
        return closing, next(i for i, line in enumerate(lines) if line.startswith("NAME, SCRIPT"))

    a_doc, a_name = header_end(a)
    b_doc, b_name = header_end(b)
    bad = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if op == "equal":
            continue
        b_ok = [j <= b_doc or j == b_name or any(t in b[j] for t in TAGS) for j in range(j1, j2)]
        bad += [f"broken_net.py:{j + 1}: {b[j]}" for j, ok in zip(range(j1, j2), b_ok) if not ok]
        for i in range(i1, i2):
            tagged_swap = op == "replace" and j2 > j1 and all(
                any(t in b[j] for t in TAGS) for j in range(j1, j2))
            if not (i <= a_doc or i == a_name or tagged_swap):
                bad.append(f"original_net.py:{i + 1}: {a[i]}")
    return bad


def test_the_two_nets_are_twins():
    original = (HERE / "original_net.py").read_text()
    broken = (HERE / "broken_net.py").read_text()
    assert twin_violations(original, broken) == []


def test_twin_test_catches_a_fix_made_in_one_file_only():
    original = (HERE / "original_net.py").read_text()
    broken = (HERE / "broken_net.py").read_text()
    fixed = original.replace("h3 = np.arctan(z3)", "h3 = np.arctan(z3 * 1.0)")
    assert fixed != original and twin_violations(fixed, broken)
    untagged = broken.replace("  # GREEN: each", "  # each")
    assert untagged != broken and twin_violations(original, untagged)


# ---------------------------------------------------------------- digits_4samples.py


def test_digits_4samples_check_fails_on_a_stale_copy(tmp_path):
    for name in digits_4samples.SCRIPTS:
        (tmp_path / name).write_text((HERE / name).read_text().replace(
            "[0, 0, 5, 13, 9, 1, 0, 0],", "[0, 0, 5, 13, 9, 2, 0, 0],", 1))
    assert digits_4samples.check(tmp_path) == list(digits_4samples.SCRIPTS)


@pytest.mark.slow
def test_digits_4samples_help_and_missing_sklearn(tmp_path):
    result = run("digits_4samples.py", "--help")
    assert result.returncode == 0 and "--check" in result.stdout and "--from-sklearn" in result.stdout
    result = run("digits_4samples.py", "--from-sklearn", env=blocked(tmp_path, "sklearn"))
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr == ("digits_4samples.py: error: --from-sklearn needs scikit-learn "
                             "(pip install scikit-learn)\n")


# ---------------------------------------------------------------- lockstep.py


BREAK_CHOICES = [(), ("green",), ("red",), ("green", "red")]


def lockstep_runs(hidden, seeds=(0, 1, 2), images=50):
    """A batch of every break choice for each seed, originals first (the broken runs,
    measured for alignment, must be consecutive)."""
    runs = [(seed, b) for b in BREAK_CHOICES for seed in seeds]
    data = {seed: original_net.load_data(seed) for seed in seeds}
    x = np.stack([data[seed][0][:images] for seed, _ in runs])
    y = np.stack([data[seed][1][:images] for seed, _ in runs])
    return runs, x, y


@pytest.mark.parametrize("hidden", [(18, 20), (48, 56)])
def test_lockstep_equals_separate_runs_bit_for_bit(hidden):
    runs, x, y = lockstep_runs(hidden)
    epochs = 3
    params = [original_net.init_params(seed, hidden) for seed, _ in runs]
    aligned = [i for i, (_, b) in enumerate(runs) if b]
    histories, alignments = lockstep.train(params, x, y, [b for _, b in runs], epochs,
                                           0.001, 0.9, align=aligned)
    for r, (seed, breaks) in enumerate(runs):
        alone = original_net.init_params(seed, hidden)
        meter = alignment.AlignmentMeter(alone, x.shape[1], epochs) if breaks else None
        if breaks:
            history = broken_net.train(alone, x[r], y[r], epochs, 0.001, 0.9, on_step=meter,
                                       breaks=breaks)
        else:
            history = original_net.train(alone, x[r], y[r], epochs, 0.001, 0.9)
        assert history == histories[r], (seed, breaks)
        for name in original_net.NAMES:
            assert params[r][name].tobytes() == alone[name].tobytes(), (seed, breaks, name)
        if breaks:
            assert alignments[aligned.index(r)].tobytes() == meter.means.tobytes(), (seed, breaks)
    assert len({tuple(h) for h in histories}) == len(runs)  # the runs really differ


def freeze_conv(params, cache, y, grads):
    """The frozen-conv control's reference: an on_step hook that zeroes the conv
    gradients (W1a..W2d) before original_net.train's update."""
    for name in original_net.NAMES[:6]:
        grads[name][...] = 0.0


def test_lockstep_frozen_conv_control_equals_its_reference_bit_for_bit():
    seeds, hidden, epochs = (0, 1, 2), (28, 36), 3
    runs, x, y = lockstep_runs(hidden, seeds=seeds, images=40)
    runs = runs[:3] + runs[-3:]  # originals and both-lines broken runs ...
    x, y = np.concatenate([x[:3], x[-3:], x[:3]]), np.concatenate([y[:3], y[-3:], y[:3]])
    frozen = [False] * 6 + [True] * 3  # ... and frozen runs of the same seeds, mixed in
    params = [original_net.init_params(seed, hidden) for seed in seeds * 3]
    start = [{k: v.copy() for k, v in p.items()} for p in params]
    breaks = [b for _, b in runs] + [()] * 3
    histories, _ = lockstep.train(params, x, y, breaks, epochs, 0.001, 0.9, frozen=frozen)
    for r in range(6, 9):
        alone = original_net.init_params(seeds[r - 6], hidden)
        history = original_net.train(alone, x[r], y[r], epochs, 0.001, 0.9, on_step=freeze_conv)
        assert history == histories[r]
        for name in original_net.NAMES:
            assert params[r][name].tobytes() == alone[name].tobytes(), name
            frozen_weight = np.array_equal(params[r][name], start[r][name])
            assert frozen_weight == (name in original_net.NAMES[:6]), name  # only W3..W5 learn
    assert histories[6] != histories[0]  # the control trains otherwise than the original


def test_lockstep_exactness_check_can_fail():
    """The comparison above notices one weight one bit off at the start."""
    runs, x, y = lockstep_runs((18, 20), seeds=(0,), images=20)
    params = [original_net.init_params(seed, (18, 20)) for seed, _ in runs]
    params[0]["W1a"][1, 1] = np.nextafter(params[0]["W1a"][1, 1], np.inf)
    lockstep.train(params, x, y, [b for _, b in runs], 2, 0.001, 0.9)
    alone = original_net.init_params(0, (18, 20))
    original_net.train(alone, x[0], y[0], 2, 0.001, 0.9)
    assert [n for n in original_net.NAMES if alone[n].tobytes() != params[0][n].tobytes()]


def test_lockstep_names_the_run_that_diverges_with_its_nets_message():
    runs, x, y = lockstep_runs((18, 20), seeds=(0, 1), images=10)
    params = [original_net.init_params(seed, (18, 20)) for seed, _ in runs]
    params[5]["W1b"][:] = 1e300  # run 5 (seed 1, green) overflows in its first step
    alone = {k: v.copy() for k, v in params[5].items()}
    with pytest.raises(broken_net.TrainingDiverged) as own:
        broken_net.train(alone, x[5], y[5], 2, breaks=("green",))
    with pytest.raises(lockstep.RunDiverged) as batch:
        lockstep.train(params, x, y, [b for _, b in runs], 2, 0.001, 0.9)
    assert batch.value.run == 5 and str(batch.value) == str(own.value)


# ---------------------------------------------------------------- alignment.py


def test_alignment_helper_on_hand_made_vectors():
    starts = np.array([0, 2, 4, 6])
    a = np.array([1.0, 0.0, 1.0, 2.0, 0.0, 0.0, 3.0, -1.0])
    b = np.array([0.0, 5.0, -2.0, -4.0, 0.0, 0.0, 0.0, 0.0])
    cosine, signs = alignment.alignment(a, b, starts)
    assert cosine.tolist() == [0.0, -1.0, 1.0, 0.0]  # orthogonal, opposite, both zero, one zero
    assert signs.tolist() == [0.0, 0.0, 1.0, 0.0]
    assert not np.isnan(cosine).any()
    same = np.random.default_rng(0).standard_normal(8)
    assert alignment.alignment(same, same, starts)[0].tolist() == [1.0] * 4


def aligned_training(breaks, epochs=2):
    x_train, y_train, *_ = broken_net.load_data(seed=1)
    params = broken_net.init_params(1, (18, 20))
    meter = alignment.AlignmentMeter(params, 40, epochs)
    broken_net.train(params, x_train[:40], y_train[:40], epochs, on_step=meter, breaks=breaks)
    return meter.means  # (epochs, [cosine, signs], groups W1..W5)


def test_alignment_is_exactly_one_without_breaks():
    assert (aligned_training(()) == 1.0).all()


def test_alignment_with_breaks_drops_only_in_the_broken_layers():
    per_epoch = aligned_training(("green", "red"))
    assert (per_epoch[:, :, 2:] == 1.0).all()  # W3, W4, W5
    assert (per_epoch[:, 0, :2] < 1.0).all()   # W1, W2 cosines
    red = aligned_training(("red",))
    assert (red[:, :, 1:] == 1.0).all() and (red[:, 0, 0] < 1.0).all()


# ---------------------------------------------------------------- verdicts.py: the article's claims


def fake_run(experiment, net, seed, costs, test_right, test_size=10, stuck=False):
    history = [50.0] * 500
    for epoch, value in costs.items():
        history[epoch - 1] = value
    return dict(experiment=experiment, net=net, seed=seed, history=history, stuck=stuck,
                test_right=test_right, test_size=test_size, test_accuracy=test_right / test_size)


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


def test_holm_against_a_known_example():
    # Four p-values: Holm rejects the smallest two at 5% (0.005 < 0.05/4, 0.01 < 0.05/3)
    assert verdicts.holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert verdicts.holm([0.5, 0.9]) == pytest.approx([1.0, 1.0])  # capped at 1, monotone
    assert np.allclose(verdicts.holm([[0.04, 0.01], [0.2, 0.3]]), [[0.04, 0.02], [0.4, 0.4]])


def test_exact_tests_and_intervals_against_known_values():
    p, side, (low, high) = verdicts.rate_test([True] * 9 + [False])
    assert p == pytest.approx(22 / 1024) and side == 1          # 2 P(X >= 9), X ~ B(10, 1/2)
    assert (low, high) == pytest.approx((0.5550, 0.9975), abs=1e-4)  # Clopper-Pearson, 9 of 10
    p, side, median, (lo, hi) = verdicts.cost_test(np.log(np.arange(1.5, 11.5)))
    assert p == pytest.approx(2 / 2 ** 10) and side == 1        # all ten log ratios above 0
    assert median == pytest.approx(np.sqrt(5.5 * 6.5))           # the median ratio, on logs
    assert (lo, hi) == pytest.approx((2.5, 9.5))                 # order statistics 2 and 9 of 10
    p, side, *_ = verdicts.cost_test([-1.0, 2, 3, 4, 5])
    assert p == pytest.approx(0.125) and side == 1               # exact: 2 P(T- <= 1) = 4/32
    for k, n, ps in [(3, 350, 0.5), (180, 350, 0.506), (200, 350, 0.506), (4, 4, 0.5)]:
        assert original_net.binomial_tail(k, n, ps) == pytest.approx(
            stats.binomtest(k, n, ps, alternative="greater").pvalue, rel=1e-9)


def test_cost_claims_are_judged_on_the_ratio_of_costs():
    def claim(broken_over_original, **kw):
        runs = []
        for seed, ratio in enumerate(broken_over_original):
            runs += [fake_run("Result 3", "original", seed, {500: 1.0}, 10),
                     fake_run("Result 3", BROKEN, seed, {500: ratio}, 10)]
        return judged(runs, **kw)["R3: broken higher cost"]
    higher = claim([1.5, 2, 3, 1.1, 4, 2.5, 1.2, 1.8, 2.2, 3.5])
    assert higher["verdict"] == "holds" and higher["held"] == 10
    assert higher["median_ratio"] == pytest.approx(np.exp(np.median(np.log(
        [1.5, 2, 3, 1.1, 4, 2.5, 1.2, 1.8, 2.2, 3.5]))))
    assert higher["p_value"] == pytest.approx(2 / 2 ** 10)
    lower = claim([1 / r for r in (1.5, 2, 3, 1.1, 4, 2.5, 1.2, 1.8, 2.2, 3.5)])
    assert lower["verdict"] == "fails" and lower["held"] == 0
    # three seeds a hair above 1 do not outweigh seven at half: magnitudes count
    tiny = claim([1.001] * 3 + [0.5] * 7)
    assert tiny["held"] == 3 and tiny["verdict"] == "fails"


def test_a_cost_of_zero_makes_no_ratio_and_says_which_run():
    runs = []
    for seed in range(3):
        runs += [fake_run("Result 2", "original", seed, {500: 0.0 if seed == 2 else 1.0}, 10),
                 fake_run("Result 2", BROKEN, seed, {500: 2.0}, 10)]
    with pytest.raises(verdicts.NotJudged, match=r"Result 2, seed 2: the cost ratio 2/0 is not "
                                                  r"a finite number"):
        judged(runs)


def test_rate_claims_and_the_trained_count_use_only_the_claims_own_nets():
    runs = []
    for seed in range(30):
        stuck = seed >= 20  # the broken net of seeds 20..29 did not learn, with 5/10 right
        runs += [fake_run("Result 3", "original", seed, {500: 1.0}, 9),
                 fake_run("Result 3", BROKEN, seed, {500: 2.0}, 5 if stuck else 10, stuck=stuck)]
    claims = judged(runs)
    both = claims["R3: both 100%"]            # held in no seed: the original has 9/10
    assert (both["held"], both["seeds"]) == (0, 30) and both["verdict"] == "fails"
    one = claims["original: all but one right"]  # about the original only: ...
    assert (one["trained_held"], one["trained_seeds"]) == (30, 30)  # ... no seed left out
    assert one["verdict"] == "holds" and one["trained_verdict"] == "holds"


def test_the_trained_word_is_judged_over_the_trained_seeds_not_all():
    runs = []
    for seed in range(30):
        stuck = seed >= 20
        runs += [fake_run("Result 3", "original", seed, {500: 1.0}, 10),
                 fake_run("Result 3", BROKEN, seed, {500: 2.0}, 3 if stuck else 10, stuck=stuck)]
    both = judged(runs)["R3: both 100%"]
    assert (both["held"], both["seeds"]) == (20, 30) and both["verdict"] == "unclear"
    assert (both["trained_held"], both["trained_seeds"]) == (20, 20)
    assert both["trained_verdict"] == "holds"  # 20 of 20; 20 of 30 would be unclear


def test_one_seed_is_an_anecdote():
    runs = [fake_run("Result 3", "original", 0, {}, 9), fake_run("Result 3", BROKEN, 0, {}, 10)]
    claims = judged(runs)
    assert claims["original: all but one right"]["verdict"] == "holds once"
    assert claims["R3: both 100%"]["verdict"] == "fails once"


def test_the_mark_is_the_p_values_distance_from_the_line():
    runs = []  # 21 of 30: the binomial test's p is 0.043 alone: unclear, and borderline
    for seed in range(30):
        right = 10 if seed < 21 else 9
        runs += [fake_run("Result 3", "original", seed, {500: 1.0}, right),
                 fake_run("Result 3", BROKEN, seed, {500: 1.0}, 10)]
    both = judged(runs)["R3: both 100%"]
    assert both["held"] == 21 and both["verdict"] == "unclear" and both["borderline"]
    assert verdicts.shown_word(both) == "unclear?"
    is_borderline = verdicts.is_borderline
    assert not is_borderline("holds", 1e-9, 1e-6) and is_borderline("fails", 1e-9, 2e-6)
    assert not is_borderline("unclear", 0.5, 1.0) and is_borderline("unclear", 0.49, 1.0)
    assert is_borderline("holds once", 1.0, 1.0)  # one seed is no test


# ---------------------------------------------------------------- verdicts.py: the mark's calibration


@pytest.mark.slow
def test_calibration_populations_have_the_powers_they_claim():
    """The rate populations' power is exact; a cost population's, checked on fresh noise
    with scipy's own exact signed-rank test."""
    pops = verdicts.populations(draws=4000)
    assert [p[1] for p in pops] == list(verdicts.POWERS) * len(verdicts.KINDS)
    p_of = np.array([stats.binomtest(k, 30).pvalue for k in range(31)])
    for kind, power, effect in pops[:8]:
        exact = stats.binom.pmf(np.arange(31), 30, effect) @ (p_of < 0.05)
        assert exact == pytest.approx(0.0428 if power == 0.05 else power, abs=1e-3)
    kind, power, effect = pops[13]   # normal noise at power 0.8
    noise = np.random.default_rng(99).standard_normal((400, 30)) + effect
    found = np.mean(stats.wilcoxon(noise, axis=1, method="exact").pvalue < 0.05)
    assert (kind, power) == ("cost, normal", 0.8) and found == pytest.approx(0.8, abs=0.06)
    x = np.random.default_rng(3).standard_normal(30) + 0.3  # our null table is scipy's
    t = verdicts.signed_rank_sum(x)
    null = verdicts.null_signed_rank(30)
    p = min(1, 2 * min(null[:t + 1].sum(), null[t:].sum()))
    assert p == pytest.approx(stats.wilcoxon(x, method="exact").pvalue, rel=1e-9)


def test_calibration_table_counts_firm_words_and_their_replication():
    pops = [("rate", 0.05, 0.5), ("rate", 0.99, 0.85)]
    words = [(0, "unclear", False, "unclear"), (0, "unclear", True, "holds"),
             (1, "holds", False, "holds"), (1, "holds", False, "unclear"),
             (1, "unclear", True, "holds")]
    lines, passed = verdicts.calibration_table(pops, words)
    assert lines[-1] == "firm words replicated: 2 of 3 (0.667)" and not passed
    assert "no-effect words firm: 1 of 2" in lines[-3]
    assert max(map(len, lines)) <= 100


# ---------------------------------------------------------------- verdicts.py: nets compared


def test_comparisons_per_pair_count_wins_and_their_word():
    def pairs(diffs):  # a's run did not learn where it lost 10 points
        return [(dict(seed=s, test_accuracy=0.9 + d, history=[1.0], stuck=d <= -0.1),
                 dict(seed=s, test_accuracy=0.9, history=[1.0], stuck=False))
                for s, d in enumerate(diffs)]
    rows = verdicts.comparisons([
        (("Result 3", (0, 1), "0/1"), BROKEN, "original", pairs([0.0] * 26 + [0.014] * 4)),
        (("Result 3", (3, 8), "3/8"), BROKEN, "original", pairs([-0.1] * 20 + [0.0] * 10))])
    same, worse = rows
    assert (same["wins"], same["ties"], same["losses"]) == (4, 26, 0)
    assert same["median_difference"] == 0 and "as_good" not in same and not same["pooled"]
    assert worse["verdict"] == "worse"
    assert worse["p_adjusted"] == pytest.approx(min(1, 2 * worse["p_value"]))
    assert same["stuck"] == [0, 0] and worse["stuck"] == [20, 0]  # counted beside, per net
    table = "\n".join(report.pairs_section(rows, True))
    assert "| did not learn (a, b) |" in table and "| 20, 0 |" in table


def paired(diffs, stuck_a=()):
    """Run pairs (a, b) with the given a - b test accuracies; a's runs at the indices in
    stuck_a did not learn."""
    return [(dict(seed=i, test_accuracy=0.5 + d, stuck=i in stuck_a),
             dict(seed=i, test_accuracy=0.5, stuck=False)) for i, d in enumerate(diffs)]


def test_mcnemar_is_the_exact_binomial_test_of_the_discordant_seeds():
    assert verdicts.mcnemar(1, 9) == pytest.approx(2 * 11 / 1024)  # 2 P(X <= 1), X ~ B(10, 1/2)
    assert verdicts.mcnemar(0, 5) == pytest.approx(2 / 32)
    assert verdicts.mcnemar(3, 3) == 1.0 and verdicts.mcnemar(0, 0) == 1.0


def test_the_stratified_interval_resamples_within_each_stratum():
    # Values constant within each pair: the only variation is between pairs, which the
    # paired design holds fixed, so the interval is the mean itself (one bootstrap over
    # all 40 values would vary by about 0.14 either way).
    strata = [np.zeros(10), np.ones(30)]
    assert verdicts.stratified_mean(strata) == 0.75      # each value counted once
    assert verdicts.stratified_interval(strata) == (0.75, 0.75)
    # On a large normal sample the interval is the textbook one, mean +- 1.96 SE.
    rng = np.random.default_rng(5)
    strata = [rng.normal(0.1, 1, 400), rng.normal(-0.1, 2, 400)]
    se = np.sqrt(sum(s.var(ddof=1) / len(s) for s in strata)) / 2
    low, high = verdicts.stratified_interval(strata)
    mean = verdicts.stratified_mean(strata)
    assert low == pytest.approx(mean - 1.96 * se, abs=0.1 * se)
    assert high == pytest.approx(mean + 1.96 * se, abs=0.1 * se)
    narrower = verdicts.stratified_interval(strata, 0.90)  # TOST's: 1.645 SE
    assert narrower.high - narrower.low == pytest.approx(2 * 1.645 * se, rel=0.08)
    assert verdicts.stratified_interval([[0.3], [0.5]]) is None  # no stratum varies


def test_tost_calls_as_good_only_when_the_90_percent_interval_is_inside_the_margin():
    within = verdicts.pooled_comparison("Result 3", "all", BROKEN, "original",
                                        [((0, 1), paired([0.01, -0.01] * 20)),
                                         ((3, 8), paired([0.01, 0.0, -0.01, 0.0] * 10))])
    assert within["equivalent"] and within["verdict"] == "no difference shown"
    low, high = within["equivalence_interval"]
    assert -0.02 < low and high < 0.02 and within["margin"] == verdicts.MARGIN == 0.02
    # A mean within the margin is not enough: its 90% interval must be, too
    outside = verdicts.pooled_comparison("Result 3", "all", BROKEN, "original",
                                         [((0, 1), paired([0.02, -0.05] * 20))])
    assert outside["mean_difference"] == pytest.approx(-0.015)
    assert not outside["equivalent"] and outside["equivalence_interval"][0] < -0.02
    # A tail of runs that did not learn: the median difference is 0, the mean is not
    tail = verdicts.pooled_comparison("Result 3", "all", BROKEN, "original",
                                      [((0, 1), paired([-0.45] * 9 + [0.0] * 21,
                                                       stuck_a=range(9)))])
    assert tail["mean_difference"] == pytest.approx(-0.135) and tail["verdict"] == "worse"
    assert not tail["equivalent"] and tail["failed"] == [9, 0] and tail["discordant"] == [9, 0]
    assert tail["mcnemar_p"] == pytest.approx(2 / 2 ** 9)
    assert tail["learned_seeds"] == 21 and tail["learned_mean_difference"] == 0
    assert tail["learned_equivalent"] and tail["learned_interval"] == [0.0, 0.0]
    assert tail["failed_difference"] == pytest.approx(0.3)


# ---------------------------------------------------------------- report.py


def test_summaries_are_medians_over_the_runs_that_learned():
    runs = [dict(fake_run("Result 3", "original", s, {1: 10.0 * (s + 1)}, 10), digits=(0, 1),
                 hidden=(28, 36), train_accuracy=1.0) for s in range(2)]
    runs += [dict(fake_run("Result 3", "original", s, {1: 89.0}, 5, stuck=True), digits=(0, 1),
                  hidden=(28, 36), train_accuracy=0.5) for s in range(2, 5)]
    row, = report.summarise(runs, 1, lambda r: r["experiment"])
    assert row["stuck"] == 3 and row["seeds"] == 5
    assert row["train_accuracy"] == [1.0, 1.0, 1.0]           # not the stuck runs' 0.5
    assert row["test_accuracy"] == [1.0, 1.0, 1.0]
    assert row["cost_epoch_1"] == [15.0, 12.5, 17.5]


def test_one_seed_reads_as_sentences(capsys):
    runs = [fake_run("Result 3", "original", 0, {}, 9), fake_run("Result 3", BROKEN, 0, {}, 10)]
    rows = list(judged(runs).values())
    text = "\n".join(report.claims_section(rows, False))
    assert "held in the one seed" in text and "did not hold in the one seed" in text
    assert "again" not in text and "once" not in text


def test_the_text_of_the_full_study_fits_100_columns():
    """The 500-epoch figures of REPORT.json are wider than a short run's."""
    saved = json.loads((HERE / "REPORT.json").read_text())
    assert saved["study"]["settings"]["epochs"] == 500
    text = report.text_report(saved["study"], dict(saved, alignment=[], runs=[]), "text")
    assert max(map(len, text.splitlines())) <= 100 and "cost@250" in text


# ---------------------------------------------------------------- registry.py and training.py: nets, runs, batches


def study_settings(seeds, nets=("original", "broken green,red"), pairs=((0, 1),), **more):
    return dict(dict(epochs=2, lr=0.001, momentum=0.9, four_samples=False, alignment=False,
                     seeds=seeds, first_seed=0, experiments=list(registry.EXPERIMENTS),
                     nets=list(nets),
                     digits=list(pairs), test_sizes={p: 10 for p in pairs},
                     train_sizes={p: 350 for p in pairs}, extended=False), **more)


@pytest.mark.slow
def test_compare_results_do_not_depend_on_batching():
    settings = study_settings(2, nets=list(registry.NETS), alignment=True)
    runs = [r for r in training.plan(settings) if r["experiment"] == "Result 1"]
    whole, _ = training.train_batch(runs, settings)
    alone = [result for r in runs for result in training.train_batch([r], settings)[0]]
    halves = training.train_batch(runs[:3], settings)[0] + training.train_batch(runs[3:],
                                                                             settings)[0]
    for other in (alone, halves):
        for a, b in zip(whole, other):
            assert a["history"] == b["history"] and a["test_right"] == b["test_right"]
            assert a["stuck"] == b["stuck"] and a["train_accuracy"] == b["train_accuracy"]
            assert (a["alignment"] is None) == (b["alignment"] is None)
            if a["alignment"] is not None:
                assert a["alignment"].tobytes() == b["alignment"].tobytes()


def test_batches_keep_one_shape_and_share_the_work():
    runs = training.plan(study_settings(10, nets=list(registry.NETS)))
    for jobs in (1, 2, 3, 5):
        groups = training.batches(runs, jobs)
        assert sorted(map(id, (r for g in groups for r in g))) == sorted(map(id, runs))
        assert len(groups) % jobs == 0 and all(len(g) <= training.MAX_BATCH for g in groups)
        assert all(len({(r["experiment"], r["digits"]) for r in g}) == 1 for g in groups)
    groups = training.batches(training.plan(study_settings(10)), 2)
    assert [len(g) for g in groups] == [20, 20, 11, 9]  # Result 2 split unevenly ...
    free = [0, 0]
    for g in groups:  # ... so that the two processes, handed the batches in turn, ...
        free[free.index(min(free))] += training.work(g)
    one_run = training.work(groups[2][:2]) - training.work(groups[2][:1])
    assert abs(free[0] - free[1]) < one_run  # ... end within one run of each other
    at_most = math.ceil(2000 / training.MAX_BATCH)  # batches for 2000 runs of one shape
    assert len(training.batches(training.plan(study_settings(1000)), 2)) == 3 * at_most
    pairs = registry.PAIRS  # digit pairs of one shape train in batches of their own
    runs = training.plan(study_settings(30, nets=("original", registry.BROKEN, "frozen"), pairs=pairs,
                                       experiments=["Result 3"]))
    assert [len(g) for g in training.batches(runs, 2)] == [45] * 8  # 90 runs a pair


def test_the_progress_estimate_follows_the_work_done(monkeypatch):
    """Batches of unequal work: after the first, the estimate is the planned work at the
    pace the finished batch kept."""
    clock = iter([0.0, 0.0, 10.0])  # the start, the first line, the first batch done
    monkeypatch.setattr(training.time, "perf_counter", lambda: next(clock))
    lines = []
    stream = type("S", (), dict(isatty=lambda self: False,
                                write=lambda self, text: lines.append(text),
                                flush=lambda self: None))()
    runs = training.plan(study_settings(10))
    groups = training.batches(runs, 1)
    progress = training.progress_line(groups, 1, stream=stream)
    progress(groups[0], 10.0)  # 10 s for the first batch's work
    total = 10.0 * training.finish(groups, 1) / training.work(groups[0])
    expected = f"about {total - 10:.0f} s to go"
    assert expected in "".join(lines)


@pytest.mark.slow
def test_a_new_net_is_one_registry_entry(tmp_path):
    """A fourth broken net registered in a copy of the project trains, is compared with the
    original, and is drawn, with no other change."""
    (tmp_path / "study").mkdir()
    for path in [*HERE.glob("*.py"), *HERE.glob("study/*.py")]:
        (tmp_path / path.relative_to(HERE)).write_text(path.read_text())
    registry_py = tmp_path / "study" / "registry.py"
    anchor = '    Net(FROZEN, "frozen", "tab:gray", frozen=True),'
    text = registry_py.read_text()
    assert anchor in text
    registry_py.write_text(text.replace(anchor, anchor + '\n    Net("broken red again", '
                                        '"red again", "tab:purple", ("red",), ablation=True),'))
    result = run(str(tmp_path / "compare.py"), "--ablation", "--seeds", "2", "--epochs", "2",
                 "--jobs", "1", "--format", "json", "--plot", str(tmp_path / "f.png"),
                 cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    saved_report = json.loads(result.stdout)
    assert {r["net"] for r in saved_report["runs"]} >= {"broken red again", "broken red"}
    assert ["broken red again", "original"] in [c["nets"] for c in saved_report["comparisons"]]
    red, again = ([r["history"] for r in saved_report["runs"] if r["net"] == net]
                  for net in ("broken red", "broken red again"))
    assert red == again and (tmp_path / "f.png").stat().st_size > 1000  # the same lines


# ---------------------------------------------------------------- compare.py: studies and their reports


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


@pytest.fixture(scope="module")
def short_compare():
    """Three epochs, 12 seeds, on two processes."""
    return compare_json(*SHORT, "--jobs", "2")


@pytest.mark.slow
def test_compare_runs_every_experiment_and_net_over_the_seeds(short_compare):
    report, stderr = short_compare
    seeds = 12
    assert compare.parse_args([]).seeds.count == registry.SEEDS == 30  # the default
    assert report["study"]["settings"]["seeds"] == seeds
    pairs = [(r["experiment"], r["net"]) for r in report["results"]]
    assert pairs == [(e, n) for e in registry.EXPERIMENTS for n in ("original", "broken green,red")]
    for row in report["results"]:
        assert row["seeds"] == seeds and 0 <= row["stuck"] <= seeds
        trained = [r for r in report["runs"] if (r["experiment"], r["net"]) ==
                   (row["experiment"], row["net"]) and not r["stuck"]]
        assert row["stuck"] == seeds - len(trained)
        if trained:
            assert row["cost_epoch_3"] == pytest.approx(
                list(np.percentile([r["history"][2] for r in trained], [50, 25, 75])))
    assert len(report["runs"]) == 6 * seeds and report["study"]["settings"]["four_samples"] is False
    assert all(r["digits"] == [0, 1] for r in report["runs"])
    assert [c["label"] for c in report["claims"]] == [c.label for c in verdicts.CLAIMS]
    for claim in report["claims"]:
        assert set(claim) >= {"held", "seeds", "interval", "verdict", "p_value", "p_adjusted",
                              "borderline", "trained_held", "trained_seeds", "trained_verdict"}
        assert "replication" not in claim
        assert claim["seeds"] == seeds and claim["verdict"] in ("holds", "fails", "unclear")
        assert claim["borderline"] == verdicts.is_borderline(
            claim["verdict"], claim["p_value"], claim["p_adjusted"])
        assert claim["p_adjusted"] >= claim["p_value"]
        ci = stats.binomtest(claim["held"], seeds).proportion_ci(method="exact")
        assert claim["interval"] == pytest.approx([ci.low, ci.high])
        if claim["kind"] == "cost":
            assert set(claim) >= {"median_ratio", "ratio_interval"}
    pooled = [row for row in report["comparisons"] if row["pooled"]]
    for row in report["comparisons"]:
        assert row["nets"] == ["broken green,red", "original"] and "as_good" not in row
        if row["pooled"]:
            continue
        assert set(row) >= {"experiment", "digits", "nets", "median_difference", "interval",
                            "wins", "ties", "losses", "p_value", "p_adjusted", "verdict"}
        assert row["wins"] + row["ties"] + row["losses"] == seeds
    assert [row["experiment"] for row in pooled] == list(registry.EXPERIMENTS)
    for row in pooled:
        assert set(row) >= POOLED_CONTRACT and row["seeds"] == seeds and row["digits"] == [[0, 1]]
    env = report["study"]["environment"]
    assert env["numpy"] == np.__version__ and env["cpus"] == os.cpu_count() and env["blas"]
    assert f"{6 * seeds} runs in" in stderr and "batches done" in stderr


def test_compare_csv_parses_with_the_table_columns():
    import csv
    result = compare_here("--epochs", "3", "--format", "csv", "--seeds", "2", "--jobs", "1")
    assert result.returncode == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [(r["experiment"], r["net"]) for r in rows] == [
        (e, n) for e in registry.EXPERIMENTS for n in ("original", "broken green,red")]
    for row in rows:
        assert row["seeds"] == "2" and row["stuck"] in ("0", "1", "2") and row["digits"] == "0/1"
        if row["stuck"] != "2":
            for key in ("cost_epoch_1", "cost_epoch_3", "train_accuracy", "test_accuracy"):
                low, median, high = (float(row[f"{key}_{s}"]) for s in ("q1", "median", "q3"))
                assert 0 <= low <= median <= high
    assert rows[4]["W3"] == "16x28" and rows[4]["W4"] == "28x36" and rows[4]["W5"] == "36x1"


def test_compare_text_fits_100_columns_and_keeps_the_articles_order():
    result = compare_here("--epochs", "2", "--seeds", "3", "--ablation", "--controls",
                          "--alignment", "--jobs", "1")
    assert result.returncode == 0, result.stderr
    text = result.stdout
    assert max(map(len, text.splitlines())) <= 100
    quotes = [line.split('"')[1] for line in text.splitlines()
              if line[:9].strip() in ("Training", "Result 1", "Result 2", "Result 3") and '"' in line]
    assert quotes == [c.quote for c in verdicts.CLAIMS]
    assert "cost @1:" in text and "half the study's epochs" in text
    for mark in ["Cost: median (interquartile range)", "The article's claims over 3 seeds",
                 "Environment: Python", "broken green", "broken red", "frozen", "Result 1",
                 "Holm", "learned", "run-steps a second", "Accuracy: median", "Nets compared",
                 "green - original"]:
        assert mark in text, mark
    assert text.count("Alignment of the broken gradient with the true one") == 1
    assert "W1 cosine" in text and "W1 signs" not in text  # the text has room for cosines


def test_compare_markdown_shows_the_tables():
    result = compare_here("--epochs", "2", "--format", "markdown", "--ablation",
                          "--alignment", "--seeds", "2", "--jobs", "1")
    assert result.returncode == 0, result.stderr
    for mark in ["# Original net against broken back prop net", "| Result 2 | broken green,red |",
                 "Written by `python3 compare.py --epochs 2", "| word |", "| W1 signs |",
                 '| "classified every image on test set except for one" |']:
        assert mark in result.stdout, mark


def test_controls_and_the_extended_study_keep_the_json_contract():
    extended, _ = compare_json("--epochs", "2", "--seeds", "2", "--extended", "--jobs", "1",
                             here=True)
    settings = extended["study"]["settings"]
    assert settings["digits"] == [list(p) for p in registry.PAIRS] and settings["extended"]
    assert {r["net"] for r in extended["runs"]} == {"original", "broken green,red", "frozen"}
    assert {tuple(r["digits"]) for r in extended["runs"]} == set(registry.PAIRS)
    assert all(r["test_size"] == round(sum(np.isin(DIGITS.target, r["digits"])) / 5)
               for r in extended["runs"])
    assert extended["claims"] == []  # the article's claims are about its own setup
    nets = (("broken green,red", "original"), ("frozen", "original"),
            ("broken green,red", "frozen"))
    compared = {(tuple(c["digits"]), tuple(c["nets"])) for c in extended["comparisons"]
                if not c["pooled"]}
    assert compared == {(p, n) for p in registry.PAIRS for n in nets}
    pooled = [c for c in extended["comparisons"] if c["pooled"]]
    assert [tuple(c["nets"]) for c in pooled] == list(nets)
    for row in pooled:  # over every digit pair: 2 seeds each
        assert set(row) >= POOLED_CONTRACT and row["seeds"] == 2 * len(registry.PAIRS)
        assert row["digits"] == [list(p) for p in registry.PAIRS] and row["group"] == "all 4 pairs"
        assert row["failed"] == [sum(r["stuck"] for r in extended["runs"] if r["net"] == n)
                                 for n in row["nets"]]
    frozen = [r for r in extended["results"] if r["net"] == "frozen"]
    assert len(frozen) == 4
    text = report.text_report(extended["study"], dict(extended), "text")
    assert max(map(len, text.splitlines())) <= 100
    controls, _ = compare_json("--epochs", "2", "--seeds", "2", "--controls", "--jobs", "1",
                               here=True)
    assert {r["net"] for r in controls["results"]} == {"original", "broken green,red", "frozen"}
    assert len(controls["claims"]) == len(verdicts.CLAIMS)


def test_compare_counts_stuck_runs_of_a_real_short_run():
    """At lr 1e6 the outputs saturate at once: most runs do not learn."""
    saved, _ = compare_json("--epochs", "2", "--seeds", "2", "--lr", "1e6", "--jobs", "1",
                            here=True)
    stuck = {(r["experiment"], r["net"], r["seed"]): r["stuck"] for r in saved["runs"]}
    assert sum(stuck.values()) >= 8
    for row in saved["results"]:
        assert row["stuck"] == sum(stuck[row["experiment"], row["net"], s] for s in (0, 1))
    text = report.text_report(saved["study"], dict(saved, runs=saved["runs"]), "text")
    assert f"{sum(stuck.values())} of 12 runs did not learn" in text


@pytest.mark.slow
def test_compare_without_sklearn_uses_the_four_samples_and_says_so(tmp_path):
    result = run("compare.py", "--epochs", "20", "--seeds", "2", "--format", "json",
                 env=blocked(tmp_path, "sklearn"))
    assert result.returncode == 0, result.stderr
    assert ("compare.py: scikit-learn is not installed: training on the four embedded samples"
            in result.stderr)
    settings = json.loads(result.stdout)["study"]["settings"]
    assert settings["four_samples"] is True and settings["lr"] == 0.01
    assert "four embedded samples" in settings["data"]


@pytest.mark.slow
def test_compare_without_sklearn_refuses_a_test_size(tmp_path):
    result = run("compare.py", "--test-size", "5", env=blocked(tmp_path, "sklearn"))
    assert result.returncode == 2 and result.stderr.endswith(
        "compare.py: error: --test-size needs scikit-learn (the four embedded samples train "
        "and test on all four)\n")


@pytest.mark.slow
def test_jobs_above_the_cpu_count_are_capped_with_one_line():
    result = run("compare.py", "--epochs", "1", "--seeds", "1", "--jobs", "1000")
    assert result.returncode == 0, result.stderr
    cpus = len(os.sched_getaffinity(0))
    assert f"compare.py: --jobs 1000 is more than the {cpus} CPUs here: using {cpus}\n" in (
        result.stderr)
    assert f"on {original_net.count(min(cpus, 6), 'process', 'processes')};" in result.stderr


# ---------------------------------------------------------------- saved_reports.py: reports side by side and pooled


@pytest.mark.slow
def test_side_by_side_reads_saved_reports_and_names_what_differs(tmp_path, short_compare,
                                                                 capsys):
    report, _ = short_compare
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    a.write_text(json.dumps(report))
    other = json.loads(json.dumps(report))
    other["claims"][2]["verdict"] = "holds" if other["claims"][2]["verdict"] != "holds" else "fails"
    b.write_text(json.dumps(other))
    result = run("compare.py", "--side-by-side", str(a), str(b))  # once as a user types it
    assert result.returncode == 0 and result.stderr == ""
    lines = result.stdout.splitlines()
    assert max(map(len, lines)) <= 100
    assert lines[-1] == f"Words differ: {report['claims'][2]['label']}."
    assert sum(line.startswith(c["label"]) for line in lines for c in report["claims"]) == 8

    def side_by_side(*args):  # the rest in this process: quicker
        status = compare.main(["--side-by-side", *map(str, args)])
        return (status, *capsys.readouterr())
    status, same, _ = side_by_side(a, a)
    assert status == 0 and same.splitlines()[-1] == "Every claim has the same word in every report."
    shorter = json.loads(json.dumps(report))
    shorter["study"]["settings"]["epochs"] += 1  # another study: said, not hidden
    b.write_text(json.dumps(shorter))
    assert " ".join(side_by_side(a, b)[1].split()).endswith(
        "The reports' settings differ (above): their words need not agree.")
    b.write_text(json.dumps(dict(report, claims=[])))  # an extended study has no claims
    for args, message, code in [((a, b), "judges none of the article's claims", 1),
                                ((a,), "needs two or more", 2),
                                ((tmp_path / "missing.json", a), "No such file", 1),
                                ((a, a, "--seeds", "3"), "it takes --out, not --seeds", 2)]:
        status, out, err = side_by_side(*args)
        assert status == code and err.count("\n") == 1 and message in err and out == "", args
    written = tmp_path / "side.txt"
    assert side_by_side(a, a, "--out", written)[0] == 0 and written.read_text() == same


@pytest.mark.slow
def test_blocks_of_seeds_train_and_pool_as_one_study(tmp_path, short_compare, capsys):
    """Seeds 7 to 11 and 0 to 6 on one process, pooled, are the 12-seed study on two
    processes: the same runs, bit for bit, and the same tables."""
    whole, _ = short_compare
    paths = []
    for seeds in ("7:12", "0:7"):  # in any order
        paths.append(tmp_path / f"{seeds.replace(':', '-')}.json")
        assert compare.main([*SHORT[:2], "--seeds", seeds, "--jobs", "1", "--format", "json",
                             "--out", str(paths[-1])]) == 0
    block = json.loads(paths[0].read_text())
    assert (block["study"]["settings"]["first_seed"], block["study"]["settings"]["seeds"]) == (7, 5)
    assert "seeds 7 to 11" in report.describe(block["study"])[1]
    out = tmp_path / "pooled.json"
    assert compare.main(["--pool", *map(str, paths), "--format", "json", "--out", str(out)]) == 0
    pooled = json.loads(out.read_text())
    for key in ("results", "claims", "comparisons"):
        assert pooled[key] == whole[key], key
    order = lambda runs: sorted(runs, key=lambda r: (r["experiment"], r["net"], r["seed"]))
    assert order(pooled["runs"]) == order(whole["runs"])
    assert [b["first_seed"] for b in pooled["study"]["blocks"]] == [0, 7]
    assert pooled["study"]["settings"]["seeds"] == 12
    text = report.text_report(pooled["study"], dict(pooled, runs=pooled["runs"]), "text")
    assert "Pooled from 2 reports" in text and max(map(len, text.splitlines())) <= 100
    capsys.readouterr()


def damaged(saved_report, change):
    """A deep copy of a saved report with change(copy) applied."""
    copy = json.loads(json.dumps(saved_report))
    change(copy)
    return copy


BOTH = ("--side-by-side", "--pool")


@pytest.mark.slow
@pytest.mark.parametrize("change, message, options", [
    (lambda r: r["claims"][0].pop("verdict"), "claims[0].verdict is missing", BOTH[:1]),
    (lambda r: r["claims"][1].update(p_adjusted=None), "claims[1].p_adjusted is not a p-value",
     BOTH[:1]),
    (lambda r: r["claims"][2].update(label=7), "claims[2].label is not text", BOTH[:1]),
    (lambda r: r["claims"][3].update(held="three"), "claims[3].held is not a count", BOTH[:1]),
    (lambda r: r["claims"][4].update(borderline="yes"), "claims[4].borderline is not true",
     BOTH[:1]),
    (lambda r: r.update(claims={}), "claims is not a list", BOTH[:1]),
    (lambda r: r["study"]["settings"].update(seeds=-3), "study.settings.seeds is not a count",
     BOTH),
    (lambda r: r["study"].pop("environment"), "study.environment.python is missing", BOTH),
    (lambda r: r["runs"][5].update(history=[1.0, "x", 2]), "runs[5].history is not 3 epoch",
     BOTH[1:]),
    (lambda r: r["runs"][0].update(net="mine"), "runs[0].net is not a net of the study",
     BOTH[1:]),
])
def test_a_damaged_report_is_refused_in_one_line_naming_the_field(
        tmp_path, short_compare, capsys, change, message, options):
    good, bad = tmp_path / "good.json", tmp_path / "bad.json"
    good.write_text(json.dumps(short_compare[0]))
    bad.write_text(json.dumps(damaged(short_compare[0], change)))
    for option in options:
        assert compare.main([option, str(good), str(bad)]) == 1
        out, err = capsys.readouterr()
        assert out == "" and err.count("\n") == 1 and f"{option} {bad}: {message}" in err, err


@pytest.mark.slow
@pytest.mark.parametrize("content, message", [
    ("[" * 100000 + "]" * 100000, "not a JSON file"), ("{", "not a JSON file"),
    ("[]", "study.settings.seeds is missing")])
def test_a_foreign_file_is_refused_in_one_line(tmp_path, short_compare, capsys, content,
                                               message):
    good, bad = tmp_path / "good.json", tmp_path / "bad.json"
    good.write_text(json.dumps(short_compare[0]))
    bad.write_text(content)
    assert compare.main(["--side-by-side", str(good), str(bad)]) == 1
    assert message in capsys.readouterr().err


@pytest.mark.slow
def test_pooling_refuses_shared_seeds_and_other_settings(tmp_path, short_compare, capsys):
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    a.write_text(json.dumps(short_compare[0]))
    b.write_text(json.dumps(damaged(short_compare[0], lambda r: r["study"]["settings"].update(
        first_seed=100))))
    assert compare.main(["--pool", str(a), str(a)]) == 1
    assert "seed 0 is also in" in capsys.readouterr().err
    c = tmp_path / "c.json"
    c.write_text(json.dumps(damaged(short_compare[0], lambda r: r["study"]["settings"].update(
        first_seed=100, epochs=4))))
    assert compare.main(["--pool", str(a), str(c)]) == 1
    err = capsys.readouterr().err
    assert "its epochs differ" in err or "epoch costs" in err
    # b claims seeds 100 to 111, but its runs are seeds 0 to 11: refused, not mixed
    assert compare.main(["--pool", str(a), str(b)]) == 1
    assert "runs[0].seed is not one of the study's seeds" in capsys.readouterr().err


# ---------------------------------------------------------------- compare.py: command line and output files


@pytest.mark.parametrize("args, message", [
    (["--epochs", "0"], "--epochs"), (["--seeds", "0"], "--seeds"), (["--jobs", "-1"], "--jobs"),
    (["--format", "xml"], "--format"), (["--epochs", "x"], "not a whole number"),
    (["--lr", "0"], "--lr"), (["--bogus"], "unrecognized"),
    (["--out", "/no/such/folder/report.md"], "no such folder"),
    (["--out", "."], "names a folder"), (["--out", "/proc/x"], "cannot write in /proc"),
    (["--plot", "curves.txt"], "matplotlib writes no .txt"),
    (["--out", "same.png", "--plot", "same.png"], "the same file"),
    (["--out", ""], "--out needs a file name"), (["--plot", ""], "--plot needs a file name"),
    (["--plot", "."], "names a folder"), (["--plot", "no/such/folder/"], "names a folder"),
    (["--lr", "-1e-3"], "must be greater than 0"), (["--digits", "3", "3"], "two different"),
    (["--digits", "0", "10"], "from 0 to 9"), (["--digits", "a", "b"], "not a whole number"),
    (["--four-samples", "--test-size", "5"], "--four-samples"),
    (["--extended", "--digits", "3", "8"], "--extended"),
    (["--test-size", "400"], "--test-size must be from 1 to 359"),
    (["--format", "xml"], "'xml' is not text, markdown, csv or json"),
    (["--seed", "-1"], "unrecognized arguments: --seed -1"),  # as typed: compare has --seeds
    (["--plot", "figure.unknown"], "no .unknown; try .png, .pdf or .svg"),
])
def test_compare_bad_input_gives_one_line_and_exit_2_before_training(args, message, capsys):
    start = time.perf_counter()
    assert compare.main(args) == 2  # in this process; the command line is tested above
    out, err = capsys.readouterr()
    lines = err.splitlines()
    assert out == "" and len(lines) == 1 and lines[0].startswith("compare.py: error:")
    assert len(lines[0]) <= 100
    assert message in lines[0] and time.perf_counter() - start < 5


@pytest.mark.slow
def test_compare_refuses_a_bad_command_line_before_loading_scipy():
    """Only numpy and the project's own modules are imported before the command line is
    checked (python -X importtime lists every import)."""
    result = run("-X", "importtime", "compare.py", "--epochs", "0")
    assert result.returncode == 2
    imported = {line.split("|")[-1].strip().split(".")[0]
                for line in result.stderr.splitlines() if line.startswith("import time:")}
    assert "numpy" in imported and not imported & {"scipy", "sklearn", "joblib", "matplotlib"}
    assert result.stderr.splitlines()[-1].startswith("compare.py: error: argument --epochs")


@pytest.mark.parametrize("args, message", [
    (["--epochs", "99999999999999999999"], "must be from 1 to 1000000"),
    (["--epochs", "1000000", "--seeds", "10000"], "60,000 runs' epoch costs need"),
    (["--seeds", "5:3"], "is not 1 to 10000 seeds"), (["--seeds", "0:20000"], "is not 1 to"),
    (["--seeds", "a:b"], "is not N or A:B")])
def test_compare_bounds_epochs_and_seeds_before_training(args, message, capsys):
    assert compare.main(args) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and message in err and len(err) <= 101, err


@pytest.mark.parametrize("args", [
    ("original_net", "--lr", "1e100", "--epochs", "2", "--quiet"),
    ("broken_net", "--lr", "1e300", "--epochs", "2", "--quiet"),
    ("compare", "--lr", "1e300", "--epochs", "2", "--seeds", "2", "--jobs", "1"),
    ("compare", "--lr", "1e100", "--epochs", "2", "--seeds", "30", "--extended", "--jobs", "1"),
    ("original_net", "--hidden", "100000", "100000"),
    ("broken_net", "--breaks", "green,,red")])
def test_the_longest_messages_fit_100_columns(args, capsys):
    assert net(args[0]).main(list(args[1:])) in (1, 2)  # in this process: as the scripts
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if "error:" in line]
    assert len(errors) == 1 and len(errors[0]) <= 100 and "Traceback" not in err, errors


@pytest.mark.slow
def test_a_read_only_report_is_refused_before_training(tmp_path):
    report_file = tmp_path / "report.txt"
    report_file.write_text("old report")
    report_file.chmod(0o444)
    start = time.perf_counter()
    result = run("compare.py", "--out", str(report_file))
    assert result.returncode == 2 and result.stderr.count("\n") == 1 and "read-only" in result.stderr
    assert time.perf_counter() - start < 10 and report_file.read_text() == "old report"


@pytest.mark.slow
def test_a_folder_given_to_plot_writes_no_png_beside_it(tmp_path):
    folder = tmp_path / "figures"
    folder.mkdir()
    result = run("compare.py", "--plot", str(folder))
    assert result.returncode == 2 and "names a folder" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["figures"]


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


@pytest.mark.slow
@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
@pytest.mark.parametrize("args", [
    ("digits_4samples.py", "--check"), ("digits_4samples.py", "--help"),
    ("digits_4samples.py",), ("make_report.py", "--help"), ("-m", "study.verdicts", "--help"),
    ("-m", "study.lockstep", "--help"), ("compare.py", "--help")])
def test_every_script_says_a_full_stdout_in_one_line(args):
    with open("/dev/full", "w") as full:
        done = subprocess.run([sys.executable, *args], stdout=full, stderr=subprocess.PIPE,
                              text=True, cwd=HERE, timeout=60)
    name = args[1] if args[0] == "-m" else args[0]
    assert done.returncode == 1 and done.stderr == (
        f"{name}: error: cannot write the output: No space left on device\n")


# ---------------------------------------------------------------- compare.py: signals and failing runs


@pytest.mark.slow
def test_ctrl_c_stops_a_large_study_within_2_s_leaving_no_process():
    process = start("compare.py", "--seeds", "1000")
    wait_for(process.stderr, "Ctrl-C stops")
    time.sleep(2)  # the workers are busy training
    os.killpg(process.pid, signal.SIGINT)
    sent = time.monotonic()
    out, err = finish(process, 10)
    assert time.monotonic() - sent < 2
    assert process.returncode == 130 and out == "" and err == "compare.py: interrupted\n"
    assert group_left(process, 2) == ""


@pytest.mark.slow
@pytest.mark.parametrize("moment", ["loading", "starting workers"])
def test_ctrl_c_at_the_start_of_a_study_says_one_line(moment):
    """While compare loads its libraries, and while its workers load theirs."""
    process = start("compare.py", "--seeds", "1000")
    if moment == "loading":  # numpy's core mapped: past Python's own start-up, mid-imports
        maps, limit = f"/proc/{process.pid}/maps", time.monotonic() + 10
        if not os.path.exists(maps):
            pytest.skip("needs /proc to see when the libraries load")
        while "_multiarray_umath" not in open(maps).read() and time.monotonic() < limit:
            time.sleep(0.01)
    else:
        wait_for(process.stderr, "Ctrl-C stops")
    os.killpg(process.pid, signal.SIGINT)
    out, err = finish(process, 10)
    assert process.returncode in (130, -signal.SIGINT) and out == ""
    assert err == "compare.py: interrupted\n" and group_left(process, 2) == ""


@pytest.mark.slow
def test_compare_without_scipy_says_what_to_install(tmp_path):
    result = subprocess.run([sys.executable, "compare.py"], cwd=HERE, capture_output=True,
                            text=True, env=blocked(tmp_path, "scipy"))
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.startswith("compare.py: error:") and result.stderr.count("\n") == 1
    assert "scipy" in result.stderr and "pip install -r requirements.txt" in result.stderr


@pytest.mark.slow
def test_sigterm_to_the_main_process_alone_leaves_no_worker():
    process = start("compare.py", "--seeds", "1000")
    wait_for(process.stderr, "Ctrl-C stops")
    time.sleep(2)
    process.terminate()
    out, err = finish(process, 10)
    assert process.returncode == 143 and err == "compare.py: terminated\n"
    assert group_left(process, 10) == ""


FAILING_STUDY = """
import sys, time
import compare
from study import training

def train_batch(batch, settings, stop=None):  # sent to the workers by value
    if batch[0]["experiment"] == "Result 3":
        time.sleep(3600)  # a batch that would not end for an hour
    time.sleep(0.5)
    raise training.StudyError(training.name(batch[0]) + ": made to fail")

training.train_batch = train_batch
sys.exit(compare.main(["--seeds", "2", "--jobs", "2"]))
"""


@pytest.mark.slow
@pytest.mark.skipif(running.available_cpus() < 2, reason="needs two processes at once")
def test_the_first_failing_run_stops_the_study_in_one_line(tmp_path):
    """One batch fails while another would run for an hour: the study stops at once."""
    script = tmp_path / "failing_study.py"
    script.write_text(FAILING_STUDY)
    process = subprocess.Popen([sys.executable, str(script)], cwd=HERE, text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               env=dict(os.environ, PYTHONPATH=str(HERE)),
                               start_new_session=True)
    began = time.monotonic()
    out, err = finish(process, 30)
    assert time.monotonic() - began < 15
    assert process.returncode == 1 and out == ""
    assert re.fullmatch(r"compare\.py: error: Result [12], original, seed 0: made to fail",
                        err.splitlines()[-1]), err
    assert "Traceback" not in err
    assert group_left(process, 10) == ""


@pytest.mark.slow
def test_a_diverging_run_in_a_worker_is_named_in_one_line():
    process = start("compare.py", "--lr", "1e100", "--seeds", "2", "--epochs", "5", "--jobs", "2")
    out, err = finish(process, 60)
    assert process.returncode == 1 and out == ""
    assert re.fullmatch(r"compare\.py: error: Result \d, (original|broken green,red), seed \d: "
                        r"diverged in epoch 1 \((overflow|invalid value)\)",
                        err.splitlines()[-1]), err
    assert "Traceback" not in err


def test_compare_in_process_reports_a_diverging_run_in_one_line(capsys):
    assert compare.main(["--epochs", "2", "--seeds", "1", "--jobs", "1", "--lr", "1e100"]) == 1
    err = capsys.readouterr().err.splitlines()
    assert re.fullmatch(r"compare\.py: error: Result \d, .*, seed 0: diverged .*", err[-1])


# ---------------------------------------------------------------- compare.py --scheduler: a Dask cluster


@pytest.fixture(scope="module")
def cluster():
    """A LocalCluster of two worker processes, one thread each: its scheduler's address."""
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as local:
        yield local.scheduler_address


def cluster_state(address):
    """Per worker, the tasks it holds; and whether it still computes a small task."""
    from distributed import Client
    with Client(address, timeout=10, set_as_default=False) as client:
        tasks = client.run(lambda dask_worker: len(dask_worker.state.tasks))
        return tasks, client.submit(lambda: 41 + 1, pure=False).result(timeout=10) == 42


@pytest.mark.slow
def test_a_study_on_a_dask_cluster_gives_the_runs_of_one_process(cluster, tmp_path, capsys):
    args = ["--seeds", "3", "--epochs", "5", "--format", "json"]
    assert compare.main([*args, "--scheduler", cluster, "--out", str(tmp_path / "d.json")]) == 0
    assert compare.main([*args, "--jobs", "1", "--out", str(tmp_path / "one.json")]) == 0
    err = capsys.readouterr().err
    assert "on 2 Dask workers" in err
    there, here = (json.loads((tmp_path / name).read_text()) for name in ("d.json", "one.json"))
    for key in ("results", "claims", "comparisons", "alignment", "runs"):
        assert there[key] == here[key], key
    env = there["study"]["environment"]
    assert env["scheduler"] == cluster and env["workers"] == 2 and there["study"]["jobs"] == 2
    assert {k: v for k, v in env.items() if k not in ("scheduler", "workers")} == \
        here["study"]["environment"]  # the same machine's workers
    text = report.text_report(there["study"], dict(there, runs=there["runs"]), "text")
    assert f"on the Dask cluster at {cluster} (2 workers" in " ".join(text.split())


@pytest.mark.slow
def test_ctrl_c_cancels_the_study_on_the_cluster_and_leaves_it_up(cluster):
    process = start("compare.py", "--seeds", "100", "--scheduler", cluster)
    wait_for(process.stderr, "Ctrl-C stops")
    time.sleep(2)
    os.killpg(process.pid, signal.SIGINT)
    out, err = finish(process, 10)
    assert process.returncode == 130 and err == "compare.py: interrupted\n" and out == ""
    end = time.monotonic() + 5
    while (state := cluster_state(cluster))[0] != {w: 0 for w in state[0]}:
        assert time.monotonic() < end, state  # the batches stop within an epoch
        time.sleep(0.5)
    assert len(state[0]) == 2 and state[1]  # both workers idle and alive


@pytest.mark.slow
def test_an_unreachable_scheduler_is_said_in_one_line(capsys, monkeypatch):
    pytest.importorskip("distributed")
    monkeypatch.setattr(training, "CONNECT_SECONDS", 1)
    start_time = time.monotonic()
    assert compare.main(["--seeds", "2", "--scheduler", "tcp://127.0.0.1:1"]) == 1
    assert time.monotonic() - start_time < 5
    assert capsys.readouterr().err == (
        "compare.py: error: no Dask scheduler answers at tcp://127.0.0.1:1 within 1 s\n")


@pytest.mark.slow
def test_without_dask_the_scheduler_option_says_how_to_install_it(tmp_path):
    result = run("compare.py", "--scheduler", "tcp://127.0.0.1:8786",
                 env=blocked(tmp_path, "distributed"))
    assert result.returncode == 2 and result.stderr == (
        'compare.py: error: --scheduler needs Dask: python3 -m pip install "dask[distributed]"\n')


# ---------------------------------------------------------------- cpus.py and make_report.py


def test_distinct_cpus_keeps_one_setting_per_fingerprint(monkeypatch):
    from study import cpus
    prints = {"as is": "1.5", "same": "1.5", "broken": None, "b": "2.5", "c": "3.5", "d": "4.5",
              "e": "5.5"}
    monkeypatch.setattr(cpus, "fingerprint", lambda env: prints[env["name"]])
    candidates = [(name, {"name": name}) for name in prints]
    found = cpus.distinct(4, candidates)
    assert [(name, f) for name, _, f in found] == [("as is", "1.5"), ("b", "2.5"), ("c", "3.5"),
                                                  ("d", "4.5")]
    assert len(cpus.distinct(9, candidates)) == 5  # fewer than asked for: those there are


@pytest.mark.slow
def test_a_fingerprint_is_the_same_bits_twice_and_names_its_setting():
    from study import cpus
    x, y, *_ = original_net.load_data(0)  # the fingerprint's run, here
    here = repr(original_net.train(original_net.init_params(0), x, y, 3)[-1])
    assert cpus.fingerprint({"PYTHONHASHSEED": "1"}) == here
    assert cpus.words({"A": "1", "B": "x y"}) == "A=1 B='x y'" and cpus.words({}) == ""
    assert [name for name, _ in cpus.CANDIDATES][0] == "as is"


@pytest.mark.slow
def test_a_setting_runs_the_numpy_code_paths_its_name_says():
    # Under each candidate, numpy's own report of the paths it found: none beyond the SSE
    # baseline for "SSE", at most AVX2's for "AVX2". (NPY_DISABLE_CPU_FEATURES=X86_V3
    # would fail here: numpy still reports its AVX-512 paths found.)
    from study import cpus
    from numpy._core._multiarray_umath import __cpu_dispatch__
    if "X86_V3" not in __cpu_dispatch__:
        pytest.skip("this numpy names its code paths otherwise")
    show = ("from numpy._core._multiarray_umath import __cpu_features__ as f, __cpu_dispatch__"
            " as d; print(' '.join(k for k in d if f[k]))")
    allowed = {"SSE": set(), "AVX2": {"X86_V3"}}
    for name, env in cpus.CANDIDATES:
        level = name.split(" + ")[-1]
        if level in allowed:
            found = subprocess.run([sys.executable, "-c", show], capture_output=True, text=True,
                                   env=dict(os.environ, **env), check=True).stdout.split()
            assert set(found) <= allowed[level], (name, found)
    assert cpus.fingerprint({"NPY_ENABLE_CPU_FEATURES": "NO_SUCH_PATHS"}) is None  # refused


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
