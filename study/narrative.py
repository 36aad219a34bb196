"""REPORT.md and README.md's findings, in words, from REPORT.json (study/reproduction.py):
docs/REPORT_TEMPLATE.md filled (markdown) and the findings between README.md's markers
(with_findings). Every number here is one of REPORT.json's; a part of the report not
shipped yet is said so where its section would be.

One convention for every difference: a - b, in points of held-out accuracy, signed, with
its 95% interval low to high; one phrase for its word (phrase).
"""
import os
import re
import string

from study import report, verdicts
from study.cli import count
from study.records import Seeds
from study.tables import pooled_rows
from study.registry import BROKEN, FROZEN, MATCHED, NETS, ORIGINAL, PAIRS, SCALED

TEMPLATE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "docs",
                        "REPORT_TEMPLATE.md")
BEGIN = "<!-- findings: written by make_report.py from REPORT.json; do not edit by hand -->"
END = "<!-- end of the findings -->"
MARGIN = f"{100 * verdicts.MARGIN:g}"
WORDS = {"no difference shown": "not told apart"}  # a comparison's word as prose says it


def not_run(part):
    return (f"*Not run yet: `python3 make_report.py --part {part}` trains it (about an hour "
            f"or less on 2 cores), then REPORT.md says what it found.*")


# ---------------------------------------------------------------- one convention

def points(row, prefix=""):
    """'-1.6 points (95% -2.8 to -0.46)': a difference a - b and its interval."""
    mean = row[prefix + "mean_difference"]
    if mean is None:
        return "no runs"
    low, high = row[prefix + "interval"] or [None, None]
    ends = ("" if low is None else
            f" ({report.CI} {report.rounded(100 * low, 2)} to {report.rounded(100 * high, 2)})")
    return f"{100 * mean:+.1f} points{ends}"


def phrase(row, prefix=""):
    """A pooled comparison's word in one phrase, as REPORT.json holds it (verdicts.phrase)."""
    return row.get(prefix + "said") or verdicts.phrase(row[prefix + "verdict"],
                                                       row.get(prefix + "equivalence"))


def said(row, prefix=""):
    """'**worse**: -1.6 points (95% -2.8 to -0.46)'."""
    return f"**{phrase(row, prefix)}**: {points(row, prefix)}"


def rates_text(rates):
    return ", ".join(f"{lr:g}" for lr in rates)


# ---------------------------------------------------------------- REPORT.md

def markdown(found):
    """REPORT.md: docs/REPORT_TEMPLATE.md filled from REPORT.json."""
    made, facts = found["made"], found["findings"]
    values = dict(
        date=made["date"], minutes=count(round(made["minutes"]), "minute"), cores=made["cores"],
        runs=f"{found['runs_count']:,}", runs_file=found["runs_file"],
        claims_count=len(verdicts.CLAIMS), pairs_count=len(PAIRS),
        grid=rates_text(made["grid"]), shared=facts["shared"], margin=MARGIN,
        tost=report.TOST, ci=report.CI, min_word=verdicts.MIN_SEEDS_WORD,
        min_as_good=verdicts.MIN_SEEDS_AS_GOOD, stuck_level=report.STUCK,
        mark=verdicts.BORDERLINE, missing=missing_text(made),
        environment=environment_text(found), cpus_table=cpus_table(found),
        cpus_note=cpus_note(made))
    for part in (curve_values, tuned_values, budget_values, settings_values, why_values,
                 claims_values):
        values.update(part(found))
    values.update(figures(found))
    with open(TEMPLATE) as file:
        text = string.Template(file.read()).substitute(values)
    return re.sub(r"\n{3,}", "\n\n", text)  # a section not run leaves no gap


def figures(found):
    """The figures' lines, where their part is shipped."""
    def shown(key, present, alt, file, caption=""):
        return {key: f"![{alt}]({file})" + (f"\n\n{caption}" if caption else "")
                if present else ""}
    return {**shown("curve_figure", "curve" in found, "Mean held-out accuracy against the "
                    "learning rate, each net and intervention", "REPORT-curve.png"),
            **shown("budget_figure", "budget" in found, "Held-out accuracy against epochs, "
                    "each net at its tuned rate, and the difference", "REPORT-budget.png"),
            **shown("extended_figure", "tuned" in found["pooled"], "Test accuracy per seed "
                    "and cost curves of the tuned evaluation", "REPORT-extended.png"),
            **shown("block_figure", "article" in found["pooled"], "Cost curves and gradient "
                    "alignment of the article's study", "REPORT.png",
                    "The article's study, first block: per experiment, each net's median "
                    "epoch cost (the sum of its per-image costs over an epoch) and "
                    "interquartile band over the runs that learned (the legend counts the "
                    "stuck ones), and the median cosine between the broken and the true "
                    "gradient, W1 solid and W2 dashed.")}


def missing_text(made):
    parts = [p for p in made.get("all_parts", []) if p not in made["parts_shipped"]]
    return "" if not parts else (f" Parts not run yet: {', '.join(parts)}; their sections "
                                 "say so.")


def environment_text(found):
    first = found["blocks"][0]["study"]["environment"]
    return "Every block: " + report.environment_text(dict(first, setting=""))


def cpus_table(found):
    """A row per study: its seeds, what it is, its simulated CPU, the variables, the
    fingerprint and the kernel OpenBLAS reported."""
    body = []
    for b in found["blocks"]:
        setting = next((s for s in found["made"]["settings"] if s["name"] == b["setting"]),
                       dict(env={}, fingerprint="-"))
        variables = " ".join(f"{k}={v}" for k, v in setting["env"].items())
        body.append([b["name"], Seeds.of(b["study"]["settings"]).span(), b["setting"],
                     f"`{variables}`" if variables else "none", setting["fingerprint"],
                     b["study"]["environment"]["blas"].rsplit("kernel ", 1)[-1],
                     f"{b['study']['wall_seconds'] / 60:.0f}"])
    return report.render(["study", "seeds", "simulated CPU", "variables", "fingerprint",
                          "OpenBLAS kernel", "minutes"], body, True)


