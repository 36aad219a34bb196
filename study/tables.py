"""A study's tables from its runs: the summaries (report.summarise), the article's claims
judged (verdicts.article_claims), the nets compared per digit pair and pooled over them,
and the alignment rows. compare.py makes them for the study it trains or pools;
make_report.py for the saved studies it pools.
"""
from study import report, verdicts
from study.records import key
from study.registry import ARTICLE_PAIR, BROKEN, COMPARED, ORIGINAL


def group_of(settings):
    """A run's group label: its experiment, its digit pair, or both, as the study varies."""
    pairs, experiments = len(settings["digits"]) > 1, len(settings["experiments"]) > 1

    def label(run):
        pair = f"{run['digits'][0]}/{run['digits'][1]}"
        return f"{run['experiment']}, {pair}" if pairs and experiments else (
            pair if pairs else run["experiment"])
    return label


def pooled_group(strata, settings):
    """A pooled comparison's group label: its experiment and digit pairs, as they vary."""
    label = group_of(settings)(strata[0][1][0][0])
    if len(strata) == 1:
        return label
    pairs = f"all {len(strata)} pairs"
    return f"{strata[0][1][0][0]['experiment']}, {pairs}" if len(settings["experiments"]) > 1 \
        else pairs


def study_tables(results, settings):
    """The study's tables: results (a row per group and net), claims, comparisons,
    alignment, and the runs."""
    group = group_of(settings)
    runs = {key(r): r for r in results}
    seeds = sorted({r["seed"] for r in results})

    def pairs(experiment, digits, a, b):
        return [(runs[experiment, digits, a, s], runs[experiment, digits, b, s])
                for s in seeds
                if (experiment, digits, a, s) in runs and (experiment, digits, b, s) in runs]

    claims = (verdicts.article_claims(lambda e: pairs(e, ARTICLE_PAIR, ORIGINAL, BROKEN),
                                      settings["epochs"])
              if ARTICLE_PAIR in settings["digits"] and not settings["extended"] else [])
    compared = [((experiment, digits, group(pair[0][0])), a, b, pair)
                for experiment in settings["experiments"] for digits in settings["digits"]
                for a, b in COMPARED if (pair := pairs(experiment, digits, a, b))]
    pooled = [verdicts.pooled_comparison(experiment, pooled_group(strata, settings), a, b,
                                         strata)
              for experiment in settings["experiments"] for a, b in COMPARED
              if (strata := [(digits, pair) for digits in settings["digits"]
                             if (pair := pairs(experiment, digits, a, b))])]
    return dict(results=report.summarise(results, settings["epochs"], group), claims=claims,
                comparisons=verdicts.comparisons(compared) + pooled,
                alignment=report.alignment_rows(results, settings["epochs"], group)
                if settings["alignment"] else [], runs=results)

