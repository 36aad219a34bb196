"""Which interval of the pooled mean difference, and how many seeds: measured.

compare.py pools, over digit pairs (strata), the per-seed paired difference a - b of
held-out test accuracy, and words it from intervals of the stratified mean (verdicts.py,
judged_difference): better or worse where the 95% interval excludes 0, as good (TOST at
5%) where the 90% interval lies inside the margin. This module measures, on populations
like ours, how often each candidate interval covers the true stratified mean, and how
often TOST says "as good" when the true mean sits exactly on the margin; the rules in
verdicts.py (the Welch t interval for the words, the bootstrap for TOST, the fewest seeds
for each, no "as good" without variation) are what it found. docs/METHODS.md gives the
numbers.

Candidates, all of the stratified mean (stratum weights n_k / N):
- bca: stratified_interval, vectorised here over many studies (the same
  arithmetic; a test holds it to verdicts' own); the simulation draws RESAMPLES (1999)
  resamples, verdicts 9999;
- t-pooled: mean +- t(N - K) SE, and t-welch: Welch-Satterthwaite's degrees of freedom
  (t_interval), where SE^2 = sum_k (n_k / N)^2 s_k^2 / n_k;
- t-skew, explored and not kept: Welch's with a skewness correction (skew_t_interval).

Populations: per comparison (broken - original, frozen - original, broken - frozen) and
learning rate, each digit pair's per-seed differences in saved --extended reports, as
that pair's population (its empirical distribution); and synthetic ones at their worst (a
rare large failure in the tail; easy pairs where most seeds tie).

    python3 -m study.coverage REPORT.json ...    the tables (no reports: synthetic only)
    python3 -m study.coverage --one-pair ...     each population as one digit pair
"""
import sys
import time
import zlib
from dataclasses import dataclass

import numpy as np
from scipy import special, stats

from study import cli, verdicts
from study.cli import count
from study.verdicts import (ALPHA, CONFIDENCE, FAILURE_COST, MARGIN, MIN_SEEDS_WORD,
                            min_seeds_as_good, seeds_to_see)

TOST_CONFIDENCE = 1 - 2 * ALPHA
RESAMPLES = 1999     # bootstrap resamples in the simulation (verdicts: 9999)
STUDIES = 1000       # simulated studies per population and number of seeds
SEEDS = (4, 6, 10, 15, 20, 30)  # seeds per digit pair
ONE_PAIR_SEEDS = (4, 6, 8, 10, 15, 20, 30, 60, 90, 120)  # seeds of a one-pair study
METHODS = ("bca", "t-pooled", "t-welch")
EXPLORED = ("t-skew",)  # tried and not kept: see skew_t_interval
COMPARED = (("broken green,red", "original"), ("frozen", "original"),
            ("broken green,red", "frozen"))
SHORT = {"broken green,red": "broken", "original": "original", "frozen": "frozen"}
TYPICAL_LOSS = 0.45  # the synthetic failure's cost (about what a stuck run loses)
NAME = 36  # the width of a population's name in the tables


# ---------------------------------------------------------------- intervals

# The pooled intervals before the seed was the unit (a digit pair a stratum, its seeds
# independent): the candidates this module measured then, and measures again.

def stratified_parts(strata):
    """(mean, SE, df N - K, Welch df) of the stratified mean of strata, arrays of shape
    (..., n_k) whose leading axes are independent studies: weights n_k / N, SE^2 =
    sum (n_k / N)^2 s_k^2 / n_k (s_k with ddof 1: every n_k at least 2), and the
    Welch-Satterthwaite degrees of freedom (nan where SE is 0)."""
    strata = [np.asarray(s, dtype=float) for s in strata]
    sizes = [s.shape[-1] for s in strata]
    if min(sizes) < 2:
        raise ValueError("every stratum needs two values for its variance")
    total = sum(sizes)
    mean = sum(np.sum(s, axis=-1) for s in strata) / total
    terms = [(n / total) ** 2 * np.var(s, axis=-1, ddof=1) / n for s, n in zip(strata, sizes)]
    variance = sum(terms)
    with np.errstate(divide="ignore", invalid="ignore"):
        welch = variance ** 2 / sum(v ** 2 / (n - 1) for v, n in zip(terms, sizes))
    return mean, np.sqrt(variance), float(total - len(strata)), welch


def t_interval(strata, confidence=CONFIDENCE, df="welch"):
    """The stratified t interval (low, high): mean +- t((1 + confidence) / 2, df) SE, df
    Welch-Satterthwaite's ("welch") or N - K ("pooled"); the mean itself where SE is 0.
    Vectorised over studies (stratified_parts)."""
    from scipy import stats
    mean, se, pooled, welch = stratified_parts(strata)
    dof = np.broadcast_to(pooled if df == "pooled" else welch, np.shape(mean))
    dof = np.where(np.isfinite(dof), dof, 1.0)  # SE 0: any df gives a half-width of 0
    half = stats.t.ppf((1 + confidence) / 2, dof) * se
    return mean - half, mean + half


def pooled_interval(strata, confidence=CONFIDENCE):
    """The interval behind the pooled words before the seed was the unit: the stratified t
    interval with Welch's degrees of freedom, each pair's own variance; None where a
    stratum has fewer than two values."""
    strata = [np.asarray(s, dtype=float) for s in strata if len(s)]
    if not strata or min(map(len, strata)) < 2:
        return None
    low, high = t_interval(strata, confidence)
    return verdicts.Interval(verdicts.snapped(low), verdicts.snapped(high))


