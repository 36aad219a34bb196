"""The report of a compare.py study: its tables as text (within 100 columns), markdown,
csv or json, and its figure. compare.py runs the study (running.py); verdicts.py judges it."""
import csv
import io
import json
import textwrap

from original_net import STUCK_LEVEL
from study import verdicts
from study.cli import count
from study.records import ALIGNED, Seeds, run_json
from study.registry import BROKEN, NETS, ORIGINAL

WIDTH = 100  # the text report's widest line
# The levels every note states, as verdicts.py and the nets set them: '95%', '5%', ...
CI = f"{verdicts.CONFIDENCE:.0%}"
LEVEL = f"{verdicts.ALPHA:.0%}"
TOST = f"{1 - 2 * verdicts.ALPHA:.0%}"
STUCK = f"{STUCK_LEVEL:.0%}"
CHECKPOINTS = (1, 100, 250)  # the epochs of the cost table, and the last


def checkpoints(epochs):
    return [e for e in CHECKPOINTS if e < epochs] + [epochs]


def rounded(x, digits=3):
    """x to digits significant digits (a whole number from 100 up), without an exponent
    for 1e-4 <= |x| < 1e6."""
    if x is None:
        return "-"
    if 100 <= abs(x) < 1e6:
        return f"{x:.0f}"
    return f"{x:.{digits}g}" if 1e-4 <= abs(x) < 1e6 or x == 0 else f"{x:.2e}"


def p_text(p):
    return "<0.0001" if p < 1e-4 else rounded(p, 2)


def spread_text(value, digits=3, fixed=False):
    """median (lower quartile-upper quartile), or a dash where no run learned; fixed:
    digits decimals (for accuracies) instead of significant digits."""
    if value is None:
        return "-"
    median, low, high = (f"{v:.{digits}f}" if fixed else rounded(v, digits) for v in value)
    return median if low == high == median else f"{median} ({low} to {high})"


def interval_text(low, high, digits=3):
    """An interval low-high; with too few seeds for one (an end no order statistic
    reaches) it says so."""
    if low is None or high is None:
        return "too few seeds"
    return f"{rounded(low, digits)} to {rounded(high, digits)}"


def render(header, body, markdown):
    """A table: markdown's pipes, or text columns padded to their widest cell."""
    if markdown:
        lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in body])
    widths = [max(len(row[i]) for row in [header] + body) for i in range(len(header))]
    return "\n".join("  ".join(v.ljust(w) for v, w in zip(row, widths)).rstrip()
                     for row in [header] + body)


def paragraph(text, markdown):
    """Text wrapped to WIDTH columns (markdown keeps its long lines)."""
    return text if markdown else "\n".join(textwrap.wrap(text, WIDTH, break_on_hyphens=False))


def heading(title, note, markdown):
    """A section's title and what its table shows: a markdown heading and a paragraph,
    or one wrapped text paragraph."""
    if markdown:
        return f"## {title}\n\n{note[0].upper()}{note[1:]}."
    return paragraph(f"{title}: {note}", False)


# ---------------------------------------------------------------- what ran where

def seeds_text(settings):
    """'seeds 0 to 29', 'seed 4', or the blocks of a pooled study: 'seeds 0 to 29, 60 to 89'."""
    blocks = []
    for block in [Seeds(*b) for b in settings.get("seed_blocks") or []] or [Seeds.of(settings)]:
        if blocks and blocks[-1].stop == block.first:  # adjacent blocks read as one
            blocks[-1] = Seeds(blocks[-1].first, block.stop)
        else:
            blocks.append(block)
    if len(blocks) == 1 and blocks[0].count == 1:
        return f"seed {blocks[0].first}"
    return "seeds " + ", ".join(block.span() for block in blocks)


def rates_text(settings):
    """'lr 0.001'; 'lr 0.0001 to 0.003 (8 rates)'; or each net's tuned rate."""
    if settings.get("tuned"):
        return "lr tuned: " + ", ".join(f"{NETS[net].short} {lr:g}"
                                        for net, lr in settings["tuned"].items())
    lrs = settings.get("lrs") or [settings["lr"]]
    return f"lr {lrs[0]:g}" if len(lrs) == 1 else (
        f"lr {lrs[0]:g} to {lrs[-1]:g} ({len(lrs)} rates)")