def cpus_note(made):
    settings = made["settings"]
    if made.get("scheduler"):
        return (f"The studies ran on the Dask cluster at {made['scheduler']}, whose workers "
                f"compute as their own CPUs do: the simulated CPUs apply to local runs only.")
    if len(settings) >= 4:
        return (f"The {count(len(settings), 'setting')} end at {len(settings)} different "
                f"fingerprints: each block is another draw of the rounding, as well as of the "
                f"seeds.")
    return (f"Only {count(len(settings), 'setting')} computed other bits here, so some blocks "
            f"share one: they differ in their seeds alone.")


# ---------------------------------------------------------------- the curve

def curve_values(found):
    if "curve" not in found:
        return dict(curve_answer=not_run("curve"), curve_table="")
    return dict(curve_answer=curve_answer(found), curve_table=curve_table(found))


def curve_words(found):
    """{phrase: [rates]}: the broken net against the original at each rate of the curve."""
    by_word = {}
    for row in sorted(pooled_rows(found["curve"]["comparisons"], (BROKEN, ORIGINAL)),
                      key=lambda r: r["lr"]):
        by_word.setdefault(phrase(row), []).append(f"{row['lr']:g}")
    return by_word


def curve_answer(found):
    facts = found["findings"]
    shared = facts["curve"][facts["shared"]]
    words = "; ".join(f"{word} at {', '.join(rates)}" for word, rates in
                      curve_words(found).items())
    return (f"Over {count(shared['seeds'], 'seed')} at each rate, each with its "
            f"{len(PAIRS)} digit pairs (the same seeds, splits and initial weights at every "
            f"rate; pointwise: each rate's words as a study of that rate alone would give "
            f"them), the broken net against the original is {words}. At {facts['shared']}, "
            f"the rate the article's study runs at here, it is {said(shared)}; it did not "
            f"learn in {shared['failed'][0]} of its {shared['runs']} runs, the original in "
            f"{shared['failed'][1]}.")


def curve_table(found):
    """Per rate: each net's mean test accuracy, and the pooled comparisons."""
    sweep = {(r["net"], r["lr"]): r for r in found["curve"]["sweep"]}
    rows = {tuple(r["nets"]) + (r["lr"],): r for r in pooled_rows(found["curve"]["comparisons"])}
    nets = (ORIGINAL, BROKEN, FROZEN)
    compared = ((BROKEN, ORIGINAL), (FROZEN, ORIGINAL), (BROKEN, FROZEN))
    header = (["lr"] + [f"{NETS[n].short}: accuracy % ({report.CI}), stuck" for n in nets]
              + [f"{NETS[a].short} - {NETS[b].short}, points" for a, b in compared])
    body = []
    for lr in found["made"]["grid"]:
        cells = [f"{lr:g}"]
        for net in nets:
            r = sweep.get((net, lr))
            cells.append("-" if r is None else
                         f"{report.percent_text(r['mean_test_accuracy'], r['interval'])}, "
                         f"{r['stuck']}/{r['runs']}")
        for a, b in compared:
            r = rows.get((a, b, lr))
            cells.append("-" if r is None else f"{points(r)}, **{phrase(r)}**")
        body.append(cells)
    return report.render(header, body, True)


# ---------------------------------------------------------------- tuned

def tuned_values(found):
    if "tuning" not in found:
        return dict(tuning_answer=not_run("tuned"), tuning_table="", tuned_answer="",
                    tuned_blocks_table="", tuned_pooled="", tuned_pairs="", tuned_accuracy="")
    values = dict(tuning_answer=tuning_answer(found),
                  tuning_table=report.tuning_section(found["tuning"], True)[1])
    if "tuned" not in found["pooled"]:
        return dict(values, tuned_answer=not_run("tuned"), tuned_blocks_table="",
                    tuned_pooled="", tuned_pairs="", tuned_accuracy="")
    tuned = report.sections(found["pooled"]["tuned"]["study"],
                            dict(found["pooled"]["tuned"], alignment=[], runs=[]), "markdown")
    return dict(values, tuned_answer=tuned_answer(found),
                tuned_blocks_table=tuned_blocks_table(found),
                tuned_pooled=demoted(tuned["pooled"]), tuned_pairs=demoted(tuned["pairs"], "##"),
                tuned_accuracy=demoted(tuned["accuracy"].replace(
                    "## Accuracy", "## Accuracy at the tuned rates", 1), "##"))


def tuning_answer(found):
    facts = found["findings"]
    seeds = next(iter(found["tuning"].values()))["seeds"]
    chosen = "; ".join(f"the {NETS[net].short} net {lr:g} (best in "
                       f"{100 * facts['wins'][net]:.0f}% of resamples)"
                       for net, lr in facts["chosen"].items())
    return (f"Each net's rate is the grid's rate with the best mean validation accuracy over "
            f"every seed of every digit pair (seeds {seeds[0]} to {seeds[1] - 1}, drawn by no "
            f"other evaluation; a fifth of each training split held out for validation, the "
            f"test images never looked at; ties to the smaller rate). Chosen: {chosen}. Beside "
            f"each rate, how often it is best when whole seeds of the tuning are resampled: "
            f"the choice's stability.")


