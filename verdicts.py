"""How compare.py judges the article's claims over seeds, and how sure each word is.

Each claim of the article was one run's observation. Here it is judged over N seeds
(the nets of one seed share its data split, order and initial weights), by the rule
that README.md's "How a claim is judged" explains:

- a claim about test accuracy ("100% test accuracy", "all but one right") is a yes or
  no per seed: held in k of N; an exact two-sided binomial test of k against N/2 and a
  Clopper-Pearson 95% interval for the rate (scipy.stats.binomtest);
- a claim about cost ("broken net higher cost") is judged on magnitudes: per seed the
  ratio broken / original of the cost it names; a two-sided Wilcoxon signed-rank test
  of the log ratios against 0 (scipy.stats.wilcoxon, Pratt's treatment of zeros) and
  the median ratio with an exact distribution-free 95% interval (scipy.stats.
  quantile_test: order statistics of the ratios);
- Holm's step-down correction over the family of claims; the word uses the adjusted
  p-value: `holds` when significant at 5% in the claimed direction, `fails` when
  significant in the other, `unclear` otherwise;
- replication: the share of replicated studies that give the same word, each a
  resample of a resample of the seeds (N drawn with replacement, twice: our sampling
  error and the replication's), the whole rule rerun, Holm included; below 0.9 the
  word is borderline and printed with a question mark.
"""
from dataclasses import dataclass

import numpy as np
from scipy import stats

ALPHA = 0.05        # every test's level, after Holm's correction
CONFIDENCE = 0.95   # every interval's
REPLICATES = 1000   # replicated studies (resamples of the seeds) behind a word's replication
STEADY = 0.9        # a word that comes out again less often than this is borderline
BORDERLINE = "?"    # the mark of a borderline word: holds?, fails?, unclear?
WORDS = ("holds", "fails", "unclear")


# ---------------------------------------------------------------- the article's claims

