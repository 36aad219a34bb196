"""The reproduction report's numbers, from the runs make_report.py ships (study/shipped.py):
every study's tables, the blocks pooled, and the analyses of each part (gather: REPORT.json),
each computed from the shipped runs alone, so that any clone renders the same report.
study/narrative.py says them in REPORT.md and README.md.

The studies (make_report.py says how they are drawn), by kind: the curve (the extended
study at every rate of a grid), the tuning and the tuned evaluation, the article's study
at 0.001 and at its other rates, the interventions (at the curve's rates and seeds), the
budget (a tuning over rate and epoch, and an evaluation over 2,000 epochs), and the
settings (momentum and initial weights, each tuned and evaluated).
"""
import numpy as np

from original_net import STUCK_LEVEL, binomial_tail
from study import saved_reports, shipped, tables, verdicts
from study.records import ALIGNED, Checker, Seeds
from study.tables import pooled_rows
from study.registry import BROKEN, FROZEN, NETS, ORIGINAL, PAIRS, middle_epoch

KEPT = ("claims", "comparisons", "sweep", "tuning", "results", "alignment")  # a block's tables
OVER_TRAINING = (1, 10, 50, 100, 250, 500)  # the alignment's epochs through training


class Study:
    """A shipped study: its entry, its checked settings and environment, its runs and its
    tables (tables.study_tables)."""

    def __init__(self, name, entry, runs):
        checker = Checker(shipped.STUDIES, {"study": entry["study"]}, name)
        self.name, self.entry, self.runs = name, entry, runs
        self.settings, self.env = saved_reports.block_of(checker)
        self.settings.update(alignment=entry["study"]["settings"].get("alignment", False),
                             tuned=entry["study"]["settings"].get("tuned"),
                             runs=len(runs))
        self.kind, self.part = entry["kind"], entry["part"]
        self.tables = tables.study_tables(runs, self.settings)

    def block(self):
        """The study as a block for saved_reports.pool_blocks."""
        return self.name, self.settings, self.env, self.runs


# ---------------------------------------------------------------- REPORT.json

def load(found):
    """The shipped studies (found: {name: (entry, runs)}, as shipped.load gives them),
    each a Study with its tables."""
    return {name: Study(name, entry, runs) for name, (entry, runs) in found.items()}


def gather(studies, config):
    """REPORT.json from the shipped studies (load; config: make_report's grid, shared
    rate and parts): what was made and how, every block's settings and tables (no runs),
    the pooled tables and each part's analyses, and the findings README.md states. A part
    not shipped has no key of its own."""
    kind = {k: [s for s in studies.values() if s.kind == k] for k in
            {s.kind for s in studies.values()}}
    report = dict(made=made(studies, config), runs_file=shipped.RUNS,
                  runs_count=sum(len(s.runs) for s in studies.values()),
                  blocks=[dict(name=s.name, part=s.part, kind=s.kind,
                               setting=s.entry["cpu"]["name"],
                               study=s.entry["study"],
                               **{key: s.tables.get(key, []) for key in KEPT})
                          for s in studies.values()],
                  pooled={})
    if kind.get("article"):
        first = kind["article"][0]
        report.update(study=first.entry["study"],  # compare.py --side-by-side REPORT.json
                      claims=first.tables["claims"], comparisons=first.tables["comparisons"],
                      results=first.tables["results"])
        report["pooled"]["article"] = pooled(kind["article"])
        if kind.get("rates"):
            report["pooled"]["by_rate"] = by_rate(kind, config["shared"])
    if kind.get("curve"):
        curve = kind["curve"][0]
        report["curve"] = {key: curve.tables[key] for key in ("sweep", "comparisons",
                                                               "alignment")}
        report["alignment_over_training"], report["alignment_starts"] = (
            alignment_over_training(curve))
        if kind.get("interventions"):
            report["interventions"], report["intervention_comparisons"] = interventions(
                curve, kind["interventions"][0])
    if kind.get("tuning"):
        report["tuning"] = kind["tuning"][0].tables["tuning"]
    if kind.get("tuned"):
        report["pooled"]["tuned"] = pooled(kind["tuned"])
    if kind.get("budget") and kind.get("budget-tuning") and kind.get("tuning"):
        report["budget"] = budget(kind["budget-tuning"][0], kind["budget"], report["tuning"])
    if kind.get("settings-tuned"):
        report["settings_study"] = settings_study(kind, report)
    report["findings"] = findings(report)
    return report


