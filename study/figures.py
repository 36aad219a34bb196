"""The figures of a study: its runs' cost curves, alignment and test accuracy per seed
(plot), and a sweep's held-out accuracy against the learning rate (sweep_plot).
matplotlib is imported where it is used."""
import textwrap

import numpy as np

from study.registry import NETS


def titled(fig, title):
    """The figure's title, wrapped to its width (about 11 characters an inch)."""
    if title:
        width = int(fig.get_size_inches()[0] * 11)
        fig.suptitle(textwrap.fill(title, width), fontsize=11)


def panel_title(group):
    """A group's label as a panel's title: '3/8' reads as a fraction, so 'digits 3 vs 8'."""
    parts = group.split(", ")
    return ", ".join(f"digits {p.replace('/', ' vs ')}" if "/" in p else p for p in parts)


def plot(results, group_of, alignment, path, fmt, title=""):
    """Per group, each net's median cost curve and interquartile band over the runs
    that learned (at the checkpoint epochs), its stuck runs counted in the legend; with
    alignment, a row of the median cosine of the broken gradient with the true one (W1
    solid, W2 dashed); with more than two nets or one digit pair, a row of every seed's
    test accuracy per net, the seed's nets joined by a line. title: the figure's, what
    it shows (study, rate, seeds)."""
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
    epochs = [c["epoch"] for c in results[0]["checkpoints"]]  # the report's costs are there
    of = {}
    for r in results:
        of.setdefault((group_of(r), r["net"]), []).append(r)
    for col, group in enumerate(groups):
        ax = axes[0, col]
        for net in nets:
            runs = of.get((group, net), [])
            learned = np.array([[c["cost"] for c in r["checkpoints"]] for r in runs
                                if not r["stuck"]])
            label = f"{NETS[net].short}: {len(runs) - len(learned)}/{len(runs)} stuck"
            if len(learned):
                low, median, high = np.percentile(learned, [25, 50, 75], axis=0)
                ax.plot(epochs, median, color=NETS[net].colour, lw=1.4, label=label)
                ax.fill_between(epochs, low, high, color=NETS[net].colour, alpha=0.15, lw=0)
            else:
                ax.plot([], [], color=NETS[net].colour, label=label)
        ax.set(title=panel_title(group), xlabel="epoch", yscale="log",
               ylabel="epoch cost (sum over its images):\nmedian and quartiles"
               if col == 0 else None)
        ax.legend(fontsize=8)
        row = 1
        if alignment:
            ax = axes[row, col]
            for net in nets:
                runs = [r for r in of.get((group, net), [])
                        if "W1_cosine" in r["checkpoints"][0] and not r["stuck"]]
                if runs:
                    cosines = np.median([[[c["W1_cosine"], c["W2_cosine"]] for c in
                                          r["checkpoints"]] for r in runs], axis=0)
                    ax.plot(epochs, cosines[:, 0], color=NETS[net].colour, lw=1.2)
                    if "green" in NETS[net].breaks:  # else W2's gradient is the true one
                        ax.plot(epochs, cosines[:, 1], color=NETS[net].colour, lw=1.2, ls="--")
            ax.axhline(0, color="grey", lw=0.6)
            ax.set(title=f"{panel_title(group)}: broken vs true gradient", xlabel="epoch",
                   ylim=(-0.25, 1.05),
                   ylabel="cosine of the broken gradient\nwith the true one (median)"
                   if col == 0 else None)
            broken = [net for net in nets if NETS[net].breaks]
            ax.legend([Line2D([], [], color=NETS[net].colour) for net in broken]
                      + [Line2D([], [], color="k"), Line2D([], [], color="k", ls="--")],
                      [NETS[net].short for net in broken] + ["W1 (W1a, W1b)", "W2 (W2a..W2d)"],
                      fontsize=8, loc="lower right", ncol=2)
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
            ax.set(title=f"{panel_title(group)}: test accuracy per seed", ylim=(-0.02, 1.02),
                   ylabel="held-out test accuracy" if col == 0 else None)
            ax.legend([Line2D([], [], ls="", marker="o", color="k"),
                       Line2D([], [], ls="", marker="o", mfc="none", color="k")],
                      ["learned", "did not learn"], fontsize=8, loc="lower left")
    titled(fig, title)
    fig.tight_layout()
    fig.savefig(path, format=fmt, dpi=100)
    plt.close(fig)