def tuned_answer(found):
    facts = found["findings"]
    rows = facts["tuned"]
    broken, frozen = rows["broken - original"], rows["frozen - original"]
    between = rows["broken - frozen"]
    blocks = facts["tuned_blocks"]["broken - original"]
    learned = ("" if broken["learned_mean_difference"] is None else
               f" Over the runs where both learned it is {said(broken, 'learned_')}.")
    rates = ", ".join(f"{NETS[n].short} {lr:g}" for n, lr in facts["chosen"].items())
    return (f"Each net at its own tuned rate ({rates}), on the held-out test images of "
            f"{count(len(blocks), 'block')} of fresh seeds, each on another simulated CPU, "
            f"pooled ({count(broken['seeds'], 'seed')}, {broken['runs']} runs a net): the "
            f"broken net is {said(broken)}; it did not learn in {broken['failed'][0]} of its "
            f"runs, the original in {broken['failed'][1]} (seeds with more failures of one "
            f"net than the other: {broken['discordant'][0]} and {broken['discordant'][1]}, "
            f"exact test p {report.p_text(broken['mcnemar_p'])})." + learned
            + f" Each block alone: {', '.join(WORDS.get(b, b) for b in blocks)}. The "
            f"frozen-conv control, whose conv "
            f"layers never learn, against the original: {said(frozen)}; the broken net against "
            f"the control: {said(between)}.")


def tuned_blocks_table(found):
    tuned = [b for b in found["blocks"] if b["kind"] == "tuned"]
    pooled = pooled_rows(found["pooled"]["tuned"]["comparisons"])
    header = ["a - b"] + [f"seeds {Seeds.of(b['study']['settings']).span()}, {b['setting']}"
                          for b in tuned] + [f"pooled ({pooled[0]['seeds']} seeds)"]
    body = []
    for row in pooled:
        cells = [next(r for r in pooled_rows(b["comparisons"], row["nets"])) for b in tuned]
        body.append([report.nets_text(row)] + [f"{points(r)}, **{phrase(r)}**"
                                               for r in cells + [row]])
    return report.render(header, body, True)


def demoted(section, level="####"):
    """A report section's markdown heading (##) set at another level."""
    return section.replace("## ", level + " ", 1) if section.startswith("## ") else section


# ---------------------------------------------------------------- the budget

def budget_values(found):
    if "budget" not in found:
        return dict(budget_answer=not_run("budget"), budget_table="")
    return dict(budget_answer=budget_answer(found), budget_table=budget_table(found))


def slower_or_lower(facts):
    """The budget's answer from the tuned pairing's difference at epoch 500 and at the last
    epoch, and the paired change of that difference between them over the same seeds
    (gap_change: 'better' is the gap closing): 'slower' (worse at 500, the gap closed, no
    longer worse), 'partly slower' (closed in part, still worse), 'lower' (still worse,
    no closing shown), 'not settled' (no closing shown, yet not told apart at the end),
    'neither' (not worse at 500 or at the end)."""
    at, last, change = facts["at_500"], facts["at_last"], facts.get("gap_change")
    if at is None or last is None or change is None:
        return None
    if at["verdict"] != "worse":
        return "neither" if last["verdict"] != "worse" else "lower"
    if change["verdict"] == "better":
        return "partly slower" if last["verdict"] == "worse" else "slower"
    return "lower" if last["verdict"] == "worse" else "not settled"


def budget_answer(found):
    budget, facts = found["budget"], found["findings"]["budget"]
    at, last = facts["at_500"], facts["at_last"]
    early = facts["early_stopping"]
    chosen = "; ".join(f"the {NETS[n].short} net lr {c['lr']:g} to epoch {c['epoch']}"
                       for n, c in early["chosen"].items())
    answer = slower_or_lower(facts)
    verdict = {"slower": "**Slower**: with more epochs the gap closes",
               "lower": "**Lower**: more epochs are not shown to close the gap, still there "
                        "at the end",
               "partly slower": "**Partly slower**: more epochs close part of the gap",
               "not settled": "**Not settled**: the gap is not shown to close, nor is the "
                              "broken net shown worse at the end",
               "neither": "**Neither**: the broken net is not worse at either epoch"}.get(
        answer, "")
    blocks = facts.get("blocks", [])
    text = (f"Every net at each rate the tunings chose ({rates_text(budget['rates'])}) for "
            f"{budget['epochs']:,} epochs, on fresh seeds "
            f"{' and '.join(f'{a} to {b - 1}' for a, b in budget['seeds'])}"
            + (f" ({len(blocks)} blocks, each under its own simulated CPU)" if len(blocks) > 1
               else "") + ", held-out test accuracy counted every 25 epochs. "
            f"Each at its own tuned rate, the broken net against the original: at epoch "
            f"{facts['article_epoch']}, the article's budget, {said(at)}; at epoch "
            f"{facts['last']:,}, {said(last)}. Paired on the same seeds, the difference "
            f"changed between them by {points(facts['gap_change'])}, where above 0 is the gap "
            f"closing. {verdict}{replication(facts)}")
    shared = shared_rates(budget, facts)
    if shared:
        text += f" Both at one rate, at epoch {facts['article_epoch']} and at the last: {shared}."
    if early["comparison"]:
        c = early["comparison"]
        text += (f" Tuned over the rate and the number of epochs together, on validation "
                 f"images (the test images untouched; {chosen}), the broken net is {said(c)}")
        if c["failed"][0] != c["failed"][1]:
            text += (f"; on these seeds the broken net did not learn in {c['failed'][0]} of its "
                     f"{c['runs']} runs, the original in {c['failed'][1]}, and over the runs "
                     f"where both learned it is {said(c, 'learned_')}")
        text += "."
    return text


def block_words(facts):
    """slower_or_lower of each block of the budget alone."""
    return [slower_or_lower(dict(b, article_epoch=facts["article_epoch"])) for b in
            facts.get("blocks", [])]