def stratified_interval(strata, confidence=CONFIDENCE):
    """The bootstrap interval (BCa) of stratified_mean(strata), resampling within each
    stratum (scipy.stats.bootstrap resamples each sample on its own), so that the
    interval counts only the variation within digit pairs, as the paired design does:
    TOST's 90% interval (its skew correction held TOST's error at the margin nearest 5%
    where rare failures make a tail). A stratum of one value adds that value, fixed;
    None with fewer than two values in every stratum."""
    strata = [np.asarray(s, dtype=float) for s in strata if len(s)]
    total = sum(len(s) for s in strata)
    varied = [s for s in strata if len(s) > 1]
    if not varied:
        return None
    fixed = sum(float(np.sum(s)) for s in strata if len(s) == 1)

    def mean(*samples, axis=-1):
        return (sum(np.sum(s, axis=axis) for s in samples) + fixed) / total

    return verdicts.bca(varied, mean, confidence)



def skew_t_interval(strata, confidence=CONFIDENCE):
    """Explored, not a candidate: the Welch t interval with a second-order (Cornish-
    Fisher) skewness correction of the studentised stratified mean (Hall 1983; Johnson
    1978 for one sample): with the third cumulant K3 = sum_k (n_k/N)^3 k3_k / n_k^2 (k3_k
    the unbiased third k-statistic, n_k >= 3) and g = K3 / SE^3, the quantile q of
    (mean - mu) / SE is t - g (2 t^2 + 1) / 6, and the interval is
    [mean - SE q(1 - a/2), mean - SE q(a/2)]. It mends TOST at 30 seeds a pair on
    skewed populations, but is erratic on few tied seeds (the sample skewness of one
    odd value among ties is huge)."""
    mean, se, _, welch = stratified_parts(strata)
    total = sum(s.shape[-1] for s in strata)
    k3 = 0
    for s in strata:
        n = s.shape[-1]
        d = s - np.mean(s, axis=-1, keepdims=True)
        k3_k = np.mean(d ** 3, axis=-1) * n ** 2 / ((n - 1) * (n - 2))  # unbiased k3
        k3 = k3 + (n / total) ** 3 * k3_k / n ** 2
    with np.errstate(divide="ignore", invalid="ignore"):
        g = np.where(se > 0, k3 / se ** 3, 0.0)
    dof = np.where(np.isfinite(welch), welch, 1.0)
    t = stats.t.ppf((1 + confidence) / 2, dof)
    q_high, q_low = t - g * (2 * t ** 2 + 1) / 6, -t - g * (2 * t ** 2 + 1) / 6
    return mean - se * q_high, mean - se * q_low


