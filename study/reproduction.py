"""The reproduction report from make_report.py's saved studies: what they found, pooled
and replicated (gather: REPORT.json), REPORT.md (markdown: docs/REPORT_TEMPLATE.md
filled), its figures, and the findings at the top of README.md (findings_text), every
number of which is in REPORT.json.

The studies (make_report.py says how they are drawn), by part: the curve (the extended
study at every rate of a grid), the tuning (each net's rate chosen on validation images),
the tuned evaluation (two blocks), the article's study at 0.001 (four blocks) and at its
other rates (two blocks).
"""
import math
import os
import string

from study import report, saved_reports, tables, verdicts
from study.cli import count
from study.records import Seeds
from study.registry import BROKEN, FROZEN, GROUPS, NETS, ORIGINAL, PAIRS

TEMPLATE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "docs",
                        "REPORT_TEMPLATE.md")
BEGIN = "<!-- findings: written by make_report.py from REPORT.json; do not edit by hand -->"
END = "<!-- end of the findings -->"
KEPT = ("claims", "comparisons", "sweep", "tuning", "results", "alignment")  # a block's tables


# ---------------------------------------------------------------- what the studies found

def gather(made, saved, parts, paths):
    """REPORT.json: how the report was made, every block's settings and tables (its
    runs left out), the pooled tables REPORT.md shows, and the findings README.md
    states. saved: each study's report by name; parts: each one's part; paths: its file."""
    names = {part: [n for n in saved if parts[n] == part] for part in set(parts.values())}
    article = names["article"]
    first = saved[article[0]]
    blocks = [dict(name=name, part=parts[name], file=os.path.basename(paths[name]),
                   setting=setting_name(made, saved[name]), study=saved[name]["study"],
                   **{key: saved[name].get(key, []) for key in KEPT}) for name in saved]
    pooled = dict(article=pooled_tables([paths[n] for n in article]),
                  tuned=pooled_tables([paths[n] for n in names["tuned"]]),
                  by_rate=by_rate(made, saved, names, paths))
    curve = saved[names["curve"][0]]
    tuning = saved[names["tuning"][0]]["tuning"]
    found = dict(study=first["study"], claims=first["claims"],  # compare --side-by-side
                 comparisons=first["comparisons"], results=first["results"],
                 made=dict(made, date=first["study"]["date"]), blocks=blocks, pooled=pooled,
                 curve={key: curve[key] for key in ("sweep", "comparisons", "alignment")},
                 tuning=tuning)
    found["findings"] = findings(found)
    return found


def setting_name(made, saved_report):
    """The simulated CPU a study ran under, by its name: 'as is' where none."""
    words = saved_report["study"]["environment"].get("setting", "")
    return next((s["name"] for s in made["settings"]
                 if words and words == cpus_words(s["env"])), "as is")


def cpus_words(env):
    from study import cpus
    return cpus.words(env)


def pooled_tables(paths):
    """compare.py --pool of saved studies, in this process: their tables (runs left out)."""
    study, results, settings = saved_reports.pool(paths, lambda line: None)
    found = tables.study_tables(results, settings)
    return dict(study=study, **{key: found[key] for key in KEPT if key != "alignment"})


def by_rate(made, saved, names, paths):
    """The article's claims at each of its rates over the same seeds (the first
    RATE_BLOCKS blocks): at 0.001 from the article's blocks, at the others from the
    rates' blocks; {lr: claims}."""
    rates = names["rates"]
    blocks = len(rates)
    shared = pooled_tables([paths[n] for n in names["article"][:blocks]])["claims"]
    swept = pooled_tables([paths[n] for n in rates])["claims"]
    found = {f"{made['shared']:g}": [dict(row, lr=made["shared"]) for row in shared]}
    for lr in made["rates"]:
        found[f"{lr:g}"] = [row for row in swept if row["lr"] == lr]
    return dict(sorted(found.items(), key=lambda item: float(item[0])))