def replication(facts):
    """' (one block ...)' or '. Block by block: ...': whether the word comes back."""
    blocks, words = facts.get("blocks", []), block_words(facts)
    if len(blocks) < 2:
        return f" (one block of {facts['at_500']['seeds']} seeds, not yet drawn again)."
    each = "; ".join(f"seeds {b['seeds'][0]} to {b['seeds'][1] - 1} ({b['cpu']}), **{w}**: "
                     f"{points(b['at_500'])} at {facts['article_epoch']}, "
                     f"{points(b['at_last'])} at {facts['last']:,}, the change "
                     f"{points(b['gap_change'])}" for b, w in zip(blocks, words))
    agree = (f"the word comes back in each of the {len(blocks)} blocks"
             if len(set(words)) == 1 and words[0] == slower_or_lower(facts) else
             "the blocks do not all give the pooled word, which is therefore not a replicated "
             "one")
    return f". Block by block: {each}: {agree}."


def shared_rates(budget, facts):
    """'at 0.0003, **worse**: -1.8 points (...), then **...**: ...; ...': the
    broken net against the original at each rate of the budget, at epoch 500 and the last."""
    found = {(c["pairing"], c["epoch"]): c for c in budget["comparisons"]}
    out = []
    for lr in budget["rates"]:
        ends = [found.get((f"lr {lr:g}", e)) for e in (facts["article_epoch"], facts["last"])]
        if all(ends):
            out.append(f"at {lr:g}, {said(ends[0])}, then {said(ends[1])}")
    return "; ".join(out)


def budget_table(found):
    """Per checkpoint: each net's mean accuracy at its tuned rate, and the difference."""
    budget = found["budget"]
    tuned = budget["tuned"]
    rows = {(r["net"], r["lr"], r["epoch"]): r for r in budget["rows"]}
    diffs = {c["epoch"]: c for c in budget["comparisons"] if c["pairing"] == "tuned"}
    nets = [n for n in (ORIGINAL, BROKEN, FROZEN) if (n, tuned.get(n), 1) in rows]
    header = ["epoch"] + [f"{NETS[n].short} at {tuned[n]:g}: accuracy % ({report.CI}), stuck"
                          for n in nets] + ["broken - original, points"]
    body = []
    for epoch in sorted(diffs):
        if epoch % 250 and epoch not in (1, 10, 50, 100):
            continue
        cells = [str(epoch)]
        for n in nets:
            r = rows[n, tuned[n], epoch]
            cells.append(f"{report.percent_text(r['mean_test_accuracy'], r['interval'])}, "
                         f"{r['stuck']}/{r['runs']}")
        cells.append(f"{points(diffs[epoch])}, **{phrase(diffs[epoch])}**")
        body.append(cells)
    return report.render(header, body, True)


# ---------------------------------------------------------------- the settings

def settings_values(found):
    if "settings_study" not in found:
        return dict(settings_answer=not_run("settings"), settings_table="")
    return dict(settings_answer=settings_answer(found), settings_table=settings_table(found))


TUNED_ANSWER = "the tuned answer"  # a settings row's conclusion (reproduction.CONCLUSIONS)


def conclusion(row, name=TUNED_ANSWER):
    """A settings row's comparison behind one of the report's conclusions, or None."""
    return next((c for c in row["comparisons"] if c["conclusion"] == name), None)


def settings_table(found):
    rows = found["settings_study"]
    names = list(dict.fromkeys(c["conclusion"] for row in rows for c in row["comparisons"]))
    header = ["momentum", "initial weights", "tuned rates (original, broken, frozen)"] + names
    body = []
    for row in rows:
        words = [conclusion(row, name) for name in names]
        body.append([f"{row['momentum']:g}", row["init"],
                     ", ".join(f"{row['tuning'][n]:g}" for n in (ORIGINAL, BROKEN, FROZEN))]
                    + [f"{points(c)}, **{phrase(c)}**" if c else "-" for c in words])
    return report.render(header, body, True)


def without_momentum(found):
    """(row, its tuned answer) of each setting without momentum; [] until each has one."""
    answers = [(r, conclusion(r)) for r in found.get("settings_study", []) if r["momentum"] == 0]
    return answers if all(a for _, a in answers) else []


def fates(rows):
    """Per conclusion of the first row (the report's own setting), its fate in each other
    setting: 'kept' (the same word), 'reversed' (the opposite word), 'no word' (not told
    apart, too few seeds), in the rows' order."""
    opposite = {"worse": "better", "better": "worse"}
    out = {}
    for first in rows[0]["comparisons"]:
        name, word = first["conclusion"], first["verdict"]
        out[name] = []
        for row in rows[1:]:
            there = (conclusion(row, name) or {}).get("verdict")
            out[name].append("kept" if there == word else
                             "reversed" if there == opposite.get(word) else "no word")
    return out


def settings_answer(found):
    rows = found["settings_study"]
    momenta = ", ".join(sorted({f"{r['momentum']:g}" for r in rows}))
    counted = []
    for name, seen in fates(rows).items():
        parts = [f"{seen.count(f)} {f}" for f in ("kept", "no word", "reversed") if seen.count(f)]
        counted.append(f"{name}: {', '.join(parts) or 'no other setting'}")
    seeds = [(conclusion(r) or {}).get("seeds") for r in rows]
    text = (f"Each combination of momentum ({momenta}) and initial weights (standard normal, "
            f"the article's; and LeCun's, each weight divided by the root of its fan-in) with "
            f"every net tuned again on validation images over a grid of its own (ten times "
            f"the rates without momentum, whose steps are ten times shorter), then evaluated "
            f"on fresh seeds. The first row is the report's own setting (its tuned answer over "
            f"{seeds[0]} seeds; each other setting's over {seeds[-1]}: too few for 'as good', and "
            f"'not told apart' there is no word, not a reversal). 'Worse at the original's best "
            f"rate' and 'better at the smallest rate' are judged on the tuning's validation "
            f"runs (10 seeds), the other two on the evaluation's test runs. Of the report's "
            f"conclusions, in the {count(len(rows) - 1, 'other setting')}: " + "; ".join(counted)
            + ".")
    still = without_momentum(found)
    if still:
        worse = sum(a["verdict"] == "worse" for _, a in still)
        reading = ("so its shortfall does not need momentum to add up the broken lines' error, "
                   "the guess in 'Why'" if worse == len(still) else
                   "so the shortfall is not shown where momentum is gone, as the guess in 'Why' "
                   "(momentum adding up the broken lines' error) would have it; with these "
                   "seeds, consistent with the guess, not a test of it" if worse == 0 else
                   "so whether the shortfall needs momentum depends on the initial weights")
        text += (" Without momentum the tuned broken net is, " + "; and ".join(
            f"with {r['init']} weights, {said(a)}" for r, a in still)
            + f": {reading}.")
    return text + (" The combination closest to the article's own is momentum 0 with "
                   "standard-normal weights: the author's published script starts its momentum "
                   "at 0.0009 (docs/METHODS.md) and draws its weights with randn. Today's "
                   "setting (momentum 0.9, standard normal) stays the report's main line, so "
                   "that its other sections compare with one another.")


