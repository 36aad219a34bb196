"""The tests of the card's files: the two nets (every gradient against finite
differences, the forward pass against a plain scipy reference, training, data, the
pasted text, the command line, signals and pipes), the twin rule of their diff, the four
embedded samples, and compare.py's command line. The study package's own tests are in
tests/, one file a module.

    python3 -m pytest -q -n 2                 # all of them (about 3 minutes on 2 cores)
    python3 -m pytest -q -n 2 -m "not slow"   # those that start no process (25 s)
"""
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from scipy.signal import convolve2d

import broken_net
import compare
import digits_4samples
import original_net
from tests.helpers import (HERE, NETS, blocked, finish, net, numeric_gradient, random_image,
                           relative_error, run, small_params, start, terminal_output, wait_for)
from tests.conftest import no_sklearn, nothing_left_running  # noqa: F401 (tests/' fixtures)


# ---------------------------------------- the nets: gradients


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



@pytest.mark.slow
@pytest.mark.parametrize("script", ["original_net.py", "broken_net.py"])
def test_a_reader_checks_every_gradient_in_seconds(script):
    """--check-gradients: a line a weight, its error against finite differences and its
    cosine; the original's all small, the broken net's conv weights turned."""
    start_time = time.monotonic()
    result = run(script, "--check-gradients")
    assert time.monotonic() - start_time < 10 and result.stderr == ""
    assert result.returncode == 0 and max(map(len, result.stdout.splitlines())) <= 100
    rows = {line.split()[0]: line.split() for line in result.stdout.splitlines()
            if line.split()[0] in original_net.NAMES}
    assert list(rows) == list(original_net.NAMES)
    conv = [name for name in original_net.NAMES if name[:2] in ("W1", "W2")]
    for name, (_, shape, error, cosine) in rows.items():
        assert shape == "x".join(map(str, original_net.shapes()[name]))
        if script == "original_net.py" or name not in conv:
            assert float(error) < 1e-7 and cosine == "1.000", name
        else:  # every conv weight's gradient turned by the two lines, none reversed
            assert float(error) > 1e-2 and 0 < float(cosine) < 0.99, name
    listed = result.stdout.splitlines()[-1]
    assert listed.endswith("none" if script == "original_net.py" else ", ".join(conv))


def test_the_readers_gradient_check_can_fail(monkeypatch, capsys):
    """A gradient made wrong (W3's doubled) is named, and the check exits 1."""
    real = original_net.backward

    def wrong(params, cache, y):
        grads = real(params, cache, y)
        return dict(grads, W3=2 * grads["W3"])
    monkeypatch.setattr(original_net, "backward", wrong)
    assert original_net.main(["--check-gradients", "--four-samples"]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[-1] == "weights whose error is above 1e-05: W3"
    assert float(next(line for line in out if line.startswith("W3")).split()[2]) > 0.1

# ---------------------------------------- the nets: forward pass


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


# ---------------------------------------- the nets: training, data, stuck runs


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


# ---------------------------------------- the nets: the four samples and pasted text


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
    assert result.stderr == ("original_net.py: error: unrecognized arguments: --epoch 20; did you "
                             "mean --epochs?\n")


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


# ---------------------------------------- the nets: command line, signals and pipes


def test_cli_prints_the_articles_results(capsys):
    assert original_net.main(["--epochs", "3", "--test-size", "5"]) == 0
    out = capsys.readouterr().out
    assert "epoch    3/3  cost" in out
    assert "image  digit    P(1)  predicted" in out
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
    (["--seeds", "3"], "unrecognized arguments: --seeds 3; did you mean --seed?"),
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


# ---------------------------------------- broken_net.py: the broken lines and the twin rule


CONV = ["W1a", "W1b", "W2a", "W2b", "W2c", "W2d"]


DENSE = ["W3", "W4", "W5"]


# What each break changes (docs/METHODS.md, the broken lines): green (layer 2's pooled
# gradient) reaches W2 and, through layer 2, W1; red (layer 1's mask) reaches only W1.
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
def test_the_broken_net_names_its_active_lines_before_it_trains(choice, shown, capsys):
    assert broken_net.main(["--epochs", "1", "--breaks", choice, "--test-size", "3"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines.index(f"broken lines active: {shown}") == 2 and lines[3].startswith("epoch")


def test_the_nets_print_the_digits_themselves(capsys):
    """With --digits 3 8 the table says 3 and 8, not the labels 0 and 1."""
    assert broken_net.main(["--epochs", "2", "--digits", "3", "8", "--quiet"]) == 0
    out = capsys.readouterr().out.splitlines()
    table = out[out.index("image  digit    P(8)  predicted") + 1:][:10]
    assert {line.split()[1] for line in table} == {"3", "8"}
    assert {line.split()[3] for line in table} <= {"3", "8"}


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


# ---------------------------------------- digits_4samples.py


def test_digits_4samples_check_fails_on_a_stale_copy(tmp_path):
    for name in digits_4samples.SCRIPTS:
        (tmp_path / name).write_text((HERE / name).read_text().replace(
            "[0, 0, 5, 13, 9, 1, 0, 0],", "[0, 0, 5, 13, 9, 2, 0, 0],", 1))
    assert digits_4samples.check(tmp_path) == list(digits_4samples.SCRIPTS)


@pytest.mark.slow
def test_digits_4samples_help_and_missing_sklearn(tmp_path):
    result = run("digits_4samples.py", "--help")
    assert result.returncode == 0
    assert "--check" in result.stdout and "--from-sklearn" in result.stdout
    result = run("digits_4samples.py", "--from-sklearn", env=blocked(tmp_path, "sklearn"))
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr == ("digits_4samples.py: error: --from-sklearn needs scikit-learn "
                             "(pip install scikit-learn)\n")


# ---------------------------------------- compare.py: command line and output files


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
    (["--seed", "-1"], "unrecognized arguments: --seed -1; did you mean --seeds?"),
    (["--lr"], "argument --lr: expected at least one argument"),
    (["--lr", "0.001", "0.001"], "--lr gives 0.001 more than once"),
    (["--lr", *(f"{i}e-4" for i in range(1, 102))],
     "--lr gives 101 rates; a study takes at most 100"),
    (["--lr", "0.001", "-0.002"], "argument --lr: '-0.002' must be greater than 0"),
    (["--tune", "--lr", "0.001"], "--tune chooses among rates: give two or more"),
    (["--tuned", "no-such-tuning.json"], "--tuned no-such-tuning.json: No such file"),
    (["--tuned", "README.md"], "--tuned README.md: not JSON"),
    (["--tuned", "x.json", "--lr", "0.001"], "--tuned takes each net's rate from its report"),
    (["--plot", "figure.unknown"], "no .unknown; try .png, .pdf or .svg"),
    (["--stall-seconds", "60"], "--stall-seconds needs --scheduler"),
    (["--stall-seconds", "1", "--scheduler", "tcp://127.0.0.1:1"], "'1' must be at least 5"),
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
    assert result.returncode == 2 and result.stderr.count("\n") == 1
    assert "read-only" in result.stderr
    assert time.perf_counter() - start < 10 and report_file.read_text() == "old report"


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