def init_text(settings):
    """'' for the article's standard normal weights, else 'lecun initial weights, '."""
    init = settings.get("init", "normal")
    return "" if init == "normal" else f"{init} initial weights, "


def environment_text(env):
    """Python, numpy, BLAS; the CPU; and the setting that simulated another CPU, if any."""
    return (f"Python {env['python']}, numpy {env['numpy']}, BLAS {env['blas']}; {env['cpu']}, "
            f"{count(env['cpus'], 'CPU')}, {env['system']}"
            + (f"; computing as another CPU: {env['setting']}" if env.get("setting") else ""))


def describe(study):
    """The sentences that say what ran where: command, data and settings, environment,
    time."""
    env, s = study["environment"], study["settings"]
    lines = [f"Written by `{study['command']}` on {study['date']}.",
             f"Data: {s['data']}. {count(s['epochs'], 'epoch')}, {rates_text(s)}, momentum "
             f"{s['momentum']}, {init_text(s)}{seeds_text(s)}."]
    if "blocks" in study:
        blocks = study["blocks"]
        return lines + [f"Pooled from {count(len(blocks), 'report')}, one a block of seeds:"] + [
            f"{seeds_text(b).capitalize()} ({b['file']}): {environment_text(b['environment'])}."
            for b in blocks] + [
            f"Time: {sum(b['wall_seconds'] for b in blocks):.1f} s of training in all."]
    where = (count(study["jobs"], "process", "processes") if "scheduler" not in env else
             f"the Dask cluster at {env['scheduler']} ({count(env['workers'], 'worker')}, "
             f"{study['jobs']} at once)")
    return lines + [
        f"Environment{' of the workers' if 'scheduler' in env else ''}: "
        f"{environment_text(env)}.",
        f"Time: {study['wall_seconds']:.1f} s for {count(s['runs'], 'run')} in "
        f"{count(study['batches'], 'lock-step batch', 'lock-step batches')} on {where}: "
        f"{study['run_steps_per_second']:,.0f} run-steps a second."]


# ---------------------------------------------------------------- the tables

def summarise(results, epochs, group_of, on="test"):
    """A row per group (experiment and digit pair) and net: its runs, how many learned,
    and the median and quartiles, over the runs that learned, of the cost at each
    checkpoint and of the train and held-out accuracy (on: test or validation)."""
    rows = {}
    for r in results:
        rows.setdefault((group_of(r), r["net"]), []).append(r)
    out = []
    for (group, net), runs in rows.items():
        learned = [r for r in runs if not r["stuck"]]
        row = dict(group=group, experiment=runs[0]["experiment"], digits=runs[0]["digits"],
                   net=net, lr=runs[0]["lr"], hidden=runs[0]["hidden"], seeds=len(runs),
                   stuck=len(runs) - len(learned))
        for e in checkpoints(epochs):
            row[f"cost_epoch_{e}"] = verdicts.median_iqr([verdicts.cost_at(r, e) for r in learned])
        for key in ("train_accuracy", f"{on}_accuracy"):
            row[key] = verdicts.median_iqr([r[key] for r in learned])
        out.append(row)
    return out


def cost_table(rows, epochs, markdown):
    """The cost at the checkpoints after epoch 1 (which says little); the text, to fit
    100 columns, the last two: the claims' epochs."""
    shown = [e for e in checkpoints(epochs) if e != 1] or [epochs]
    shown = shown if markdown else shown[-2:]
    header = ["group", "net", "learned"] + [f"cost@{e}" for e in shown]
    body = [[r["group"], r["net"], f"{r['seeds'] - r['stuck']}/{r['seeds']}"]
            + [spread_text(r[f"cost_epoch_{e}"]) for e in shown] for r in rows]
    return header, body


def accuracy_table(rows):
    on = "validation" if rows and "validation_accuracy" in rows[0] else "test"
    header = ["group", "net", "learned", "train accuracy", f"{on} accuracy"]
    body = [[r["group"], r["net"], f"{r['seeds'] - r['stuck']}/{r['seeds']}",
             spread_text(r["train_accuracy"], fixed=True),
             spread_text(r[f"{on}_accuracy"], fixed=True)]
            for r in rows]
    return header, body