def pooled_rows(comparisons, nets=None):
    """The pooled rows of comparisons (of the nets a, b, if given)."""
    return [r for r in comparisons if r["pooled"] and (nets is None or r["nets"] == list(nets))]


def findings(found):
    """The numbers README.md's findings state, each from a table of REPORT.json."""
    pooled, made = found["pooled"], found["made"]
    article = {c["label"]: c for c in pooled["article"]["claims"]}
    blocks = [b for b in found["blocks"] if b["part"] == "article"]
    claims = [dict(label=label, quote=c["claim"], section=c["section"], verdict=c["verdict"],
                   held=c["held"], seeds=c["seeds"], median_ratio=c.get("median_ratio"),
                   ratio_interval=c.get("ratio_interval"), epoch=c.get("epoch"),
                   blocks=sum(block_claim(b, label)["verdict"] == c["verdict"] for b in blocks),
                   of=len(blocks))
              for label, c in article.items()]
    rates = {lr: {c["label"]: c["verdict"] for c in rows}
             for lr, rows in pooled["by_rate"].items()}
    curve = {f"{r['lr']:g}": r for r in pooled_rows(found["curve"]["comparisons"],
                                                     (BROKEN, ORIGINAL))}
    tuned = {tuple(r["nets"]): r for r in pooled_rows(pooled["tuned"]["comparisons"])}
    tuned_blocks = [b for b in found["blocks"] if b["part"] == "tuned"]
    return dict(
        claims=claims, claim_seeds=max(c["seeds"] for c in claims),
        claims_by_rate=rates,
        rate_seeds=max(c["seeds"] for rows in pooled["by_rate"].values() for c in rows),
        same_at_every_rate=[label for label in article
                            if len({words.get(label) for words in rates.values()}) == 1],
        curve={lr: compact(row) for lr, row in curve.items()},
        shared=f"{made['shared']:g}",
        chosen={net: row["lr"] for net, row in found["tuning"].items()},
        wins={net: row["wins"][f"{row['lr']:g}"] for net, row in found["tuning"].items()},
        tuned={f"{NETS[a].short} - {NETS[b].short}": compact(row)
               for (a, b), row in tuned.items()},
        tuned_blocks={f"{NETS[a].short} - {NETS[b].short}": [
            next(r for r in pooled_rows(b_["comparisons"], (a, b)))["verdict"]
            for b_ in tuned_blocks] for a, b in tuned},
        sizes=size_and_direction(found))


def compact(row):
    """A pooled row's numbers as README.md states them."""
    return {key: row[key] for key in (
        "seeds", "mean_difference", "interval", "verdict", "equivalence",
        "equivalence_interval", "failed", "mcnemar_p", "learned_mean_difference",
        "learned_interval", "learned_verdict", "learned_equivalence", "lr", "lrs") if key in row}


def block_claim(block, label):
    return next(c for c in block["claims"] if c["label"] == label)


def size_and_direction(found):
    """The broken net's conv gradients against the true ones at each rate of the curve,
    at the last epoch: median cosine and norm ratio of W1 and W2 over the runs that
    learned, pooled over the digit pairs ({lr: {W1_cosine: ..., ...}})."""
    out = {}
    for row in found["curve"]["alignment"]:
        if row["net"] != BROKEN or row["epoch"] != max(r["epoch"] for r in found["curve"][
                "alignment"]):
            continue
        lr = row["group"].rsplit("lr ", 1)[-1]
        out[lr] = {f"{w}_{m}": row[f"{w}_{m}"][0] for w in list(GROUPS)[:2]
                   for m in ("cosine", "norm_ratio") if row.get(f"{w}_{m}")}
    return out


# ---------------------------------------------------------------- REPORT.md

