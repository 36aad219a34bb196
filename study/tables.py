"""A study's tables from its runs: the summaries (report.summarise), the article's claims
judged (verdicts.article_claims), the nets compared per digit pair and pooled over them,
and the alignment rows. compare.py makes them for the study it trains or pools;
make_report.py for the saved studies it pools.
"""
from study import report, verdicts
from study.records import Seeds, judged_on, key
from study.registry import ARTICLE_PAIR, BROKEN, COMPARED, ORIGINAL


def sweeps(settings):
    """The study trains its nets at several learning rates (a sweep), each net at every one."""
    return len(settings["lrs"]) > 1 and not settings.get("tuned")


def conditions(settings):
    """The learning rates the nets are compared at: (label, {net: rate}) for each rate of a
    sweep ('lr 0.001'), for the one rate of a study (label None), or for each net at its
    tuned rate ('tuned')."""
    if settings.get("tuned"):
        return [("tuned", dict(settings["tuned"]))]
    return [(f"lr {lr:g}" if sweeps(settings) else None, dict.fromkeys(settings["nets"], lr))
            for lr in settings["lrs"]]


def marked(row, label, rates, nets=None):
    """A table's row marked with its condition: lr for one rate of a sweep; tuned and
    each net's rate for the tuned evaluation. nets: the nets it compares (its own
    "nets" by default)."""
    nets = nets or row["nets"]
    if label == "tuned":
        return dict(row, tuned=True, lrs={net: rates[net] for net in nets})
    return dict(row, lr=rates[nets[0]]) if label else row


def group_of(settings):
    """A run's group label: its experiment, its digit pair, or both, as the study varies,
    and its learning rate in a sweep."""
    pairs, experiments = len(settings["digits"]) > 1, len(settings["experiments"]) > 1
    rate = sweeps(settings)

    def label(run):
        pair = f"{run['digits'][0]}/{run['digits'][1]}"
        text = f"{run['experiment']}, {pair}" if pairs and experiments else (
            pair if pairs else run["experiment"])
        return text + (f", lr {run['lr']:g}" if rate else "")
    return label


def aligned_group(settings):
    """The alignment rows' group of a run: in a sweep over several digit pairs, its rate
    (and experiment) over every pair, so that the rates compare; else group_of's."""
    if not (sweeps(settings) and len(settings["digits"]) > 1):
        return group_of(settings)
    pairs = f"all {len(settings['digits'])} pairs"

    def label(run):
        text = f"{run['experiment']}, {pairs}" if len(settings["experiments"]) > 1 else pairs
        return f"{text}, lr {run['lr']:g}"
    return label


def pooled_group(strata, settings):
    """A pooled comparison's group label: its experiment and digit pairs, as they vary,
    and its learning rate in a sweep."""
    label = group_of(settings)(strata[0][1][0][0])
    if len(strata) == 1:
        return label
    run = strata[0][1][0][0]
    pairs = f"all {len(strata)} pairs" + (f", lr {run['lr']:g}" if sweeps(settings) else "")
    return f"{run['experiment']}, {pairs}" if len(settings["experiments"]) > 1 else pairs


def study_tables(results, settings):
    """The study's tables: results (a row per group and net), claims, comparisons,
    alignment, the sweep (a row per net and rate), the tuning, and the runs."""
    group, on = group_of(settings), judged_on(settings)
    runs = {key(r): r for r in results}
    seeds = sorted({r["seed"] for r in results})

    def pairs(experiment, digits, a, b, rates):
        if a not in rates or b not in rates:
            return []
        keys = [((experiment, digits, a, rates[a], s), (experiment, digits, b, rates[b], s))
                for s in seeds]
        return [(runs[x], runs[y]) for x, y in keys if x in runs and y in runs]

    claims, comparisons = [], []
    for label, rates in conditions(settings) if on == "test" else []:
        if ARTICLE_PAIR in settings["digits"] and not settings["extended"]:
            judged = verdicts.article_claims(
                lambda e: pairs(e, ARTICLE_PAIR, ORIGINAL, BROKEN, rates), settings["epochs"])
            claims += [marked(row, label, rates, (ORIGINAL, BROKEN)) for row in judged]
        compared = [((experiment, digits, group(pair[0][0])), a, b, pair)
                    for experiment in settings["experiments"] for digits in settings["digits"]
                    for a, b in COMPARED if (pair := pairs(experiment, digits, a, b, rates))]
        pooled = [verdicts.pooled_comparison(experiment, pooled_group(strata, settings), a, b,
                                             strata)
                  for experiment in settings["experiments"] for a, b in COMPARED
                  if (strata := [(digits, pair) for digits in settings["digits"]
                                 if (pair := pairs(experiment, digits, a, b, rates))])]
        comparisons += [marked(row, label, rates)
                        for row in verdicts.comparisons(compared) + pooled]
    return dict(results=report.summarise(results, settings["epochs"], group, on),
                claims=claims, comparisons=comparisons,
                alignment=report.alignment_rows(results, settings["epochs"],
                                                aligned_group(settings))
                if settings["alignment"] else [],
                sweep=sweep_rows(results, settings) if len(settings["lrs"]) > 1 else [],
                tuning=tuning(results, settings) if settings.get("tune") else {},
                runs=results)