def sweep_plot(sweep_rows, path, fmt, chosen=None, title=None):
    """Held-out accuracy against the learning rate (log axis): a line per net with its
    interval as a band (an intervention net's, registry.Net.redirect, or a broken line's
    alone, dashed and without band, so that the figure stays readable); below, the share
    of its runs that did not learn; each net's chosen rate (chosen: {net: lr}) marked
    with a ring. One column per experiment."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    on = "validation" if "mean_validation_accuracy" in sweep_rows[0] else "test"
    experiments = list(dict.fromkeys(r["experiment"] for r in sweep_rows))
    nets = list(dict.fromkeys(r["net"] for r in sweep_rows))
    fig, axes = plt.subplots(2, len(experiments), figsize=(5.2 * len(experiments), 6.4),
                             squeeze=False, sharex=True, height_ratios=(2.2, 1))
    for col, experiment in enumerate(experiments):
        top, bottom = axes[0, col], axes[1, col]
        for net in nets:
            rows = sorted((r for r in sweep_rows
                           if (r["experiment"], r["net"]) == (experiment, net)),
                          key=lambda r: r["lr"])
            lrs = [r["lr"] for r in rows]
            mean = [100 * r[f"mean_{on}_accuracy"] for r in rows]
            low, high = ([100 * (r["interval"] or [np.nan, np.nan])[i] for r in rows]
                         for i in (0, 1))
            colour = NETS[net].colour
            plain = NETS[net].redirect or NETS[net].ablation
            style = dict(color=colour, marker="o", ms=3.5, ls="--" if plain else "-")
            top.plot(lrs, mean, lw=1.5, label=NETS[net].short, **style)
            if not plain:
                top.fill_between(lrs, low, high, color=colour, alpha=0.15, lw=0)
            bottom.plot(lrs, [100 * r["stuck"] / r["runs"] for r in rows], lw=1.2, **style)
            if chosen and net in chosen:
                at = [r for r in rows if r["lr"] == chosen[net]]
                if at:
                    top.plot([chosen[net]], [100 * at[0][f"mean_{on}_accuracy"]], marker="o",
                             ms=11, mfc="none", mec=colour, mew=1.8, ls="")
        top.set(xscale="log", title=experiment if len(experiments) > 1 else None,
                ylabel=(f"mean {on} accuracy, %\n(band: 95% interval of the mean)"
                        if col == 0 else None))
        top.grid(alpha=0.3)
        bottom.set(xscale="log", xlabel="learning rate", ylim=(-2, 100),
                   ylabel="runs that did not learn, %" if col == 0 else None)
        bottom.grid(alpha=0.3)
        rates = sorted({r["lr"] for r in sweep_rows})
        bottom.set_xticks(rates, [f"{lr:g}" for lr in rates], rotation=45, fontsize=8)
        bottom.xaxis.set_minor_locator(matplotlib.ticker.NullLocator())
        handles, labels = top.get_legend_handles_labels()
        if chosen:
            from matplotlib.lines import Line2D
            handles.append(Line2D([], [], marker="o", ms=9, mfc="none", mec="k", ls=""))
            labels.append("its tuned rate")
        top.legend(handles, labels, fontsize=8, loc="lower left")
        bottom.legend(handles[:len(nets)], labels[:len(nets)], fontsize=7, loc="upper left")
    titled(fig, title)
    fig.tight_layout()
    fig.savefig(path, format=fmt, dpi=100)
    plt.close(fig)


WORD_COLOURS = {"worse": "tab:red", "better": "tab:blue", "no difference shown": "tab:gray"}


def budget_plot(budget, path, fmt, title):
    """Accuracy as training goes (the budget study): above, each net's mean held-out
    test accuracy against the epoch, at its own tuned rate, with its 95% band over the
    seeds; below, the broken net minus the original, each at its tuned rate, with its
    band, each checkpoint's point coloured by its word (worse, better, neither)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D
    tuned = budget["tuned"]
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(8, 7), sharex=True,
                                      height_ratios=(1.6, 1))
    for net, lr in tuned.items():
        rows = sorted((r for r in budget["rows"] if (r["net"], r["lr"]) == (net, lr)),
                      key=lambda r: r["epoch"])
        if not rows:
            continue
        epochs = [r["epoch"] for r in rows]
        top.plot(epochs, [100 * r["mean_test_accuracy"] for r in rows], color=NETS[net].colour,
                 lw=1.5, label=f"{NETS[net].short}, lr {lr:g}")
        top.fill_between(epochs, *([100 * (r["interval"] or [np.nan] * 2)[i] for r in rows]
                                   for i in (0, 1)), color=NETS[net].colour, alpha=0.15, lw=0)
    top.axvline(500, color="k", lw=0.8, ls=":")
    top.text(505, top.get_ylim()[0], " epoch 500: the article's", fontsize=8, va="bottom")
    top.set(ylabel="mean held-out test accuracy, %\n(band: 95% interval of the mean)")
    top.legend(fontsize=8, loc="lower right")
    top.grid(alpha=0.3)
    diffs = sorted((c for c in budget["comparisons"] if c["pairing"] == "tuned"),
                   key=lambda c: c["epoch"])
    epochs = [c["epoch"] for c in diffs]
    bottom.plot(epochs, [100 * c["mean_difference"] for c in diffs], color="k", lw=1.2)
    bottom.fill_between(epochs, *([100 * (c["interval"] or [np.nan] * 2)[i] for c in diffs]
                                  for i in (0, 1)), color="k", alpha=0.12, lw=0)
    bottom.scatter(epochs, [100 * c["mean_difference"] for c in diffs], s=14, zorder=3,
                   color=[WORD_COLOURS.get(c["verdict"], "tab:gray") for c in diffs])
    bottom.axhline(0, color="grey", lw=0.6)
    bottom.axvline(500, color="k", lw=0.8, ls=":")
    bottom.set(xlabel="epoch", ylabel="broken - original,\npoints (95% band)")
    bottom.legend([Line2D([], [], ls="", marker="o", color=c) for c in WORD_COLOURS.values()],
                  ["worse", "better", "not told apart"], fontsize=8, loc="lower right")
    bottom.grid(alpha=0.3)
    titled(fig, title)
    fig.tight_layout()
    fig.savefig(path, format=fmt, dpi=100)
    plt.close(fig)