def markdown(found):
    """REPORT.md: docs/REPORT_TEMPLATE.md filled from REPORT.json's tables."""
    made, pooled, facts = found["made"], found["pooled"], found["findings"]
    first = next(b for b in found["blocks"] if b["part"] == "article")
    parts = report.sections(first["study"], dict(first, runs=[]), "markdown")
    tuned = report.sections(pooled["tuned"]["study"], dict(pooled["tuned"], alignment=[],
                                                           runs=[]), "markdown")
    article = [b for b in found["blocks"] if b["part"] == "article"]
    values = dict(
        date=made["date"], minutes=count(round(made['minutes']), 'minute'), cores=made["cores"],
        claims_count=len(verdicts.CLAIMS), seeds=Seeds.of(first["study"]["settings"]).count,
        blocks=len(article), seeds_total=facts["claim_seeds"], pairs_count=len(PAIRS),
        grid=", ".join(f"{lr:g}" for lr in made["grid"]), shared=facts["shared"],
        environment="Every block: " + report.environment_text(
            dict(first["study"]["environment"], setting="")),
        cpus_table=cpus_table(found), cpus_note=cpus_note(made),
        curve_answer=curve_answer(found), curve_table=curve_table(found),
        tuning_answer=tuning_answer(found),
        tuning_table=report.tuning_section(found["tuning"], True)[1],
        tuned_answer=tuned_answer(found), tuned_blocks_table=tuned_blocks_table(found),
        tuned_pooled=demoted(tuned["pooled"]), tuned_pairs=demoted(tuned["pairs"], "##"),
        tuned_accuracy=demoted(tuned["accuracy"].replace("## Accuracy", "## Accuracy at the "
                                                         "tuned rates", 1), "##"),
        sizes_answer=sizes_answer(found), sizes_table=sizes_table(found),
        claims_answer=claims_answer(found), blocks_table=blocks_table(found),
        blocks_differ=blocks_differ(article), rates_answer=rates_answer(found),
        rates_table="\n\n".join(report.claims_by_rate_section(
            [row for rows in pooled["by_rate"].values() for row in rows], True)[1:]),
        mark=verdicts.BORDERLINE, first_block=Seeds.of(first["study"]["settings"]).span(),
        block_claims=demoted(parts["claims"]), block_cost=demoted(parts["cost"]),
        block_accuracy=demoted(parts["accuracy"]), block_alignment=parts["alignment"],
        block_stuck=", ".join(f"{r['net']} {r['stuck']}/{r['seeds']}"
                              for r in first["results"] if r["experiment"] == "Result 3"),
        margin=f"{100 * verdicts.MARGIN:g}", ci=report.CI, tost=report.TOST,
        stuck_level=report.STUCK, min_word=verdicts.MIN_SEEDS_WORD,
        min_as_good=verdicts.MIN_SEEDS_AS_GOOD,
        runs_total=f"{sum(b['study']['settings']['runs'] for b in found['blocks']):,}")
    with open(TEMPLATE) as file:
        return string.Template(file.read()).substitute(values)


def demoted(section, level="####"):
    """A report section's markdown heading (##) set at another level, to sit inside
    REPORT.md's own."""
    return section.replace("## ", level + " ", 1) if section.startswith("## ") else section


def cpus_table(found):
    """A row per study: its seeds, what it is, its simulated CPU, the variables, the
    fingerprint and the kernel OpenBLAS reported."""
    settings = {s["name"]: s for s in found["made"]["settings"]}
    what = dict(curve="the curve", tuning="the tuning", tuned="tuned evaluation",
                article="the article's", rates="the article's at other rates")
    body = []
    for b in found["blocks"]:
        setting = settings.get(b["setting"], dict(env={}, fingerprint="-"))
        body.append([Seeds.of(b["study"]["settings"]).span(), what[b["part"]], b["setting"],
                     f"`{cpus_words(setting['env'])}`" if setting["env"] else "none",
                     setting["fingerprint"],
                     b["study"]["environment"]["blas"].rsplit("kernel ", 1)[-1]])
    return report.render(["seeds", "study", "simulated CPU", "variables", "fingerprint",
                          "OpenBLAS kernel"], body, True)