def made(studies, config):
    """How the report was made: the simulated CPUs, the grid, the article's rates, the
    minutes and cores its studies took, the last study's date, the parts shipped."""
    entries = [s.entry for s in studies.values()]
    cpus = list({e["cpu"]["name"]: e["cpu"] for e in entries}.values())
    rates = sorted({lr for s in studies.values() if s.kind == "rates"
                    for lr in s.settings["lrs"]})
    return dict(settings=cpus, rates=rates, grid=config["grid"], shared=config["shared"],
                minutes=sum(e["study"]["wall_seconds"] for e in entries) / 60,
                cores=max(int(s.env["cpus"]) for s in studies.values()),
                date=max(e["study"]["date"] for e in entries),
                scheduler=next((e["study"]["environment"].get("scheduler") for e in entries
                                if e["study"]["environment"].get("scheduler")), None),
                all_parts=list(config["parts"]),
                parts_shipped=[p for p in config["parts"]
                               if any(e["part"] == p for e in entries)])


def pooled(blocks):
    """Blocks of one study pooled (compare.py --pool, in memory): their tables, no runs."""
    study, results, settings = saved_reports.pool_blocks([b.block() for b in blocks],
                                                         lambda line: None)
    found = tables.study_tables(results, settings)
    return dict(study=study, **{key: found[key] for key in KEPT if key != "alignment"})


def by_rate(kind, shared):
    """The article's claims at each of its rates over the same seeds (the first blocks):
    at the shared rate from the article's blocks, at the others from the rates' blocks;
    {lr: claims}."""
    rates = kind["rates"]
    at_shared = pooled(kind["article"][:len(rates)])["claims"]
    swept = pooled(rates)["claims"]
    found = {f"{shared:g}": [dict(row, lr=shared) for row in at_shared]}
    for lr in sorted({row["lr"] for row in swept}):
        found[f"{lr:g}"] = [row for row in swept if row["lr"] == lr]
    return dict(sorted(found.items(), key=lambda item: float(item[0])))


# ---------------------------------------------------------------- joined studies

def runs_by(studies, **match):
    """{(digits, seed): run} of the runs of studies whose fields equal match's."""
    return {(tuple(r["digits"]), r["seed"]): r for s in studies for r in s.runs
            if all(r[k] == v for k, v in match.items())}


def compared(a_runs, b_runs, a, b, group, experiment="Result 3"):
    """verdicts.pooled_comparison of two nets' runs ({(digits, seed): run} each) on the
    seeds and pairs both have, each seed a cluster."""
    pairs = sorted({d for d, _ in a_runs} & {d for d, _ in b_runs}, key=PAIRS.index)
    strata = [(d, [(a_runs[d, s], b_runs[d, s]) for _, s in sorted(
        k for k in a_runs if k[0] == d and k in b_runs)]) for d in pairs]
    return verdicts.pooled_comparison(experiment, group, a, b, strata)


def accuracy_row(runs, net, lr, on="test", epoch=None, majority=None):
    """A sweep row (tables.sweep_rows' form) of one net's runs ({(digits, seed): run}):
    the mean held-out accuracy over seeds (at the end, or at a checkpoint epoch, where
    majority gives each run's majority share), its interval over seeds clipped to 0 to
    1, and the runs that did not learn by then."""
    values, stuck = {}, 0
    for key, r in runs.items():
        seed = key[1]
        if epoch is None:
            value, is_stuck = r[f"{on}_accuracy"], r["stuck"]
        else:
            at = next(c for c in r["checkpoints"] if c["epoch"] == epoch)
            value, is_stuck = at[f"{on}_accuracy"], stuck_at(r, at, majority[key])
        values.setdefault(seed, []).append(value)
        stuck += is_stuck
    clusters = [values[s] for s in sorted(values)]
    interval = verdicts.cluster_interval(clusters)
    return {"net": net, "lr": lr, **({} if epoch is None else {"epoch": epoch}),
            f"mean_{on}_accuracy": verdicts.cluster_mean(clusters),
            "interval": None if interval is None else [max(0.0, interval.low),
                                                       min(1.0, interval.high)],
            "seeds": len(clusters), "runs": len(runs), "stuck": stuck}


