"""study/coverage.py and the pooled words' rules in study/verdicts.py, against values
worked by hand."""
import numpy as np
import pytest
from scipy import stats

from study import coverage, verdicts
from tests.helpers import run

# Three digit pairs of 3, 4 and 2 seeds; in units of 0.01 every number below is exact.
STRATA = [np.array(s) for s in ([0.01, 0.03, -0.02], [0.0, 0.04, 0.02, 0.06], [-0.05, 0.01])]


def test_the_stratified_t_interval_by_hand():
    """Sums 2, 12, -4 (x 0.01): mean 10/9 x 0.01; s_k^2 = 19/3, 20/3, 18 (x 1e-4); SE^2 =
    sum n_k s_k^2 / N^2 = (19 + 80/3 + 36) / 81 x 1e-4 = 245/243 x 1e-4; df N - K = 6;
    Welch df = (245/3)^2 / (19^2/2 + (80/3)^2/3 + 36^2/1)."""
    mean, se = 0.1 / 9, 0.01 * np.sqrt(245 / 243)
    welch = (245 / 3) ** 2 / (19 ** 2 / 2 + (80 / 3) ** 2 / 3 + 36 ** 2 / 1)
    got_mean, got_se, pooled, got_welch = coverage.stratified_parts(STRATA)
    assert (got_mean, got_se) == pytest.approx((mean, se), abs=1e-15)
    assert pooled == 6 and got_welch == pytest.approx(welch, rel=1e-12)
    for confidence, df in [(0.95, "pooled"), (0.90, "pooled"), (0.95, "welch"), (0.90, "welch")]:
        q = stats.t.ppf((1 + confidence) / 2, 6 if df == "pooled" else welch)
        assert coverage.t_interval(STRATA, confidence, df) == pytest.approx(
            (mean - q * se, mean + q * se), abs=1e-12)
    assert coverage.pooled_interval(STRATA) == pytest.approx(
        (-0.017074506443117754, 0.039296728665339974), abs=1e-12)  # Welch, 95%
    one = [np.array([0.0, 0.02, 0.04, -0.02])]  # one pair: Welch's df is N - 1 = 3
    half = 3.182446305284263 * 0.01 * np.sqrt(5 / 3)
    assert coverage.pooled_interval(one) == pytest.approx((0.01 - half, 0.01 + half), abs=1e-12)
    assert coverage.pooled_interval([np.zeros(30), np.array([0.5])]) is None  # no variance


def test_the_fewest_seeds_for_each_word():
    assert verdicts.seeds_to_see(0.02 / 0.45) == 66  # (1 - p)^66 <= 5% < (1 - p)^65
    assert (1 - 0.04) ** 74 < 0.05 < (1 - 0.04) ** 73
    assert verdicts.min_seeds_as_good() == verdicts.MIN_SEEDS_AS_GOOD == 93
    assert verdicts.min_seeds_as_good(0.5) == 74 and verdicts.MIN_SEEDS_WORD == 10


def seeds_of(values, pairs=4):
    """Clusters: each seed's values on its digit pairs, alike."""
    return [np.full(pairs, v) for v in values]


@pytest.mark.parametrize("clusters, word, equivalence", [
    (seeds_of([0.0] * 4), "too few seeds", "too few seeds"),            # four tied seeds
    (seeds_of([0.0] * 30), "no variation", "no variation"),             # every seed ties
    (seeds_of([0.0] * 97 + [0.014, -0.014, 0.028]), "no difference shown", "as good"),
    (seeds_of([0.0] * 57 + [0.014, -0.014, 0.028]), "no difference shown",
     "too few seeds"),                                                  # 60 seeds: under 93
    (seeds_of(-0.1 + np.arange(100) * 1e-3), "worse", "not shown as good"),
    ([np.r_[np.zeros(3), 0.01] for _ in range(30)], "no variation", "no variation"),  # ties
])
def test_a_word_needs_seeds_and_variation(clusters, word, equivalence):
    """Four tied seeds are not 'as good'; a hundred seeds of which a few differ still
    judge; seeds alike in their means, whatever their pairs, vary not at all."""
    found = verdicts.judged_difference(clusters)
    assert (found.word, found.equivalence) == (word, equivalence)


def test_rounding_noise_about_zero_is_zero():
    """A mean that is exactly 0, summed in floating point (0.1 + 0.2 - 0.3 is 5.6e-17):
    0, whatever the CPU rounds, and so are the ends of an interval at 0."""
    assert 0.1 + 0.2 - 0.3 != 0 and verdicts.snapped(0.1 + 0.2 - 0.3) == 0.0
    strata = [np.array([0.1, 0.2, -0.3, 0.0] * 10), np.array([-0.1, -0.2, 0.3, 0.0] * 10)]
    assert verdicts.stratified_mean(strata) == 0.0
    assert verdicts.snapped(-9.25e-16) == 0.0 and verdicts.snapped(1e-4) == 1e-4


def test_the_simulations_bootstrap_is_verdicts_own():
    """coverage.bca_interval, vectorised over studies, against coverage.stratified_interval
    one study at a time, with the same resamples."""
    rng = np.random.default_rng(7)
    for trial in range(6):
        sizes = rng.integers(2, 12, rng.integers(1, 5))
        strata = [np.round(rng.choice([0, 0, 0, 1, -1, 2, -30], n) / 72, 12)
                  if trial % 2 else rng.normal(0, 0.05, n) for n in sizes]
        for confidence in (0.95, 0.90):
            theirs = coverage.stratified_interval(strata, confidence)
            ours = coverage.bca_interval([s[None] for s in strata], (confidence,),
                                         verdicts.RESAMPLES, np.random.default_rng(0))
            low, high = ours[confidence]
            assert (low[0], high[0]) == pytest.approx(tuple(theirs), abs=1e-12)


def test_the_worst_shape_has_an_exact_tost_error():
    assert coverage.two_point_tost_error(0.45, 16) == 0.0  # no failure seen: no variation
    assert 0 < coverage.two_point_tost_error(0.45, 90) < 0.2


def test_the_coverage_command_prints_its_tables_within_100_columns():
    result = run("-m", "study.coverage", "--studies", "20", "--seeds", "4,30")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert max(map(len, lines)) <= 100
    assert "coverage of the 95% interval, t-welch, 4 pairs x n seeds:" in lines
    assert lines[-1] == (f"minimum seeds: {verdicts.MIN_SEEDS_WORD} for better or worse, "
                         f"{verdicts.MIN_SEEDS_AS_GOOD} for as good (verdicts.py)")
    assert result.stderr.startswith("study.coverage: 9 populations as 4 pairs")


@pytest.mark.slow
def test_the_seed_design_is_measured_on_the_shipped_curve():
    """--by-seed: populations of whole seeds of the shipped curve (and synthetic ones):
    each interval's coverage, and the fewest seeds the rule takes."""
    result = run("-m", "study.coverage", "--by-seed", "--studies", "20", "--seeds", "10,30")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert max(map(len, lines)) <= 100
    assert any(line.startswith("summary over 24 shipped populations") for line in lines)
    assert "coverage of the 95% interval, seed-t, S whole seeds:" in lines
    assert lines[-2].startswith("fewest seeds from which every shipped population")