def measured_text(row):
    """What a contrast's seeds showed, for its line of the claims table."""
    if row["kind"] == "cost":
        known = None not in row["ratio_interval"]
        return (f"broken/original cost @{row['epoch']}: {rounded(row['median_ratio'], 3)} "
                f"({CI + ' ' if known else ''}{interval_text(*row['ratio_interval'], 2)})")
    broken, original = row["discordant"]
    return f"all right: only broken in {broken} seeds, only original in {original}"


def how_often_text(row):
    """'16/120 seeds (13%; 95% 7.8 to 21%)': how often a claim's outcome came out."""
    low, high = row["share_interval"]
    return (f"{row['held']}/{row['seeds']} seeds ({percent(row['share'])}; {CI} "
            f"{percent(low, False)} to {percent(high)})")


def percent(share, sign=True):
    """A share in percent, whole from 10 up, else to two significant digits: '13%',
    '7.8%', '100%'."""
    p = 100 * share
    return (f"{p:.0f}" if p >= 10 else f"{p:.2g}") + ("%" if sign else "")


def once_text(row):
    """A one-seed study's claim: whether its one seed showed it."""
    return "held in the one seed" if row["held"] else "did not hold in the one seed"


def power_of_ten_text(x):
    """1e-06 as '1e-6'."""
    return f"{x:.0e}".replace("e-0", "e-")


MARK_NOTE = (f"{verdicts.BORDERLINE} marks a borderline holds or fails, one whose Holm p-value is "
             f"above {power_of_ten_text(verdicts.FIRM_HOLM_P)}: another study may well give "
             f"another word (python3 -m study.verdicts --calibrate)")


CLAIMS_NOTE = ("how often each outcome came out: in how many seeds (its exact "
               f"Clopper-Pearson {CI} interval), and what that means for one run (almost "
               "always, usually, often, about half the time, sometimes, rarely, not seen); each "
               "comparative claim also as a paired contrast of the two nets on the same seeds "
               "(the signed-rank test of the cost ratio; McNemar's test of all right), "
               "Holm-corrected over the contrasts")


def claims_section(rows, markdown):
    """The claims, in the article's order: its words, how often its outcome came out and
    what that means for one run; a comparative claim's contrast, its p-value before and
    after Holm's correction, and its word; the same over the seeds where the nets learned."""
    seeds = max(r["seeds"] for r in rows)
    scaled = [r for r in rows if r["kind"] == "cost" and r["epoch"] not in (None, 250)
              and "250" in r["claim"]]
    title = f"The article's claims over {count(seeds, 'seed')}"
    note = (f"{CLAIMS_NOTE}; {MARK_NOTE}; 'learned': the word over the seeds in which the "
            f"claim's nets learned" if seeds > 1 else
            "one seed is an anecdote, not a test: what it showed")
    if seeds == 1:  # what the one seed showed, and no test
        body = [[r["section"], f'"{r["claim"]}"', once_text(r)] for r in rows]
        if markdown:
            return [heading(title, note, True),
                    render(["article", "the article says", "the one seed"], body, True)]
        return [heading(title, note, False), "\n".join(
            f'{section:9} "{claim}": {once}' for section, claim, once in body)]
    if markdown:
        header = ["article", "the article says", "how often", "for one run", "contrast",
                  "p", "Holm p", "word", "learned"]
        body = [[r["section"], f'"{r["claim"]}"', how_often_text(r), f"**{r['frequency']}**"]
                + ([measured_text(r), p_text(r["p_value"]), p_text(r["p_adjusted"]),
                    f"**{verdicts.shown_word(r)}**"] if r["contrast"] else ["-"] * 4)
                + [f"{r['trained_verdict']} ({r['trained_seeds']})"] for r in rows]
        return [heading(title, note, True), render(header, body, True)]
    lines = []
    for r in rows:
        about = " and ".join(r["nets"]) + (" net" if len(r["nets"]) == 1 else " nets")
        lines += textwrap.wrap(f'{r["section"]:9} "{r["claim"]}" ({about})', WIDTH,
                               subsequent_indent=" " * 10)
        lines.append(f"   seen in {how_often_text(r)}: {r['frequency']}")
        if r["contrast"]:
            lines.append(f"   contrast: {measured_text(r)}")
            lines.append(f"     p {p_text(r['p_value'])}, Holm {p_text(r['p_adjusted'])}: "
                         f"{verdicts.shown_word(r)}")
        lines.append(f"   learned ({count(r['trained_seeds'], 'seed')}): {r['trained_verdict']}")
    notes = [f"(At epoch {r['epoch']}, half the study's epochs: the article's 250 is beyond "
             f"them.)" for r in scaled[:1]]
    return [heading(title, note, False), "\n".join(lines)] + [paragraph(n, False) for n in notes]


