"""study/cpus.py: the simulated CPUs and their fingerprints."""
import os
import subprocess
import sys

import pytest

import original_net


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
    # under this process's own setting (a suite run under a simulated CPU keeps it)
    setting = {k: os.environ[k] for k in cpus.SIMULATING if k in os.environ}
    assert cpus.fingerprint(dict(setting, PYTHONHASHSEED="1")) == here
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