# ---------------------------------------------------------------- why

def why_values(found):
    return dict(why_answer=why_answer(found), why_table=why_table(found),
                alignment_table=alignment_table(found))


def why_answer(found):
    """What the interventions show, from their numbers, a paragraph a question; without
    them, what the alignment alone can and cannot say."""
    if "curve" not in found:
        return not_run("curve")
    facts = found["findings"]
    starts = found["alignment_starts"]
    first = [alignment_sentence(found)] + ([starts_sentence(starts)] if starts else [])
    if "interventions" not in found:
        first.append("The interventions that would say whether the size of this error or its "
                     "structure holds the broken net back are not run yet: " + not_run(
                         "interventions"))
        return " ".join(first)
    inter = facts["interventions"]
    peak = inter["peak"]
    listed, settled = momentum_guess(found)
    paragraphs = [first, [
        f"Given the broken net's error at every step, a correct learner tells which part of it "
        f"matters (the same seeds, splits and initial weights as the curve's). Each net's peak "
        f"rate, where its mean accuracy is best: original {peak[ORIGINAL]}, broken "
        f"{peak[BROKEN]}, matched noise {peak[MATCHED]}, scaled true {peak[SCALED]}, green "
        f"alone {peak['broken green']}, red alone {peak['broken red']}.",
        intervention_sentence(inter, MATCHED, "The matched noise (the true conv step turned at "
                              "random to the broken one's cosine, at its length)"),
        noise_conclusion(inter)], [
        intervention_sentence(inter, SCALED, "The scaled true step (the true conv step times "
                              "that cosine: a slower correct learner)"),
        step_conclusion(found, inter)], [
        lines_sentence(inter),
        "What they do not settle: how the transposed gradients' structure steers training "
        f"(which directions they favour{listed}), and whether any of this holds on other "
        f"tasks and nets than these four digit pairs and the article's head.{settled}"]]
    return "\n\n".join(" ".join(p) for p in paragraphs)


def momentum_guess(found):
    """The guess that momentum adds up the broken lines' error, as 'What they do not settle'
    lists it, and a sentence of what the settings without momentum say of it ('' until
    the settings part is shipped): (listed, sentence)."""
    guess = ("whether momentum adds up an error that keeps its direction from step to step, "
             "where noise would cancel")
    still = without_momentum(found)
    if not still:
        return f"; and {guess}: a guess the settings without momentum bear on", ""
    if all(a["verdict"] == "worse" for _, a in still):
        return "", (" Momentum adding up an error that keeps its direction (where noise would "
                    "cancel) is not needed for the shortfall, though it may add to it: without "
                    "momentum the tuned broken net is still worse ('The settings').")
    return f"; and {guess}: without momentum the shortfall is not shown in every setting", ""


def reproduced(inter, net):
    """The rates at which a net's word against the broken net is better, worse, not told
    apart ("alike"), or none (too few seeds)."""
    out = {"alike": [], "better": [], "worse": [], "none": []}
    for lr, row in inter[net].items():
        word = row["broken"]["verdict"]
        out[word if word in ("better", "worse") else
            "alike" if word == "no difference shown" else "none"].append(lr)
    return out


def noise_conclusion(inter):
    """Whether the size of the direction error alone explains the broken net's curve."""
    found = reproduced(inter, MATCHED)
    if found["none"]:
        return "Too few seeds to say whether the matched noise reproduces the broken net."
    if not found["better"] and not found["worse"]:
        return ("So noise of the broken gradients' angle and length, without their structure, "
                "is not told apart from the broken net at any rate: the size of the direction "
                "error is enough to explain the broken net's curve, as far as these seeds can "
                "tell.")
    if found["better"] and found["worse"]:
        return (f"So the broken lines' error is not noise of its angle and length: the broken "
                f"net learns better than such noise at {', '.join(found['worse'])} and worse at "
                f"{', '.join(found['better'])}; the size of its direction error does not "
                f"explain its curve, the error's structure shapes it too.")
    if found["better"]:
        return (f"So noise of the same angle and length hurts less than the broken lines' "
                f"error (better at {', '.join(found['better'])}): the size of the direction "
                f"error does not explain the broken net's curve alone; the structure of the "
                f"broken lines' error matters, and costs more than its angle says.")
    return (f"So noise of the same angle and length hurts more than the broken lines' error "
            f"(worse at {', '.join(found['worse'])}): beside the size of its direction error, "
            f"the structure of the broken lines' error helps the broken net.")


