"""How compare.py judges the article's claims over seeds, and compares nets.

docs/METHODS.md says what each rule is and why; here is how it is computed:

- claims: how often each outcome came out (share_of: the share of seeds, its
  Clopper-Pearson interval, a frequency word); the comparative ones also as paired
  contrasts (cost_test: Wilcoxon signed-rank on the log ratios, the median ratio's
  order-statistic interval; McNemar's test of all right), Holm over the contrasts
  (judge, article_claims);
- the mark: is_borderline, checked by `python3 -m study.verdicts --calibrate` (calibrate);
- nets compared: per digit pair as description (comparisons), and pooled over the pairs
  as the answer, each seed a cluster (pooled_comparison: the t interval over seeds, TOST
  on a bootstrap of whole seeds, the failures' test on seeds).
"""
import math
import sys
import time
import warnings
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from study import cli
from study.registry import middle_epoch

# scipy.stats is imported where it is used: importing it takes a second or more, and a
# bad command line of compare.py is refused before that.

ALPHA = 0.05        # every test's level, after Holm's correction
CONFIDENCE = 0.95   # every interval's
BORDERLINE = "?"    # the mark of a borderline word: holds?, fails?, unclear?
WORDS = ("holds", "fails", "unclear")
# A word is firm (no mark) when its p-value is this far from the 5% line; calibrated by
# calibrate() on simulated populations (docs/METHODS.md, "The mark").
FIRM_HOLM_P = 1e-6   # holds or fails: the Holm-adjusted p at most this


class NotJudged(cli.Failure):
    """A claim or comparison cannot be judged on these runs (a cost ratio that is not a
    finite number): one line, exit status 1."""


# ---------------------------------------------------------------- the article's claims

@dataclass(frozen=True)
class Claim:
    """One claim: where the article makes it, its words, the runs that judge it.

    kind "rate": an outcome of one run, yes or no per seed, test(original, broken) ->
    bool: reported as how often it happens. The comparative claims, one net against the
    other on the same seed, are also tested as paired contrasts: kind "cost", the ratio
    broken / original of the cost at epoch ("end" or "mid"), claimed to be above 1
    (direction +1) or below 1 (-1); kind "perfect", the broken net all right where the
    original is not (McNemar's test of all right, broken against original). nets: the
    nets the claim is about, whose runs that did not learn are left out of its "trained"
    count.
    """
    section: str           # where the article makes it
    quote: str             # the article's words
    label: str             # a short name, for the side-by-side table
    experiment: str        # the runs that judge it
    nets: tuple
    kind: str
    test: object = None
    epoch: str = "end"
    direction: int = 1


def all_right(run):
    return run["test_right"] == run["test_size"]


CLAIMS = (  # in the article's order
    Claim("Training", "classified every image on test set except for one",
          "original: all but one right", "Result 3", ("original",), "rate",
          test=lambda o, b: o["test_right"] == o["test_size"] - 1),
    Claim("Result 1", "both network have 100 accuracy on test data",
          "R1: both 100%", "Result 1", ("original", "broken"), "rate",
          test=lambda o, b: all_right(o) and all_right(b)),
    Claim("Result 1", "broken net had a lower cost at epoch 250",
          "R1: broken lower cost @250", "Result 1", ("original", "broken"), "cost",
          epoch="mid", direction=-1),
    Claim("Result 2", "broken net had a higher cost",
          "R2: broken higher cost", "Result 2", ("original", "broken"), "cost"),
    Claim("Result 2", "[broken net] had 100 accuracy on test data",
          "R2: broken 100%", "Result 2", ("broken",), "rate", test=lambda o, b: all_right(b)),
    Claim("Result 2", "original net had [...] some predictions being wrong",
          "R2: original some wrong", "Result 2", ("original",), "rate",
          test=lambda o, b: not all_right(o)),
    Claim("Result 2", "[broken net] had 100 accuracy [...] While original net had [...] some "
          "predictions being wrong", "R2: broken 100%, original not", "Result 2",
          ("original", "broken"), "perfect"),
    Claim("Result 3", "both network had 100 accuracy on test data",
          "R3: both 100%", "Result 3", ("original", "broken"), "rate",
          test=lambda o, b: all_right(o) and all_right(b)),
    Claim("Result 3", "Broken Net having higher cost",
          "R3: broken higher cost", "Result 3", ("original", "broken"), "cost"),
)


def cost_at(run, epoch):
    """A run's cost at the end of epoch, one of its checkpoints' (records.checkpoint_epochs:
    the report reads costs there, where the shipped runs keep them)."""
    return next(c["cost"] for c in run["checkpoints"] if c["epoch"] == epoch)


def claim_epoch(claim, epochs):
    """The epoch whose cost a cost claim compares: the last, or the article's middle."""
    return epochs if claim.epoch == "end" else middle_epoch(epochs)


