"""study/saved_reports.py: saved reports read and checked, side by side and pooled."""
import collections
import contextlib
import json
import math
import os
import re
import resource
import signal

import pytest
from hypothesis import HealthCheck, example, given, settings, strategies as st

import compare
from study import records, report, running
from tests.helpers import SHORT, compare_here, compare_json, damaged, run


# ---------------------------------------- reports side by side and pooled


@pytest.mark.slow
def test_side_by_side_reads_saved_reports_and_names_what_differs(tmp_path, short_compare,
                                                                 capsys):
    report, _ = short_compare
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    a.write_text(json.dumps(report))
    other = json.loads(json.dumps(report))
    other["claims"][2]["verdict"] = "holds" if other["claims"][2]["verdict"] != "holds" else "fails"
    other["study"]["environment"]["setting"] = (  # a simulated CPU: its line is the widest
        "OPENBLAS_CORETYPE=Sandybridge NPY_ENABLE_CPU_FEATURES=X86_V2")
    b.write_text(json.dumps(other))
    result = run("compare.py", "--side-by-side", str(a), str(b))  # once as a user types it
    assert result.returncode == 0 and result.stderr == ""
    lines = result.stdout.splitlines()
    assert max(map(len, lines)) <= 100
    assert lines[-1] == f"Words differ: {report['claims'][2]['label']}."
    assert sum(line.startswith(c["label"] + " ") for line in lines
               for c in report["claims"]) == len(report["claims"]) == 9

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
    for args, message, code in [((a, b), "judges none of the article's claims", 2),
                                ((a,), "needs two or more", 2),
                                ((tmp_path / "missing.json", a), "No such file", 2),
                                ((a, a, "--seeds", "3"), "takes only --out: not --seeds", 2)]:
        status, out, err = side_by_side(*args)
        assert status == code and err.count("\n") == 1 and message in err and out == "", args
        assert len(err.replace(str(b), "b.json").replace(str(tmp_path), "t")) <= 101  # was 115
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


BOTH = ("--side-by-side", "--pool")


@pytest.mark.slow
@pytest.mark.parametrize("change, message, options", [
    (lambda r: r["claims"][0].pop("verdict"), "claims[0].verdict is missing", BOTH[:1]),
    (lambda r: r["claims"][3].update(p_adjusted=None), "claims[3].p_adjusted is not a p-value",
     BOTH[:1]),
    (lambda r: r["claims"][1].update(p_value=0.5), "claims[1].p_value is not null", BOTH[:1]),
    (lambda r: r["claims"][2].update(label=7), "claims[2].label is not text", BOTH[:1]),
    (lambda r: r["claims"][1].update(held="three"), "claims[1].held is not a count", BOTH[:1]),
    (lambda r: r["claims"][4].update(borderline="yes"), "claims[4].borderline is not true",
     BOTH[:1]),
    (lambda r: r.update(claims={}), "claims is not a list", BOTH[:1]),
    (lambda r: r["study"]["settings"].update(seeds=-3),
     "study.settings.seeds is not 1 to 10000 seeds", BOTH),
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
    ("[" * 100000 + "]" * 100000, "not JSON; give reports of compare.py --format json"),
    ("{", "not JSON"), ("[]", "no study in it"), ("{}", "no study in it")])
def test_a_file_that_is_no_report_is_refused_in_one_line_exit_2(tmp_path, short_compare, capsys,
                                                                content, message):
    """A file that is no saved report is a choice of files that cannot work: exit 2; a
    report that is damaged, field by field, is 1 (above)."""
    good, bad = tmp_path / "good.json", tmp_path / "bad.json"
    good.write_text(json.dumps(short_compare[0]))
    bad.write_text(content)
    assert compare.main(["--side-by-side", str(good), str(bad)]) == 2
    err = capsys.readouterr().err.replace(str(bad), "bad.json")  # the path is the user's
    assert err.count("\n") == 1 and message in err and len(err) <= 101