def step_conclusion(found, inter):
    """Whether the broken net behaves as a slower learner (its peak at a larger rate than
    the original's, as the scaled true step's would be if the whole net were slowed) or a
    faster one (its peak at a smaller rate, better than the original below it, worse
    above): from the peaks and the curve's words."""
    peak = inter["peak"]
    original, broken, scaled = (float(peak[n]) for n in (ORIGINAL, BROKEN, SCALED))
    words = {}
    for row in pooled_rows(found["curve"]["comparisons"], (BROKEN, ORIGINAL)):
        words.setdefault(row["verdict"], []).append(row["lr"])
    better, worse = sorted(words.get("better", [])), sorted(words.get("worse", []))
    text = (f"Slowed by the cosine, the true conv step peaks at {scaled:g}"
            + (", where the original does" if scaled == original else
               f", the original at {original:g}")
            + " (the dense head steps at the full rate in every net, so a slower conv step "
              "need not move the peak much); ")
    if broken < original and better and worse and better[-1] < worse[0]:
        return text + (
            f"the broken net peaks at {broken:g}, {original / broken:.0f} times lower, and is "
            f"better than the original at {', '.join(f'{lr:g}' for lr in better)}, worse at "
            f"{', '.join(f'{lr:g}' for lr in worse)}: it behaves not as a slower learner but "
            f"as if its steps were larger, at about the true gradient's length"
            + tuned_agrees(found) + ".")
    if broken > original:
        return text + (f"the broken net peaks at {broken:g}, above the original: as a slower "
                       f"learner would.")
    return text + f"the broken net peaks at {broken:g}."


def tuned_agrees(found):
    """Whether the tuning on other seeds' validation images gave the broken net the smaller
    rate too: the same word drawn again."""
    chosen = found.get("findings", {}).get("chosen")
    if not chosen:
        return ""
    broken, original = chosen[BROKEN], chosen[ORIGINAL]
    return (f" (tuned on other seeds' validation images, it too gets the smaller rate: "
            f"{broken:g} against {original:g})" if broken < original else
            f" (yet tuned on other seeds' validation images it gets {broken:g}, the original "
            f"{original:g})")


def lines_sentence(inter):
    """Each broken line alone against the original and the broken net, over the grid."""
    said = []
    for net, name in (("broken green", "Green alone"), ("broken red", "red alone")):
        worse = [lr for lr, row in inter[net].items() if row["original"]["verdict"] == "worse"]
        said.append(f"{name} is worse than the original at {len(worse)} of "
                    f"{len(inter[net])} rates" + (f" ({', '.join(worse)})" if worse else "")
                    + f" and did not learn in "
                      f"{sum(row['stuck'] for row in inter[net].values())} runs")
    return "; ".join(said) + "."


def alignment_sentence(found):
    rows = found["alignment_over_training"]
    shared = found["made"]["shared"]
    at = {(r["epoch"], r["learned"]): r for r in rows if r["net"] == BROKEN and r["lr"] == shared}
    epochs = sorted({e for e, _ in at})
    first, last = (at.get((epochs[0], True)), at.get((epochs[-1], True))) if epochs else (None,
                                                                                           None)
    if not (first and last):
        return ""
    rise = last["cosine"]["W1"] - first["cosine"]["W1"]
    trend = ("it aligns as training goes, as feedback alignment's does" if rise > 0.1 else
             "it rises only a little through training" if rise > 0.03 else
             "it stays where it starts, where feedback alignment's grows")
    return (f"At {shared:g}, over the runs that learned, the broken net's W1 gradient points at "
            f"a median cosine of {first['cosine']['W1']:.2f} to the true one in epoch "
            f"{epochs[0]} and {last['cosine']['W1']:.2f} in epoch {epochs[-1]} (W2 "
            f"{first['cosine']['W2']:.2f} and {last['cosine']['W2']:.2f}): {trend}; its "
            f"length is about the true one's (a norm ratio of {first['norm_ratio']['W1']:.2f} "
            f"and {last['norm_ratio']['W1']:.2f}).")


def starts_sentence(starts):
    """Whether the runs that did not learn started worse aligned, over the rates."""
    worse = [s for s in starts if s["p_value"] < 0.05 and s["stuck_median"] < s["learned_median"]]
    stuck = [s["stuck_median"] for s in starts]
    learned = [s["learned_median"] for s in starts]
    return (f"The runs that did not learn started with a median W1 cosine of {min(stuck):.2f} "
            f"to {max(stuck):.2f} over the rates, those that learned {min(learned):.2f} to "
            f"{max(learned):.2f} (Mann-Whitney p {report.p_text(min(s['p_value'] for s in starts))}"
            f" to {report.p_text(max(s['p_value'] for s in starts))}): "
            + ("worse aligned from the first epoch at " + ", ".join(f"{s['lr']:g}" for s in worse)
               if worse else "no rate shows them starting worse aligned, so their first "
                             "steps' direction does not tell which runs will get stuck") + ".")


def intervention_sentence(inter, net, name):
    """Whether an intervention reproduces the broken net's curve: its words against the
    broken net at each rate."""
    words = {}
    for lr, row in inter[net].items():
        words.setdefault(phrase(row["broken"]), []).append(lr)
    stuck = sum(row["stuck"] for row in inter[net].values())
    broken_stuck = sum(row["stuck"] for row in inter[BROKEN].values())
    return (f"{name}, against the broken net: "
            + "; ".join(f"{w} at {', '.join(rates)}" for w, rates in words.items())
            + f"; it did not learn in {stuck} runs over the grid, the broken net in "
            f"{broken_stuck}.")


def why_table(found):
    if "interventions" not in found:
        return ""
    inter = found["findings"]["interventions"]
    nets = [ORIGINAL, BROKEN, MATCHED, SCALED, "broken green", "broken red"]
    header = ["lr"] + [f"{NETS[n].short}: accuracy %, stuck" for n in nets]
    body = []
    for lr in found["made"]["grid"]:
        key = f"{lr:g}"
        body.append([key] + [f"{100 * inter[n][key]['accuracy']:.1f}, {inter[n][key]['stuck']}"
                             if key in inter.get(n, {}) else "-" for n in nets])
    return report.render(header, body, True)


