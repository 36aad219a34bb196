"""A study's records: a run (Run), built in one place, with its JSON form and its checks
on reading; a block of seeds (Seeds); and the Checker that reads every field of a saved
report, refusing a damaged one in one line.
"""
import math
from dataclasses import dataclass
from typing import TypedDict

from study import cli
from study.registry import DIGIT_IMAGES, EXPERIMENTS, NETS, middle_epoch


# ---------------------------------------------------------------- a block of seeds

@dataclass(frozen=True, order=True)
class Seeds:
    """Seeds first, first + 1, ..., stop - 1: a study's seeds, or a block of them."""
    first: int
    stop: int

    @classmethod
    def of(cls, settings):
        """The seeds of a study's settings (their JSON form: first_seed, and seeds: how
        many)."""
        return cls(settings["first_seed"], settings["first_seed"] + settings["seeds"])

    @property
    def count(self):
        return self.stop - self.first

    def __iter__(self):
        return iter(range(self.first, self.stop))

    def __contains__(self, seed):
        return self.first <= seed < self.stop

    def __str__(self):
        """'0:30', as --seeds takes it."""
        return f"{self.first}:{self.stop}"

    def span(self):
        """'0 to 29', or '4' for one seed."""
        return f"{self.first} to {self.stop - 1}" if self.count > 1 else f"{self.first}"


# ---------------------------------------------------------------- a run

class Run(TypedDict, total=False):
    """One training run of a study: planned (planned()), then trained (trained()) or read
    back from a saved report (run_from_json()); the same fields whichever way it came."""
    experiment: str       # its dense head: "Result 1", "Result 2" or "Result 3"
    hidden: tuple         # that head's sizes (H3, H4)
    digits: tuple         # its digit pair (A, B); B is label 1
    net: str              # a key of registry.NETS
    breaks: tuple         # the net's broken lines
    frozen: bool          # the net's conv weights never learn
    redirect: str         # the net's intervention (interventions.py), or None
    seed: int             # fixes the split, the order and the initial weights
    lr: float             # its learning rate
    train_size: int       # training images
    history: list         # the epoch costs
    stuck: bool           # did not learn (original_net.is_stuck)
    train_accuracy: float
    test_right: int       # judged on the held-out test images; a tuning study's runs
    test_size: int        # are judged on a validation fifth of their training images
    test_accuracy: float  # instead: validation_right, validation_size and
    #                       validation_accuracy in place of these three
    alignment: object     # its (epochs, measures, groups) alignment array, or None
    checkpoints: list     # through training: {epoch, cost (of that epoch), train_accuracy,
    #                       test_accuracy (validation_accuracy when tuning), and where
    #                       measured the alignment (ALIGNED)} at checkpoint_epochs()


CHECKPOINT_EVERY = 25  # epochs between checkpoints, after epochs 1 and 10
# The alignment of an aligned run at each checkpoint: W1's and W2's measures, the only
# groups a broken line reaches (alignment.MEASURES).
ALIGNED = tuple(f"{group}_{measure}" for group in ("W1", "W2")
                for measure in ("cosine", "signs", "norm_ratio"))


def checkpoint_epochs(epochs):
    """The epochs at whose end a run's cost and accuracies are kept: 1, 10, every 25th, the
    last, and the article's middle epoch (250, or half the epochs of a shorter study)."""
    return sorted({1, 10, epochs, middle_epoch(epochs),
                   *range(CHECKPOINT_EVERY, epochs + 1, CHECKPOINT_EVERY)}
                  & set(range(1, epochs + 1)))


def saved_fields(on="test"):
    """A run's fields in a saved report (its JSON form), in their order there; on: the
    images it was judged on, "test" or "validation"."""
    return ("experiment", "digits", "net", "lr", "seed", "stuck", "history", "train_accuracy",
            f"{on}_accuracy", f"{on}_right", f"{on}_size", "checkpoints")


def planned(experiment, digits, net, seed, train_size, lr):
    """A run as a study plans it: what it trains, with its net's lines and head."""
    return Run(experiment=experiment, hidden=EXPERIMENTS[experiment], digits=digits, net=net,
               breaks=NETS[net].breaks, frozen=NETS[net].frozen, redirect=NETS[net].redirect,
               seed=seed, lr=lr, train_size=train_size)


def trained(run, history, stuck, train_accuracy, right, size, alignment=None, on="test",
            checkpoints=()):
    """The planned run with what its training measured: right of size images of its
    held-out set on ("test", or "validation" when tuning); checkpoints, as Run says."""
    return Run(run, history=history, stuck=stuck, train_accuracy=train_accuracy,
               **{f"{on}_right": right, f"{on}_size": size, f"{on}_accuracy": right / size},
               alignment=alignment, checkpoints=list(checkpoints))