def nets_text(row):
    """'broken - original': a comparison's nets, short."""
    return " - ".join(NETS[n].short for n in row["nets"])


def points_text(value, interval=None):
    """A difference of accuracies in points, '+1.4', with its interval: '-8.3 (-11 to -5.6)'."""
    if value is None:
        return "-"
    text = f"{100 * value:+.1f}"
    if interval is not None:
        low, high = (None if v is None else 100 * v for v in interval)
        text += f" ({interval_text(low, high, 2)})"
    return text


def fitted(header, body, keys):
    """A wide text table as tables within WIDTH columns, each repeating the first keys
    columns (what a row is about) before as many others as fit."""
    widths = [max(len(row[i]) for row in [header] + body) + 2 for i in range(len(header))]
    parts, current = [], []
    for i in range(keys, len(header)):
        if current and sum(widths[:keys]) + sum(widths[j] for j in current + [i]) - 2 > WIDTH:
            parts.append(current)
            current = []
        current.append(i)
    parts.append(current)
    return [render([header[j] for j in [*range(keys), *part]],
                   [[row[j] for j in [*range(keys), *part]] for row in body], False)
            for part in parts]


def equivalence_text(row, prefix=""):
    """TOST's answer, short: yes, no (not shown as good), too few seeds, no variation."""
    said = row.get(prefix + "equivalence") or ("as good" if row[prefix + "equivalent"]
                                               else "not shown as good")
    return {"as good": "yes", "not shown as good": "no"}.get(said, said)


def pooled_section(rows, markdown):
    if not rows:
        return []
    margin = f"{100 * rows[0]['margin']:g}"
    swept = any("lr" in r for r in rows)
    tuned = any(r.get("tuned") for r in rows)
    title = "Nets compared: the mean difference over every seed and digit pair"
    note = (f"a - b of held-out test accuracy, in points (a run that did not learn counts as "
            f"it ended), averaged over every seed of every digit pair, each seed a unit with "
            f"its pairs (they share its initial weights); its {CI} interval (the t interval "
            f"over the seeds) and the word from it, with at least {verdicts.MIN_SEEDS_WORD} "
            f"seeds (else 'too few seeds'; 'no variation' where every seed's mean ties); 'as "
            f"good': equivalence by TOST at {LEVEL}, the {TOST} bootstrap interval (BCa, of "
            f"whole seeds) within {margin} points either way, with at least "
            f"{verdicts.MIN_SEEDS_AS_GOOD} seeds; 'stuck': each net's runs that did not learn, "
            f"'only': the seeds where a (b) failed in more of its pairs than the other, with "
            f"the exact test of those (McNemar's, one pair a seed); 'learned': the same over "
            f"the runs where both nets learned"
            + ("; each net at its tuned rate" if tuned else ""))
    keys = ["group", "a - b"] + (["lr"] if swept else [])
    header = keys + ["seeds", f"mean ({CI})", "word", f"{TOST} (BCa)", "as good",
                     "stuck a, b", "only a, b", "McNemar p", f"learned: mean ({CI})", "word",
                     "as good"]
    body = [[r["group"].rsplit(", lr ", 1)[0], nets_text(r)]
            + ([f"{r['lr']:g}"] if swept else [])
            + [str(r["seeds"]), points_text(r["mean_difference"], r["interval"]), r["verdict"],
               interval_text(*(None if v is None else 100 * v
                               for v in r["equivalence_interval"] or [None, None]), 2),
               equivalence_text(r), f"{r['failed'][0]}, {r['failed'][1]}",
               f"{r['discordant'][0]}, {r['discordant'][1]}", p_text(r["mcnemar_p"]),
               points_text(r["learned_mean_difference"], r["learned_interval"]),
               r.get("learned_verdict", "-"), equivalence_text(r, "learned_")] for r in rows]
    if markdown:
        return [heading(title, note, True), render(header, body, True)]
    return [heading(title, note, False)] + fitted(header, body, len(keys))