def observations(claim, pairs, epochs):
    """Per seed, what the claim's test looks at: held (bool) for a rate claim, the log
    of the cost ratio broken / original for a cost claim, +1, 0 or -1 for "perfect" (only
    the broken net all right, both or neither, only the original)."""
    if claim.kind == "rate":
        return np.array([bool(claim.test(o, b)) for o, b in pairs])
    if claim.kind == "perfect":  # +1: only the broken net all right; -1: only the original
        return np.array([int(all_right(b)) - int(all_right(o)) for o, b in pairs])
    epoch = claim_epoch(claim, epochs)
    return np.array([log_ratio(cost_at(b, epoch), cost_at(o, epoch),
                               f"{claim.experiment}, seed {o['seed']}") for o, b in pairs])


def log_ratio(a, b, where):
    """log(a / b) of two costs; NotJudged where that is not a finite number (a cost of
    exactly 0: every output saturated at its label)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        value = np.log(np.float64(a) / np.float64(b))
    if not np.isfinite(value):
        raise NotJudged(f"{where}: the cost ratio {a:g}/{b:g} is not finite")
    return float(value)


# ---------------------------------------------------------------- tests and intervals

class RateTest(NamedTuple):
    """A rate claim's test over its seeds."""
    p_value: float   # exact two-sided binomial test against 1/2
    side: int        # where the rate lies against 1/2: +1, -1 or 0
    interval: list   # the rate's Clopper-Pearson 95% interval, [low, high]


class CostTest(NamedTuple):
    """A cost claim's test over its seeds."""
    p_value: float        # two-sided Wilcoxon signed-rank test of the log ratios (Pratt)
    side: int             # the side of 0 the log ratios lean to: +1, -1 or 0
    median_ratio: float
    ratio_interval: list  # its exact 95% interval, [low, high]; None where no order
    #                       statistic reaches


def rate_test(held):
    """Exact two-sided binomial test of the rate of held against 1/2, and the rate's
    Clopper-Pearson interval: a RateTest."""
    from scipy import stats
    k, n = int(np.sum(held)), len(held)
    result = stats.binomtest(k, n, 0.5)
    interval = result.proportion_ci(CONFIDENCE, method="exact")
    return RateTest(result.pvalue, int(np.sign(2 * k - n)), [interval.low, interval.high])


def signed_rank_side(logs, axis=-1):
    """The side of 0 the log ratios lean to, as the signed-rank test sees it: the sign
    of the sum of signed ranks of |log ratio| (zeros ranked, then dropped: Pratt)."""
    from scipy import stats
    ranks = stats.rankdata(np.abs(logs), axis=axis)
    return np.sign(np.sum(np.sign(logs) * ranks, axis=axis)).astype(int)


def cost_test(logs):
    """Two-sided Wilcoxon signed-rank test of the log ratios against 0, and the median
    ratio with its exact distribution-free interval (order statistics): a CostTest."""
    from scipy import stats
    logs = np.asarray(logs, dtype=float)
    interval = stats.quantile_test(logs).confidence_interval(CONFIDENCE)
    ends = [float(np.exp(e)) if np.isfinite(e) else None for e in (interval.low, interval.high)]
    return CostTest(signed_rank_p(logs), int(signed_rank_side(logs)),
                    float(np.exp(np.median(logs))), ends)


def signed_rank_p(logs):
    """The two-sided Wilcoxon signed-rank test's p-value (Pratt), 1 where all are 0."""
    from scipy import stats
    if not np.any(logs):
        return 1.0
    with warnings.catch_warnings():  # older scipy warns of small samples with ties
        warnings.simplefilter("ignore")
        return float(stats.wilcoxon(logs, zero_method="pratt").pvalue)


def holm(p_values):
    """Holm's step-down adjusted p-values, in the given order, along the last axis."""
    p = np.asarray(p_values, dtype=float)
    m = p.shape[-1]
    order = np.argsort(p, axis=-1, kind="stable")
    ranked = np.take_along_axis(p, order, axis=-1) * (m - np.arange(m))
    adjusted = np.minimum(np.maximum.accumulate(ranked, axis=-1), 1.0)
    out = np.empty_like(adjusted)
    np.put_along_axis(out, order, adjusted, axis=-1)
    return out


def word(p_adjusted, side, claimed):
    """holds when significant on the claimed side, fails on the other, else unclear."""
    if p_adjusted < ALPHA and side == claimed:
        return "holds"
    if p_adjusted < ALPHA and side == -claimed:
        return "fails"
    return "unclear"


def claim_test(claim, values):
    """(p-value, side) of one claim's observations; p is 1 where no test can tell."""
    if claim.kind == "rate":
        p, side, _ = rate_test(values)
    elif claim.kind == "perfect":
        only = [int(np.sum(values == 1)), int(np.sum(values == -1))]
        p, side = mcnemar(*only), int(np.sign(only[0] - only[1]))
    else:
        p, side = signed_rank_p(values), int(signed_rank_side(values))
    return (1.0 if np.isnan(p) else p), side


def held_in(claim, values):
    """Per seed, whether the article's observation came out in that run: the outcome (a
    rate claim), the cost on the claimed side, only the broken net all right."""
    if claim.kind == "rate":
        return np.asarray(values, dtype=bool)
    if claim.kind == "perfect":
        return np.asarray(values) == 1
    return np.sign(values) == claim.direction