def stuck_at(run, checkpoint, majority):
    """Whether a run had not learned by a checkpoint: its training accuracy there no
    better than answering the majority digit (its share majority), as
    original_net.is_stuck says at the end."""
    n = run["train_size"]
    return binomial_tail(round(checkpoint["train_accuracy"] * n), n, majority) > STUCK_LEVEL


def majority_shares(study):
    """{(digits, seed): the majority digit's share of the run's training images}, from
    the data, as each run of a study (judged on its test images) trained on them."""
    from original_net import load_data
    shares = {}
    for r in study.runs:
        key = (tuple(r["digits"]), r["seed"])
        if key not in shares:
            a, b = key[0]
            labels = load_data(r["seed"], study.settings["test_sizes"][f"{a}/{b}"],
                               digits=key[0])[1]
            shares[key] = max(np.mean(labels), 1 - np.mean(labels))
    return shares


# ---------------------------------------------------------------- the interventions

def interventions(curve, study):
    """Each intervention net (and each broken line alone) at every rate of the curve, on
    its seeds, beside the broken net and the original (the curve's runs of the same
    seeds: the same splits and initial weights): its sweep row, and its pooled
    comparisons against the broken net and the original: (rows, comparisons)."""
    nets = study.settings["nets"]
    rows, comparisons = [], []
    for lr in study.settings["lrs"]:
        original = runs_by([curve], net=ORIGINAL, lr=lr)
        broken = runs_by([curve], net=BROKEN, lr=lr)
        for net in nets:
            runs = runs_by([study], net=net, lr=lr)
            rows.append(dict(accuracy_row(runs, net, lr), digits=[list(p) for p in PAIRS]))
            for other, name in ((broken, BROKEN), (original, ORIGINAL)):
                row = compared(runs, other, net, name, f"all {len(PAIRS)} pairs, lr {lr:g}")
                comparisons.append(dict(row, lr=lr))
    return rows, comparisons


def alignment_over_training(curve):
    """The broken net's conv gradients against the true ones through training, at each
    rate of the curve, over every run that learned and every run that did not: per epoch
    of OVER_TRAINING (those the study reached), the median cosine and norm ratio of W1
    and W2 (the JSON contract: net, lr, epoch, learned, cosine, norm_ratio), with the
    runs counted; and, per rate, whether the runs that did not learn started worse aligned
    (epoch 1's W1 cosine, stuck against learned: the Mann-Whitney test): (rows, starts)."""
    from scipy import stats
    rows, starts = [], []
    aligned = [r for r in curve.runs if ALIGNED[0] in r["checkpoints"][0]]
    epochs = [e for e in OVER_TRAINING
              if any(c["epoch"] == e for c in aligned[0]["checkpoints"])] if aligned else []
    for lr in sorted({r["lr"] for r in aligned}):
        for net in sorted({r["net"] for r in aligned if r["lr"] == lr}, key=list(NETS).index):
            runs = [r for r in aligned if (r["lr"], r["net"]) == (lr, net)]
            for learned in (True, False):
                group = [r for r in runs if r["stuck"] != learned]
                for epoch in epochs if group else []:
                    at = [next(c for c in r["checkpoints"] if c["epoch"] == epoch)
                          for r in group]
                    rows.append(dict(net=net, lr=lr, epoch=epoch, learned=learned,
                                     runs=len(group), **{measure: {
                                         w: float(np.median([c[f"{w}_{measure}"] for c in at]))
                                         for w in ("W1", "W2")}
                                         for measure in ("cosine", "norm_ratio")}))
            first = {learned: [r["checkpoints"][0]["W1_cosine"] for r in runs
                               if r["stuck"] != learned] for learned in (True, False)}
            if net == BROKEN and len(first[False]) >= 3 and len(first[True]) >= 3:
                test = stats.mannwhitneyu(first[False], first[True])
                starts.append(dict(net=net, lr=lr, stuck=len(first[False]),
                                   learned=len(first[True]),
                                   stuck_median=float(np.median(first[False])),
                                   learned_median=float(np.median(first[True])),
                                   p_value=float(test.pvalue)))
    return rows, starts


# ---------------------------------------------------------------- the budget

def best_rate_and_epoch(runs, lrs, net):
    """A net's learning rate and epoch chosen together on the validation images of a
    tuning study's runs over many epochs: the best mean validation accuracy over every
    seed of every pair at any checkpoint epoch, ties to the smaller rate, then the earlier
    epoch (early stopping chosen on validation; the test images never looked at)."""
    best = None
    for lr in lrs:
        found = [r for r in runs if (r["net"], r["lr"]) == (net, lr)]
        for i, c in enumerate(found[0]["checkpoints"]):
            mean = verdicts.snapped(float(np.mean([r["checkpoints"][i]["validation_accuracy"]
                                                    for r in found])))
            if best is None or mean > best[0]:
                best = (mean, lr, c["epoch"])
    return dict(lr=best[1], epoch=best[2], validation=best[0])


