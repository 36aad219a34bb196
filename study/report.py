"""The report of a compare.py study: its tables as text (within 100 columns), markdown,
csv or json, and its figure. compare.py runs the study (running.py); verdicts.py judges it."""
import csv
import io
import json
import math
import textwrap

import numpy as np

from original_net import STUCK_LEVEL
from study import verdicts
from study.cli import count
from study.records import Seeds, run_json
from study.registry import BROKEN, GROUPS, NETS, ORIGINAL

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


def share_text(x):
    """A share to two decimals, rounded down: a word marked borderline (below 0.9) never
    shows 0.90. (Shares are counts out of a thousand or fewer.)"""
    return f"{math.floor(round(x * 1000) / 10) / 100:.2f}"


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
             f"Data: {s['data']}. {count(s['epochs'], 'epoch')}, lr {s['lr']}, momentum "
             f"{s['momentum']}, {seeds_text(s)}."]
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

def summarise(results, epochs, group_of):
    """A row per group (experiment and digit pair) and net: its runs, how many learned,
    and the median and quartiles, over the runs that learned, of the cost at each
    checkpoint and of the train and test accuracy."""
    rows = {}
    for r in results:
        rows.setdefault((group_of(r), r["net"]), []).append(r)
    out = []
    for (group, net), runs in rows.items():
        learned = [r for r in runs if not r["stuck"]]
        row = dict(group=group, experiment=runs[0]["experiment"], digits=runs[0]["digits"],
                   net=net, hidden=runs[0]["hidden"], seeds=len(runs),
                   stuck=len(runs) - len(learned))
        for e in checkpoints(epochs):
            row[f"cost_epoch_{e}"] = verdicts.median_iqr([r["history"][e - 1] for r in learned])
        for key in ("train_accuracy", "test_accuracy"):
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
    header = ["group", "net", "learned", "train accuracy", "test accuracy"]
    body = [[r["group"], r["net"], f"{r['seeds'] - r['stuck']}/{r['seeds']}",
             spread_text(r["train_accuracy"], fixed=True),
             spread_text(r["test_accuracy"], fixed=True)]
            for r in rows]
    return header, body


def measured_text(row):
    """What a claim's seeds showed, for its line of the claims table."""
    if row["kind"] == "cost":
        known = None not in row["ratio_interval"]
        return (f"broken/original cost @{row['epoch']}: {rounded(row['median_ratio'], 3)} "
                f"({CI + ' ' if known else ''}{interval_text(*row['ratio_interval'], 2)})")
    low, high = row["interval"]
    return f"held in {row['held']}/{row['seeds']} seeds ({CI} {low:.2f} to {high:.2f})"


def once_text(row):
    """A one-seed study's word as a sentence: what its one seed showed."""
    return ("held in the one seed" if row["verdict"] == "holds once"
            else "did not hold in the one seed")


def power_of_ten_text(x):
    """1e-06 as '1e-6'."""
    return f"{x:.0e}".replace("e-0", "e-")


MARK_NOTE = (f"{verdicts.BORDERLINE} marks a borderline word, one whose p-value is near enough "
             f"to the {LEVEL} line that another study may well give another (holds or fails with a "
             f"Holm p above {power_of_ten_text(verdicts.FIRM_HOLM_P)}, unclear with a p below "
             f"{verdicts.FIRM_UNCLEAR_P:g}; python3 -m study.verdicts --calibrate)")


def claims_section(rows, markdown):
    """The claims, in the article's order: its words, what the seeds showed, the test's
    p-value before and after Holm's correction, and the word."""
    seeds = max(r["seeds"] for r in rows)
    scaled = [r for r in rows if r["kind"] == "cost" and r["epoch"] not in (None, 250)
              and "250" in r["claim"]]
    title = f"The article's claims over {count(seeds, 'seed')}"
    note = (f"each word from an exact test, Holm-corrected over the {len(rows)} claims; "
            f"{MARK_NOTE}; 'learned': the word over the seeds in which the claim's nets learned"
            if seeds > 1 else "one seed is an anecdote, not a test: what it showed")
    if markdown:
        header = ["article", "the article says", "we measured", "p", "Holm p", "word",
                  "learned"]
        body = [[r["section"], f'"{r["claim"]}"', measured_text(r), p_text(r["p_value"]),
                 p_text(r["p_adjusted"]), f"**{verdicts.shown_word(r)}**",
                 f"{r['trained_verdict']} ({r['trained_seeds']})"] if seeds > 1 else
                [r["section"], f'"{r["claim"]}"', measured_text(r), "-", "-",
                 f"**{once_text(r)}**", "-"]
                for r in rows]
        return [heading(title, note, True), render(header, body, True)]
    lines = []
    for r in rows:
        about = " and ".join(r["nets"]) + (" net" if len(r["nets"]) == 1 else " nets")
        lines.append(f'{r["section"]:9} "{r["claim"]}" ({about})')
        if seeds == 1:
            lines.append(f"   {measured_text(r):<50} {once_text(r)}")
            continue
        lines.append(f"   {measured_text(r):<50} p {p_text(r['p_value']):<7} Holm "
                     f"{p_text(r['p_adjusted']):<7} {verdicts.shown_word(r)}")
        lines.append(f"{'':53}learned ({count(r['trained_seeds'], 'seed')}): "
                     f"{r['trained_verdict']}")
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