@pytest.mark.slow
def test_pooling_refuses_shared_seeds_and_other_settings(tmp_path, short_compare, capsys):
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    a.write_text(json.dumps(short_compare[0]))
    b.write_text(json.dumps(damaged(short_compare[0], lambda r: r["study"]["settings"].update(
        first_seed=100))))
    assert compare.main(["--pool", str(a), str(a)]) == 2
    assert "seed 0 is also in" in capsys.readouterr().err

    def longer(report):  # another study: a fourth epoch, on other seeds
        report["study"]["settings"].update(first_seed=100, epochs=4)
        for run in report["runs"]:
            run.update(seed=run["seed"] + 100, history=run["history"] + [1.0],
                       checkpoints=[dict(run["checkpoints"][-1], epoch=e)
                                    for e in records.checkpoint_epochs(4)])
    c = tmp_path / "c.json"
    c.write_text(json.dumps(damaged(short_compare[0], longer)))
    assert compare.main(["--pool", str(a), str(c)]) == 2
    err = capsys.readouterr().err
    assert err == f"compare.py: error: --pool {c}: its epochs differ from {a}'s\n"

    def unlike(report):  # the longest names of settings that differ, and more of them
        longer(report)
        report["study"]["settings"].update(train_sizes={"0/1": 349}, four_samples=True,
                                           extended=True, epochs=3)
        for run in report["runs"]:
            run["history"].pop()
            run["checkpoints"] = [dict(run["checkpoints"][-1], epoch=e)
                                  for e in records.checkpoint_epochs(3)]
    c.write_text(json.dumps(damaged(short_compare[0], unlike)))
    assert compare.main(["--pool", str(a), str(c)]) == 2
    err = capsys.readouterr().err
    assert err == (f"compare.py: error: --pool {c}: its train_sizes, four_samples and 1 more "
                   f"differ from {a}'s\n")
    assert len(err.replace(str(a), "a.json").replace(str(c), "c.json")) <= 101
    # b claims seeds 100 to 111, but its runs are seeds 0 to 11: refused, not mixed
    assert compare.main(["--pool", str(a), str(b)]) == 1
    assert "runs[0].seed is not one of the study's seeds" in capsys.readouterr().err


# ---------------------------------------- damaged reports, generated as an attacker would