def budget(long_tuning, studies, tuning):
    """Accuracy as training goes, over the budget's epochs, its blocks of seeds pooled
    (each seed a cluster): each net at every rate of the budget, its mean test accuracy
    at each checkpoint with its 95% band and the runs that had not learned by then (rows);
    the broken net against the original at each rate, and each at its own tuned rate, at
    each checkpoint (comparisons); the tuned pairing's change of the gap from epoch 500 to
    the last (gap_change); the same for each block alone, its replication (blocks); and
    the second tuned answer, rate and epoch chosen together on validation (early_stopping)."""
    rows, comparisons = [], []
    study = studies[0]
    epochs = [c["epoch"] for c in study.runs[0]["checkpoints"]]
    nets = study.settings["nets"]
    runs = {(net, lr): runs_by(studies, net=net, lr=lr)
            for net in nets for lr in study.settings["lrs"]}
    majority = {key: share for s in studies for key, share in majority_shares(s).items()}
    for (net, lr), found in runs.items():
        rows += [accuracy_row(found, net, lr, epoch=e, majority=majority) for e in epochs]
    chosen = {net: row["lr"] for net, row in tuning.items()}
    pairings = [(f"lr {lr:g}", {ORIGINAL: lr, BROKEN: lr}) for lr in study.settings["lrs"]]
    if all((net, chosen[net]) in runs for net in (ORIGINAL, BROKEN)):
        pairings.append(("tuned", {net: chosen[net] for net in (ORIGINAL, BROKEN)}))
    for label, lrs in pairings:
        for e in epochs:
            row = compared(at_epoch(runs[BROKEN, lrs[BROKEN]], e, majority),
                           at_epoch(runs[ORIGINAL, lrs[ORIGINAL]], e, majority), BROKEN,
                           ORIGINAL, f"{label}, epoch {e}")
            comparisons.append(dict(compact(row), nets=[BROKEN, ORIGINAL], epoch=e,
                                    lr=lrs[BROKEN] if label != "tuned" else None, lrs=lrs,
                                    pairing=label))
    gap, blocks = None, []
    if pairings[-1][0] == "tuned":
        lrs, first = pairings[-1][1], article_epoch(epochs)
        gap = gap_change(runs[BROKEN, lrs[BROKEN]], runs[ORIGINAL, lrs[ORIGINAL]], first,
                         epochs[-1], majority)
        for s in studies:
            b, o = (runs_by([s], net=net, lr=lrs[net]) for net in (BROKEN, ORIGINAL))
            ends = [compact(compared(at_epoch(b, e, majority), at_epoch(o, e, majority),
                                     BROKEN, ORIGINAL, f"tuned, epoch {e}"))
                    for e in (first, epochs[-1])]
            blocks.append(dict(seeds=seed_range(s), cpu=s.entry["cpu"]["name"], at_500=ends[0],
                               at_last=ends[1],
                               gap_change=gap_change(b, o, first, epochs[-1], majority)))
    early = {net: best_rate_and_epoch(long_tuning.runs, long_tuning.settings["lrs"], net)
             for net in nets}
    answer = None
    if all((net, early[net]["lr"]) in runs for net in (ORIGINAL, BROKEN)):
        answer = compact(compared(
            at_epoch(runs[BROKEN, early[BROKEN]["lr"]], early[BROKEN]["epoch"], majority),
            at_epoch(runs[ORIGINAL, early[ORIGINAL]["lr"]], early[ORIGINAL]["epoch"], majority),
            BROKEN, ORIGINAL, "each at its rate and epoch chosen on validation"))
    return dict(epochs=study.settings["epochs"], rates=study.settings["lrs"],
                seeds=[seed_range(s) for s in studies], rows=rows,
                comparisons=comparisons, early_stopping=dict(chosen=early, comparison=answer),
                tuned=chosen, gap_change=gap, blocks=blocks)


def seed_range(study):
    """[first, stop] of a study's block of seeds."""
    seeds = Seeds.of(study.settings)
    return [seeds.first, seeds.stop]