def key(run):
    """A run's place in its study: experiment, digit pair, net, learning rate and seed."""
    return run["experiment"], tuple(run["digits"]), run["net"], run["lr"], run["seed"]


def judged_on(settings):
    """The images a study's runs are judged on: "validation" when it tunes, else "test"."""
    return "validation" if settings.get("tune") else "test"


def run_json(run, on="test"):
    """A run's JSON form: the fields of saved_fields(on)."""
    return {name: run[name] for name in saved_fields(on)}


def run_from_json(checker, i, item, settings):
    """The run saved as item, runs[i] of a report with these (checked) settings: every
    field checked (Refused names the first that is not right), the rest derived."""
    def get(name, test, what):
        return checker.get(f"runs[{i}].{name}", test, what, within=(item, name))
    seeds, on = Seeds.of(settings), judged_on(settings)
    size = get(f"{on}_size", lambda v: is_int(v, 1, DIGIT_IMAGES), "a count of images")
    history = get("history", lambda v: isinstance(v, list) and len(v) == settings["epochs"]
                  and all(is_number(c, 0) for c in v), f"{settings['epochs']} epoch costs")
    experiment = get("experiment", lambda v: v in settings["experiments"], "an experiment")
    digits = tuple(get("digits", lambda v: is_pair(v) and tuple(v) in settings["digits"],
                       "a digit pair of the study"))
    net = get("net", lambda v: v in settings["nets"], "a net of the study")
    rates = rates_of(settings, net)
    said = f"{' or '.join(map(str, rates))}, its rates"
    run = planned(experiment, digits, net,
                  get("seed", lambda v: is_int(v) and v in seeds, "one of the study's seeds"),
                  settings["train_sizes"].get(f"{digits[0]}/{digits[1]}"),
                  get("lr", lambda v: v in rates,
                      said if len(said) <= 24 else f"one of its {len(rates)} rates"))
    run = trained(run, history, get("stuck", lambda v: isinstance(v, bool), "true or false"),
                  get("train_accuracy", lambda v: is_number(v, 0, 1), "a share"),
                  get(f"{on}_right", lambda v: is_int(v, 0, size), f"0 to {size}"), size,
                  on=on)
    get(f"{on}_accuracy", lambda v: v == run[f"{on}_accuracy"], "right / size")
    epochs = checkpoint_epochs(settings["epochs"])
    fields = ("epoch", "cost", "train_accuracy", f"{on}_accuracy")

    def checkpoint(c, epoch):
        return (isinstance(c, dict) and set(c) in (set(fields), set(fields + ALIGNED))
                and c["epoch"] == epoch and is_number(c["cost"], 0)
                and all(is_number(c[f], 0, 1) for f in fields[2:])
                and all(is_number(c[f], -1, math.inf) for f in ALIGNED if f in c))
    run["checkpoints"] = get("checkpoints", lambda v: isinstance(v, list) and len(v) == len(
        epochs) and all(map(checkpoint, v, epochs)) and len({len(c) for c in v}) == 1,
        f"its {len(epochs)} checkpoints")
    return run


def rates_of(settings, net):
    """The learning rates a study trains net at: each of its rates (lrs), or the one its
    tuning chose for it (tuned)."""
    return [settings["tuned"][net]] if settings.get("tuned") else settings["lrs"]


# ---------------------------------------------------------------- reading a saved report

class Refused(cli.Failure):
    """A saved report that cannot be read or used: one line, exit status 1."""


def is_int(value, low=-math.inf, high=math.inf):
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def is_number(value, low=-math.inf, high=math.inf):
    return (isinstance(value, (int, float)) and not isinstance(value, bool)
            and math.isfinite(value) and low <= value <= high)


def is_text(value):
    return isinstance(value, str)


def is_pair(value):
    return (isinstance(value, list) and len(value) == 2
            and all(is_int(v, 0, 9) for v in value) and value[0] != value[1])


class Checker:
    """Reads fields of one saved report, each checked; Refused names the file and field."""

    def __init__(self, path, data, option):
        self.path, self.data, self.option = path, data, option

    def refuse(self, field, what):
        raise Refused(f"{self.option} {self.path}: {field} {what}")

    def get(self, field, test, what, within=None):
        """The value at field (dotted, with [i] for list items) that passes test."""
        value = self.data if within is None else within[0]
        for part in field.split(".") if within is None else [within[1]]:
            if not isinstance(value, dict) or part not in value:
                self.refuse(field, "is missing")
            value = value[part]
        if not test(value):
            self.refuse(field, f"is not {what}")
        return value

    def items(self, field, within=None):
        """The list at field, each item a dict."""
        value = self.get(field, lambda v: isinstance(v, list), "a list", within)
        for i, item in enumerate(value):
            if not isinstance(item, dict):
                self.refuse(f"{field}[{i}]", "is not an object")
        return value