def pooled_section(rows, markdown):
    if not rows:
        return []
    margin = f"{100 * rows[0]['margin']:g}"
    title = "Nets compared: the mean difference over every seed and digit pair"
    note = (f"per seed, a - b of held-out test accuracy, in points (a run that did not learn "
            f"counts as it ended), averaged over every seed of every digit pair; its {CI} "
            f"interval (a bootstrap within each pair, BCa) and the word from it; 'as good': "
            f"equivalence by TOST at {LEVEL}, the {TOST} interval within {margin} points either "
            f"way; 'stuck': each net's runs that did not learn, 'only': the seeds where only a's "
            f"(only b's) did not, with the exact McNemar test of those; 'learned': the same mean "
            f"over the seeds where both nets learned")
    header = ["group", "a - b", "seeds", f"mean ({CI})", "word", TOST, "as good",
              "stuck a, b", "only a, b", "McNemar p", f"learned: mean ({CI})", "as good"]
    body = [[r["group"], nets_text(r), str(r["seeds"]),
             points_text(r["mean_difference"], r["interval"]), r["verdict"],
             interval_text(*(None if v is None else 100 * v
                             for v in r["equivalence_interval"] or [None, None]), 2),
             "yes" if r["equivalent"] else "no", f"{r['failed'][0]}, {r['failed'][1]}",
             f"{r['discordant'][0]}, {r['discordant'][1]}", p_text(r["mcnemar_p"]),
             points_text(r["learned_mean_difference"], r["learned_interval"]),
             "yes" if r["learned_equivalent"] else "no"] for r in rows]
    if markdown:
        return [heading(title, note, True), render(header, body, True)]
    first = render(header[:7], [row[:7] for row in body], False)
    second = render(header[:2] + header[7:], [row[:2] + row[7:] for row in body], False)
    return [heading(title, note, False), first, second]


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
              "cost ratio a/b", "did not learn (a, b)"]
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
    if not markdown:  # the cost ratios in a table of their own, to fit the width
        main = render(header[:6], [row[:6] for row in body], False)
        costs = render(["group", "a - b", f"cost ratio a/b, median ({CI})", header[7]],
                       [[row[0], row[1], row[6], row[7]] for row in body], False)
        return [heading(title, note, False), main, costs]
    return [heading(title, note, True), render(header, body, True)]


def alignment_rows(results, epochs, group_of):
    """Per group, broken net and checkpoint: the median and quartiles, over the runs
    that learned, of the per-epoch mean cosine and sign agreement of each group of
    weights."""
    rows = []
    runs = {}
    for r in results:
        if r["alignment"] is not None and not r["stuck"]:
            runs.setdefault((group_of(r), r["net"]), []).append(r)
    for (group, net), aligned in runs.items():
        for e in checkpoints(epochs):
            row = dict(group=group, net=net, epoch=e, seeds=len(aligned))
            for g, weights in enumerate(GROUPS):
                for k, key in enumerate(("cosine", "signs")):
                    row[f"{weights}_{key}"] = verdicts.median_iqr(
                        [r["alignment"][e - 1, k, g] for r in aligned])
            rows.append(row)
    return rows


def alignment_section(rows, markdown):
    if not rows:
        return []
    title = "Alignment of the broken gradient with the true one"
    note = ("at the same weights, per epoch the mean over its steps, then the median "
            "(interquartile range) over the runs that learned; W3, W4 and W5 get their true "
            "gradients (cosine and signs exactly 1)")
    measures = [(w, k) for w in ("W1", "W2") for k in ("cosine", "signs")
                if markdown or k == "cosine"]  # the text has room for the cosines only
    header = ["group", "net", "epoch"] + [f"{w} {k}" for w, k in measures]
    body = [[r["group"], r["net"], str(r["epoch"])]
            + [spread_text(r[f"{w}_{k}"], 2) for w, k in measures] for r in rows]
    note += "" if markdown else "; sign agreement: --format markdown or json"
    return [heading(title, note, markdown), render(header, body, markdown)]


