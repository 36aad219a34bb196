"""study/cli.py: the one rule by which every study script ends."""
import io
import signal

import pytest

from study import cli


def ended(body, capsys):
    """run_main's status for a body, and what it wrote to stderr."""
    status = cli.run_main("script.py", body, [])
    return status, capsys.readouterr().err


def raising(error):
    def body(argv):
        raise error
    return body


@pytest.mark.parametrize("error, status, line", [
    (cli.UsageError("--seeds 0 is not 1 to 10000 seeds"), 2,
     "script.py: error: --seeds 0 is not 1 to 10000 seeds\n"),
    (cli.Failure("a run diverged"), 1, "script.py: error: a run diverged\n"),
    (KeyboardInterrupt(), 130, "script.py: interrupted\n"),
    (cli.Terminated(), 143, "script.py: terminated\n"),
    (ImportError("no scipy", name="scipy"), 1,
     "script.py: error: cannot import scipy: python3 -m pip install -r requirements.txt\n")])
def test_every_way_a_script_ends_is_one_line_and_its_status(error, status, line, capsys):
    assert ended(raising(error), capsys) == (status, line)


def test_help_and_a_plain_status_pass_through(capsys):
    assert ended(lambda argv: 3, capsys) == (3, "")
    assert ended(raising(SystemExit(0)), capsys) == (0, "")


def test_a_message_after_an_open_progress_line_starts_a_line_of_its_own(monkeypatch, capsys):
    fake = io.StringIO()
    monkeypatch.setattr(cli.sys, "stderr", fake)
    fake.write("\rcompare.py: 1/4 batches done")
    cli.open_line["stream"] = fake
    cli.say("compare.py: interrupted")
    assert fake.getvalue() == "\rcompare.py: 1/4 batches done\ncompare.py: interrupted\n"
    cli.say("again")  # the line is closed now
    assert fake.getvalue().endswith("interrupted\nagain\n")


def test_held_signals_are_said_once_released(capsys):
    noted = cli.hold_signals()
    try:
        signal.raise_signal(signal.SIGTERM)  # noted, not raised
        assert noted == [signal.SIGTERM]
        with pytest.raises(SystemExit) as done:
            cli.release_signals("script.py", noted)
        assert done.value.code == 143 and capsys.readouterr().err == "script.py: terminated\n"
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


def test_an_unknown_option_close_to_one_is_named_and_no_other(capsys):
    parser = cli.Parser(allow_abbrev=False)
    parser.add_argument("--seeds")
    for typed, said in [("--seed", "unrecognized arguments: --seed 2; did you mean --seeds?"),
                        ("--bogus", "unrecognized arguments: --bogus 2")]:
        with pytest.raises(cli.UsageError) as error:
            parser.parse_args([typed, "2"])
        assert str(error.value) == said