def cpus_note(made):
    settings = made["settings"]
    if made.get("scheduler"):
        return (f"The studies ran on the Dask cluster at {made['scheduler']}, whose workers "
                f"compute as their own CPUs do: the simulated CPUs apply to local runs only.")
    if len(settings) >= 4:
        return (f"The {count(len(settings), 'setting')} end at {len(settings)} different "
                f"fingerprints: each block is another draw of the rounding, as well as of the "
                f"seeds.")
    return (f"Only {count(len(settings), 'setting')} computed other bits on this machine, so "
            f"some blocks share one: they differ in their seeds alone.")


def points_said(row, prefix=""):
    """'-12.6 points, 95% interval -16 to -9.5'."""
    low, high = row[prefix + "interval"] or [None, None]
    return (f"{100 * row[prefix + 'mean_difference']:+.1f} points, {report.CI} interval "
            f"{report.interval_text(*(None if v is None else 100 * v for v in (low, high)), 2)}")


def word_of(row, prefix=""):
    """The word of a pooled row, and its equivalence: 'worse, not shown as good'."""
    said = {"worse": "worse", "better": "better", "no difference shown": "not shown to differ",
            "too few seeds": "too few seeds to tell", "no variation": "alike in every seed"}
    return f"{said[row[prefix + 'verdict']]}, {report.equivalence_said(row, prefix)}"


def curve_rows(found, nets=(BROKEN, ORIGINAL)):
    return sorted(pooled_rows(found["curve"]["comparisons"], nets), key=lambda r: r["lr"])


def curve_answer(found):
    """The broken net against the original at each rate of the curve, in sentences."""
    facts = found["findings"]
    by_word = {}
    for row in curve_rows(found):
        word = ("as good" if row["equivalent"] else
                "worse" if row["verdict"] == "worse" else
                "better" if row["verdict"] == "better" else "not shown to differ, nor as good")
        by_word.setdefault(word, []).append(f"{row['lr']:g}")
    shared = facts["curve"][facts["shared"]]
    return (f"Over {count(shared['seeds'], 'paired seed')} at each rate (the same seeds, split "
            f"and initial weights at every rate; pointwise: each rate's words as a study of "
            f"that rate alone would give them), the broken net against the original is "
            + "; ".join(f"{word} at {', '.join(rates)}" for word, rates in by_word.items())
            + f". At {facts['shared']}, the rate the article's study runs at here, it is "
            f"{word_of(shared)}: a mean of {points_said(shared)}, and it did not learn in "
            f"{shared['failed'][0]} of its {shared['seeds']} runs, the original in "
            f"{shared['failed'][1]}.")


def curve_table(found):
    """Per rate: each net's mean test accuracy, and the pooled comparisons."""
    sweep = {(r["net"], r["lr"]): r for r in found["curve"]["sweep"]}
    rows = {tuple(r["nets"]) + (r["lr"],): r for r in pooled_rows(found["curve"]["comparisons"])}
    header = (["lr"] + [f"{NETS[n].short}: accuracy ({report.CI}), stuck" for n in
                        (ORIGINAL, BROKEN, FROZEN)]
              + [f"{NETS[a].short} - {NETS[b].short}" for a, b in
                 ((BROKEN, ORIGINAL), (FROZEN, ORIGINAL), (BROKEN, FROZEN))])
    body = []
    for lr in found["made"]["grid"]:
        cells = [f"{lr:g}"]
        for net in (ORIGINAL, BROKEN, FROZEN):
            r = sweep.get((net, lr))
            cells.append("-" if r is None else
                         f"{report.percent_text(r['mean_test_accuracy'], r['interval'])}, "
                         f"{r['stuck']}/{r['runs']}")
        for a, b in ((BROKEN, ORIGINAL), (FROZEN, ORIGINAL), (BROKEN, FROZEN)):
            r = rows.get((a, b, lr))
            cells.append("-" if r is None else
                         f"{report.points_text(r['mean_difference'], r['interval'])}, "
                         f"**{r['verdict']}**" + (", as good" if r["equivalent"] else ""))
        body.append(cells)
    return report.render(header, body, True)