def pairs_section(rows, markdown):
    if not rows:
        return []
    title = "Nets compared seed by seed, per digit pair"
    note = (f"description beside the pooled rows, whose words replicate where these may not: "
            f"per seed, a - b of held-out test accuracy, in points (a run that did not learn "
            f"counts as it ended); the median difference and its exact {CI} interval; the word "
            f"from a two-sided Wilcoxon signed-rank test, Holm-corrected over the {len(rows)} "
            f"comparisons, which weighs how far each seed leans, so a few large losses can "
            f"outweigh many small wins; the cost ratio a/b is of the final costs; each net's "
            f"runs that did not learn are counted beside")
    header = ["group", "a - b", f"median ({CI})", "w/t/l", "Holm p", "word",
              f"cost ratio a/b, median ({CI})", "did not learn (a, b)"]
    body = []
    for r in rows:
        low, high = (None if v is None else 100 * v for v in r["interval"])
        body.append([r["group"], nets_text(r),
                     f"{100 * r['median_difference']:+.1f} ({interval_text(low, high, 2)})",
                     f"{r['wins']}/{r['ties']}/{r['losses']}", p_text(r["p_adjusted"]),
                     r["verdict"],
                     f"{rounded(r['median_cost_ratio'], 2)} "
                     f"({interval_text(*r['cost_ratio_interval'], 2)})"
                     if r["median_cost_ratio"] is not None else "-",
                     f"{r['stuck'][0]}, {r['stuck'][1]}"])
    if not markdown:
        return [heading(title, note, False)] + fitted(header, body, 2)
    return [heading(title, note, True), render(header, body, True)]


def alignment_rows(results, epochs, group_of):
    """Per group, broken net and checkpoint: the median and quartiles, over the runs
    that learned, of the per-epoch alignment of W1 and W2 (records.ALIGNED: mean cosine
    and sign agreement, median norm ratio; the other groups' gradients are the true ones)."""
    rows = []
    runs = {}
    for r in results:
        if ALIGNED[0] in r["checkpoints"][0] and not r["stuck"]:
            runs.setdefault((group_of(r), r["net"]), []).append(r)
    for (group, net), aligned in runs.items():
        for e in checkpoints(epochs):
            row = dict(group=group, net=net, epoch=e, seeds=len(aligned))
            at = [next(c for c in r["checkpoints"] if c["epoch"] == e) for r in aligned]
            for key in ALIGNED:
                row[key] = verdicts.median_iqr([c[key] for c in at])
            rows.append(row)
    return rows


def alignment_section(rows, markdown):
    if not rows:
        return []
    title = "Alignment of the broken gradient with the true one"
    note = ("at the same weights, per epoch the mean cosine and share of equal signs, and "
            "the median norm ratio |broken| / |true|, over its steps; then the median "
            "(interquartile range) over the runs that learned; W3, W4 and W5 get their true "
            "gradients (every measure exactly 1)")
    measures = [(w, k) for w in ("W1", "W2") for k in ("cosine", "signs", "norm_ratio")
                if markdown or k != "signs"]  # the text has no room for sign agreement
    header = ["group", "net", "epoch"] + [f"{w} {k.replace('_', ' ')}" for w, k in measures]
    body = [[r["group"], r["net"], str(r["epoch"])]
            + [spread_text(r.get(f"{w}_{k}"), 2) for w, k in measures] for r in rows]
    note += "" if markdown else "; sign agreement: --format markdown or json"
    if markdown:
        return [heading(title, note, True), render(header, body, True)]
    return [heading(title, note, False)] + fitted(header, body, 3)


def percent_text(share, interval=None):
    """A share as a percentage, '95.7', with its interval: '95.7 (94.9 to 96.4)'."""
    if interval is None:
        return f"{100 * share:.1f}"
    low, high = interval
    return f"{100 * share:.1f} ({100 * low:.1f} to {100 * high:.1f})"