# The words for how often an outcome of one run happens, from its share's 95% interval:
# what a reader who runs the net once can expect (docs/METHODS.md, "How often").
FREQUENCY = ("almost always", "usually", "often", "about half the time", "sometimes",
             "rarely", "not seen", "too few seeds to say")


def frequency(held, seeds, interval):
    """How often: almost always (the interval's low end at least 0.9), usually (0.5),
    rarely (its high end at most 0.1), sometimes (at most 0.5), about half the time (within
    0.25 to 0.75), often (its low end at least 0.25), not seen (in none of the seeds),
    else too few seeds to say."""
    low, high = interval
    if seeds and held == 0:
        return "not seen"
    if low >= 0.9:
        return "almost always"
    if low >= 0.5:
        return "usually"
    if high <= 0.1:
        return "rarely"
    if high <= 0.5:
        return "sometimes"
    if low >= 0.25:
        return "about half the time" if high <= 0.75 else "often"
    return "too few seeds to say"


def share_of(held):
    """held (a bool per seed): its count, the share and its exact 95% interval
    (Clopper-Pearson), and the frequency word."""
    k, n = int(np.sum(held)), len(held)
    interval = rate_test(held).interval if n else [0.0, 1.0]
    return k, (k / n if n else None), interval, frequency(k, n, interval)


# ---------------------------------------------------------------- the family of claims

class Judgement(NamedTuple):
    """One claim's word over its seeds, and what it rests on."""
    p_value: float      # the claim's own test, before Holm's correction
    p_adjusted: float   # after it, over the family of claims
    side: int           # the side of 1/2 (a rate) or of 0 (log ratios) the seeds lean to
    verdict: str        # holds, fails, unclear; holds once, fails once; no seeds
    borderline: bool    # the word may well not come back in another study: marked ?


def is_borderline(verdict, p_value, p_adjusted):
    """holds or fails is firm when its Holm-adjusted p-value is far from the 5% line
    (FIRM_HOLM_P; calibrate() checks the rule), else borderline; a word from one seed or
    none is no test's: borderline. unclear is no finding, and carries no mark: with the
    four contrasts in one family, even an unclear word with p above 0.95 came back
    unclear in only 89.5% of replications (docs/METHODS.md, "The mark")."""
    if verdict in ("holds", "fails"):
        return bool(p_adjusted > FIRM_HOLM_P)
    return verdict != "unclear"


def judge(claims, values):
    """The Judgement of each claim of a family, each with its observations over its
    seeds. One seed is no test: its word says what the seed showed ('holds once',
    'fails once')."""
    tested = [claim_test(c, v) if len(v) > 1 else (1.0, 0) for c, v in zip(claims, values)]
    adjusted = holm([p for p, _ in tested]) if tested else []
    out = []
    for claim, v, (p, side), a in zip(claims, values, tested, adjusted):
        if len(v) == 0:
            w = "no seeds"
        elif len(v) == 1:
            once = bool(v[0]) if claim.kind == "rate" else np.sign(v[0]) == claim.direction
            w = "holds once" if once else "fails once"
        else:
            w = word(a, side, claim.direction)
        out.append(Judgement(float(p), float(a), int(side), w, is_borderline(w, p, a)))
    return out


def article_claims(pairs_of, epochs):
    """Every claim of the article over the seeds: a row per claim (the JSON contract:
    held, seeds, share, share_interval, frequency, contrast, verdict, borderline; trained_*:
    the same over the seeds in which the claim's nets learned).

    Each claim is first how often its outcome happens (share of seeds, Clopper-Pearson
    interval, the frequency word, which is a rate claim's verdict). A comparative claim
    (contrast: true) is also tested as a paired contrast of the two nets on the same
    seeds, Holm-corrected over the contrasts: p_value, p_adjusted, and its verdict
    (holds, fails, unclear); a cost contrast also median_ratio, ratio_interval and epoch,
    the perfect contrast discordant (seeds where only the broken net, and only the
    original, was all right).

    pairs_of(experiment): the (original, broken) run pairs of that experiment, one a
    seed, in seed order."""
    claims = [c for c in CLAIMS if pairs_of(c.experiment)]
    pairs = [pairs_of(c.experiment) for c in claims]
    values = [observations(c, p, epochs) for c, p in zip(claims, pairs)]
    learned = [np.array([not any(run["stuck"] for run, net in zip(pair, ("original", "broken"))
                                 if net in c.nets) for pair in p], dtype=bool)
               for c, p in zip(claims, pairs)]
    tested = [i for i, c in enumerate(claims) if c.kind != "rate"]
    main = dict(zip(tested, judge([claims[i] for i in tested], [values[i] for i in tested])))
    trained = dict(zip(tested, judge([claims[i] for i in tested],
                                     [values[i][learned[i]] for i in tested])))
    rows = []
    for i, (claim, v, keep) in enumerate(zip(claims, values, learned)):
        held = held_in(claim, v)
        count, share, interval, often = share_of(held)
        _, _, _, trained_often = share_of(held[keep])
        row = dict(section=claim.section, experiment=claim.experiment, claim=claim.quote,
                   label=claim.label, kind=claim.kind, nets=list(claim.nets), held=count,
                   seeds=len(v), share=share, share_interval=interval, frequency=often,
                   contrast=i in main, verdict=often, borderline=False, p_value=None,
                   p_adjusted=None, trained_held=int(held[keep].sum()),
                   trained_seeds=int(keep.sum()), trained_verdict=trained_often)
        if i in main:
            found, again = main[i], trained[i]
            row.update(p_value=found.p_value, p_adjusted=found.p_adjusted,
                       verdict=found.verdict, borderline=found.borderline,
                       trained_p_adjusted=again.p_adjusted, trained_verdict=again.verdict)
        if claim.kind == "cost":
            found = cost_test(v)
            row["median_ratio"], row["ratio_interval"] = found.median_ratio, found.ratio_interval
            row["epoch"] = claim_epoch(claim, epochs)
        if claim.kind == "perfect":
            row["discordant"] = [int(np.sum(v == 1)), int(np.sum(v == -1))]
        rows.append(row)
    return rows