def tuning_answer(found):
    facts = found["findings"]
    seeds = next(iter(found["tuning"].values()))["seeds"]
    chosen = "; ".join(f"the {NETS[net].short} net {lr:g} (best in "
                       f"{100 * facts['wins'][net]:.0f}% of resamples)"
                       for net, lr in facts["chosen"].items())
    return (f"Each net's rate is the grid's rate with the best mean validation accuracy over "
            f"every seed of every digit pair (seeds {seeds[0]} to {seeds[1] - 1}, drawn by no "
            f"other study; a fifth of each training split held out for validation, the test "
            f"images never looked at; ties to the smaller rate). Chosen: {chosen}. Under each "
            f"rate, how often it is best when the tuning's seeds are resampled within each "
            f"pair: the choice's stability.")


def tuned_answer(found):
    """The tuned evaluation's answer, pooled over its blocks."""
    facts = found["findings"]
    rows = facts["tuned"]
    broken, frozen, between = (rows["broken - original"], rows["frozen - original"],
                               rows["broken - frozen"])
    blocks = facts["tuned_blocks"]["broken - original"]
    learned = ("" if broken["learned_mean_difference"] is None else
               f" Where both learned, the difference is {points_said(broken, 'learned_')}, "
               f"{word_of(broken, 'learned_')}.")
    rates = ", ".join(f"{NETS[n].short} {lr:g}" for n, lr in facts["chosen"].items())
    return (f"Each net at its own tuned rate ({rates}), "
            f"on the held-out test images of fresh seeds, {count(len(blocks), 'block')} on "
            f"distinct simulated CPUs pooled ({count(broken['seeds'], 'paired seed')}): the "
            f"broken net is {word_of(broken)}, a mean of {points_said(broken)}; it did not "
            f"learn in {broken['failed'][0]} of its {broken['seeds']} runs, the original in "
            f"{broken['failed'][1]} (exact McNemar p {report.p_text(broken['mcnemar_p'])})."
            + learned + f" Each block alone: {', '.join(blocks)}. The frozen-conv control, "
            f"whose conv layers never learn, is {word_of(frozen)} against the original "
            f"({points_said(frozen)}); the broken net against it: {word_of(between)} "
            f"({points_said(between)}).")


def tuned_blocks_table(found):
    tuned = [b for b in found["blocks"] if b["part"] == "tuned"]
    pooled = pooled_rows(found["pooled"]["tuned"]["comparisons"])
    header = ["a - b"] + [f"seeds {Seeds.of(b['study']['settings']).span()}, {b['setting']}"
                          for b in tuned] + [f"pooled ({pooled[0]['seeds']} seeds)"]
    body = []
    for row in pooled:
        cells = [next(r for r in pooled_rows(b["comparisons"], row["nets"])) for b in tuned]
        body.append([report.nets_text(row)] + [
            f"{report.points_text(r['mean_difference'], r['interval'])}, **{r['verdict']}**"
            + (", as good" if r["equivalent"] else "") for r in cells + [row]])
    return report.render(header, body, True)