@contextlib.contextmanager
def memory_cap(extra):
    """This process may map at most extra bytes more than it does now (RLIMIT_AS):
    a reader that allocates from a damaged field without bound fails with MemoryError."""
    with open("/proc/self/status") as status:
        now = next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmSize"))
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    resource.setrlimit(resource.RLIMIT_AS, (now + extra, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def places(value, at=()):
    """Every place in a JSON value, as the keys and indices that reach it."""
    yield at
    items = value.items() if isinstance(value, dict) else enumerate(value) \
        if isinstance(value, list) else ()
    for key, inner in items:
        yield from places(inner, (*at, key))


HUGE = "10**4400"  # written as its 4,401 digits (json.dumps refuses an int so long)
NASTY = st.one_of(
    st.sampled_from([10 ** 30, -10 ** 30, 2 ** 63, 2 ** 64, -1, 0, 1, 1797, 1798,
                     1_000_001, HUGE, 1e308, -0.0, 5e-324, math.nan, math.inf, -math.inf,
                     True, False, None, "", "x" * 5000, "3/8", [], {}, [0] * 100_000,
                     [0.001] * 5000, ["Result 1"] * 1000, [[0, 1]] * 1000, [["Result 1"]],
                     {"0/1": 10 ** 30}, {"x": 1}]),
    st.integers(), st.floats(), st.text(max_size=20), st.lists(st.integers(-3, 12), max_size=4))
GONE = object()


def inside(value, key):
    """value[key], or GONE where value holds no such place (an earlier change took it)."""
    if isinstance(value, dict) and isinstance(key, str) and key in value or (
            isinstance(value, list) and isinstance(key, int) and key < len(value)):
        return value[key]
    return GONE


# The places that --pool, --side-by-side and --tuned read: where damage is worth trying.
READ = {"settings": ("seeds", "first_seed", "epochs", "lrs", "momentum", "data", "tune",
                     "tuned", "experiments", "nets", "digits", "test_sizes", "train_sizes",
                     "four_samples", "extended"),
        "claims": ("label", "lr", "seeds", "held", "p_value", "p_adjusted", "verdict",
                   "borderline"),
        "runs": records.saved_fields("test") + records.saved_fields("validation")}
READS = {"--pool": ("study", "runs"), "--side-by-side": ("study", "claims"),
         "--tuned": ("study", "tuning")}


def read_by(option, at):
    """option reads the place at (a path of keys) of a report."""
    if at[0] not in READS[option]:
        return False
    if at[0] == "study":
        return len(at) < 3 or at[1] == "environment" or (
            at[1] == "settings" and at[2] in READ["settings"])
    if at[0] == "runs" and len(at) > 1 and at[1] > 1:  # runs 0 and 1 stand for every run
        return False
    return len(at) < 3 or at[0] == "tuning" or at[2] in READ[at[0]]


@st.composite
def damage(draw, report, option):
    """report as the text of a copy with one place, or a few, that option reads changed,
    deleted or inflated (a list or a text 2 to 10**5 times longer, up to 10**5 items or
    characters; a number up to 10**5 times larger)."""
    copy = json.loads(json.dumps(report))
    where = [at for at in places(copy) if at and read_by(option, at)]
    for _ in range(draw(st.integers(1, 3))):
        at = draw(st.sampled_from(where))
        parent = copy
        for key in at[:-1]:
            parent = inside(parent, key)
        value = inside(parent, at[-1])
        if value is GONE:
            continue
        how = draw(st.sampled_from(["change", "delete", "inflate"]))
        if how == "delete":
            del parent[at[-1]]
        elif how == "change":
            parent[at[-1]] = draw(NASTY)
        elif not isinstance(value, (bool, dict)) and value is not None:
            times = draw(st.sampled_from([2, 1000, 10 ** 5]))
            parent[at[-1]] = value * (times if not isinstance(value, (list, str))
                                      else max(1, min(times, 10 ** 5 // max(len(value), 1))))
    return json.dumps(copy).replace(f'"{HUGE}"', "1" + "0" * 4400)


REFUSED = re.compile(r"\S.* (is missing|is not .+|is runs\[\d+\] again)")  # exit 1
NO_REPORT = ("not JSON", "no study in it", "differ from", "is also in",  # exit 2
             "not a --tune report", "judges none of the article's claims")


@pytest.fixture(scope="module")
def small_reports():
    """A study's report and a tuning's, of two seeds (one) and two epochs (one): quick to
    read."""
    plain, _ = compare_json("--seeds", "2", "--epochs", "2", "--jobs", "1", here=True)
    tuned, _ = compare_json("--seeds", "1", "--epochs", "1", "--jobs", "1", "--tune", "--lr",
                            "0.001", "0.003", here=True)
    return plain, tuned


@pytest.mark.slow
def test_generated_damaged_reports_end_in_one_line_with_bounded_memory(tmp_path, monkeypatch,
                                                                       small_reports):
    """Hundreds of damaged reports (fields changed to huge, negative, wrong-typed values,
    deleted, or lists and texts inflated) given to --pool, --side-by-side and --tuned:
    each ends in one line within 100 columns (the path aside) and the README's status,
    1 for a damaged report, 2 for a file that is no report or reports that cannot be
    pooled; or, where the damage left a report that reads, 0; and never maps 1 GiB more.
    (Before the bounds, study.settings.seeds 10**30 made --pool fill the memory.)"""
    plain, tuned = small_reports
    other = damaged(plain, lambda r: [r["study"]["settings"].update(first_seed=2)] + [
        run.update(seed=run["seed"] + 2) for run in r["runs"]])
    good, bad = tmp_path / "good.json", tmp_path / "bad.json"
    good.write_text(json.dumps(other))
    monkeypatch.setattr(running, "train_and_report", lambda args, argv: 0)  # --tuned read
    commands = {"--pool": (plain, [bad, good]), "--side-by-side": (plain, [good, bad]),
                "--tuned": (tuned, [bad])}
    assert compare_here("--pool", str(good), str(tmp_path / "none")).returncode == 2  # imports
    seen = collections.Counter()

    @settings(max_examples=300, derandomize=True, database=None, deadline=None,
              suppress_health_check=list(HealthCheck))
    @given(st.sampled_from(sorted(commands)), st.data())
    @example("--pool", None)  # the seeds of a study that cannot have been trained
    def attack(option, data):
        report, files = commands[option]
        with memory_cap(2 ** 30):  # the damage made within it too: no test of 10 GB
            bad.write_text(json.dumps(damaged(report, lambda r: r["study"]["settings"].update(
                seeds=10 ** 30))) if data is None else data.draw(damage(report, option)))
            result = compare_here(option, *map(str, files))
        err = result.stderr.replace(str(bad), "bad.json").replace(str(good), "a.json")
        seen[result.returncode] += 1
        assert "Traceback" not in err and result.returncode in (0, 1, 2), err
        if result.returncode:
            assert err.count("\n") == 1 and len(err) <= 101, err
            said = re.sub(f"^compare.py: error: {option} (bad|a).json: ", "", err.rstrip("\n"))
            assert (REFUSED.fullmatch(said) if result.returncode == 1
                    else any(kind in said for kind in NO_REPORT)), err
        else:
            assert "error" not in err, err
    attack()
    print(dict(seen))
    assert seen[1] > 150 and seen[2] and seen[0]  # the damage reaches the checks


@pytest.mark.parametrize("make, kind", [
    (lambda path: os.mkfifo(path), "a FIFO, not a saved report"),
    (lambda path: os.symlink("/dev/zero", path), "a device, not a saved report"),
    (lambda path: os.truncate(open(path, "wb").name, 3 * 2 ** 30),  # sparse: no disk used
     "larger than any report compare.py reads (2 GiB)")])
def test_a_file_that_cannot_be_a_report_is_refused_before_it_is_read(tmp_path, make, kind):
    """A FIFO (which would wait for a writer), a device without end, a file larger than any
    report: refused in one line, exit 2, without reading them (in 5 s, under a cap of
    1 GiB more memory)."""
    bad = tmp_path / "bad.json"
    make(str(bad))
    signal.signal(signal.SIGALRM, lambda signum, frame: pytest.fail("still reading after 5 s"))
    signal.alarm(5)
    try:
        with memory_cap(2 ** 30):
            result = compare_here("--pool", str(bad), str(bad))
    finally:
        signal.alarm(0)
    assert result.returncode == 2 and result.stderr == f"compare.py: error: --pool {bad}: {kind}\n"


@pytest.mark.slow
def test_a_pooled_report_may_hold_its_blocks_seeds_side_by_side(tmp_path, small_reports, capsys):
    """A study holds at most 10,000 seeds; a pooled report, 10,000 for each of its blocks."""
    def pooled(report, blocks):
        report["study"]["settings"].update(seeds=20_000, seed_blocks=blocks)
        for claim in report["claims"]:
            claim["seeds"] = 20_000
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    a.write_text(json.dumps(small_reports[0]))
    for blocks, status in (([[0, 10_000], [10_000, 20_000]], 0), (None, 1)):
        b.write_text(json.dumps(damaged(small_reports[0], lambda r: pooled(r, blocks))))
        assert compare.main(["--side-by-side", str(a), str(b)]) == status
    assert capsys.readouterr().err == (f"compare.py: error: --side-by-side {b}: "
                                       "study.settings.seeds is not 1 to 10000 seeds\n")