def differing(claim_sets):
    """The labels of the claims whose word differs between claim_sets (each a dict of
    claim rows by label), in the order they first appear."""
    labels = dict.fromkeys(label for claims in claim_sets for label in claims)
    return [label for label in labels
            if len({claims[label]["verdict"] for claims in claim_sets if label in claims}) > 1]


def shown_word(row):
    """The word as printed: with the borderline mark when it is borderline."""
    return row["verdict"] + (BORDERLINE if row["borderline"] else "")


# ---------------------------------------------------------------- nets compared, per pair

def comparisons(compared):
    """Paired comparisons of nets, per digit pair: description beside the pooled rows.
    compared: ((experiment, digits, label), a, b, pairs) with pairs the (a, b) run pairs
    of that experiment and digit pair, one a seed. Per seed the difference a - b of
    held-out test accuracy (a run that did not learn counts with what it reached) and
    the ratio a / b of final costs. A row per comparison: the median difference and its
    exact 95% interval, wins, ties and losses of a, a two-sided Wilcoxon signed-rank
    test (Pratt) with Holm's correction over all the comparisons, and one word (better,
    worse, no difference shown)."""
    from scipy import stats
    rows = []
    for (experiment, digits, group), a, b, pairs in compared:
        diff = np.array([x["test_accuracy"] - y["test_accuracy"] for x, y in pairs])
        logs = np.array([log_ratio(x["checkpoints"][-1]["cost"], y["checkpoints"][-1]["cost"],
                                   f"{experiment}, {group}, {a} - {b}, seed {x['seed']}")
                         for x, y in pairs])
        low, high = (stats.quantile_test(diff).confidence_interval(CONFIDENCE)
                     if len(diff) > 1 else (-np.inf, np.inf))
        p = signed_rank_p(diff) if len(diff) > 1 else 1.0
        ratio = cost_test(logs) if len(logs) > 1 else CostTest(1.0, 0, None, None)
        rows.append(dict(
            experiment=experiment, digits=list(digits), group=group, nets=[a, b],
            pooled=False, seeds=len(pairs),
            median_difference=float(np.median(diff)),
            interval=[float(low) if np.isfinite(low) else None,
                      float(high) if np.isfinite(high) else None],
            wins=int((diff > 0).sum()), ties=int((diff == 0).sum()),
            losses=int((diff < 0).sum()), p_value=float(np.nan_to_num(p, nan=1.0)),
            side=int(signed_rank_side(diff)), median_cost_ratio=ratio.median_ratio,
            cost_ratio_interval=ratio.ratio_interval,
            stuck=[sum(x["stuck"] for x, _ in pairs), sum(y["stuck"] for _, y in pairs)]))
    for row, adjusted in zip(rows, holm([r["p_value"] for r in rows]) if rows else []):
        row["p_adjusted"] = float(adjusted)
        row["verdict"] = ("better" if adjusted < ALPHA and row["side"] > 0 else
                          "worse" if adjusted < ALPHA and row["side"] < 0 else
                          "no difference shown")
    return rows


# ---------------------------------------------------------------- nets compared, pooled

# "As good": the 90% interval of the mean difference in held-out test accuracy within 2
# points either way (docs/METHODS.md says why 2).
MARGIN = 0.02
RESAMPLES = 9999  # bootstrap resamples behind each bootstrap interval
# The pooled words' rules, in seeds, measured on populations like ours (python3 -m
# study.coverage; docs/METHODS.md, "Nets compared"): better or worse needs
# MIN_SEEDS_WORD seeds; "as good" needs enough seeds that a failure rate which alone
# costs the margin shows at least once but in ALPHA of studies (min_seeds_as_good),
# counted in seeds, since a seed's initial weights may make it fail in all its pairs.
MIN_SEEDS_WORD = 10
FAILURE_COST = 0.625  # the most a run that did not learn loses against one that did: its
#                       held-out accuracy never fell below 37.5% in 2,400 pilot runs
NOISE = 1e-12  # a difference of accuracies this near 0 is rounding, never a number


class Interval(NamedTuple):
    low: float
    high: float


def snapped(x):
    """x, or exactly 0 where it is rounding noise about 0 (within NOISE): the same word
    and the same digits on every CPU."""
    return 0.0 if abs(x) < NOISE else float(x)