def sweep_section(rows, markdown):
    """Held-out accuracy by learning rate: a row per rate (and experiment), a column per
    net; each cell the mean over every seed of every digit pair, its interval, and the
    runs that did not learn."""
    if not rows:
        return []
    on = "validation" if "mean_validation_accuracy" in rows[0] else "test"
    nets = list(dict.fromkeys(r["net"] for r in rows))
    experiments = list(dict.fromkeys(r["experiment"] for r in rows))
    cells = {(r["experiment"], r["lr"], r["net"]): r for r in rows}
    title = f"Held-out {on} accuracy by learning rate"
    note = (f"per net and rate, the mean {on} accuracy in percent over every seed of every "
            f"digit pair ({count(rows[0]['seeds'], 'seed')} a pair), its {CI} interval, and "
            f"how many of its runs did not learn; the same seeds, split and initial weights "
            f"at every rate")
    header = (["experiment"] if len(experiments) > 1 else []) + ["lr"] + [
        NETS[net].short for net in nets]
    body = []
    for experiment in experiments:
        for lr in sorted({r["lr"] for r in rows}):
            row = ([experiment] if len(experiments) > 1 else []) + [f"{lr:g}"]
            for net in nets:
                r = cells.get((experiment, lr, net))
                row.append("-" if r is None else
                           f"{percent_text(r[f'mean_{on}_accuracy'], r['interval'])}, "
                           f"{r['stuck']}/{r['runs']}")
            body.append(row)
    return [heading(title, note, markdown), render(header, body, markdown)]


def claims_by_rate_section(rows, markdown):
    """The article's claims at each learning rate of a sweep: a row per claim, a column
    per rate, each cell the word and the seeds in which the claim held."""
    rates = sorted({r["lr"] for r in rows})
    cells = {(r["label"], r["lr"]): r for r in rows}
    labels = list(dict.fromkeys(r["label"] for r in rows))
    seeds = max(r["seeds"] for r in rows)
    title = f"The article's claims at {count(len(rates), 'learning rate')}"
    note = (f"over the same {count(seeds, 'seed')} at each rate, each word as in a study of that "
            f"rate alone (an exact test, Holm-corrected over the {len(labels)} claims of the "
            f"rate); held/seeds beside it; {MARK_NOTE}")
    header = ["claim"] + [f"lr {lr:g}" for lr in rates] + ["at every rate"]
    body = []
    for label in labels:
        words = [cells[label, lr] for lr in rates if (label, lr) in cells]
        same = len({w["verdict"] for w in words}) == 1
        body.append([label] + [f"{verdicts.shown_word(w)} {w['held']}/{w['seeds']}"
                               for w in words]
                    + [words[0]["verdict"] if same else "differs"])
    return [heading(title, note, markdown), render(header, body, markdown)]


def tuning_section(tuning, markdown):
    """Each net's learning rate as its tuning chose it: per rate and net, the mean
    validation accuracy (the chosen one marked *) and how often the rate wins when the
    seeds are resampled."""
    if not tuning:
        return []
    nets = list(tuning)
    rates = list(next(iter(tuning.values()))["validation"])
    first, stop = next(iter(tuning.values()))["seeds"]
    title = "Each net's learning rate, chosen on validation images"
    note = (f"per rate and net, the mean validation accuracy in percent over every seed of "
            f"every digit pair (seeds {first} to {stop - 1}; the test images never looked "
            f"at), * at the best (ties to the smaller rate), and in brackets how often that "
            f"rate is best when the seeds are resampled within each pair")
    chosen = {net: f"{tuning[net]['lr']:g}" for net in nets}
    header = ["lr"] + [NETS[net].short for net in nets]
    body = [[lr] + [f"{percent_text(tuning[net]['validation'][lr])}"
                    f"{'*' if chosen[net] == lr else ' '} "
                    f"({100 * tuning[net]['wins'][lr]:.0f}%)" for net in nets] for lr in rates]
    said = "; ".join(f"{NETS[net].short} {lr}" for net, lr in chosen.items())
    return [heading(title, note, markdown), render(header, body, markdown),
            paragraph(f"Chosen: {said}.", markdown)]


def tally_text(claim_rows, marks=True):
    """The contrasts' words: '2 hold (1 borderline), 1 fails and 1 stays unclear'; without
    marks, no borderline count (where blocks measure the replication instead)."""
    def part(word, verb, plural):
        rows = [r for r in claim_rows if r["contrast"] and r["verdict"] == word]
        shaky = sum(r["borderline"] for r in rows) if marks else 0
        return (f"{len(rows)} {verb if len(rows) == 1 else plural}"
                + (f" ({shaky} borderline)" if shaky and word != "unclear" else ""))
    return (f"{part('holds', 'holds', 'hold')}, {part('fails', 'fails', 'fail')} and "
            f"{part('unclear', 'stays unclear', 'stay unclear')}")


