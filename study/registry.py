"""The nets, experiments and digit pairs the studies are made of, each defined once.

compare.py and training.py train them, verdicts.py judges them, report.py shows them.
Adding a net is one entry in NETS (and, for a broken line the nets do not have yet, its
lines in broken_net.py and lockstep.py; for another intervention, its arithmetic in
interventions.py); adding a digit pair, one entry in PAIRS.
"""
from dataclasses import dataclass


@dataclass(frozen=True)
class Net:
    key: str                # its name in every table and saved report
    short: str              # in narrow columns and on the figures' axes
    colour: str             # matplotlib's, in every figure
    breaks: tuple = ()      # the broken lines of broken_net.py it trains with
    frozen: bool = False    # W1a..W2d keep their initial weights: only W3..W5 learn
    ablation: bool = False  # trained only with compare.py --ablation
    redirect: str = None    # an intervention net (interventions.py): its conv step
    #                         redirected, trained only with compare.py --interventions


ORIGINAL, BROKEN, FROZEN = "original", "broken green,red", "frozen"
MATCHED, SCALED = "matched noise", "scaled true"  # the intervention nets (interventions.py)
NETS = {net.key: net for net in (
    Net(ORIGINAL, "original", "tab:blue"),
    Net(BROKEN, "broken", "tab:red", ("green", "red")),   # the article's broken net
    Net("broken green", "green", "tab:green", ("green",), ablation=True),
    Net("broken red", "red", "tab:orange", ("red",), ablation=True),
    Net(FROZEN, "frozen", "tab:gray", frozen=True),        # the frozen-conv control
    Net(MATCHED, "noise", "tab:purple", ("green", "red"), redirect=MATCHED),
    Net(SCALED, "scaled", "tab:brown", ("green", "red"), redirect=SCALED),
)}
# Every net against the original (the ablation's and the interventions' last), the broken
# net against the control, and each intervention against the broken net: a - b.
COMPARED = ([(net.key, ORIGINAL) for net in NETS.values() if net.key != ORIGINAL
             and not net.ablation and not net.redirect] + [(BROKEN, FROZEN)]
            + [(net.key, ORIGINAL) for net in NETS.values() if net.ablation or net.redirect]
            + [(net.key, BROKEN) for net in NETS.values() if net.redirect])

# The article's experiments: their dense heads, W3 16xH3, W4 H3xH4, W5 H4x1.
EXPERIMENTS = {"Result 1": (18, 20), "Result 2": (48, 56), "Result 3": (28, 36)}
ARTICLE_PAIR = (0, 1)     # the article's digits: 0 against 1
ARTICLE_TEST_SIZE = 10    # the article's test images
EXTENDED = "Result 3"     # the extended study's head: the network section's sizes
PAIRS = ((0, 1), (3, 8), (4, 9), (1, 7))  # the extended study's digit pairs (1: the second)
SEEDS = 30                # a study's seeds by default, and a block's in make_report.py
MAX_SEEDS = 10_000        # seeds a study at most: a million runs, more than any machine trains
MAX_RATES = 100           # learning rates a study at most (make_report sweeps 8)
DIGIT_IMAGES = 1797       # images in sklearn's load_digits: the most a digit pair splits
HELD_OUT = 5              # the extended study tests on one image in HELD_OUT: a fifth

ARTICLE_MIDDLE = 250      # the epoch of the article's Result 1: "lower cost at epoch 250"


def middle_epoch(epochs):
    """The article's epoch 250, or half the epochs of a shorter study."""
    return ARTICLE_MIDDLE if epochs >= ARTICLE_MIDDLE else max(1, epochs // 2)


# The groups of weights the alignment measure scores, in the nets' order of NAMES.
GROUPS = {"W1": ("W1a", "W1b"), "W2": ("W2a", "W2b", "W2c", "W2d"), "W3": ("W3",),
          "W4": ("W4",), "W5": ("W5",)}


def study_nets(ablation=False, controls=False, interventions=False):
    """The nets a study trains, in the order of its tables."""
    return [net.key for net in NETS.values()
            if (ablation or not net.ablation) and (controls or not net.frozen)
            and (interventions or not net.redirect)]


def net_of(short):
    """A net's key from its short name (compare.py --nets): 'broken' is 'broken green,red'."""
    return next(net.key for net in NETS.values() if net.short == short)


def in_words(n):
    """Small counts in words, as prose writes them: 4 is 'four'."""
    words = ("no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
    return words[n] if 0 <= n < len(words) else str(n)


def one_in(n):
    """'a fifth' for one in 5; 'one in 12' where English has no short word."""
    parts = {2: "a half", 3: "a third", 4: "a quarter", 5: "a fifth", 10: "a tenth"}
    return parts.get(n, f"one in {n}")