def seeds_to_see(p, alpha=ALPHA):
    """The fewest seeds N among which an event of probability p is missed (no seed has
    it) with probability at most alpha: (1 - p)^N <= alpha."""
    return math.ceil(math.log(alpha) / math.log1p(-p))


def min_seeds_as_good(cost=FAILURE_COST, margin=MARGIN, alpha=ALPHA):
    """The fewest seeds in all for "as good": a failure rate that alone costs the margin
    (p = margin / cost) is seen at least once but in alpha of studies. 93 for 0.625."""
    return seeds_to_see(margin / cost, alpha)


MIN_SEEDS_AS_GOOD = min_seeds_as_good()


def stratified_mean(strata):
    """The mean of every value of the strata (a list of 1-d arrays): each stratum
    weighed by its size."""
    return snapped(sum(np.sum(s) for s in strata) / sum(len(s) for s in strata))


def bca(samples, statistic, confidence, paired=False):
    """scipy.stats.bootstrap's BCa interval of statistic over samples (RESAMPLES, seeded):
    the estimate itself where every resample is alike (the values do not vary), the
    percentile interval where BCa is undefined."""
    from scipy import stats
    estimate = statistic(*samples)
    with warnings.catch_warnings():  # a degenerate bootstrap is handled below
        warnings.simplefilter("ignore")
        result = stats.bootstrap(samples, statistic, paired=paired, n_resamples=RESAMPLES,
                                 method="BCa", confidence_level=confidence,
                                 random_state=np.random.default_rng(0))
    boot = result.bootstrap_distribution
    if np.ptp(boot) == 0:
        return Interval(snapped(estimate), snapped(estimate))
    low, high = result.confidence_interval
    if not (np.isfinite(low) and np.isfinite(high)):
        low, high = np.percentile(boot, [50 * (1 - confidence), 50 * (1 + confidence)])
    return Interval(snapped(low), snapped(high))


# ---------------------------------------------------------------- the seed as the unit
# A seed fixes a run's initial weights, which the runs of its digit pairs share: the
# seed, not the (seed, digit pair), is the unit the design draws. Pooled numbers are the
# mean of every value, each seed a cluster of its values (one a digit pair).

def cluster_parts(clusters):
    """(mean, SE, df) of the mean of every value of clusters (1-d arrays, one a seed):
    the sum over the count, its cluster-robust standard error (CR1: sqrt(S / (S - 1)
    sum_s (sum_s - mean n_s)^2) / N), and S - 1 degrees of freedom. With every seed's
    values on the same pairs, the one-sample t of the seeds' own means."""
    sums = np.array([np.sum(c) for c in clusters], dtype=float)
    counts = np.array([len(c) for c in clusters], dtype=float)
    total, seeds = counts.sum(), len(clusters)
    mean = sums.sum() / total
    residual = sums - mean * counts
    se = math.sqrt(seeds / (seeds - 1) * float(residual @ residual)) / total
    return mean, se, seeds - 1


def cluster_interval(clusters, confidence=CONFIDENCE):
    """The interval behind the pooled words better and worse, and every pooled 95%
    interval: mean +- t(S - 1) SE over the seeds (cluster_parts); None with fewer than
    two seeds."""
    from scipy import stats
    clusters = [np.asarray(c, dtype=float) for c in clusters if len(c)]
    if len(clusters) < 2:
        return None
    mean, se, dof = cluster_parts(clusters)
    half = stats.t.ppf((1 + confidence) / 2, dof) * se
    return Interval(snapped(mean - half), snapped(mean + half))


def cluster_bootstrap(clusters, confidence=CONFIDENCE):
    """The bootstrap interval (BCa) of the mean of every value, resampling whole seeds
    (each with its digit pairs' values): TOST's 90% interval (its skew correction holds
    TOST's error at the margin nearest 5% where rare failures make a tail); None with
    fewer than two seeds."""
    clusters = [np.asarray(c, dtype=float) for c in clusters if len(c)]
    if len(clusters) < 2:
        return None
    sums = np.array([c.sum() for c in clusters])
    counts = np.array([len(c) for c in clusters], dtype=float)

    def mean(s, n, axis=-1):
        return np.sum(s, axis=axis) / np.sum(n, axis=axis)
    return bca((sums, counts), mean, confidence, paired=True)


def cluster_mean(clusters):
    """The mean of every value of clusters (each seed weighed by its values)."""
    clusters = [np.asarray(c, dtype=float) for c in clusters if len(c)]
    return snapped(sum(c.sum() for c in clusters) / sum(len(c) for c in clusters))


def by_seed(strata, value):
    """value(a_run, b_run) of each (a, b) run pair of strata ((digits, pairs) each),
    grouped by seed: a list of arrays, one a seed (its digit pairs' values), in seed
    order."""
    found = {}
    for _, pairs in strata:
        for x, y in pairs:
            found.setdefault(x["seed"], []).append(value(x, y))
    return [np.array(found[seed], dtype=float) for seed in sorted(found)]


def within(interval, margin):
    """TOST's decision: the interval lies inside (-margin, margin)."""
    return interval is not None and -margin < interval.low and interval.high < margin