def tally_text(claim_rows, marks=True):
    """'2 hold (1 borderline), 2 fail and 4 stay unclear'; without marks, no borderline
    count (where blocks measure the replication instead)."""
    def part(word, verb, plural):
        rows = [r for r in claim_rows if r["verdict"] == word]
        shaky = sum(r["borderline"] for r in rows) if marks else 0
        return (f"{len(rows)} {verb if len(rows) == 1 else plural}"
                + (f" ({shaky} borderline)" if shaky and word != "unclear" else ""))
    return (f"{part('holds', 'holds', 'hold')}, {part('fails', 'fails', 'fail')} and "
            f"{part('unclear', 'stays unclear', 'stay unclear')}")


def reading(results, claim_rows, comparison_rows):
    """A few sentences that say what the tables say."""
    text = []
    if claim_rows:
        words = [r["verdict"].split()[0] for r in claim_rows]
        seeds = max(r["seeds"] for r in claim_rows)
        if seeds == 1:
            text.append(f"With one seed each claim was seen once: {words.count('holds')} held "
                        f"and {words.count('fails')} did not. One run is an anecdote; judge "
                        f"the claims over seeds (30 by default).")
        else:
            text.append(f"Over {seeds} seeds, of the article's {len(claim_rows)} claims, "
                        + tally_text(claim_rows) + ".")
            shaky = [r["label"] for r in claim_rows if r["borderline"]]
            if shaky:
                text.append(f"Borderline (near enough to the {LEVEL} line that another study may "
                            "well give another word): " + "; ".join(shaky) + ".")
    text += [answer_text(row) for row in comparison_rows
             if row["pooled"] and row["nets"] == [BROKEN, ORIGINAL]]
    text.append(f"{sum(r['stuck'] for r in results)} of {len(results)} runs did not learn "
                f"(stuck: training accuracy no better than the majority digit's, one-sided "
                f"binomial test at {STUCK}): {stuck_text(results)}.")
    return text


def answer_text(row):
    """The broken net against the original, pooled over the digit pairs, in a sentence."""
    margin = f"{100 * row['margin']:g}"
    said = {"worse": "worse", "better": "better", "no difference shown": "not shown to differ"}
    learned = ("" if row["learned_mean_difference"] is None else
               f"; where both learned ({count(row['learned_seeds'], 'seed')}), "
               f"{points_text(row['learned_mean_difference'], row['learned_interval'])} points, "
               + ("as good" if row["learned_equivalent"] else "not shown as good"))
    return (f"{row['group']}, the broken net against the original: "
            f"{said[row['verdict']]}, "
            f"{points_text(row['mean_difference'], row['interval'])} points "
            f"over {count(row['seeds'], 'seed')}, "
            + ("as good" if row["equivalent"] else "not shown as good")
            + f" (within {margin} points); it did not learn in {count(row['failed'][0], 'run')}, "
            f"the original in {row['failed'][1]} (McNemar p {p_text(row['mcnemar_p'])})"
            + learned + ".")


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


def sections(study, tables, fmt):
    """The text or markdown report's sections by id, in order (empty where the study has
    none): title, describe, cost, accuracy, claims, pooled, pairs, reading, alignment."""
    summary, claim_rows, comparison_rows, aligned = (
        tables["results"], tables["claims"], tables["comparisons"], tables["alignment"])
    epochs = study["settings"]["epochs"]
    markdown = fmt == "markdown"
    join = "\n\n".join
    return dict(
        title=("# " if markdown else "") + study["title"],
        describe="\n".join(paragraph(line, markdown) for line in describe(study)),
        cost=join([heading("Cost", "median (interquartile range) over the runs that learned"
                           + ("" if markdown else " (all checkpoints: --format markdown or json)"),
                           markdown),
                   render(*cost_table(summary, epochs, markdown), markdown)]),
        accuracy=join([heading("Accuracy", "median (interquartile range) over the runs that "
                               "learned", markdown), render(*accuracy_table(summary), markdown)]),
        claims=join(claims_section(claim_rows, markdown)) if claim_rows else "",
        pooled=join(pooled_section([r for r in comparison_rows if r["pooled"]], markdown)),
        pairs=join(pairs_section([r for r in comparison_rows if not r["pooled"]], markdown)),
        reading="\n".join(paragraph(t, markdown)
                          for t in reading(tables["runs"], claim_rows, comparison_rows)),
        alignment=join(alignment_section(aligned, markdown)))


def json_report(study, tables):
    runs = [run_json(r) for r in tables["runs"]]
    return json.dumps(dict(study=study, results=tables["results"], claims=tables["claims"],
                           comparisons=tables["comparisons"], alignment=tables["alignment"],
                           runs=runs), indent=1) + "\n"


