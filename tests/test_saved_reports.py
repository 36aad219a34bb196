"""study/saved_reports.py: saved reports read and checked, side by side and pooled."""
import json

import pytest

import compare
from study import report
from tests.helpers import SHORT, damaged, run


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
    for args, message, code in [((a, b), "judges none of the article's claims", 2),
                                ((a,), "needs two or more", 2),
                                ((tmp_path / "missing.json", a), "No such file", 2),
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
            run.update(seed=run["seed"] + 100, history=run["history"] + [1.0])
    c = tmp_path / "c.json"
    c.write_text(json.dumps(damaged(short_compare[0], longer)))
    assert compare.main(["--pool", str(a), str(c)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "its epochs differ from" in err
    assert "pool blocks of one study, which differ in their seeds and CPU alone" in err
    # b claims seeds 100 to 111, but its runs are seeds 0 to 11: refused, not mixed
    assert compare.main(["--pool", str(a), str(b)]) == 1
    assert "runs[0].seed is not one of the study's seeds" in capsys.readouterr().err