def difference_word(interval):
    """worse, better or no difference shown: where the 95% interval lies against 0."""
    if interval is not None and interval.high < 0:
        return "worse"
    if interval is not None and interval.low > 0:
        return "better"
    return "no difference shown"


class Difference(NamedTuple):
    """A pooled mean difference judged by the rules above."""
    mean: float                   # the stratified mean; None without seeds
    interval: object              # its 95% interval (cluster_interval), or None
    word: str                     # worse, better, no difference shown; too few seeds,
    #                               no variation
    equivalence_interval: object  # TOST's 90% interval (cluster_bootstrap), or None
    equivalence: str              # as good, not shown as good; too few seeds, no variation


def judged_difference(clusters, margin=MARGIN):
    """A pooled mean difference and its words, each seed a cluster (clusters: one array
    a seed): better or worse from its 95% interval with at least MIN_SEEDS_WORD seeds,
    as good by TOST with at least MIN_SEEDS_AS_GOOD; where the seeds do not vary (every
    seed's mean alike) no interval can mean anything: "no variation"."""
    clusters = [np.asarray(c, dtype=float) for c in clusters if len(c)]
    if not clusters:
        return Difference(None, None, "too few seeds", None, "too few seeds")
    mean, interval = cluster_mean(clusters), cluster_interval(clusters)
    equivalence = cluster_bootstrap(clusters, 1 - 2 * ALPHA)
    few = interval is None or len(clusters) < MIN_SEEDS_WORD
    if not few and snapped(cluster_parts(clusters)[1]) == 0:  # rounding, no spread
        return Difference(mean, interval, "no variation", equivalence, "no variation")
    word = "too few seeds" if few else difference_word(interval)
    good = ("too few seeds" if few or len(clusters) < MIN_SEEDS_AS_GOOD else
            "as good" if within(equivalence, margin) else "not shown as good")
    return Difference(mean, interval, word, equivalence, good)


def phrase(word, equivalence):
    """A pooled comparison's word in one phrase a reader parses once: worse or better (and
    within the margin, where TOST says so), as good, not told apart (and why not 'as
    good'), or why there is no word. README and REPORT.md say this, as REPORT.json holds
    it (a row's "said")."""
    margin = f"{100 * MARGIN:g}-point margin"
    if word in ("worse", "better"):
        return f"{word}, but by less than the {margin}" if equivalence == "as good" else word
    if word == "no difference shown":
        return {"as good": f"as good (within the {margin})",
                "not shown as good": f"not told apart, nor shown within the {margin}",
                "too few seeds": "not told apart (too few seeds for 'as good')"}.get(
            equivalence, "not told apart")
    return {"too few seeds": "too few seeds for a word",
            "no variation": "alike in every seed"}.get(word, word)


def mcnemar(only_a, only_b):
    """The exact McNemar test: two-sided binomial test of the seeds where only net a
    failed against those where only b did, at 1/2 (1.0 without such seeds)."""
    from scipy import stats
    n = only_a + only_b
    return float(stats.binomtest(only_a, n, 0.5).pvalue) if n else 1.0


def as_list(interval):
    return None if interval is None else [interval.low, interval.high]


def pooled_comparison(experiment, group, a, b, strata, margin=MARGIN):
    """Nets a and b compared over every digit pair at once, each seed a cluster of its
    pairs' runs (they share its initial weights). strata: (digits, pairs) with pairs the
    (a, b) run pairs of one seed each. A row (unit "seed", clusters: the seeds):

    - mean_difference of held-out test accuracy, a - b, over every seed and pair, a run
      that did not learn counted as it ended; its 95% interval over the seeds, and the
      word from it (worse, better, no difference shown; too few seeds, no variation:
      judged_difference); equivalence (as good, not shown as good, ...) by TOST at 5%,
      its 90% interval (a bootstrap of whole seeds) within the margin; equivalent: it is
      as good;
    - failed: each net's runs that did not learn; discordant: the seeds where a did not
      learn in more of its pairs than b, and the other way; mcnemar_p: the exact test of
      those seeds at 1/2 (McNemar's, where a seed has one pair); the difference of the
      failure rates and its 95% interval over the seeds;
    - learned_*: the same over the runs where both nets learned."""
    def accuracy(x, y):
        return x["test_accuracy"] - y["test_accuracy"]
    diffs = by_seed(strata, accuracy)
    failed = by_seed(strata, lambda x, y: int(x["stuck"]) - int(y["stuck"]))
    both = by_seed([(d, [(x, y) for x, y in pairs if not x["stuck"] and not y["stuck"]])
                    for d, pairs in strata], accuracy)
    runs = [pair for _, pairs in strata for pair in pairs]
    found, learned = judged_difference(diffs, margin), judged_difference(both, margin)
    only = [sum(f.sum() > 0 for f in failed), sum(f.sum() < 0 for f in failed)]
    return dict(
        experiment=experiment, digits=[list(d) for d, _ in strata], group=group, nets=[a, b],
        pooled=True, unit="seed", clusters=len(diffs), seeds=len(diffs), runs=len(runs),
        mean_difference=found.mean, interval=as_list(found.interval),
        verdict=found.word, equivalence_interval=as_list(found.equivalence_interval),
        equivalence=found.equivalence, equivalent=found.equivalence == "as good",
        said=phrase(found.word, found.equivalence), margin=margin,
        failed=[sum(x["stuck"] for x, _ in runs), sum(y["stuck"] for _, y in runs)],
        discordant=[int(v) for v in only], mcnemar_p=mcnemar(*only),
        failed_difference=cluster_mean(failed),
        failed_interval=as_list(cluster_interval(failed)),
        learned_seeds=len(both), learned_runs=sum(map(len, both)),
        learned_mean_difference=learned.mean, learned_interval=as_list(learned.interval),
        learned_verdict=learned.word,
        learned_equivalence_interval=as_list(learned.equivalence_interval),
        learned_equivalence=learned.equivalence,
        learned_equivalent=learned.equivalence == "as good",
        learned_said=phrase(learned.word, learned.equivalence))