def sizes_answer(found):
    """Whether the size or the direction of the broken gradients places the broken net's
    curve's peak, from the numbers: the conv gradients' norm ratio and cosine at the
    broken net's tuned rate, against how much smaller that rate is than the original's."""
    facts = found["findings"]
    chosen = facts["chosen"]
    at = facts["sizes"].get(f"{chosen[BROKEN]:g}")
    if not at or "W1_norm_ratio" not in at:
        return "The curve's alignment measure has no runs that learned at the broken net's rate."
    ratio = math.sqrt(at["W1_norm_ratio"] * at.get("W2_norm_ratio", 1))  # geometric mean
    smaller = chosen[ORIGINAL] / chosen[BROKEN]
    stuck = {(r["net"], r["lr"]): r for r in found["curve"]["sweep"]}
    fails = [stuck.get((BROKEN, chosen[n])) for n in (BROKEN, ORIGINAL)]
    said = (f"At its tuned rate, {chosen[BROKEN]:g}, the broken net's conv gradients are "
            f"{at['W1_norm_ratio']:.2g} (W1) and {at.get('W2_norm_ratio', 1):.2g} (W2) times as "
            f"long as the true ones (the median ratio of their norms), and their cosine with "
            f"them is {at['W1_cosine']:.2f} (W1) and {at.get('W2_cosine', 1):.2f} (W2). The "
            f"original's tuned rate is {smaller:.2g} times the broken net's. ")
    if 0.8 <= ratio <= 1.25:
        said += (f"The broken steps are about as long as the true ones (a ratio of "
                 f"{ratio:.2g}, the two layers' geometric mean), so their size cannot move the "
                 f"peak; their direction is what differs")
        if smaller > 1 and all(fails):
            said += (f": taken at the original's rate, steps that far off the true gradient "
                     f"leave {fails[1]['stuck']} of the broken net's {fails[1]['runs']} runs "
                     f"unable to learn, against {fails[0]['stuck']} at its own")
        return said + "."
    if abs(math.log(smaller / ratio)) < math.log(2):
        return said + (f"Its conv steps are {ratio:.2g} times the true ones' (the two layers' "
                       f"geometric mean), about as much as its rate is smaller: the size of "
                       f"its steps is enough to place its peak.")
    return said + (f"Its conv steps are {ratio:.2g} times the true ones' (the two layers' "
                   f"geometric mean), which does not match how much smaller its rate is: the "
                   f"size alone does not place its peak, and the direction matters as well.")


def sizes_table(found):
    sizes = found["findings"]["sizes"]
    header = ["lr", "W1 cosine", "W2 cosine", "W1 norm ratio", "W2 norm ratio"]
    body = [[lr] + [f"{row[k]:.2f}" if k in row else "-" for k in
                    ("W1_cosine", "W2_cosine", "W1_norm_ratio", "W2_norm_ratio")]
            for lr, row in sorted(sizes.items(), key=lambda item: float(item[0]))]
    return report.render(header, body, True)


def claims_answer(found):
    facts = found["findings"]
    pooled = found["pooled"]["article"]["claims"]
    agree = [c["label"] for c in facts["claims"] if c["blocks"] == c["of"]]
    return (f"Pooled over the {facts['claims'][0]['of']} blocks ({facts['claim_seeds']} seeds) "
            f"at lr {facts['shared']}, of the article's {len(pooled)} claims, "
            f"{report.tally_text(pooled, marks=False)}. {len(agree)} of the {len(pooled)} words "
            f"come out in every block: " + "; ".join(agree) + ".")


def blocks_table(found):
    article = [b for b in found["blocks"] if b["part"] == "article"]
    pooled = found["pooled"]["article"]["claims"]
    header = (["claim"] + [f"seeds {Seeds.of(b['study']['settings']).span()}, {b['setting']}"
                           for b in article]
              + ["agree", f"pooled ({pooled[0]['seeds']} seeds)"])
    body = []
    for c in pooled:
        cells = [block_claim(b, c["label"]) for b in article]
        body.append([c["label"]] + [
            f"{x['held']}/{x['seeds']}, {report.p_text(x['p_adjusted'])}, "
            f"**{verdicts.shown_word(x)}**" for x in cells]
            + [f"{sum(x['verdict'] == c['verdict'] for x in cells)} of {len(cells)}",
               f"{c['held']}/{c['seeds']}, {report.p_text(c['p_adjusted'])}, **{c['verdict']}**"])
    return report.render(header, body, True)


def blocks_differ(article):
    differ = verdicts.differing([{c["label"]: c for c in b["claims"]} for b in article])
    if not differ:
        return "Every claim has the same word in every block."
    return ("Words that differ between the blocks: " + "; ".join(differ) + ". A word near the "
            f"{report.LEVEL} line comes out significant again only about half the time "
            "(Goodman 1992): the pooled word is the one to trust, and the borderline mark says "
            "which words a single 30-seed study should not.")