def article_epoch(epochs):
    """The article's budget, epoch 500, among a longer study's checkpoint epochs (a short
    test study's: its middle)."""
    return 500 if 500 in epochs and epochs[-1] > 500 else middle_epoch(epochs[-1])


def gap_change(broken, original, first, last, majority):
    """How the broken - original difference changed from epoch first to epoch last, on
    the same seeds and pairs: per run pair, (b - o at last) - (b - o at first), pooled with
    each seed a cluster (pooled_comparison's interval; its word 'better': the gap moved
    the broken net's way). Whether more epochs close the gap is this paired change, not
    the two epochs' words side by side (with 30 seeds, 'not told apart' at the last epoch
    can be the seeds' few, not the gap's closing)."""
    then, now = (at_epoch(broken, e, majority) for e in (first, last))
    before, after = (at_epoch(original, e, majority) for e in (first, last))
    keys = [k for k in now if k in after]
    change = {k: dict(now[k], stuck=False, test_accuracy=now[k]["test_accuracy"]
                      - after[k]["test_accuracy"]) for k in keys}
    start = {k: dict(then[k], stuck=False, test_accuracy=then[k]["test_accuracy"]
                     - before[k]["test_accuracy"]) for k in keys}
    row = compared(change, start, BROKEN, ORIGINAL, f"the gap's change, epoch {first} to {last}")
    return dict(compact(row), epochs=[first, last])


def at_epoch(runs, epoch, majority):
    """Runs ({(digits, seed): run}) as they were at a checkpoint epoch: their held-out
    accuracy and whether they had learned then (pooled_comparison reads those)."""
    out = {}
    for key, r in runs.items():
        c = next(c for c in r["checkpoints"] if c["epoch"] == epoch)
        out[key] = dict(r, test_accuracy=c["test_accuracy"], stuck=stuck_at(r, c, majority[key]))
    return out


def compact(row):
    """A pooled row's numbers as the report states them."""
    return {key: row[key] for key in (
        "seeds", "runs", "unit", "clusters", "mean_difference", "interval", "verdict",
        "equivalence", "equivalence_interval", "equivalent", "said", "failed", "discordant",
        "mcnemar_p", "learned_mean_difference", "learned_interval", "learned_verdict",
        "learned_equivalence", "learned_said", "lr", "lrs") if key in row}


# ---------------------------------------------------------------- the settings

CONCLUSIONS = ("the tuned answer", "worse at the original's best rate",
               "better at the smallest rate", "the frozen control's gap")


def settings_study(kind, report):
    """Which of the report's conclusions survive each setting the article leaves open:
    per combination of momentum and initial weights, each net's tuned rate, and the
    comparisons behind each conclusion (CONCLUSIONS): the tuned evaluation's broken -
    original and frozen - original, and at a shared rate the tuning's own runs (on
    validation images: the original's tuned rate, and the grid's smallest). Today's
    combination from the curve, the tuning and the tuned evaluation."""
    rows = []
    if kind.get("tuning") and kind.get("tuned"):
        tuning = kind["tuning"][0]
        rows.append(setting_row(tuning, pooled(kind["tuned"]), tuning.tables["tuning"]))
    tunings = {s.name.rsplit("-tuning-", 1)[0]: s for s in kind.get("settings-tuning", [])}
    for evaluation in kind["settings-tuned"]:
        tuning = tunings.get(evaluation.name.rsplit("-", 2)[0])
        if tuning is not None:
            rows.append(setting_row(tuning, pooled([evaluation]), tuning.tables["tuning"]))
    return rows


def setting_row(tuning, evaluated, chosen):
    """One combination's row of settings_study."""
    lrs = {net: row["lr"] for net, row in chosen.items()}
    tuned = {tuple(r["nets"]): r for r in pooled_rows(evaluated["comparisons"])}
    smallest = min(tuning.settings["lrs"])

    def validated(net, lr):  # a tuning's runs, judged on their validation images
        return {key: dict(r, test_accuracy=r["validation_accuracy"])
                for key, r in runs_by([tuning], net=net, lr=lr).items()}
    shared = [compared(validated(BROKEN, lr), validated(ORIGINAL, lr), BROKEN, ORIGINAL,
                       f"validation, lr {lr:g}") for lr in (lrs[ORIGINAL], smallest)]
    found = [(CONCLUSIONS[0], tuned.get((BROKEN, ORIGINAL))),
             (CONCLUSIONS[1], dict(shared[0], lr=lrs[ORIGINAL])),
             (CONCLUSIONS[2], dict(shared[1], lr=smallest)),
             (CONCLUSIONS[3], tuned.get((FROZEN, ORIGINAL)))]
    return dict(momentum=tuning.settings["momentum"], init=tuning.settings.get("init", "normal"),
                tuning=lrs, grid=tuning.settings["lrs"],
                comparisons=[dict(compact(row), conclusion=name, nets=row["nets"])
                             for name, row in found if row is not None])