# ---------------------------------------------------------------- a learning rate chosen

class RateChoice(NamedTuple):
    """The rate a net's tuning chose, and each rate's mean validation accuracy."""
    lr: float
    means: dict


def best_rate(by_rate):
    """The rate whose values (by_rate: {lr: strata}) have the best stratified mean; ties
    go to the smaller rate (the more careful step)."""
    means = {lr: stratified_mean(strata) for lr, strata in sorted(by_rate.items())}
    best = max(means.values())
    return RateChoice(min(lr for lr, mean in means.items() if mean == best), means)


def rate_wins(by_rate, resamples=1000, seed=0):
    """How often each rate is best_rate's choice when whole seeds are resampled, each
    with its runs of every digit pair and rate (they share its initial weights; by_rate:
    {lr: strata}, each stratum in seed order, the same seeds in every one): {lr: share}."""
    rates = sorted(by_rate)
    values = np.array([[np.asarray(s, dtype=float) for s in by_rate[lr]] for lr in rates])
    seeds = values.shape[-1]                                     # (rates, pairs, seeds)
    picks = np.random.default_rng(seed).integers(0, seeds, (resamples, seeds))
    means = values[:, :, picks].sum(axis=(1, 3)) / (values.shape[1] * seeds)  # (rates, resamples)
    winner = np.argmax(means, axis=0)  # the first best: the smaller rate on a tie
    return {lr: float(np.mean(winner == i)) for i, lr in enumerate(rates)}


# ---------------------------------------------------------------- summaries

def median_iqr(values):
    """[median, lower quartile, upper quartile] of values, or None for none."""
    if not len(values):
        return None
    return [float(v) for v in np.percentile(np.asarray(values, dtype=float), [50, 25, 75])]


# ---------------------------------------------------------------- the mark, calibrated

POWERS = (0.05, 0.2, 0.35, 0.5, 0.65, 0.8, 0.95, 0.99)  # 0.05: no effect
KINDS = ("rate", "cost, normal", "cost, t(3)")
FAMILY = sum(c.kind != "rate" for c in CLAIMS)  # the contrasts, judged with Holm together


