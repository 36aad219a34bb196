"""Where a study's numbers come from: this machine's environment, and the settings that
make it compute as another CPU would.

Training is chaotic at rounding level, so another CPU prints other digits. This machine
can compute as others do: OPENBLAS_CORETYPE picks another OpenBLAS kernel, and
NPY_ENABLE_CPU_FEATURES limits numpy to its SSE code paths (X86_V2, the baseline: "SSE"
in a setting's name) or to those up to AVX2 (X86_V3: "AVX2"). A name without either is
the OpenBLAS kernel alone. Which settings really compute other bits depends on the CPU (without
AVX-512, OpenBLAS already uses its Haswell kernel and numpy its AVX2 paths), so
distinct() tries each candidate on a short fingerprint run and keeps those that end at
other digits.
"""
import os
import platform
import shlex
import subprocess
import sys

import numpy as np

# The project's folder, where the fingerprint run imports original_net.py
PROJECT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# The variables that do it (numpy refuses ENABLE and DISABLE set together: neither is inherited)
SIMULATING = ("OPENBLAS_CORETYPE", "NPY_ENABLE_CPU_FEATURES", "NPY_DISABLE_CPU_FEATURES")
# Candidate settings, in the order they are tried: the first ones differ from one another
# in both the BLAS kernel and numpy's code paths wherever the CPU allows.
CANDIDATES = (
    ("as is", {}),
    ("Sandybridge + SSE", {"OPENBLAS_CORETYPE": "Sandybridge",
                           "NPY_ENABLE_CPU_FEATURES": "X86_V2"}),
    ("Nehalem", {"OPENBLAS_CORETYPE": "Nehalem"}),
    ("Haswell + AVX2", {"OPENBLAS_CORETYPE": "Haswell", "NPY_ENABLE_CPU_FEATURES": "X86_V3"}),
    ("Core2 + SSE", {"OPENBLAS_CORETYPE": "Core2", "NPY_ENABLE_CPU_FEATURES": "X86_V2"}),
    ("SSE", {"NPY_ENABLE_CPU_FEATURES": "X86_V2"}),
    ("Haswell", {"OPENBLAS_CORETYPE": "Haswell"}),
    ("Sandybridge", {"OPENBLAS_CORETYPE": "Sandybridge"}),
    ("Core2", {"OPENBLAS_CORETYPE": "Core2"}),
    ("AVX2", {"NPY_ENABLE_CPU_FEATURES": "X86_V3"}),
)
WANTED = 4  # settings a study is drawn under: the published report's four blocks
# The fingerprint: the original net's cost after three epochs of seed 0 (1,050 steps).
FINGERPRINT = ("import original_net as net; x, y, *_ = net.load_data(0); "
               "print(repr(net.train(net.init_params(0), x, y, 3)[-1]))")


def words(env):
    """A setting's environment as NAME=VALUE words ('' for none)."""
    return " ".join(f"{name}={shlex.quote(value)}" for name, value in env.items())


def fingerprint(env, timeout=60):
    """The fingerprint run's last epoch cost, as digits, under env (the simulating
    variables of this process replaced by env's); None if it could not run."""
    run_env = {k: v for k, v in os.environ.items() if k not in SIMULATING}
    try:
        # -W: a feature name this numpy does not know is refused, not silently ignored
        done = subprocess.run([sys.executable, "-W", "error::ImportWarning", "-c", FINGERPRINT],
                              cwd=PROJECT, timeout=timeout,
                              env=dict(run_env, **env), capture_output=True, text=True)
    except subprocess.TimeoutExpired:
        return None
    return done.stdout.strip() if done.returncode == 0 and done.stdout.strip() else None


def distinct(wanted=WANTED, candidates=CANDIDATES, progress=None):
    """Up to wanted candidate settings that compute different bits here, tried in turn:
    a list of (name, env, fingerprint). Fewer where fewer exist. progress(line), if
    given, hears of each candidate tried."""
    found = []
    for i, (name, env) in enumerate(candidates, 1):
        digits = fingerprint(env)
        new = digits is not None and all(digits != f for *_, f in found)
        if progress:
            progress(f"{name} ({i} of {len(candidates)} tried): "
                     + ("did not run" if digits is None else
                        f"{digits}, {'new' if new else 'as another computes'}"))
        if new:
            found.append((name, env, digits))
            if len(found) == wanted:
                break
    return found


def environment():
    """Where the numbers came from: Python, numpy, BLAS and its kernel, the CPUs, and
    the variables that simulate another CPU, if set."""
    blas = "unknown"
    try:
        from threadpoolctl import threadpool_info
        found = [m for m in threadpool_info() if m.get("user_api") == "blas"]
        # numpy's own BLAS first: scikit-learn's scipy may bring another one.
        found.sort(key=lambda m: "numpy" not in m.get("filepath", ""))
        if found:
            blas = (f"{found[0].get('internal_api')} {found[0].get('version')}, "
                    f"kernel {found[0].get('architecture', 'unknown')}")
    except ImportError:  # threadpoolctl comes with scikit-learn; numpy knows its build
        try:
            built = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
            blas = f"{built['name']} {built['version']} (kernel unknown)"
        except (TypeError, KeyError):  # numpy before 1.25
            pass
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as info:
            cpu = next(line.split(":", 1)[1].strip() for line in info
                       if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return dict(python=platform.python_version(), numpy=np.__version__, blas=blas,
                cpu=cpu, cpus=os.cpu_count(), system=f"{platform.system()} {platform.machine()}",
                setting=words({k: os.environ[k] for k in SIMULATING if os.environ.get(k)}))