def rates_answer(found):
    facts = found["findings"]
    rates = list(facts["claims_by_rate"])
    same = facts["same_at_every_rate"]
    seeds = found["pooled"]["by_rate"][rates[0]][0]["seeds"]
    chosen = facts["chosen"]
    return (f"The article gives no learning rate. Its study again at {len(rates)} rates "
            f"({', '.join(rates)}: {facts['shared']}; {chosen[ORIGINAL]:g}, the original's "
            f"tuned rate; {chosen[BROKEN]:g}, the broken net's; where two coincide, the "
            f"grid's nearest other rate to {facts['shared']}), over the same {count(seeds, 'seed')}: "
            f"{count(len(same), 'claim')} of {len(facts['claims'])} keep their word at every "
            f"rate" + (f" ({'; '.join(same)})" if same else "") + ".")


# ---------------------------------------------------------------- the figures

def figures(found, paths, parts):
    """The report's figures by file name, each a function that draws it into a file:
    the curve (accuracy against the rate, each net's tuned rate marked) and the tuned
    evaluation's runs (REPORT.png is compare.py's, of the article's first block)."""
    from study import figures as draw
    chosen = found["findings"]["chosen"]
    tuned = [paths[name] for name, part in parts.items() if part == "tuned"]

    def evaluation(file):
        study, results, settings = saved_reports.pool(tuned, lambda line: None)
        draw.plot(results, tables.group_of(settings), False, file, "png")
    return {"REPORT-curve.png": lambda file: draw.sweep_plot(
                found["curve"]["sweep"], file, "png", chosen,
                f"all {len(PAIRS)} digit pairs, test images"),
            "REPORT-extended.png": evaluation}


# ---------------------------------------------------------------- README.md's findings

def with_findings(readme, found):
    """README.md's text with its findings (between BEGIN and END) written anew."""
    if BEGIN not in readme or END not in readme:
        return readme
    head, rest = readme.split(BEGIN, 1)
    return head + BEGIN + "\n" + findings_text(found["findings"]) + END + rest.split(END, 1)[1]