@dataclass(frozen=True)
class Claim:
    """One claim: where the article makes it, its words, the runs that judge it.

    kind "rate": a yes or no per seed, test(original, broken) -> bool. kind "cost":
    the ratio broken / original of the cost at epoch ("end" or "mid"), claimed to be
    above 1 (direction +1) or below 1 (-1). nets: the nets the claim is about, whose
    runs that did not learn are left out of its "trained" count.
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
    Claim("Result 3", "both network had 100 accuracy on test data",
          "R3: both 100%", "Result 3", ("original", "broken"), "rate",
          test=lambda o, b: all_right(o) and all_right(b)),
    Claim("Result 3", "Broken Net having higher cost",
          "R3: broken higher cost", "Result 3", ("original", "broken"), "cost"),
)


def middle_epoch(epochs):
    """The article's epoch 250, or half the epochs of a shorter study."""
    return 250 if epochs >= 250 else max(1, epochs // 2)


def cost_at(run, claim, epochs):
    epoch = epochs if claim.epoch == "end" else middle_epoch(epochs)
    return run["history"][epoch - 1]


def observations(claim, pairs, epochs):
    """Per seed, what the claim's test looks at: held (bool) for a rate claim, the log
    of the cost ratio broken / original for a cost claim."""
    if claim.kind == "rate":
        return np.array([bool(claim.test(o, b)) for o, b in pairs])
    return np.array([np.log(cost_at(b, claim, epochs) / cost_at(o, claim, epochs))
                     for o, b in pairs])


# ---------------------------------------------------------------- tests and intervals

def rate_test(held):
    """Exact two-sided binomial test of the rate of held against 1/2: (p-value, the
    side the rate is on (+1, -1 or 0), Clopper-Pearson interval of the rate)."""
    k, n = int(np.sum(held)), len(held)
    result = stats.binomtest(k, n, 0.5)
    interval = result.proportion_ci(CONFIDENCE, method="exact")
    return result.pvalue, int(np.sign(2 * k - n)), [interval.low, interval.high]


def signed_rank_side(logs, axis=-1):
    """The side of 0 the log ratios lean to, as the signed-rank test sees it: the sign
    of the sum of signed ranks of |log ratio| (zeros ranked, then dropped: Pratt)."""
    ranks = stats.rankdata(np.abs(logs), axis=axis)
    return np.sign(np.sum(np.sign(logs) * ranks, axis=axis)).astype(int)


def cost_test(logs):
    """Two-sided Wilcoxon signed-rank test of the log ratios against 0: (p-value, the
    side they lean to, the median ratio, its exact 95% interval [low, high], where an
    end no order statistic reaches is None)."""
    logs = np.asarray(logs, dtype=float)
    p = stats.wilcoxon(logs, zero_method="pratt").pvalue if np.any(logs) else 1.0
    interval = stats.quantile_test(logs).confidence_interval(CONFIDENCE)
    ends = [float(np.exp(e)) if np.isfinite(e) else None for e in (interval.low, interval.high)]
    return float(p), int(signed_rank_side(logs)), float(np.exp(np.median(logs))), ends


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


def test(claim, values):
    """(p-value, side) of one claim's observations; p is 1 where no test can tell."""
    if claim.kind == "rate":
        p, side, _ = rate_test(values)
    else:
        p, side, *_ = cost_test(values)
    return (1.0 if np.isnan(p) else p), side


# ---------------------------------------------------------------- replication

def resamples(n, replicates, seed=0):
    """Seed indices (replicates, n) of replicated studies: a resample of a resample.

    Another machine's study is a new sample of the seeds' outcomes from a population we
    know only through ours. The first draw (n seeds with replacement) is a population
    our seeds allow, so that our own sampling error counts; the second is the other
    study, drawn from it. Its effect then varies about ours with twice the variance of
    one study (Killeen 2005), not once, as one draw alone would assume: that is, that
    the effect is exactly what our seeds show."""
    rng = np.random.default_rng(seed)
    population = rng.integers(0, n, (replicates, n))
    return np.take_along_axis(population, rng.integers(0, n, (replicates, n)), axis=1)


def replication(claims, values, words, replicates=REPLICATES, seed=0):
    """For each claim, the share of replicated studies (resamples()) that give it the
    same word: the seeds (shared by all claims) resampled, every claim's test and the
    Holm correction rerun. Resamples repeat seeds, so the signed-rank test there uses
    its normal approximation with the tie correction."""
    n = len(values[0])
    draws = resamples(n, replicates, seed)
    p, side = np.empty((replicates, len(claims))), np.empty((replicates, len(claims)), int)
    for c, (claim, x) in enumerate(zip(claims, values)):
        resampled = x[draws]
        if claim.kind == "rate":  # the binomial test for every possible count, once
            counts = resampled.sum(axis=1)
            table = np.array([stats.binomtest(k, n, 0.5).pvalue for k in range(n + 1)])
            p[:, c], side[:, c] = table[counts], np.sign(2 * counts - n)
        else:
            nonzero = np.any(resampled, axis=1)
            p[:, c] = 1.0
            if nonzero.any():
                result = stats.wilcoxon(resampled[nonzero], zero_method="pratt", axis=1,
                                        method="asymptotic")
                p[nonzero, c] = np.nan_to_num(result.pvalue, nan=1.0)
            side[:, c] = signed_rank_side(resampled)
    adjusted = holm(p)
    return [float(np.mean([word(a, s, claim.direction) == w
                           for a, s in zip(adjusted[:, c], side[:, c])]))
            for c, (claim, w) in enumerate(zip(claims, words))]


# ---------------------------------------------------------------- the family of claims

def judge(claims, values):
    """The words of a family of claims, each with its observations over its seeds:
    per claim (p-value, Holm-adjusted p-value, side, word). One seed is no test: its
    word says what the seed showed ('holds once', 'fails once')."""
    tested = [test(c, v) if len(v) > 1 else (1.0, 0) for c, v in zip(claims, values)]
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
        out.append((p, float(a), side, w))
    return out


def article_claims(pairs_of, epochs, replicates=REPLICATES):
    """Every claim of the article judged over the seeds: a row per claim (the JSON
    contract: held, seeds, interval, verdict, p_value, p_adjusted, replication; a cost
    claim also median_ratio and ratio_interval; trained_*: the same over the seeds in
    which the claim's nets learned).

    pairs_of(experiment): the (original, broken) run pairs of that experiment, one a
    seed, in seed order."""
    claims = [c for c in CLAIMS if pairs_of(c.experiment)]
    pairs = [pairs_of(c.experiment) for c in claims]
    values = [observations(c, p, epochs) for c, p in zip(claims, pairs)]
    learned = [np.array([not any(run["stuck"] for run, net in zip(pair, ("original", "broken"))
                                 if net in c.nets) for pair in p], dtype=bool)
               for c, p in zip(claims, pairs)]
    main = judge(claims, values)
    trained = judge(claims, [v[keep] for v, keep in zip(values, learned)])
    steady = (replication(claims, values, [w for *_, w in main], replicates)
              if len(values) and len(values[0]) > 1 else [1.0] * len(claims))
    rows = []
    for claim, v, keep, (p, a, side, w), (_, ta, _, tw), r in zip(
            claims, values, learned, main, trained, steady):
        held = v if claim.kind == "rate" else np.sign(v) == claim.direction
        _, _, interval = rate_test(held) if len(v) else (None, None, [0.0, 1.0])
        row = dict(section=claim.section, experiment=claim.experiment, claim=claim.quote,
                   label=claim.label, kind=claim.kind, nets=list(claim.nets),
                   held=int(held.sum()), seeds=len(v), interval=interval,
                   p_value=p, p_adjusted=a, verdict=w, replication=r,
                   trained_held=int(held[keep].sum()), trained_seeds=int(keep.sum()),
                   trained_p_adjusted=ta, trained_verdict=tw)
        if claim.kind == "cost":
            _, _, row["median_ratio"], row["ratio_interval"] = cost_test(v)
            row["epoch"] = epochs if claim.epoch == "end" else middle_epoch(epochs)
        rows.append(row)
    return rows


def differing(claim_sets):
    """The labels of the claims whose word differs between claim_sets (each a dict of
    claim rows by label), in the order they first appear."""
    labels = dict.fromkeys(label for claims in claim_sets for label in claims)
    return [label for label in labels
            if len({claims[label]["verdict"] for claims in claim_sets if label in claims}) > 1]


def borderline(row):
    """Whether a claim's word replicates below STEADY (a row without a replication is
    not borderline)."""
    return row.get("replication", 1.0) < STEADY


def shown(row):
    """The word as printed: with the borderline mark when it is borderline."""
    return row["verdict"] + (BORDERLINE if borderline(row) else "")


# ---------------------------------------------------------------- nets compared

EQUIVALENCE = 0.02  # "as good": the median accuracy difference within 2 points either way


def comparisons(compared):
    """Paired comparisons of nets. compared: ((experiment, digits, label), a, b, pairs)
    with pairs the (a, b) run pairs of that experiment and digit pair, one a seed. Per seed the
    difference a - b of held-out test accuracy (a run that did not learn counts with
    what it reached) and the ratio a / b of final costs. A row per comparison: the
    median difference and its exact 95% interval, wins, ties and losses of a, a
    two-sided Wilcoxon signed-rank test (Pratt) with Holm's correction over all the
    comparisons, one word (better, worse, no difference shown), and as_good when the
    interval lies within EQUIVALENCE either way."""
    rows = []
    for (experiment, digits, group), a, b, pairs in compared:
        diff = np.array([x["test_accuracy"] - y["test_accuracy"] for x, y in pairs])
        logs = np.array([np.log(x["history"][-1] / y["history"][-1]) for x, y in pairs])
        low, high = (stats.quantile_test(diff).confidence_interval(CONFIDENCE)
                     if len(diff) > 1 else (-np.inf, np.inf))
        p = (stats.wilcoxon(diff, zero_method="pratt").pvalue
             if len(diff) > 1 and np.any(diff) else 1.0)
        _, _, ratio, ratio_interval = cost_test(logs) if len(logs) > 1 else (0, 0, None, None)
        rows.append(dict(
            experiment=experiment, digits=list(digits), group=group, nets=[a, b],
            seeds=len(pairs),
            median_difference=float(np.median(diff)),
            interval=[float(low) if np.isfinite(low) else None,
                      float(high) if np.isfinite(high) else None],
            wins=int((diff > 0).sum()), ties=int((diff == 0).sum()),
            losses=int((diff < 0).sum()), p_value=float(np.nan_to_num(p, nan=1.0)),
            side=int(signed_rank_side(diff)), median_cost_ratio=ratio,
            cost_ratio_interval=ratio_interval,
            stuck=[sum(x["stuck"] for x, _ in pairs), sum(y["stuck"] for _, y in pairs)],
            as_good=bool(np.isfinite(low) and np.isfinite(high)
                         and -EQUIVALENCE <= low and high <= EQUIVALENCE)))
    for row, adjusted in zip(rows, holm([r["p_value"] for r in rows]) if rows else []):
        row["p_adjusted"] = float(adjusted)
        row["verdict"] = ("better" if adjusted < ALPHA and row["side"] > 0 else
                          "worse" if adjusted < ALPHA and row["side"] < 0 else
                          "no difference shown")
    return rows


# ---------------------------------------------------------------- summaries

def median_iqr(values):
    """[median, lower quartile, upper quartile] of values, or None for none."""
    if not len(values):
        return None
    return [float(v) for v in np.percentile(np.asarray(values, dtype=float), [50, 25, 75])]