def _quantile(boot_sorted, p):
    """scipy.stats.quantile(method='linear') of each row of sorted boot at its own p
    (the same Hyndman-Fan arithmetic), nan where p is nan."""
    n = boot_sorted.shape[-1]
    bad = ~np.isfinite(p)
    p = np.where(bad, 0.5, p)
    jg = p * n + (1 - p)
    j = jg // 1 - 1
    g = jg % 1
    g = np.where(j < 0, 0.0, g)
    lo = np.clip(j, 0, n - 1).astype(np.int64)
    hi = np.clip(jg // 1, 0, n - 1).astype(np.int64)
    out = ((1 - g) * np.take_along_axis(boot_sorted, lo[..., None], -1)[..., 0]
           + g * np.take_along_axis(boot_sorted, hi[..., None], -1)[..., 0])
    return np.where(bad, np.nan, out)


def bca_interval(strata, confidences=(CONFIDENCE,), resamples=RESAMPLES, rng=None,
                 chunk_values=12_000_000):
    """stratified_interval for many studies at once: {confidence: (low, high)}.

    strata: arrays of shape (S, n_k), S studies. As verdicts does (n_k >= 2 here): each
    stratum is resampled on its own with rng.integers(0, n_k, (resamples, n_k)) (the
    draws of scipy.stats.bootstrap, stratum by stratum; with S = 1 and rng =
    default_rng(0) they are verdicts' own); the statistic is (sum of every value) / N;
    BCa as scipy's _bca_interval (z0 from the 'mean' percentile of the estimate, the
    acceleration from each stratum's jackknife); where BCa is not finite, the
    percentile interval; where every resample is alike, the estimate. One bootstrap
    distribution serves every confidence, as verdicts' two calls share one (same seed)."""
    rng = np.random.default_rng(0) if rng is None else rng
    strata = [np.atleast_2d(np.asarray(s, dtype=float)) for s in strata]
    studies = strata[0].shape[0]
    sizes = [s.shape[-1] for s in strata]
    total = sum(sizes)
    step = max(1, chunk_values // (resamples * max(sizes)))
    boot = np.empty((studies, resamples))
    for start in range(0, studies, step):
        rows = slice(start, min(start + step, studies))
        acc = 0
        for s, n in zip(strata, sizes):
            block = s[rows]
            index = rng.integers(0, n, (block.shape[0], resamples, n))
            acc = acc + np.sum(block[np.arange(block.shape[0])[:, None, None], index], axis=-1)
        boot[rows] = acc / total
    estimate = 0
    for s in strata:
        estimate = estimate + np.sum(s, axis=-1)
    estimate = estimate / total
    # z0: the 'mean' percentile of the estimate among the resamples
    below = np.count_nonzero(boot < estimate[:, None], axis=-1)
    upto = np.count_nonzero(boot <= estimate[:, None], axis=-1)
    z0 = special.ndtri((below + upto) / (2 * resamples))
    # the acceleration: jackknife within each stratum, the statistic's divisor fixed
    nums = dens = 0
    for s, n in zip(strata, sizes):
        jack = (np.sum(s, axis=-1, keepdims=True) - s) / total   # up to a constant
        u = (n - 1) * (np.mean(jack, axis=-1, keepdims=True) - jack)
        nums = nums + np.sum(u ** 3, axis=-1) / float(n) ** 3
        dens = dens + np.sum(u ** 2, axis=-1) / float(n) ** 2
    with np.errstate(divide="ignore", invalid="ignore"):
        a_hat = 1 / 6 * nums / dens ** (3 / 2)
    boot.sort(axis=-1)
    flat = boot[:, -1] == boot[:, 0]
    out = {}
    for confidence in confidences:
        alpha = (1 - confidence) / 2
        z_alpha = float(special.ndtri(alpha))
        with np.errstate(divide="ignore", invalid="ignore"):
            num1, num2 = z0 + z_alpha, z0 - z_alpha
            a1 = special.ndtr(z0 + num1 / (1 - a_hat * num1))
            a2 = special.ndtr(z0 + num2 / (1 - a_hat * num2))
        low, high = _quantile(boot, a1), _quantile(boot, a2)
        bad = ~(np.isfinite(low) & np.isfinite(high))
        if bad.any():  # verdicts: percentiles instead
            pl, ph = np.percentile(boot[bad], [50 * (1 - confidence), 50 * (1 + confidence)],
                                   axis=-1)
            low[bad], high[bad] = pl, ph
        low = np.where(flat, estimate, low)
        high = np.where(flat, estimate, high)
        out[confidence] = (low, high)
    return out


def intervals(strata, rng, resamples=RESAMPLES, methods=METHODS):
    """{method: {confidence: (low, high)}} of every candidate, for CONFIDENCE and
    TOST_CONFIDENCE, over studies along the first axis of each stratum."""
    levels = (CONFIDENCE, TOST_CONFIDENCE)
    out = {}
    for method in methods:
        if method == "bca":
            out[method] = bca_interval(strata, levels, resamples, rng)
        elif method == "t-skew":
            out[method] = {c: skew_t_interval(strata, c) for c in levels}
        else:
            df = method.split("-")[1]
            out[method] = {c: t_interval(strata, c, df) for c in levels}
    return out


# ---------------------------------------------------------------- populations

@dataclass
class Population:
    """A study's population: per stratum (digit pair), the values a seed's difference
    takes and their probabilities. Studies draw n seeds per stratum with replacement."""
    name: str
    kind: str            # "pilot" (from the reports) or "synthetic"
    strata: list         # [(values, probabilities), ...]

    def true_mean(self):
        """The stratified mean of the population with equal n per stratum."""
        return float(np.mean([np.dot(v, p) for v, p in self.strata]))

    def draw(self, n, studies, rng):
        """studies x n seeds of each stratum: a list of (studies, n) arrays."""
        return [v[rng.choice(len(v), size=(studies, n), p=p)] for v, p in self.strata]

    def one_pair(self):
        """The mixture of the strata as one digit pair (the article's study: one pair)."""
        values = np.concatenate([v for v, _ in self.strata])
        probs = np.concatenate([p for _, p in self.strata]) / len(self.strata)
        return Population(self.name, self.kind, [(values, probs)])


def empirical(values):
    values = np.asarray(values, dtype=float)
    return values, np.full(len(values), 1 / len(values))


def discrete(spec):
    """A stratum from {value: probability}; the probabilities must sum to 1."""
    values = np.array(list(spec), dtype=float)
    probs = np.array(list(spec.values()), dtype=float)
    assert abs(probs.sum() - 1) < 1e-12, spec
    return values, probs


def read_runs(path):
    """The runs of a saved report (--format json), or UsageError in one line."""
    import json
    try:
        with open(path) as file:
            saved = json.load(file)
        rate = saved["study"]["settings"].get("lr")  # a report of one rate may not say it
        return [dict(r, lr=r.get("lr", rate)) for r in saved["runs"] if "test_accuracy" in r]
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise cli.UsageError(f"{path}: no saved report of compare.py --extended "
                             f"({getattr(error, 'strerror', None) or type(error).__name__})"
                             ) from None


def paired(runs, a, b):
    """{(lr, digits): [(run of a, run of b), ...]} paired by seed, in seed order."""
    by = {(r.get("lr"), tuple(r["digits"]), r["net"], r["seed"]): r for r in runs}
    out = {}
    for (lr, digits, net, seed), run in sorted(by.items(), key=lambda kv: (
            kv[0][0] or 0, kv[0][1], kv[0][3])):
        if net == a and (lr, digits, b, seed) in by:
            out.setdefault((lr, digits), []).append((run, by[lr, digits, b, seed]))
    return out


def pilot_populations(paths):
    """Per comparison and learning rate of the reports, its digit pairs' per-seed
    differences."""
    pops = []
    for path in paths:
        runs = read_runs(path)
        for a, b in COMPARED:
            found = paired(runs, a, b)
            for lr in sorted({lr for lr, _ in found}, key=lambda x: x or 0):
                strata = [empirical([x["test_accuracy"] - y["test_accuracy"] for x, y in pairs])
                          for (rate, _), pairs in sorted(found.items()) if rate == lr]
                pops.append(Population(f"{SHORT[a]}-{SHORT[b]} lr {lr:g}", "pilot", strata))
    return pops


def failure_costs(paths, compared=COMPARED):
    """The accuracy a stuck run loses against its paired partner that learned: every
    (comparison, pair, seed) where exactly one of the two nets is stuck, as
    learned - stuck. Returns (costs, failures, runs): the losses, the stuck runs, all runs."""
    costs, stuck, total = [], 0, 0
    for path in paths:
        runs = read_runs(path)
        stuck += sum(r["stuck"] for r in runs)
        total += len(runs)
        for a, b in compared:
            for pairs in paired(runs, a, b).values():
                for x, y in pairs:
                    if x["stuck"] != y["stuck"]:
                        good, bad = (y, x) if x["stuck"] else (x, y)
                        costs.append(good["test_accuracy"] - bad["test_accuracy"])
    return np.array(costs), stuck, total


def bulk(sd_images=1.5, images=72, wide=4):
    """A small difference in whole test images (1/72 each), roughly normal, mean 0."""
    k = np.arange(-wide, wide + 1)
    w = np.exp(-0.5 * (k / sd_images) ** 2)
    return dict(zip(k / images, w / w.sum()))


def with_failure(spec, p, loss=TYPICAL_LOSS):
    """spec scaled by 1 - p, plus -loss with probability p."""
    out = {v: q * (1 - p) for v, q in spec.items()}
    out[-loss] = out.get(-loss, 0.0) + p
    return out


def synthetic_populations():
    """Shapes like ours at their worst: a rare large failure (losing TYPICAL_LOSS) in the
    tail, and easy pairs where most seeds tie at 0. Four strata each."""
    p_margin = MARGIN / TYPICAL_LOSS   # the failure rate that alone costs the margin
    ties = {0.0: 0.9, -1 / 72: 0.05, 1 / 72: 0.05}
    noisy = bulk(2.0)
    specs = {
        "noise only (sd 1.5 images)": [bulk()] * 4,
        f"rare failure p={p_margin:.3f}": [with_failure(bulk(), p_margin)] * 4,
        "rare failure p=0.01": [with_failure(bulk(), 0.01)] * 4,
        "frequent failures p=0.2": [with_failure(bulk(), 0.2)] * 4,
        "ties 90%": [ties] * 4,
        f"ties 90% + failure p={p_margin:.3f}": [with_failure(ties, p_margin)] * 4,
        f"ties 0/-{TYPICAL_LOSS} only, p={p_margin:.3f}": [with_failure({0.0: 1.0}, p_margin)] * 4,
        "2 easy pairs (ties 97%) + 2 failing": [{0.0: 0.97, -1 / 72: 0.015, 1 / 72: 0.015}] * 2
        + [with_failure(noisy, 0.1)] * 2,
        "failures both ways p=0.1 each":
            [with_failure(with_failure(bulk(), 0.1 / 0.9, -TYPICAL_LOSS), 0.1)] * 4,
    }
    return [Population(name, "synthetic", [discrete(s) for s in strata])
            for name, strata in specs.items()]


# ---------------------------------------------------------------- simulation

def case_rng(seed, name, pairs, n):
    """A fixed generator per case, the same whatever else is simulated."""
    return np.random.default_rng([seed, zlib.crc32(name.encode()), pairs, n])


def degenerate(strata):
    """Per study: no stratum's differences vary (every SE = 0)."""
    return np.all([np.ptp(s, axis=-1) == 0 for s in strata], axis=0)


def simulate(pop, n, studies=STUDIES, resamples=RESAMPLES, seed=0, methods=METHODS):
    """studies studies of n seeds per stratum from pop. Per method: coverage of the 95%
    interval (and its misses: the interval wholly above / below the true mean), and
    TOST's `as good` rate with the population shifted to a true mean of exactly -MARGIN
    and of +MARGIN, without and with the degenerate rule (no stratum varies: no `as
    good`). Intervals of a shifted sample are the sample's shifted, so one draw serves."""
    rng = case_rng(seed, pop.name, len(pop.strata), n)
    sample = pop.draw(n, studies, rng)
    mu = pop.true_mean()
    flat = degenerate(sample)
    out = {"flat": float(flat.mean())}
    for method, found in intervals(sample, rng, resamples, methods).items():
        out[method] = scored(found, mu, flat, without_rule=True)
    return out


def scored(found, mu, flat, without_rule=False):
    """One method's intervals over the studies against the true mean mu: coverage of
    the 95% interval, its misses (wholly above, wholly below), and TOST's 'as good' rate
    at a true mean of -MARGIN and +MARGIN with the rule that flat studies (their seeds'
    differences do not vary) are never 'as good' (and, if without_rule, without it)."""
    low, high = found[CONFIDENCE]
    low90, high90 = found[TOST_CONFIDENCE]
    row = {"cover": float(np.mean((low <= mu) & (mu <= high))),
           "above": float(np.mean(low > mu)), "below": float(np.mean(high < mu))}
    for side, delta in (("at-", -MARGIN), ("at+", MARGIN)):
        good = (-MARGIN < low90 - mu + delta) & (high90 - mu + delta < MARGIN)
        if without_rule:
            row[side] = float(good.mean())
        row[side + " rule"] = float((good & ~flat).mean())
    return row


def run(pops, seeds=SEEDS, pairs=4, studies=STUDIES, resamples=RESAMPLES, seed=0,
        methods=METHODS, log=None):
    """{(population name, K, n): simulate(...)}; pairs=1 simulates each population as
    one digit pair (Population.one_pair) with n seeds, else as its K pairs."""
    results = {}
    for pop in pops:
        use = pop.one_pair() if pairs == 1 else pop
        for n in seeds:
            began = time.time()
            results[pop.name, len(use.strata), n] = simulate(use, n, studies, resamples,
                                                             seed, methods)
            if log:
                print(f"study.coverage: {pop.name}, {len(use.strata)} x {n}: "
                      f"{time.time() - began:.1f} s", file=log, flush=True)
    return results


# ---------------------------------------------------------------- the seed as the unit

SEED_METHODS = ("seed-t", "seed-bca", "pair-welch")
BY_SEED = (10, 15, 20, 30, 60, 120)  # seeds a study (each with its K pairs)


@dataclass
class SeedPopulation:
    """A study's population as the design draws it: whole seeds, each a vector of its K
    digit pairs' values (they share the seed's initial weights). Studies draw S seeds
    with replacement."""
    name: str
    kind: str       # "shipped" (the curve's runs) or "synthetic"
    seeds: object   # (seeds, K)

    def true_mean(self):
        return float(np.mean(self.seeds))

    def draw(self, s, studies, rng):
        """(studies, s, K): studies studies of s whole seeds."""
        return self.seeds[rng.integers(0, len(self.seeds), (studies, s))]


def seed_intervals(sample, rng, resamples=RESAMPLES, methods=SEED_METHODS):
    """{method: {confidence: (low, high)}} over studies of whole seeds (studies, S, K):
    seed-t, the t interval of the seeds' means (verdicts.cluster_interval); seed-bca,
    their BCa bootstrap (verdicts.cluster_bootstrap); pair-welch, the stratified Welch t
    of the K pairs as if their values were independent (the interval published before
    the seed was the unit)."""
    levels = (CONFIDENCE, TOST_CONFIDENCE)
    means = sample.mean(axis=-1)
    out = {}
    for method in methods:
        if method == "seed-t":
            s = means.shape[-1]
            mean, se = means.mean(axis=-1), means.std(axis=-1, ddof=1) / np.sqrt(s)
            out[method] = {c: (mean - stats.t.ppf((1 + c) / 2, s - 1) * se,
                               mean + stats.t.ppf((1 + c) / 2, s - 1) * se) for c in levels}
        elif method == "seed-bca":
            out[method] = bca_interval([means], levels, resamples, rng)
        else:
            strata = [sample[..., k] for k in range(sample.shape[-1])]
            out[method] = {c: t_interval(strata, c, "welch") for c in levels}
    return out


def simulate_seeds(pop, s, studies=STUDIES, resamples=RESAMPLES, seed=0, methods=SEED_METHODS):
    """As simulate(), for studies of s whole seeds: per method the coverage of the 95%
    interval and its misses, and TOST's 'as good' at a true mean of exactly -MARGIN and
    +MARGIN (no 'as good' where the seeds' means do not vary)."""
    rng = case_rng(seed, pop.name, pop.seeds.shape[1], s)
    sample = pop.draw(s, studies, rng)
    mu = pop.true_mean()
    flat = np.ptp(sample.mean(axis=-1), axis=-1) == 0
    out = {"flat": float(flat.mean())}
    for method, found in seed_intervals(sample, rng, resamples, methods).items():
        out[method] = scored(found, mu, flat)
    return out


def shipped_populations(folder, kind="curve"):
    """Per comparison and rate of the shipped curve study, each seed's vector of its
    digit pairs' differences a - b (the pairs in PAIRS' order)."""
    from study import shipped
    from study.registry import PAIRS
    found = shipped.load(folder)
    runs = [r for entry, study_runs in found.values() if entry["kind"] == kind
            for r in study_runs]
    if not runs:
        raise cli.UsageError(f"no shipped {kind} study in {folder or '.'}: "
                             "make_report.py --part curve ships it")
    by = {(r["lr"], tuple(r["digits"]), r["net"], r["seed"]): r for r in runs}
    pops = []
    for a, b in COMPARED:
        for lr in sorted({r["lr"] for r in runs}):
            seeds = sorted({r["seed"] for r in runs})
            values = [[by[lr, d, a, s]["test_accuracy"] - by[lr, d, b, s]["test_accuracy"]
                       for d in PAIRS] for s in seeds]
            pops.append(SeedPopulation(f"{SHORT[a]}-{SHORT[b]} lr {lr:g}", "shipped",
                                       np.array(values)))
    return pops


def synthetic_seed_populations(seeds=2000, rng_seed=3):
    """Shapes like ours at their worst, with the seed's pairs tied together: a rare
    failure that takes all of a seed's pairs at once, or one pair at a time; a noisy bulk
    whose pairs move together (a seed effect)."""
    rng = np.random.default_rng(rng_seed)
    noise = rng.normal(0, 1.5 / 72, (seeds, 4))
    shared = rng.normal(0, 1.5 / 72, (seeds, 1))
    p = MARGIN / TYPICAL_LOSS
    all_fail = np.where(rng.random((seeds, 1)) < p, -TYPICAL_LOSS, noise)
    one_fail = np.where(rng.random((seeds, 4)) < p, -TYPICAL_LOSS, noise)
    return [SeedPopulation(name, "synthetic", values) for name, values in (
        ("noise, independent pairs", noise),
        ("noise, a seed effect", 0.5 * noise + shared),
        (f"a seed fails in every pair, p={p:.3f}", all_fail),
        (f"a pair fails alone, p={p:.3f}", one_fail))]


def seed_tables(results, pops, sizes, methods=SEED_METHODS):
    """The seed design's tables: per kind, method and S, the lowest and median coverage
    and the worst TOST error at the margin; then each population's coverage."""
    lines = []
    for kind in ("shipped", "synthetic"):
        chosen = [p for p in pops if p.kind == kind]
        if not chosen:
            continue
        lines += [f"summary over {len(chosen)} {kind} populations, whole seeds of "
                  f"{chosen[0].seeds.shape[1]} pairs:",
                  f"  {'method':<11}{'S':>4}{'min cover':>10}{'median':>8}{'<94%':>6}"
                  f"{'max miss':>9}{'TOST max':>9}"]
        for method in methods:
            for s in sizes:
                rows = [results[p.name, s][method] for p in chosen]
                cover = [r["cover"] for r in rows]
                miss = max(max(r["above"], r["below"]) for r in rows)
                tost = max(max(r["at- rule"], r["at+ rule"]) for r in rows)
                lines.append(f"  {method:<11}{s:>4}{100 * min(cover):>10.1f}"
                             f"{100 * np.median(cover):>8.1f}{sum(c < 0.94 for c in cover):>6}"
                             f"{100 * miss:>9.1f}{100 * tost:>9.1f}")
        lines.append("")
    for method in methods:
        lines += percent_table(f"coverage of the 95% interval, {method}, S whole seeds:", pops,
                               sizes, lambda pop, s: results[pop.name, s][method]["cover"])
        lines.append("")
    return lines


def fewest_seeds(results, pops, sizes, method="seed-t", floor=0.90):
    """The fewest seeds S of sizes from which every shipped population's 95% interval
    (method) covered its true mean at least floor of the time: the rule's S."""
    shipped_pops = [p for p in pops if p.kind == "shipped"]
    for s in sizes:
        if all(results[p.name, t][method]["cover"] >= floor
               for p in shipped_pops for t in sizes if t >= s):
            return s
    return None


# ---------------------------------------------------------------- rare failures

def no_failure(p, seeds):
    """P(no failure among seeds runs), each failing with probability p: (1 - p)^N."""
    return (1 - p) ** seeds


def two_point_tost_error(loss, seeds, margin=MARGIN, degenerate_rule=True):
    """Exactly, for one stratum of `seeds` seeds from the worst shape: a difference of 0,
    or -loss with probability p = margin / loss (true mean exactly -margin), how often
    TOST with the t interval (df N - 1) says `as good`. k failures give mean -k loss/N,
    SE = loss sqrt(k (N - k) / (N^2 (N - 1))). k = 0 is the degenerate sample."""
    p = margin / loss
    k = np.arange(0 if not degenerate_rule else 1, seeds + 1)
    mean = -k * loss / seeds
    se = loss * np.sqrt(k * (seeds - k) / (seeds ** 2 * (seeds - 1)))
    t = stats.t.ppf(1 - ALPHA, seeds - 1)
    good = (mean - t * se > -margin) & (mean + t * se < margin)
    return float(stats.binom.pmf(k, seeds, p)[good].sum())


# ---------------------------------------------------------------- tables

def coverage_table(results, pops, pairs, seeds, methods):
    """Per method, a row per population: 95% coverage at each n (percent)."""
    lines = []
    for method in methods:
        lines += percent_table(
            f"coverage of the 95% interval, {method}, {count(pairs, 'pair')} x n seeds:", pops,
            seeds, lambda pop, n: results[pop.name, pairs, n][method]["cover"])
    return lines


def percent_table(title, pops, sizes, share):
    """A title, a header of sizes, and a row per population of share(pop, size) in percent."""
    return [title, f"  {'population':<{NAME}}" + "".join(f"{s:>7}" for s in sizes)] + [
        f"  {pop.name:<{NAME}}" + "".join(f"{100 * share(pop, s):>7.1f}" for s in sizes)
        for pop in pops]


def tost_table(results, pops, pairs, seeds, methods):
    """Per method, a row per population: TOST's `as good` at a true mean of exactly
    -margin / +margin (percent), with the degenerate rule."""
    lines = []
    for method in methods:
        lines.append(f"TOST 'as good' at the margin, -2 / +2 points (%), {method}, "
                     f"degenerate rule, {count(pairs, 'pair')} x n seeds:")
        lines.append(f"  {'population':<{NAME}}" + "".join(f"{n:>10}" for n in seeds))
        for pop in pops:
            cells = []
            for n in seeds:
                r = results[pop.name, pairs, n][method]
                cells.append(f"{100 * r['at- rule']:.1f}/{100 * r['at+ rule']:.1f}")
            lines.append(f"  {pop.name:<{NAME}}" + "".join(f"{c:>10}" for c in cells))
    return lines


def summary(results, pops, pairs, seeds, methods, kind):
    """Over the populations of a kind: per method and n, the lowest and median coverage,
    the number under 94%, the worst one-sided miss, and the worst TOST error at the
    margin with and without the degenerate rule."""
    chosen = [p for p in pops if p.kind == kind]
    if not chosen:
        return []
    lines = [f"summary over {len(chosen)} {kind} populations, {count(pairs, 'pair')} "
             f"(N = {pairs} x n seeds in all):",
             f"  {'method':<9}{'n':>4}{'N':>5}{'min cover':>10}{'median':>8}{'<94%':>6}"
             f"{'max miss':>9}{'TOST max':>9}{'no rule':>8}{'flat':>6}"]
    for method in methods:
        for n in seeds:
            rows = [results[p.name, pairs, n] for p in chosen]
            cover = [r[method]["cover"] for r in rows]
            miss = max(max(r[method]["above"], r[method]["below"]) for r in rows)
            tost = max(max(r[method]["at- rule"], r[method]["at+ rule"]) for r in rows)
            raw = max(max(r[method]["at-"], r[method]["at+"]) for r in rows)
            flat = max(r["flat"] for r in rows)
            lines.append(f"  {method:<9}{n:>4}{pairs * n:>5}{100 * min(cover):>10.1f}"
                         f"{100 * np.median(cover):>8.1f}{sum(c < 0.94 for c in cover):>6}"
                         f"{100 * miss:>9.1f}{100 * tost:>9.1f}{100 * raw:>8.1f}"
                         f"{100 * flat:>6.1f}")
    return lines


def degenerate_table(results, pops, pairs, seeds, methods):
    """Where samples with no variation occur: how often, and TOST's `as good` at the
    margin (worse side) without and with the degenerate rule."""
    lines = [f"no variation (no pair varies), {count(pairs, 'pair')}: % of studies; TOST's "
             f"'as good' at the margin (%),",
             "  without -> with the rule that no variation is never 'as good':",
             f"  {'population':<{NAME}}{'n':>4}{'flat':>6}" + "".join(f"{m:>14}" for m in methods)]
    for pop in pops:
        for n in seeds:
            r = results[pop.name, pairs, n]
            if r["flat"] > 0:
                lines.append(f"  {pop.name:<{NAME}}{n:>4}{100 * r['flat']:>6.1f}" + "".join(
                    f"{100 * max(r[m]['at-'], r[m]['at+']):>7.1f} ->"
                    f"{100 * max(r[m]['at- rule'], r[m]['at+ rule']):>5.1f}" for m in methods))
    return lines


def rules_table(results, pops, pairs, seeds, methods, floors=(0, 16, 40, 60, 80, 120)):
    """With a minimum of N seeds in all: per kind of population, method and floor, the
    lowest coverage and the worst one-sided miss (interval words), and the worst TOST
    error at the margin ("as good", with the degenerate rule), over every simulated n
    with pairs x n >= N."""
    lines = [f"the fewest seeds, {count(pairs, 'pair')}: the worst over the populations and "
             f"every n with N = {pairs} x n >= floor (%)",
             f"  {'kind':<10}{'method':<10}{'floor':>6}{'cover':>8}{'miss':>7}{'TOST':>7}"]
    for kind in ("pilot", "synthetic"):
        chosen = [p for p in pops if p.kind == kind]
        for method in methods if chosen else []:
            for floor in floors:
                rows = [results[p.name, pairs, n][method] for p in chosen for n in seeds
                        if pairs * n >= floor]
                if rows:
                    cover = min(r["cover"] for r in rows)
                    miss = max(max(r["above"], r["below"]) for r in rows)
                    tost = max(max(r["at- rule"], r["at+ rule"]) for r in rows)
                    lines.append(f"  {kind:<10}{method:<10}{floor:>6}{100 * cover:>8.1f}"
                                 f"{100 * miss:>7.1f}{100 * tost:>7.1f}")
    return lines


def rare_failure_lines(paths, grid=(16, 30, 40, 60, 74, 90, 120, 150)):
    """The failure cost measured from the reports, and what it means for "as good":
    P(no failure among N seeds) if failures of that cost alone make the true mean
    exactly -MARGIN, the fewest seeds that make it at most ALPHA, and TOST's exact
    error at the margin on the purest such population (one pair, 0 or -cost)."""
    lines = ["rare failures: P(no failure among N seeds) = (1 - p)^N, p = margin / cost,",
             "  the failure rate that alone costs the margin"]
    chosen = {"synthetic": TYPICAL_LOSS, "stuck at 1/2, partner at 1": 0.5,
              "stuck at 0, partner at 1": 1.0}
    if paths:
        costs, stuck, total = failure_costs(paths)
        runs = [r for path in paths for r in read_runs(path)]
        floor = min((r["test_accuracy"] for r in runs if r["stuck"]), default=None)
        if len(costs):
            q1, med, q3 = np.percentile(costs, [25, 50, 75])
            lines += [f"  measured: {stuck} of {total} runs stuck; {len(costs)} (stuck, learned) "
                      f"pairs lose a mean {costs.mean():.3f},",
                      f"    median {med:.3f} ({q1:.3f}-{q3:.3f}), {costs.min():.3f} to "
                      f"{costs.max():.3f}"]
            for a, b in COMPARED:
                part = failure_costs(paths, [(a, b)])[0]
                if len(part):
                    lines.append(f"    {SHORT[a]}-{SHORT[b]}: {len(part)} pairs, mean "
                                 f"{part.mean():.3f}, median {np.median(part):.3f}, most "
                                 f"{part.max():.3f}")
                    if (a, b) == COMPARED[0]:
                        chosen["mean, broken-original"] = float(part.mean())
            chosen["mean, all"] = float(costs.mean())
            chosen["most measured"] = float(costs.max())
        if floor is not None:
            lines.append(f"  a stuck run's held-out accuracy is at least {floor:.3f}: a "
                         f"failure costs at most {1 - floor:.3f}")
            chosen["at most (1 - least stuck)"] = 1 - floor
    lines.append(f"  {'cost':<34}{'p':>7}{'N 5%':>6}" + "".join(f"{n:>6}" for n in grid))
    order = sorted(chosen.items(), key=lambda kv: kv[1])
    for name, cost in order:
        p = MARGIN / cost
        lines.append(f"  {cost:.3f} {name:<28}{p:>7.4f}{seeds_to_see(p):>6}"
                     + "".join(f"{100 * no_failure(p, n):>6.1f}" for n in grid))
    cost = FAILURE_COST
    lines.append(f"  the failures (cost {cost}) all in one of 4 pairs: (1 - 4p)^(N/4), "
                 f"less often: N in all counts")
    lines.append(f"  {'':<47}" + "".join(
        f"{100 * max(0.0, 1 - 4 * MARGIN / cost) ** (n / 4):>6.1f}" for n in grid))
    lines.append("  exact TOST error at the margin (%), one pair of N seeds each 0 or -cost, "
                 "Welch t:")
    for name, cost in order:
        lines.append(f"  {cost:.3f} {name:<28}{'':>13}" + "".join(
            f"{100 * two_point_tost_error(cost, n):>6.1f}" for n in grid))
    return lines


def tables(results, pops, pairs, seeds, methods):
    """Every table of one design (pairs = 4 or 1) as lines."""
    floors = (0, 6, 10, 15, 20, 30, 60, 90, 120) if pairs == 1 else (0, 16, 40, 60, 80, 120)
    lines = []
    for kind in ("pilot", "synthetic"):
        lines += summary(results, pops, pairs, seeds, methods, kind) + [""]
    lines += rules_table(results, pops, pairs, seeds, methods, floors) + [""]
    lines += coverage_table(results, pops, pairs, seeds, methods) + [""]
    lines += tost_table(results, pops, pairs, seeds, methods) + [""]
    lines += degenerate_table(results, pops, pairs, seeds, methods) + [""]
    return lines


def sizes(text):
    """An argparse type: seeds a pair, '4,10,30'."""
    whole = cli.number(int, 1)
    return tuple(whole(part) for part in text.split(","))


def main(argv=None):
    """python3 -m study.coverage: the tables; returns the exit status."""
    return cli.run_main("study.coverage", simulate_and_print, argv)


def simulate_and_print(argv):
    parser = cli.Parser(prog="python3 -m study.coverage", allow_abbrev=False,
                        description="Measure the pooled interval's coverage and TOST's "
                                    "error at the margin on populations like ours.")
    parser.add_argument("reports", nargs="*", metavar="JSON",
                        help="saved --extended reports (--format json); without, the "
                             "synthetic populations alone")
    parser.add_argument("--studies", type=cli.number(int, 0), default=STUDIES,
                        help=f"simulated studies a case (default {STUDIES}: the synthetic "
                             "populations alone take about 80 s on 2 cores of an Intel Xeon)")
    parser.add_argument("--seeds", type=sizes, metavar="N,N,...",
                        help="seeds a pair (default " + ",".join(map(str, SEEDS))
                             + "; with --one-pair " + ",".join(map(str, ONE_PAIR_SEEDS)) + ")")
    parser.add_argument("--methods", nargs="+", choices=METHODS + EXPLORED, default=METHODS,
                        metavar="METHOD", help="the intervals compared, of "
                        + ", ".join(METHODS + EXPLORED) + " (default: " + ", ".join(METHODS)
                        + ")")
    parser.add_argument("--one-pair", action="store_true",
                        help="each population as one digit pair, the article's design")
    parser.add_argument("--by-seed", action="store_true",
                        help="the design the report runs: whole seeds of the shipped curve "
                             "(REPORT-runs.csv.gz), each with its 4 pairs (about 60 s)")
    parser.add_argument("--no-synthetic", action="store_true",
                        help="only the reports' populations")
    args = parser.parse_args(argv)
    if args.by_seed:
        return by_seed(args)
    pairs = 1 if args.one_pair else 4
    seeds = tuple(args.seeds or (ONE_PAIR_SEEDS if args.one_pair else SEEDS))
    pops = pilot_populations(args.reports) + ([] if args.no_synthetic
                                              else synthetic_populations())
    if not pops:
        raise cli.UsageError("no populations: give reports, or leave out --no-synthetic")
    cli.say(f"study.coverage: {len(pops)} populations as {count(pairs, 'pair')}, "
            f"{args.studies} studies a size, {', '.join(args.methods)}")
    began = time.time()
    results = run(pops, seeds, pairs, args.studies, RESAMPLES, 0, args.methods,
                  log=sys.stderr)
    lines = tables(results, pops, pairs, seeds, args.methods)
    lines += rare_failure_lines(args.reports)
    lines.append(f"minimum seeds: {MIN_SEEDS_WORD} for better or worse, "
                 f"{min_seeds_as_good()} for as good (verdicts.py)")
    print("\n".join(lines), flush=True)
    cli.say(f"study.coverage: done in {time.time() - began:.0f} s")
    return 0


def by_seed(args):
    """--by-seed: the seed design's tables, and the fewest seeds it finds."""
    import os
    folder = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    pops = shipped_populations(folder) + ([] if args.no_synthetic
                                          else synthetic_seed_populations())
    sizes = tuple(args.seeds or BY_SEED)
    cli.say(f"study.coverage: {len(pops)} populations of whole seeds, {args.studies} "
            f"studies a size, {', '.join(SEED_METHODS)}")
    began = time.time()
    results = {(pop.name, s): simulate_seeds(pop, s, args.studies) for pop in pops
               for s in sizes}
    lines = seed_tables(results, pops, sizes)
    lines.append(f"fewest seeds from which every shipped population was covered at least 90% "
                 f"(seed-t): {fewest_seeds(results, pops, sizes) or 'none of these'}")
    lines.append(f"verdicts.py: {MIN_SEEDS_WORD} seeds for better or worse, "
                 f"{min_seeds_as_good()} for as good")
    print("\n".join(lines), flush=True)
    cli.say(f"study.coverage: done in {time.time() - began:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