def by_net_and_rate(results, settings):
    """{(experiment, net, lr): [per digit pair, the runs in seed order]}."""
    found = {}
    for experiment in settings["experiments"]:
        for net in settings["nets"]:
            for lr in settings["lrs"]:
                strata = [sorted((r for r in results if (r["experiment"], tuple(r["digits"]),
                                                         r["net"], r["lr"])
                                  == (experiment, digits, net, lr)), key=lambda r: r["seed"])
                          for digits in settings["digits"]]
                if all(strata):
                    found[experiment, net, lr] = strata
    return found


def sweep_rows(results, settings):
    """A row per experiment, net and learning rate: the mean held-out accuracy over every
    seed of every digit pair, its 95% interval over the seeds (clipped to 0 to 1), and
    the runs that did not learn (the JSON contract: net, lr, digits, seeds a pair,
    mean_test_accuracy, interval, stuck)."""
    on = judged_on(settings)
    rows = []
    for (experiment, net, lr), strata in by_net_and_rate(results, settings).items():
        values = {}
        for runs in strata:
            for r in runs:
                values.setdefault(r["seed"], []).append(r[f"{on}_accuracy"])
        clusters = [values[seed] for seed in sorted(values)]
        interval = verdicts.cluster_interval(clusters)  # an accuracy is 0 to 1: clipped
        interval = interval and verdicts.Interval(max(0.0, interval.low), min(1.0, interval.high))
        rows.append({"experiment": experiment, "net": net, "lr": lr,
                     "digits": [list(d) for d in settings["digits"]],
                     "seeds": len(strata[0]), f"mean_{on}_accuracy":
                     verdicts.cluster_mean(clusters), "interval": verdicts.as_list(interval),
                     "stuck": sum(r["stuck"] for runs in strata for r in runs),
                     "runs": sum(map(len, strata))})
    return rows


def tuning(results, settings):
    """Each net's learning rate chosen on the validation images: per net, the rate with
    the best mean validation accuracy over every seed of every digit pair (and
    experiment), ties to the smaller rate; the means; the tuning's seeds; and how often
    each rate wins when the seeds are resampled within each pair (the JSON contract:
    {net: {lr, validation: {lr: mean}, seeds: [first, stop], wins: {lr: share}}})."""
    found = {}
    grouped = by_net_and_rate(results, settings)
    seeds = Seeds.of(settings)
    for net in settings["nets"]:
        by_rate = {lr: [[r["validation_accuracy"] for r in runs] for experiment in
                        settings["experiments"] for runs in grouped[experiment, net, lr]]
                   for lr in settings["lrs"]}
        choice = verdicts.best_rate(by_rate)
        found[net] = dict(lr=choice.lr, validation={f"{lr:g}": mean
                                                    for lr, mean in choice.means.items()},
                          seeds=[seeds.first, seeds.stop],
                          wins={f"{lr:g}": share for lr, share in
                                verdicts.rate_wins(by_rate).items()})
    return found


def pooled_rows(comparisons, nets=None):
    """The pooled rows of comparisons (of the nets a, b, if given)."""
    return [r for r in comparisons if r["pooled"] and (nets is None or r["nets"] == list(nets))]