# ---------------------------------------------------------------- the figure

def plot(results, group_of, alignment, path, fmt):
    """Per group, each net's median cost curve and interquartile band over the runs
    that learned, its stuck runs counted in the legend; with alignment, a row of the
    median cosine of the broken gradient with the true one (W1 solid, W2 dashed); with
    more than two nets or one digit pair, a row of every seed's test accuracy per net,
    the seed's nets joined by a line."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D
    groups = list(dict.fromkeys(group_of(r) for r in results))
    nets = list(dict.fromkeys(r["net"] for r in results))
    seeds_row = len(nets) > 2 or len({tuple(r["digits"]) for r in results}) > 1
    rows = 1 + bool(alignment) + seeds_row
    fig, axes = plt.subplots(rows, len(groups), figsize=(3.7 * len(groups), 3.6 * rows),
                             squeeze=False)
    epochs = np.arange(1, len(results[0]["history"]) + 1)
    of = {}
    for r in results:
        of.setdefault((group_of(r), r["net"]), []).append(r)
    for col, group in enumerate(groups):
        ax = axes[0, col]
        for net in nets:
            runs = of.get((group, net), [])
            learned = np.array([r["history"] for r in runs if not r["stuck"]])
            label = f"{net}: {len(runs) - len(learned)}/{len(runs)} stuck"
            if len(learned):
                low, median, high = np.percentile(learned, [25, 50, 75], axis=0)
                ax.plot(epochs, median, color=NETS[net].colour, lw=1.4, label=label)
                ax.fill_between(epochs, low, high, color=NETS[net].colour, alpha=0.15, lw=0)
            else:
                ax.plot([], [], color=NETS[net].colour, label=label)
        ax.set(title=group, xlabel="epoch", yscale="log",
               ylabel="epoch cost: median, IQR" if col == 0 else None)
        ax.legend(fontsize=8)
        row = 1
        if alignment:
            ax = axes[row, col]
            for net in nets:
                runs = [r for r in of.get((group, net), [])
                        if r["alignment"] is not None and not r["stuck"]]
                if runs:
                    cosines = np.median([r["alignment"][:, 0, :2] for r in runs], axis=0)
                    ax.plot(epochs, cosines[:, 0], color=NETS[net].colour, lw=1.2)
                    if "green" in NETS[net].breaks:  # else W2's gradient is the true one
                        ax.plot(epochs, cosines[:, 1], color=NETS[net].colour, lw=1.2, ls="--")
            ax.axhline(0, color="grey", lw=0.6)
            ax.set(title=f"{group}: broken against true gradient", xlabel="epoch",
                   ylim=(-0.25, 1.05), ylabel="cosine (median)" if col == 0 else None)
            ax.legend([Line2D([], [], color="k"), Line2D([], [], color="k", ls="--")],
                      ["W1 (W1a, W1b)", "W2 (W2a..W2d)"], fontsize=8, loc="lower right")
            row += 1
        if seeds_row:
            ax = axes[row, col]
            by_seed = {}
            for i, net in enumerate(nets):
                for r in of.get((group, net), []):
                    by_seed.setdefault(r["seed"], {})[i] = r["test_accuracy"]
            jitter = np.random.default_rng(0).uniform(-0.12, 0.12, max(by_seed) + 1)
            for seed, points in by_seed.items():
                xs = sorted(points)
                ax.plot([x + jitter[seed] for x in xs], [points[x] for x in xs],
                        color="grey", lw=0.4, alpha=0.5)
            for i, net in enumerate(nets):
                for stuck in (False, True):  # a run that did not learn: a hollow point
                    runs = [r for r in of.get((group, net), []) if r["stuck"] == stuck]
                    ax.scatter([i + jitter[r["seed"]] for r in runs],
                               [r["test_accuracy"] for r in runs], s=12, zorder=3,
                               color="none" if stuck else NETS[net].colour,
                               edgecolors=NETS[net].colour, linewidths=0.8)
            ax.set_xticks(range(len(nets)), [n.replace(" green,red", "") for n in nets],
                          fontsize=8)
            ax.set(title=f"{group}: test accuracy per seed",
                   ylabel="held-out test accuracy" if col == 0 else None)
            if col == 0:
                ax.legend([Line2D([], [], ls="", marker="o", color="k"),
                           Line2D([], [], ls="", marker="o", mfc="none", color="k")],
                          ["learned", "did not learn"], fontsize=8, loc="lower left")
    fig.tight_layout()
    fig.savefig(path, format=fmt, dpi=100)
    plt.close(fig)