def findings_text(facts):
    """README.md's findings, every number from REPORT.json's findings, every term said
    where it first appears."""
    broken = facts["tuned"]["broken - original"]
    shared = facts["curve"][facts["shared"]]
    by_word = {}
    for lr, row in facts["curve"].items():
        by_word.setdefault(tuned_word(row), []).append(lr)
    curve = "; ".join(f"**{word}** at {', '.join(rates)}" for word, rates in by_word.items())
    chosen = facts["chosen"]
    frozen = facts["tuned"]["frozen - original"]
    blocks = facts["tuned_blocks"]["broken - original"]
    lines = [
        f"**Does the broken net train as well? {headline(broken, by_word)}** Judged on "
        "held-out test accuracy over four digit pairs (0/1, 3/8, 4/9, 1/7; a fifth of each "
        "pair's images held out), beside a control whose conv layers never learn; a run "
        "that does not learn (its training accuracy no better than always answering the "
        "majority digit) counts as it ended. The broken net against the original:",
        "",
        f"- *At one rate shared by both*, across {len(facts['curve'])} rates (each judged as "
        f"a study of its own, {shared['seeds'] // len(PAIRS)} seeds a pair): {curve}. 'As "
        f"good' means within 2 points (an equivalence test, TOST). At {facts['shared']}, "
        f"the rate the nets run at by default, it is {said(shared)}: it did not learn in "
        f"{shared['failed'][0]} of its {shared['seeds']} runs, the original in "
        f"{shared['failed'][1]}.",
        f"- *Each tuned on its own* (its rate chosen on validation images, never the test "
        f"ones: the original {chosen[ORIGINAL]:g}, the broken net {chosen[BROKEN]:g}), over "
        f"{broken['seeds']} fresh seeds: it is {said(broken)}, "
        f"{report.equivalence_said(broken)} within 2 points; it did not learn in "
        f"{broken['failed'][0]} runs, the original in {broken['failed'][1]}. Drawn again in "
        f"{len(blocks)} blocks, each on this machine made to round as another CPU would: "
        f"{', '.join(blocks)}. The control is {said(frozen)} against the original.",
        "",
        f"The article's own claims, each over {facts['claim_seeds']} seeds at lr "
        f"{facts['shared']}. Result 1, 2 and 3 are its three runs, with dense heads of 18 and "
        f"20, 48 and 56, and 28 and 36 units. A claim holds or fails where an exact test, "
        f"Holm-corrected over the claims, is significant for or against it, else it is "
        f"unclear; 'blocks': how many of {facts['claims'][0]['of']} blocks of "
        f"{facts['claim_seeds'] // facts['claims'][0]['of']} fresh seeds, each on another "
        f"simulated CPU, give that word alone.",
        "",
        "| the article says | word | blocks | what the seeds show |",
        "|---|---|---|---|"]
    for c in facts["claims"]:
        shown = (f"the broken net's cost {report.rounded(c['median_ratio'], 2)} times the "
                 f"original's "
                 f"(median; 95% {ratio_text(c['ratio_interval'])})"
                 if c["median_ratio"] is not None else f"held in {c['held']} of {c['seeds']}")
        word = f"**{c['verdict']}**" if c["verdict"] in ("holds", "fails") else c["verdict"]
        lines.append(f"| {c['section']}: \"{c['quote']}\" | {word} | {c['blocks']} of "
                     f"{c['of']} | {shown} |")
    same = facts["same_at_every_rate"]
    rates = list(facts["claims_by_rate"])
    lines += ["", f"At {len(rates)} learning rates ({', '.join(rates)}; "
                  f"{facts['rate_seeds']} seeds each), {len(same)} of the "
                  f"{len(facts['claims'])} claims keep their word."]
    return "\n".join(lines) + "\n"


def headline(tuned, by_word):
    """The answer in a sentence, from the tuned evaluation's word, its size against the
    margin, and the curve's words (by_word: {word: rates})."""
    word = tuned_word(tuned)
    small = abs(tuned["mean_difference"]) < verdicts.MARGIN
    start = {"worse": "Nearly, but not quite," if small else "No,", "better": "Better,",
             "as good": "Yes,"}.get(word, "Not shown either way")
    mixed = set(by_word) - {word}
    return (f"{start} when each net is tuned on its own" + (
        "; at one shared learning rate, which the article never gives, it depends on the "
        "rate." if mixed else ", and at every rate of the curve."))


def tuned_word(row):
    """The tuned evaluation's answer: as good, worse, better, or neither."""
    return "as good" if row.get("equivalence") == "as good" else (
        row["verdict"] if row["verdict"] in ("worse", "better") else "not told apart")


def said(row):
    """A pooled row's word with its size: '**worse** by 12.6 points (95% 9.5 to 16)'."""
    word = {"no difference shown": "not shown to differ"}.get(row["verdict"], row["verdict"])
    if row["verdict"] in ("worse", "better"):
        return f"**{word}** by {difference_text(row)}"
    sign = "+" if row["mean_difference"] >= 0 else "-"
    return f"**{word}** ({sign}{difference_text(row).replace(' (', ', ').rstrip(')')})"


def difference_text(row):
    """'12.6 points (95% 9.5 to 16)': a pooled row's mean difference and its interval,
    the sign left to the word before it (worse by, better by)."""
    low, high = row["interval"] or [None, None]
    mean = 100 * row["mean_difference"]
    if low is not None and mean < 0:
        low, high = -high, -low
    ends = None if low is None else f"{100 * low:.2g} to {100 * high:.2g}"
    return f"{abs(mean):.1f} points" + (f" (95% {ends})" if ends else "")


def ratio_text(interval):
    low, high = interval or [None, None]
    return "too few seeds" if low is None or high is None else report.interval_text(low, high, 2)