# ---------------------------------------------------------------- README's findings

def findings(report):
    """The numbers README.md's findings state, each from a table of REPORT.json; a part
    not shipped yet is None."""
    pooled_ = report["pooled"]
    out = dict(runs=report["runs_count"], parts=report["made"]["parts_shipped"],
               shared=f"{report['made']['shared']:g}")
    if "article" in pooled_:
        blocks = [b for b in report["blocks"] if b["kind"] == "article"]
        out["claims"] = [dict(
            label=c["label"], quote=c["claim"], section=c["section"], contrast=c["contrast"],
            verdict=c["verdict"], frequency=c["frequency"], held=c["held"], seeds=c["seeds"],
            share=c["share"], share_interval=c["share_interval"],
            median_ratio=c.get("median_ratio"), ratio_interval=c.get("ratio_interval"),
            discordant=c.get("discordant"), epoch=c.get("epoch"),
            blocks=sum(block_claim(b, c["label"])["verdict"] == c["verdict"] for b in blocks),
            of=len(blocks)) for c in pooled_["article"]["claims"]]
        out["claim_seeds"] = max(c["seeds"] for c in out["claims"])
    if "by_rate" in pooled_:
        rates = {lr: {c["label"]: c["verdict"] for c in rows}
                 for lr, rows in pooled_["by_rate"].items()}
        out["claims_by_rate"] = rates
        out["rate_seeds"] = max(c["seeds"] for rows in pooled_["by_rate"].values()
                                for c in rows)
        out["same_at_every_rate"] = [label for label in next(iter(rates.values()))
                                     if len({words.get(label) for words in rates.values()}) == 1]
    if "curve" in report:
        out["curve"] = {f"{r['lr']:g}": compact(r) for r in pooled_rows(
            report["curve"]["comparisons"], (BROKEN, ORIGINAL))}
        out["sizes"] = size_and_direction(report)
    if "tuning" in report:
        out["chosen"] = {net: row["lr"] for net, row in report["tuning"].items()}
        out["wins"] = {net: row["wins"][f"{row['lr']:g}"] for net, row in report["tuning"].items()}
    if "tuned" in pooled_:
        tuned = {tuple(r["nets"]): r for r in pooled_rows(pooled_["tuned"]["comparisons"])}
        out["tuned"] = {f"{NETS[a].short} - {NETS[b].short}": compact(row)
                        for (a, b), row in tuned.items()}
        blocks = [b for b in report["blocks"] if b["kind"] == "tuned"]
        out["tuned_blocks"] = {f"{NETS[a].short} - {NETS[b].short}": [
            next(r for r in pooled_rows(b_["comparisons"], (a, b))) ["verdict"]
            for b_ in blocks] for a, b in tuned}
    if "interventions" in report:
        out["interventions"] = intervention_facts(report)
    if "budget" in report:
        out["budget"] = budget_facts(report["budget"])
    if "settings_study" in report:
        out["settings"] = [dict(momentum=row["momentum"], init=row["init"], tuning=row["tuning"],
                                words={c["conclusion"]: c["verdict"] for c in row["comparisons"]})
                           for row in report["settings_study"]]
    return out


def block_claim(block, label):
    return next(c for c in block["claims"] if c["label"] == label)


def size_and_direction(report):
    """The broken net's conv gradients against the true ones at each rate of the curve,
    at the last epoch: median cosine and norm ratio of W1 and W2 over the runs that
    learned, pooled over the digit pairs ({lr: {W1_cosine: ..., ...}})."""
    out = {}
    rows = report["curve"]["alignment"]
    last = max((r["epoch"] for r in rows), default=None)
    for row in rows:
        if row["net"] == BROKEN and row["epoch"] == last:
            lr = row["group"].rsplit("lr ", 1)[-1]
            out[lr] = {f"{w}_{m}": row[f"{w}_{m}"][0] for w in ("W1", "W2")
                       for m in ("cosine", "norm_ratio") if row.get(f"{w}_{m}")}
    return out