def reading(results, claim_rows, comparison_rows, swept=False):
    """A few sentences that say what the tables say."""
    text = []
    if claim_rows:
        seeds = max(r["seeds"] for r in claim_rows)
        often = "; ".join(f"{r['label']}: {r['frequency']}" for r in claim_rows
                          if not r["contrast"])
        contrasts = [r for r in claim_rows if r["contrast"]]
        if seeds == 1:
            text.append("With one seed each claim was seen once or not at all. One run is an "
                        "anecdote; judge the claims over seeds (30 by default).")
        else:
            text.append(f"Over {seeds} seeds, how often each outcome of one run came out: "
                        f"{often}. Of the article's {len(contrasts)} comparative claims, "
                        f"each tested as a paired contrast, {tally_text(contrasts)}.")
            shaky = [r["label"] for r in contrasts if r["borderline"]]
            if shaky:
                text.append(f"Borderline (near enough to the {LEVEL} line that another study may "
                            "well give another word): " + "; ".join(shaky) + ".")
    answers = [row for row in comparison_rows
               if row["pooled"] and row["nets"] == [BROKEN, ORIGINAL]]
    text += [sweep_answer_text(answers)] if swept and answers else [
        answer_text(row) for row in answers]
    text.append(f"{sum(r['stuck'] for r in results)} of {len(results)} runs did not learn "
                f"(stuck: training accuracy no better than the majority digit's, one-sided "
                f"binomial test at {STUCK}): {stuck_text(results)}.")
    return text


SAID = {"worse": "worse", "better": "better", "no difference shown": "not shown to differ",
        "too few seeds": "too few seeds to tell", "no variation": "alike in every seed"}


def answer_text(row):
    """The broken net against the original, pooled over the digit pairs, in a sentence."""
    margin = f"{100 * row['margin']:g}"
    learned = ("" if row["learned_mean_difference"] is None else
               f"; where both learned ({count(row['learned_seeds'], 'seed')}), "
               f"{points_text(row['learned_mean_difference'], row['learned_interval'])} points, "
               + equivalence_said(row, "learned_"))
    return (f"{row['group']}, the broken net against the original: "
            f"{SAID[row['verdict']]}, "
            f"{points_text(row['mean_difference'], row['interval'])} points "
            f"over {count(row['seeds'], 'seed')}, " + equivalence_said(row)
            + f" (within {margin} points); it did not learn in {count(row['failed'][0], 'run')}, "
            f"the original in {row['failed'][1]} (McNemar p {p_text(row['mcnemar_p'])})"
            + learned + ".")


def equivalence_said(row, prefix=""):
    """'as good', 'not shown as good', or why no equivalence is judged."""
    said = row.get(prefix + "equivalence") or ("as good" if row[prefix + "equivalent"]
                                               else "not shown as good")
    return {"too few seeds": f"too few seeds for 'as good' (it needs "
                             f"{verdicts.MIN_SEEDS_AS_GOOD})",
            "no variation": "no variation to judge 'as good' by"}.get(said, said)


def sweep_answer_text(rows):
    """The broken net against the original at each rate of a sweep, in a sentence: the
    rates grouped by the word each comes to."""
    said = {}
    for row in sorted(rows, key=lambda r: r["lr"]):
        word = ("as good" if row["equivalent"] else
                "not shown to differ or as good" if row["verdict"] == "no difference shown"
                else SAID[row["verdict"]])
        said.setdefault(word, []).append(f"{row['lr']:g}")
    group = rows[0]["group"].rsplit(", lr ", 1)[0]
    return (f"{group}, the broken net against the original (pointwise, each rate as a study of "
            f"its own): " + "; ".join(f"{word} at lr {', '.join(rates)}"
                                      for word, rates in said.items()) + ".")


def stuck_text(results):
    """'original 1/90, broken green,red 14/90': each net's runs that did not learn."""
    stuck = {}
    for r in results:
        stuck.setdefault(r["net"], []).append(r["stuck"])
    return ", ".join(f"{net} {sum(v)}/{len(v)}" for net, v in stuck.items())