def alignment_table(found):
    if "curve" not in found:
        return ""
    rows = [r for r in found["alignment_over_training"] if r["net"] == BROKEN]
    header = ["lr", "learned", "runs"] + [f"W1 cosine @{e}" for e in
                                          sorted({r["epoch"] for r in rows})] + [
        "W1 norm ratio @1", "W1 norm ratio @last"]
    groups = {}
    for r in rows:
        groups.setdefault((r["lr"], r["learned"]), []).append(r)
    body = []
    for (lr, learned), group in sorted(groups.items(), key=lambda g: (g[0][0], not g[0][1])):
        group.sort(key=lambda r: r["epoch"])
        body.append([f"{lr:g}", "yes" if learned else "no", str(group[0]["runs"])]
                    + [f"{r['cosine']['W1']:.2f}" for r in group]
                    + [f"{group[0]['norm_ratio']['W1']:.2f}",
                       f"{group[-1]['norm_ratio']['W1']:.2f}"])
    return report.render(header, body, True)


# ---------------------------------------------------------------- the claims

def claims_values(found):
    if "article" not in found["pooled"]:
        return dict(claims_answer=not_run("article"), blocks_table="", blocks_differ="",
                    rates_answer="", rates_table="", first_block="", block_claims="",
                    block_cost="", block_accuracy="", block_alignment="", block_stuck="",
                    seeds_total="", blocks="", seeds="")
    facts = found["findings"]
    first = next(b for b in found["blocks"] if b["kind"] == "article")
    parts = report.sections(first["study"], dict(first, runs=[]), "markdown")
    article = [b for b in found["blocks"] if b["kind"] == "article"]
    values = dict(
        claims_answer=claims_answer(found), blocks_table=blocks_table(found),
        blocks_differ=blocks_differ(article), seeds_total=facts["claim_seeds"],
        blocks=len(article), seeds=Seeds.of(first["study"]["settings"]).count,
        first_block=Seeds.of(first["study"]["settings"]).span(),
        block_claims=demoted(parts["claims"]), block_cost=demoted(parts["cost"]),
        block_accuracy=demoted(parts["accuracy"]), block_alignment=parts["alignment"],
        block_stuck=", ".join(f"{r['net']} {r['stuck']}/{r['seeds']}"
                              for r in first["results"] if r["experiment"] == "Result 3"))
    if "by_rate" in found["pooled"]:
        values.update(rates_answer=rates_answer(found), rates_table="\n\n".join(
            report.claims_by_rate_section([row for rows in found["pooled"]["by_rate"].values()
                                           for row in rows], True)[1:]))
    else:
        values.update(rates_answer=not_run("article"), rates_table="")
    return values


def how_often(c):
    """'16 of 120 (7.8-21%)': the seeds it held in, and its share's 95% interval."""
    low, high = c["share_interval"]
    return f"{c['held']} of {c['seeds']} ({report.percent(low, False)}-{report.percent(high)})"


def claims_answer(found):
    facts = found["findings"]
    claims = facts["claims"]
    contrasts = [c for c in claims if c["contrast"]]
    tally = report.tally_text([dict(c, borderline=False) for c in contrasts], marks=False)
    return (f"Pooled over the {claims[0]['of']} blocks ({facts['claim_seeds']} seeds) at lr "
            f"{facts['shared']}. The article reports one run of each: so each claim is first "
            f"how often its outcome comes out in a run (the share of seeds, its exact "
            f"{report.CI} interval), and what that means for a reader who runs the net once "
            f"(almost always, usually, often, about half the time, sometimes, rarely, not "
            f"seen). Its {len(contrasts)} comparative claims, one net against the other on the "
            f"same seed, are also tested as paired contrasts, Holm-corrected together: "
            f"{tally}.")


def block_claim(block, label):
    return next(c for c in block["claims"] if c["label"] == label)


def blocks_table(found):
    article = [b for b in found["blocks"] if b["kind"] == "article"]
    pooled = found["pooled"]["article"]["claims"]
    header = (["claim"] + [f"seeds {Seeds.of(b['study']['settings']).span()}, {b['setting']}"
                           for b in article]
              + ["agree", f"pooled ({pooled[0]['seeds']} seeds)"])
    body = []
    for c in pooled:
        cells = [block_claim(b, c["label"]) for b in article]
        body.append([c["label"]] + [f"{x['held']}/{x['seeds']}, **{verdicts.shown_word(x)}**"
                                    for x in cells]
                    + [f"{sum(x['verdict'] == c['verdict'] for x in cells)} of {len(cells)}",
                       f"{c['held']}/{c['seeds']}, **{c['verdict']}**"])
    return report.render(header, body, True)


def blocks_differ(article):
    differ = verdicts.differing([{c["label"]: c for c in b["claims"]} for b in article])
    if not differ:
        return "Every claim has the same word in every block."
    return ("Words that differ between the blocks: " + "; ".join(differ) + ". A share near a "
            "word's boundary, or a contrast near the 5% line, comes out otherwise in another "
            "block of 30 seeds: the pooled word is the one to trust.")


def rates_answer(found):
    facts = found["findings"]
    rates = list(facts["claims_by_rate"])
    same = facts["same_at_every_rate"]
    chosen = facts.get("chosen", {})
    return (f"The article gives no learning rate. Its study again at {len(rates)} rates "
            f"({', '.join(rates)}: {facts['shared']}; each net's tuned rate "
            + ", ".join(f"{NETS[n].short} {lr:g}" for n, lr in chosen.items()
                        if n in (ORIGINAL, BROKEN))
            + f"; where two coincide, the grid's nearest other rate to {facts['shared']}), "
            f"over the same {count(facts['rate_seeds'], 'seed')}: "
            f"{count(len(same), 'claim')} of {len(facts['claims'])} keep their word at every "
            f"rate" + (f" ({'; '.join(same)})" if same else "") + ".")