def intervention_facts(report):
    """Per intervention net and rate: its mean accuracy, stuck runs, and its words
    against the broken net and the original; and the broken net's own at each rate."""
    facts = {}
    sweep = {(r["net"], r["lr"]): r for r in report["curve"]["sweep"]}
    for row in report["interventions"]:
        facts.setdefault(row["net"], {})[f"{row['lr']:g}"] = dict(
            accuracy=row["mean_test_accuracy"], stuck=row["stuck"], runs=row["runs"])
    for row in report["intervention_comparisons"]:
        against = "broken" if row["nets"][1] == BROKEN else "original"
        facts[row["nets"][0]][f"{row['lr']:g}"][against] = compact(row)
    for net in (BROKEN, ORIGINAL):
        facts[net] = {f"{lr:g}": dict(accuracy=r["mean_test_accuracy"], stuck=r["stuck"],
                                      runs=r["runs"])
                      for (n, lr), r in sweep.items() if n == net}
    facts["peak"] = {net: max(values, key=lambda lr: values[lr]["accuracy"])
                     for net, values in facts.items()}
    return facts


def budget_facts(budget_):
    """The budget in the numbers README.md gives: each net's tuned pairing's difference
    at the article's epoch (500) and at the last, and the early-stopping answer."""
    tuned = [c for c in budget_["comparisons"] if c["pairing"] == "tuned"]
    by_epoch = {c["epoch"]: c for c in tuned}
    last = budget_["epochs"]
    article = article_epoch(sorted(by_epoch))
    return dict(at_500=by_epoch.get(article), article_epoch=article, at_last=by_epoch.get(last),
                last=last, early_stopping=budget_["early_stopping"],
                gap_change=budget_.get("gap_change"), blocks=budget_.get("blocks", []))



# ---------------------------------------------------------------- the figures

def figures(report, studies):
    """The report's figures by file name, each a function that draws it into a file,
    from the shipped runs: the article's first block (REPORT.png), the curve with the
    interventions and each net's tuned rate (REPORT-curve.png), the tuned evaluation's
    runs (REPORT-extended.png) and the budget (REPORT-budget.png); a part not shipped
    draws none."""
    from study import figures as draw
    kind = {}
    for s in studies.values():
        kind.setdefault(s.kind, []).append(s)
    out = {}
    if "article" in kind:
        first = kind["article"][0]
        out["REPORT.png"] = lambda file: draw.plot(
            first.runs, tables.group_of(first.settings), first.settings["alignment"], file,
            "png", f"The article's study at lr {first.settings['lrs'][0]:g}, seeds "
            f"{Seeds.of(first.settings).span()}: each net's cost and, below, the broken "
            f"gradient's direction")
    if "curve" in report:
        rows = report["curve"]["sweep"] + [dict(r, experiment="Result 3") for r in
                                           report.get("interventions", [])]
        chosen = {net: row["lr"] for net, row in report.get("tuning", {}).items()}
        seeds = report["curve"]["sweep"][0]["seeds"]
        out["REPORT-curve.png"] = lambda file: draw.sweep_plot(
            rows, file, "png", chosen or None,
            f"Held-out test accuracy against the learning rate: {len(PAIRS)} digit pairs x "
            f"{seeds} seeds a rate, 500 epochs")
    if "tuned" in kind:
        study, results, settings = saved_reports.pool_blocks([b.block() for b in kind["tuned"]],
                                                              lambda line: None)
        rates = ", ".join(f"{NETS[n].short} {lr:g}" for n, lr in settings["tuned"].items())
        out["REPORT-extended.png"] = lambda file: draw.plot(
            results, tables.group_of(settings), False, file, "png",
            f"The tuned evaluation, each net at its tuned rate ({rates}), seeds "
            f"{report_seeds(study)}")
    if "budget" in report:
        budget = report["budget"]
        out["REPORT-budget.png"] = lambda file: draw.budget_plot(
            budget, file, "png", f"Over {budget['epochs']:,} epochs, each net at its tuned "
            f"rate: seeds {' and '.join(f'{a} to {b - 1}' for a, b in budget['seeds'])}, "
            f"{len(PAIRS)} digit pairs")
    return out


def report_seeds(study):
    from study.report import seeds_text
    return seeds_text(study["settings"]).removeprefix("seeds ")