# ---------------------------------------------------------------- the whole report

def text_report(study, tables, fmt):
    """The report as text, markdown or csv from the study's tables."""
    summary = tables["results"]
    if fmt == "csv":
        out = io.StringIO()
        keys = [k for k in summary[0] if k.startswith("cost_epoch") or k.endswith("accuracy")]
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["experiment", "digits", "net", "W3", "W4", "W5", "seeds", "stuck"]
                        + [f"{k}_{s}" for k in keys for s in ("median", "q1", "q3")])
        for r in summary:
            h3, h4 = r["hidden"]
            writer.writerow([r["experiment"], "/".join(map(str, r["digits"])), r["net"],
                             f"16x{h3}", f"{h3}x{h4}", f"{h4}x1", r["seeds"], r["stuck"]]
                            + [v for k in keys for v in (r[k] or ["", "", ""])])
        return out.getvalue()
    return "\n\n".join(part for part in sections(study, tables, fmt).values() if part) + "\n"


def short_text(settings):
    """Said once, at the top, when a study has too few seeds for any word: why its words
    say so, and what it would take."""
    seeds = settings["seeds"]
    if seeds >= verdicts.MIN_SEEDS_WORD:
        return ""
    return (f"With {count(seeds, 'seed')}, this study is too short for any word: a "
            f"comparison's word needs {verdicts.MIN_SEEDS_WORD} seeds ('as good' "
            f"{verdicts.MIN_SEEDS_AS_GOOD}), and how often a claim's outcome comes out needs "
            f"about 30 for its interval to say much (its words say 'too few seeds' below). "
            f"Run --seeds 30 or more (the default is 30).")


def sections(study, tables, fmt):
    """The text or markdown report's sections by id, in order (empty where the study has
    none): title, describe, short, tuning, sweep, cost, accuracy, claims, pooled, pairs,
    reading, alignment. A sweep's text keeps to the sweep, the claims by rate and the
    pooled rows (its tables per digit pair and rate: --format markdown or json)."""
    summary, claim_rows, comparison_rows, aligned = (
        tables["results"], tables["claims"], tables["comparisons"], tables["alignment"])
    settings = study["settings"]
    epochs = settings["epochs"]
    markdown = fmt == "markdown"
    swept = len(settings.get("lrs", [None])) > 1 and not settings.get("tuned")
    full = markdown or not swept  # the tables a sweep's text leaves to markdown and json
    join = "\n\n".join
    return dict(
        title="# " + study["title"] if markdown else paragraph(study["title"], markdown),
        describe="\n".join(paragraph(line, markdown) for line in describe(study)),
        short=paragraph(short_text(settings), markdown),
        tuning=join(tuning_section(tables.get("tuning"), markdown)),
        sweep=join(sweep_section(tables.get("sweep"), markdown)),
        cost=join([heading("Cost", "median (interquartile range) over the runs that learned"
                           + ("" if markdown else " (all checkpoints: --format markdown or json)"),
                           markdown),
                   render(*cost_table(summary, epochs, markdown), markdown)]) if full else "",
        accuracy=join([heading("Accuracy", "median (interquartile range) over the runs that "
                               "learned", markdown), render(*accuracy_table(summary), markdown)])
        if full else "",
        claims=join(claims_by_rate_section(claim_rows, markdown) if swept
                    else claims_section(claim_rows, markdown)) if claim_rows else "",
        pooled=join(pooled_section([r for r in comparison_rows if r["pooled"]], markdown)),
        pairs=join(pairs_section([r for r in comparison_rows if not r["pooled"]], markdown))
        if full else "",
        reading="\n".join(paragraph(t, markdown) for t in reading(
            tables["runs"], claim_rows if not swept else [], comparison_rows, swept)),
        alignment=join(alignment_section(aligned if full else [
            r for r in aligned if r["epoch"] == epochs], markdown)))


def json_report(study, tables):
    on = "validation" if study["settings"].get("tune") else "test"
    runs = [run_json(r, on) for r in tables["runs"]]
    return json.dumps(dict(study=study, results=tables["results"], claims=tables["claims"],
                           comparisons=tables["comparisons"], alignment=tables["alignment"],
                           sweep=tables["sweep"], tuning=tables["tuning"], runs=runs),
                      indent=1) + "\n"