# ---------------------------------------------------------------- README.md's findings

def with_findings(readme, found):
    """README.md's text with its findings (between BEGIN and END) written anew."""
    if BEGIN not in readme or END not in readme:
        return readme
    head, rest = readme.split(BEGIN, 1)
    return head + BEGIN + "\n" + findings_text(found) + END + rest.split(END, 1)[1]


def findings_text(found):
    """README.md's findings: every number from REPORT.json's findings, every term said
    where it first appears."""
    facts = found["findings"]
    lines = []
    if "tuned" in facts:
        broken, frozen = facts["tuned"]["broken - original"], facts["tuned"]["frozen - original"]
        chosen = facts["chosen"]
        lines += [f"**Does the broken net train as well? {headline(found)}**", "",
                  f"- *Each net tuned on its own* (its learning rate chosen on validation "
                  f"images, never the test ones: the original {chosen[ORIGINAL]:g}, the broken "
                  f"net {chosen[BROKEN]:g}), over {broken['seeds']} fresh seeds, each with four "
                  f"digit pairs (0/1, 3/8, 4/9, 1/7; a fifth of each pair's images held out): "
                  f"the broken net's held-out accuracy minus the original's is {said(broken)}. "
                  f"A control whose conv layers never learn: {said(frozen)}."]
    if "curve" in facts:
        words = "; ".join(f"{w} at {', '.join(r)}" for w, r in curve_words(found).items())
        lines.append(f"- *At one learning rate shared by both* (the article gives none), over "
                     f"{facts['curve'][facts['shared']]['seeds']} seeds: {words}.")
    if "budget" in facts:
        answer = slower_or_lower(facts["budget"])
        at, last = facts["budget"]["at_500"], facts["budget"]["at_last"]
        lines.append(f"- *Slower or lower?* Trained {facts['budget']['last']:,} epochs "
                     f"instead of {facts['budget']['article_epoch']}, over {at['seeds']} seeds "
                     f"({blocks_said(facts['budget'])}): **{answer}** (each at its "
                     f"tuned rate: {points(at)} at epoch {facts['budget']['article_epoch']}, "
                     f"{points(last)} at epoch {facts['budget']['last']:,}; the gap's change "
                     f"on the same seeds {points(facts['budget']['gap_change'])}).")
    if found.get("settings_study") and len(found["settings_study"]) > 1:
        rows = found["settings_study"]
        seen = fates(rows).get(TUNED_ANSWER, [])
        first = conclusion(rows[0])
        lines.append(f"- *Other settings* (momentum 0, LeCun's initial weights; each net tuned "
                     f"again): the tuned answer, **{phrase(first)}** here, is "
                     + ", ".join(f"{f} in {seen.count(f)}" for f in ("kept", "no word", "reversed")
                                 if seen.count(f))
                     + f" of {count(len(seen), 'other')} (REPORT.md, 'The settings').")
    if "interventions" in facts:
        inter = facts["interventions"]
        noise = reproduced(inter, MATCHED)
        lines.append(f"- *Why:* not the size of its gradients' error alone: a correct learner "
                     f"given random noise of that angle and length is worse than the broken net "
                     f"at {', '.join(noise['worse']) or 'no rate'}, better at "
                     f"{', '.join(noise['better']) or 'none'}; the broken net peaks at lr "
                     f"{inter['peak'][BROKEN]}, the original at {inter['peak'][ORIGINAL]} "
                     f"(REPORT.md, 'Why').")
    if "claims" in facts:
        lines += ["", f"The article's own claims, over {facts['claim_seeds']} seeds at lr "
                      f"{facts['shared']} (each of its results is one run): how often each "
                      f"outcome comes out in a run, and, for the claims that compare the nets, "
                      f"a paired test of the two nets on the same seeds (holds, fails or "
                      f"unclear at 5%, Holm-corrected).", "",
                  "| the article says | seeds (95% share) | for one run | the nets compared |",
                  "|---|---|---|---|"]
        for c in facts["claims"]:
            contrast = "-"
            if c["contrast"]:
                shown = (f"broken/original cost {report.rounded(c['median_ratio'], 2)} (median)"
                         if c["median_ratio"] is not None else
                         f"only broken all right in {c['discordant'][0]} seeds, only the "
                         f"original in {c['discordant'][1]}")
                contrast = f"**{c['verdict']}**: {shown}"
            lines.append(f"| {c['section']}: \"{c['quote']}\" | {how_often(c)} | "
                         f"{c['frequency']} | {contrast} |")
    missing = [p for p in found["made"].get("all_parts", []) if p not in facts["parts"]]
    if missing:
        lines += ["", f"Not run yet: {', '.join(missing)} (`python3 make_report.py --part "
                      f"NAME`)."]
    return "\n".join(lines) + "\n"


def blocks_said(facts):
    """'one block' or '2 blocks, each: lower' (or each block's word)."""
    words = block_words(facts)
    if len(words) < 2:
        return "one block"
    return (f"{len(words)} blocks, each: {words[0]}" if len(set(words)) == 1 else
            f"{len(words)} blocks: {', '.join(words)}")


def headline(found):
    """The answer in a sentence, from the tuned evaluation's word and the curve's."""
    facts = found["findings"]
    tuned = facts["tuned"]["broken - original"]
    word, good = tuned["verdict"], tuned.get("equivalence") == "as good"
    start = ("Yes," if good and word != "worse" else
             "Nearly, but not quite," if word == "worse" and (
                 good or abs(tuned["mean_difference"]) < verdicts.MARGIN) else
             "No," if word == "worse" else "Better," if word == "better" else
             "Not told apart, nor shown as good,")
    mixed = "curve" in facts and len(curve_words(found)) > 1
    return (f"{start} when each net is tuned on its own" + (
        "; at one shared learning rate it depends on the rate." if mixed else "."))