def null_signed_rank(n):
    """The exact null distribution of the signed-rank sum T+ of n values: P(T+ = t)."""
    counts = np.zeros(n * (n + 1) // 2 + 1)
    counts[0] = 1
    for rank in range(1, n + 1):
        counts[rank:] = counts[rank:] + counts[:-rank].copy()
    return counts / counts.sum()


def signed_rank_sum(values):
    """T+ of each row of values (no ties, no zeros): the ranks of |v| where v > 0."""
    ranks = np.argsort(np.argsort(np.abs(values), axis=-1), axis=-1) + 1
    return np.sum(ranks * (values > 0), axis=-1)


def populations(n=30, draws=20000):
    """The calibration's populations: per kind and power, (kind, power, effect).

    A rate claim holds in a seed with probability effect (0.5: no effect); a cost claim's
    log ratio is effect plus normal or t(3) noise. Each effect is the one at which the
    claim's own test, at 5% over n seeds, has that power: exactly for the binomial test,
    on draws fixed noise samples for the signed-rank test (its exact null here, as
    scipy's for n up to 50)."""
    from scipy import stats
    p_of = np.array([stats.binomtest(k, n, 0.5).pvalue for k in range(n + 1)])
    null = null_signed_rank(n)
    low = np.cumsum(null)
    reject = np.minimum(1, 2 * np.minimum(low, 1 - low + null)) < ALPHA  # by T+
    rng = np.random.default_rng(1)
    noise = {KINDS[1]: rng.standard_normal((draws, n)), KINDS[2]: rng.standard_t(3, (draws, n))}

    def power(kind, effect):
        if kind == "rate":
            return float(stats.binom.pmf(np.arange(n + 1), n, effect) @ (p_of < ALPHA))
        return float(np.mean(reject[signed_rank_sum(noise[kind] + effect)]))

    def solve(kind, target):
        low, high = (0.5, 1.0) if kind == "rate" else (0.0, 3.0)
        for _ in range(50):  # bisection: power grows with the effect
            middle = (low + high) / 2
            low, high = (middle, high) if power(kind, middle) < target else (low, middle)
        return (low + high) / 2
    return [(kind, target, (0.5 if kind == "rate" else 0.0) if target == POWERS[0]
             else solve(kind, target)) for kind in KINDS for target in POWERS]


def sample(population, n, rng):
    """One study's observations of a claim from its population."""
    kind, _, effect = population
    if kind == "rate":
        return rng.random(n) < effect
    noise = rng.standard_normal(n) if kind == KINDS[1] else rng.standard_t(3, n)
    return noise + effect


def calibrate(studies=600, n=30, seed=2, progress=None):
    """How often words with and without the mark come out again.

    Every population is in `studies` studies: each round shuffles the populations into
    families of FAMILY claims, and each family is judged as the article's claims are
    (its own test each, Holm over the family), once as the study and once as an
    independent replication of the same size from the same populations. Returns per
    claim studied (population index, word, borderline, the replication's word).
    progress(done, studies), if given, is called after each tenth of the rounds."""
    pops = populations(n)
    claim = {kind: Claim("", "", "", "", (), "rate" if kind == "rate" else "cost")
             for kind in KINDS}
    rng = np.random.default_rng(seed)
    out = []
    for done in range(studies):
        if progress and done and done % max(1, studies // 10) == 0:
            progress(done, studies)
        for family in rng.permutation(len(pops)).reshape(-1, FAMILY):
            claims = [claim[pops[i][0]] for i in family]
            study, again = (judge(claims, [sample(pops[i], n, rng) for i in family])
                            for _ in range(2))
            out += [(i, s.verdict, s.borderline, r.verdict)
                    for i, s, r in zip(family, study, again)]
    return pops, out


CALIBRATION_TIME = "about 40 s on 2 cores of an AMD EPYC"  # measured 2026-12-06


def calibration_table(pops, words):
    """The calibration's lines: per population, its words and how often they came back,
    firm and marked (holds and fails; unclear carries no mark); then the totals, and
    last 'firm words replicated: K of N (P)'. Returns (lines, passed)."""
    lines = [f"{'claim kind':<13}{'power':>6}{'effect':>8}{'holds':>6}{'fails':>6}"
             f"{'unclear':>8}{'firm':>6}{'firm again':>11}{'marked again':>13}"
             f"{'unclear again':>14}"]
    firm = again = 0
    for i, (kind, power, effect) in enumerate(pops):
        rows = [w for w in words if w[0] == i]
        counts = [sum(w[1] == v for w in rows) for v in WORDS]
        found = [w for w in rows if w[1] != "unclear"]
        sure = [w[1] == w[3] for w in found if not w[2]]
        shaky = [w[1] == w[3] for w in found if w[2]]
        unclear = [w[1] == w[3] for w in rows if w[1] == "unclear"]
        firm, again = firm + len(sure), again + sum(sure)
        lines.append(f"{kind:<13}{power:>6.2f}{effect:>8.3f}" + "".join(
            f"{c:>{w}}" for c, w in zip(counts, (6, 6, 8)))
            + f"{len(sure) / len(rows):>6.2f}" + "".join(
                f"{np.mean(s):>{w}.2f}" if s else f"{'-':>{w}}"
                for s, w in ((sure, 11), (shaky, 13), (unclear, 14))))
    share = again / firm if firm else 0.0
    passed = share >= 0.9 and firm >= 100
    lines += ["", "holds, fails, unclear: the words of the studies;",
              "firm: the share of them that hold or fail without the mark;",
              "firm again: of the firm words, the share whose replication gave the same word;",
              "marked again: the same for the words with the mark (a mark says this may be low);",
              "unclear again: the same for unclear, which is no finding and carries no mark",
              "", f"the mark {'passes' if passed else 'FAILS'}: firm words must come out again "
              f"at least 90% of the time",
              f"firm words replicated: {again} of {firm} ({share:.3f})"]
    return lines, passed


def main(argv=None):
    """python3 -m study.verdicts --calibrate: the mark's calibration table; exit 1 if it
    fails."""
    return cli.run_main("study.verdicts", calibration, argv)


def calibration(argv):
    parser = cli.Parser(prog="python3 -m study.verdicts", allow_abbrev=False,
                        description="Check that words without the ? mark come out again in "
                                    "90% of replications (simulated).")
    parser.add_argument("--calibrate", action="store_true", required=True,
                        help="simulate known populations and print the calibration table")
    parser.add_argument("--studies", type=cli.number(int, 0, 100_001), default=600,
                        help=f"studies of each population (default 400: {CALIBRATION_TIME})")
    args = parser.parse_args(argv)
    print(f"study.verdicts --calibrate: {len(KINDS) * len(POWERS)} populations x "
          f"{args.studies} studies of 30 seeds, {FAMILY} claims a family (Holm)", flush=True)
    began = time.monotonic()

    def progress(done, studies):
        seconds = time.monotonic() - began
        cli.say(f"study.verdicts: {done}/{studies} studies, {seconds:.0f} s, about "
                f"{seconds * (studies - done) / done:.0f} s to go")
    lines, passed = calibration_table(*calibrate(args.studies, progress=progress))
    print("\n".join(lines), flush=True)
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
