"""Lock-step training: many runs of one network shape at once, bit for bit as the nets.

original_net.py and broken_net.py train one run, one image per step; on 8x8 images
their time goes to numpy's per-call overhead (about 100 calls a step), not to arithmetic.
Here R independent runs take their steps together: every array gains a leading run
axis, and each run keeps its own images and their order, its weights, velocity and
broken lines. Nothing is summed over runs. Every number is computed by the operation
the nets use, on the same operands in the same order: a stacked matmul makes one BLAS
call per run, with the nets' shapes and strides; elementwise functions (arctan, tanh,
the sigmoid) are numpy's, lane by lane the same for one run or many. Where the result
cannot depend on the order (a 0/1 matrix that only gathers, the position of a
maximum), the batch may compute it another way. So each run's epoch costs and final
weights equal a separate original_net.train / broken_net.train run bit for bit;
tests/test_lockstep.py proves it, and compare.py trains all its runs here.

What each part mirrors, in original_net.py (and broken_net.py's GREEN and RED lines):

| here | the nets' lines |
|---|---|
| Batch.forward | forward(): red star (layer 1), blue star (layer 2), green, pink and black stars |
| Batch.backward_dense | backward(): black box and star, pink and green stars, down to d_p2 |
| Batch.backward_conv | backward(): blue star (layer 2) and red star (layer 1); GREEN, RED |
| Batch.update | train(): velocity *= momentum; velocity += lr * grad; theta -= velocity |
| train | train(): the epochs, the steps, the cost, the divergence checks, the flush |
| BatchMeter | alignment.AlignmentMeter (compare.py --alignment), for a batch's runs |

The weights' layout (LAYER1, LAYER2, the offsets) comes from the nets' NAMES and shapes().
"""
import math
import sys
from typing import NamedTuple

import numpy as np

import broken_net
import original_net
from original_net import COLS4, INDEX8, NAMES, VALID8
from study import alignment, cli, interventions
from study.registry import GROUPS

# A run's row of weights is the nets' flat vector (their train() concatenates NAMES in
# order): layer 1's kernels, then layer 2's, then the dense head.
LAYER1 = tuple(name for name in NAMES if name.startswith("W1"))  # W1a, W1b: a channel each
LAYER2 = tuple(name for name in NAMES if name.startswith("W2"))  # W2a..W2d
_ends = np.cumsum([math.prod(shape) for shape in original_net.shapes().values()]).tolist()
END = dict(zip(NAMES, _ends))  # where each weight ends in the row (the kernels come first)
K1 = slice(0, END[LAYER1[-1]])                   # the kernels of layer 1, ...
K2 = slice(END[LAYER1[-1]], END[LAYER2[-1]])     # ... and of layer 2
CONV = K2.stop  # W1a..W2d: the only weights a broken line reaches
Z1 = len(LAYER1) * INDEX8.shape[1]  # layer 1's outputs a run: a channel's 8x8 pixels each
Z2 = len(LAYER2) * COLS4.shape[0]   # layer 2's: 4x4 each


class RunDiverged(ArithmeticError):
    """A run of the batch stopped being finite: .run is its index (None if no single run
    could be named), str() the message its net gives, .where the epoch and the cause."""

    def __init__(self, run, epoch, cause, lr):
        super().__init__(original_net.diverged(epoch, cause, lr))
        self.run, self.where = run, f"diverged in epoch {epoch} ({cause})"


# ---------------------------------------------------------------- the batch

SWAP = np.array([0, 2, 1, 3])  # position k of a 2x2 window -> its position in the window.T


def pool(maps, base):
    """2x2 max pooling of maps (runs, C, n, n, 4) in window layout, as original_net.maxpool.

    Returns the pooled maps and, per window, the flat index into maps of its first
    maximum (where its gradient goes back to); base: the flat index of each window's
    position 0.
    """
    at = maps.argmax(axis=-1) + base
    return maps.reshape(-1).take(at), at


def transposed(shape, runs, chosen, axes):
    """A flat index table over (runs,) + shape: the identity, but with the array's axes
    permuted as axes says in the runs where chosen is true."""
    index = np.arange(runs * math.prod(shape)).reshape((runs,) + shape)
    permuted = index.transpose((0,) + tuple(1 + a for a in axes))
    return np.where(np.reshape(chosen, (runs,) + (1,) * len(shape)), permuted, index).ravel()


class Batch:
    """R runs of one shape: their weights, velocities and gradients as rows of (R, P)
    arrays, with the nets' forward and backward written for a leading run axis.

    frozen: per run, whether its conv weights (W1a..W2d) are kept at their initial
    values (the frozen-conv control: its conv gradients are zeroed before the update).
    redirect: per run, None or an intervention of interventions.KINDS (a run with both
    broken lines whose conv step is the intervention's); seeds: per run, its seed (the
    matched noise's generator).
    """

    def __init__(self, params, breaks, frozen=None, redirect=None, seeds=None):
        runs = self.runs = len(params)
        shapes = [params[0][name].shape for name in NAMES]
        starts = np.cumsum([0] + [math.prod(shape) for shape in shapes])
        spans = list(zip(NAMES, starts, starts[1:], shapes))
        # Every op below runs over a whole contiguous array: numpy is several times
        # slower on strided views.
        self.theta = np.stack([np.concatenate([p[name].ravel() for name in NAMES])
                               for p in params])
        self.velocity = np.zeros_like(self.theta)
        self.grad = np.empty_like(self.theta)
        self.w = {name: self.theta[:, lo:hi].reshape((runs,) + shape)
                  for name, lo, hi, shape in spans}
        self.g = {name: self.grad[:, lo:hi].reshape((runs,) + shape)
                  for name, lo, hi, shape in spans}
        self.k1 = self.theta[:, K1].reshape(runs, 2, 9)           # [W1a, W1b]
        self.k2 = self.theta[:, K2].reshape(runs, 2, 2, 9)        # [[W2a, W2b], [W2c, W2d]]
        self.g_k1 = self.grad[:, K1].reshape(runs, 2, 9)
        self.g_k2 = self.grad[:, K2].reshape(runs, 2, 2, 9)
        # The callers' dicts become views of their rows, as the nets' train() does it.
        for r, p in enumerate(params):
            p.update({name: self.theta[r, lo:hi].reshape(shape)
                      for name, lo, hi, shape in spans})
        self.base1 = np.arange(0, runs * Z1, 4).reshape(runs, 2, 4, 4)
        self.base2 = np.arange(0, runs * Z2, 4).reshape(runs, 4, 2, 2)
        # Per-run switches of the broken lines as flat index tables (None where no run of
        # the batch has the line): GREEN transposes each 2x2 map of d_p2; RED sends each
        # window's gradient to where the 8x8 mask, transposed, has its 1: the position
        # SWAP[k] of the transposed window, k being that window's first maximum.
        green = ["green" in b for b in breaks]
        red = ["red" in b for b in breaks]
        self.green = transposed((4, 2, 2), runs, green, (0, 2, 1)) if any(green) else None
        self.red = None
        if any(red):
            pixels = np.arange(runs * Z1).reshape(runs, 2, 4, 4, 4)
            flipped = pixels.transpose(0, 1, 3, 2, 4)[..., SWAP]
            self.red = (transposed((2, 4, 4), runs, red, (0, 2, 1)),
                        np.where(np.reshape(red, (runs, 1, 1, 1, 1)), flipped, pixels).ravel())
        self.frozen = np.flatnonzero(frozen) if frozen is not None and any(frozen) else None
        # The intervention nets' runs, by kind, and the matched noise's generators.
        self.redirect = {kind: np.flatnonzero([k == kind for k in redirect])
                         for kind in interventions.KINDS if redirect and kind in redirect}
        matched = self.redirect.get(interventions.MATCHED, [])
        self.generators = [interventions.noise_generator(seeds[r]) for r in matched]
        self.noise = None

    def forward(self, patches1):
        """original_net.forward for every run, from the runs' layer-1 patches (R, 9, 64):
        y_hat (R,) and the cache."""
        w, runs = self.w, self.runs
        # Red star: layer 1.
        z1 = (self.k1 @ patches1).reshape(runs, 2, 4, 4, 4)
        a1 = np.empty_like(z1)
        np.maximum(z1[:, 0], 0, out=a1[:, 0])
        np.arctan(z1[:, 1], out=a1[:, 1])
        p1, at1 = pool(a1, self.base1)
        # Blue star: layer 2.
        # A 0/1 matrix gathers the patches: each result is one input, whatever the order
        # of the sum, so one matrix product for all runs gives the nets' numbers.
        patches2 = (p1.reshape(runs * 2, 16) @ COLS4).reshape(runs, 2, 9, 16)
        z2 = (self.k2 @ patches2).reshape(runs, 4, 2, 2, 4)
        a2 = np.arctan(z2)
        np.maximum(z2[:, 1], 0, out=a2[:, 1])
        np.tanh(z2[:, 3], out=a2[:, 3])
        p2, at2 = pool(a2, self.base2)
        # Green, pink and black stars.
        f = p2.reshape(runs, 1, 16)
        z3 = f @ w["W3"]
        h3 = np.arctan(z3)
        h4 = np.tanh(h3 @ w["W4"])
        y_hat = original_net.sigmoid((h4 @ w["W5"]).reshape(runs))
        cache = dict(patches1=patches1, z1=z1, at1=at1, patches2=patches2, z2=z2, p2=p2,
                     at2=at2, f=f, z3=z3, h3=h3, h4=h4)
        return y_hat, cache

    def backward_dense(self, cache, y_hat, error):
        """original_net.backward down to layer 2's pooled maps: writes the W3, W4, W5
        gradients and returns d_p2, the gradient at those maps. error: y_hat - y."""
        w, g, c, runs = self.w, self.g, cache, self.runs
        d_z5 = (error * y_hat * (1 - y_hat)).reshape(runs, 1, 1)
        h4, z3 = c["h4"], c["z3"]
        d_z4 = w["W5"].transpose(0, 2, 1) * d_z5 * (1 - h4 * h4)           # (R, 1, h4)
        d_z3 = (w["W4"] @ d_z4.transpose(0, 2, 1)).transpose(0, 2, 1) / (1 + z3 * z3)
        d_p2 = (w["W3"] @ d_z3.transpose(0, 2, 1)).reshape(runs, 4, 2, 2)
        # The outer products: einsum's loop is twice as fast as multiply's here.
        np.einsum("ri,rj->rij", c["f"].reshape(runs, -1), d_z3.reshape(runs, -1), out=g["W3"])
        np.einsum("ri,rj->rij", c["h3"].reshape(runs, -1), d_z4.reshape(runs, -1), out=g["W4"])
        np.multiply(h4.reshape(runs, -1, 1), d_z5, out=g["W5"])
        return d_p2

    @staticmethod
    def backward_conv(cache, d_p2, k2, green, red, d_k1, d_k2):
        """The rest of backward, layer 2 and layer 1, with each run's broken lines (the
        index tables green and red, or None), into d_k1 (R, 2, 9) and d_k2 (R, 2, 2, 9).

        Max pooling sends each window's gradient to one position, so the activation
        derivatives are needed there only: they are computed at those positions, and
        the products scattered into zeros. Every nonzero number is the nets' (the same
        operations on the same operands); a zero the nets write as -0.0 (0 times a
        negative) is +0.0 here, and no later number depends on a zero's sign.
        """
        c, runs = cache, len(d_p2)
        if green is not None:  # GREEN: each 2x2 map of d_p2 transposed, in the green runs
            d_p2 = d_p2.reshape(-1).take(green).reshape(d_p2.shape)
        at2 = c["at2"]
        z = c["z2"].reshape(-1).take(at2)                 # z2 at each window's maximum
        act = 1 / (1 + z * z)                             # arctan' (2a, 2c)
        np.greater(z[:, 1], 0, out=act[:, 1])             # ReLU' (2b)
        a = c["p2"][:, 3]                                 # a2 at the maxima of 2d
        np.subtract(1, a * a, out=act[:, 3])              # tanh' (2d)
        d_z2 = np.zeros(runs * Z2)
        d_z2.put(at2, d_p2 * act)
        d_z2 = d_z2.reshape(runs, 2, 2, 16)
        np.matmul(d_z2, c["patches2"].transpose(0, 1, 3, 2), out=d_k2)
        d_patches2 = k2.transpose(0, 1, 3, 2) @ d_z2
        d_p1 = (d_patches2.reshape(runs, 2, 144) @ COLS4.T).reshape(runs, 2, 4, 4)
        at1 = c["at1"]
        if red is not None:  # RED: each 8x8 mask transposed, in the red runs
            windows, pixels = red
            at1 = pixels.take(at1.reshape(-1).take(windows)).reshape(at1.shape)
        z = c["z1"].reshape(-1).take(at1)
        act = 1 / (1 + z * z)                             # arctan' (1b)
        np.greater(z[:, 0], 0, out=act[:, 0])             # ReLU' (1a)
        d_z1 = np.zeros(runs * Z1)
        d_z1.put(at1, d_p1 * act)
        np.matmul(d_z1.reshape(runs, 2, -1), c["patches1"].transpose(0, 2, 1), out=d_k1)

    def draw_noise(self, steps):
        """An epoch's standard normal draws of each matched-noise run, (runs, steps, conv
        weights), as interventions.Redirect draws them."""
        if self.generators:
            self.noise = np.stack([g.standard_normal((steps, CONV)) for g in self.generators])

    def redirect_conv(self, cache, d_p2, i):
        """The intervention runs' conv gradients (in self.grad, from both broken lines)
        replaced by their intervention's (interventions.redirected), at step i of the
        epoch: the true gradient is computed for those runs at the same weights."""
        for kind, runs in self.redirect.items():
            true = np.empty((len(runs), CONV))
            self.backward_conv(sub_cache(cache, runs), d_p2[runs], self.k2[runs], None, None,
                               true[:, K1].reshape(-1, 2, 9), true[:, K2].reshape(-1, 2, 2, 9))
            broken = self.grad[runs, :CONV]
            noise = self.noise[:, i] if kind == interventions.MATCHED else None
            new = [interventions.redirected(
                kind, broken[:, group], true[:, group],
                None if noise is None else np.ascontiguousarray(noise[:, group]))
                for group in (K1, K2)]
            self.grad[runs, :CONV] = np.concatenate(new, axis=1)

    def update(self, lr, momentum):
        """v = momentum * v + lr * grad; W = W - v, for every weight of every run; lr a
        column of each run's rate (each product is the nets' lr * grad, bit for bit)."""
        if self.frozen is not None:  # the frozen-conv control: no conv gradient
            self.grad[self.frozen, :CONV] = 0.0
        self.grad *= lr
        self.velocity *= momentum
        self.velocity += self.grad
        self.theta -= self.velocity

    def finite(self, r):
        """Run r's gradient, velocity and weights are all finite numbers."""
        return all(np.isfinite(a[r]).all() for a in (self.grad, self.velocity, self.theta))


def sub_cache(cache, runs):
    """The part of a batch's cache that backward_conv needs, for some of its runs (an
    index array), their flat indices renumbered as if they were a batch of their own."""
    sub = {key: cache[key][runs] for key in ("patches1", "z1", "patches2", "z2", "p2")}
    place = np.arange(len(runs)) - np.asarray(runs)  # each run's move, in runs
    sub["at1"] = cache["at1"][runs] + (place * Z1).reshape(-1, 1, 1, 1)
    sub["at2"] = cache["at2"][runs] + (place * Z2).reshape(-1, 1, 1, 1)
    return sub


class BatchMeter:
    """AlignmentMeter's measure for the runs in align, inside the batch.

    The broken and the true gradient share the dense part (W3, W4, W5), computed once,
    so those groups score exactly 1, as in AlignmentMeter, where they are equal; for W1
    and W2 the true gradient comes from the conv part of backward without breaks.
    """

    def __init__(self, batch, params, align, steps):
        self.batch, self.runs = batch, np.asarray(align)
        self.broken = np.empty((len(align), steps, CONV))
        self.true = np.empty_like(self.broken)
        self.starts = alignment.group_starts(params)[:2]
        self.means = [[] for _ in align]  # per run: a (measures, groups) array an epoch

    def step(self, cache, d_p2, i):
        runs, batch = self.runs, self.batch
        true = np.empty((len(runs), CONV))
        batch.backward_conv(sub_cache(cache, runs), d_p2[runs], batch.k2[runs], None, None,
                            true[:, K1].reshape(-1, 2, 9), true[:, K2].reshape(-1, 2, 2, 9))
        self.true[:, i] = true
        self.broken[:, i] = batch.grad[runs, :CONV]

    def end_epoch(self):
        for means, broken, true in zip(self.means, self.broken, self.true):
            epoch = np.ones((len(alignment.MEASURES), len(GROUPS)))  # W3..W5: exactly 1
            epoch[:, :2] = alignment.epoch_summary(broken, true, self.starts)
            means.append(epoch)


def distinct_rows(rows):
    """The distinct rows of a 2-d array, and for each row the index of its copy there:
    np.unique(rows, axis=0, return_inverse=True), but sorting a key of each row (its
    product with a fixed random vector) instead of the rows, 20 times faster."""
    key = rows @ np.random.default_rng(0).standard_normal(rows.shape[1])
    _, first, which = np.unique(key, return_index=True, return_inverse=True)
    distinct = rows[first]
    if not np.array_equal(distinct[which.ravel()], rows):  # two rows shared a key
        distinct, which = np.unique(rows, axis=0, return_inverse=True)
    return distinct, which.ravel()


class Trained(NamedTuple):
    """What train() returns."""
    histories: list   # per run, its epoch costs
    alignments: list  # per run of align, its (epochs, measures, groups) alignment
    rights: object    # (runs, checkpoints, 2): right answers on the training and the
    #                   held-out images at the end of each checkpoint epoch


def patch_table(images):
    """The layer-1 patches of each distinct image of images (R, N, 8, 8), once (the runs
    share their data set), and which (N, R): the row of the table each run's image i is."""
    runs, n = images.shape[:2]
    distinct, which = distinct_rows(images.reshape(runs * n, -1))
    return (np.ascontiguousarray(distinct[:, INDEX8] * VALID8),     # (images, 9, 64)
            which.reshape(runs, n).T.copy())


def right_answers(batch, table, which, targets):
    """Each run's right answers on its images (patch_table's table and which; targets (N,
    R)) with its weights now: y_hat >= 0.5 is digit 1, as the nets' predict()."""
    right = np.zeros(batch.runs, dtype=int)
    for i in range(len(which)):
        y_hat, _ = batch.forward(table.take(which[i], axis=0))
        right += (y_hat >= 0.5) == (targets[i] == 1)
    return right


def train(params, images, labels, breaks, epochs, lr, momentum, align=(), on_epoch=None,
          frozen=None, redirect=None, seeds=None, held=None, checkpoints=()):
    """Train R runs in lock-step, each exactly as its net's train() would.

    params: R parameter dicts of one shape, trained in place (they become views, as in
    the nets). images (R, N, 8, 8), labels (R, N): each run's training images in its
    order. breaks: per run, its broken lines: () is the original net, ("green",),
    ("red",) or ("green", "red") the broken one. lr: the learning rate, one for all
    runs or one a run. frozen: per run, True for the frozen-conv control
    (original_net.train with the conv gradients zeroed before each update). redirect
    and seeds: per run, its intervention (None, or one of interventions.KINDS, with
    both broken lines: interventions.Redirect is its reference) and its seed. align:
    indices of runs whose broken gradient is measured against the true one
    (AlignmentMeter's measure). held: (images (R, M, 8, 8), labels (R, M)), each run's
    held-out images; at the end of each epoch of checkpoints every run's right answers
    on its training and held-out images are counted (no number of the training
    changes). on_epoch(epoch), if given, is called after each epoch.

    Returns Trained: the epoch costs, per run in align its alignment, and the right
    answers at the checkpoints. Raises RunDiverged when a run's numbers stop being
    finite, as its net raises TrainingDiverged.
    """
    runs, steps = len(params), images.shape[1]
    lrs = np.broadcast_to(np.asarray(lr, dtype=float), (runs,))
    rates = lrs.reshape(runs, 1).copy()  # a column: row r of the gradient times run r's rate
    batch = Batch(params, breaks, frozen, redirect, seeds)
    # A step's patches are rows copied from the table of the distinct images' patches.
    table, which = patch_table(images)
    targets = np.asarray(labels, dtype=float).T.copy()       # (N, R)
    judged = [(table, which, targets)]
    if held is not None:
        judged.append(patch_table(held[0]) + (np.asarray(held[1], dtype=float).T.copy(),))
    rights = np.zeros((runs, len(checkpoints), len(judged)), dtype=int)
    meter = None
    if len(align):
        meter = BatchMeter(batch, params[0], align, steps)
    histories = np.empty((epochs, runs))
    for epoch in range(1, epochs + 1):
        costs = np.zeros(runs)
        batch.draw_noise(steps)
        with np.errstate(over="raise", invalid="raise", divide="raise"):
            for i in range(steps):
                try:
                    y_hat, cache = batch.forward(table.take(which[i], axis=0))
                    error = y_hat - targets[i]
                    d_p2 = batch.backward_dense(cache, y_hat, error)
                    batch.backward_conv(cache, d_p2, batch.k2, batch.green, batch.red,
                                        batch.g_k1, batch.g_k2)
                    if meter:
                        meter.step(cache, d_p2, i)
                    batch.redirect_conv(cache, d_p2, i)
                except FloatingPointError as fault:
                    raise replay(params, images, labels, breaks, align, epoch, i, fault,
                                 lrs) from None
                try:
                    batch.update(rates, momentum)
                    costs += 0.5 * error * error  # as the nets: products, not **
                except FloatingPointError as fault:
                    run = first_broken(batch)
                    raise RunDiverged(run, epoch, cause(fault),
                                      lrs[0 if run is None else run]) from None
        for r, cost in enumerate(costs.tolist()):
            if not math.isfinite(cost) or not batch.finite(r):
                raise RunDiverged(r, epoch, f"cost {cost}", lrs[r])
        # As in the nets: flush velocities that decay into slow subnormal numbers.
        batch.velocity[np.abs(batch.velocity) < 1e-200] = 0.0
        histories[epoch - 1] = costs
        if meter:
            meter.end_epoch()
        if epoch in checkpoints:
            at = list(checkpoints).index(epoch)
            for j, images_of in enumerate(judged):
                rights[:, at, j] = right_answers(batch, *images_of)
        if on_epoch:
            on_epoch(epoch)
    return Trained(histories.T.tolist(),
                   [np.array(means) for means in meter.means] if meter else [], rights)


# ---------------------------------------------------------------- divergence

def cause(error):
    """A FloatingPointError's cause, as the nets say it: 'overflow', 'invalid value'."""
    return str(error).split(" encountered")[0]


def first_broken(batch):
    """The first run whose gradient, velocity or weights are no longer finite."""
    return next((r for r in range(batch.runs) if not batch.finite(r)), None)


def replay(params, images, labels, breaks, align, epoch, i, error, lrs):
    """The RunDiverged for a step that failed in forward or backward: each run's step
    is replayed with its net's own functions (the weights are still those of the
    step's start), and the first run that fails is named, with its net's message (lrs:
    each run's rate)."""
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        for r, (p, b) in enumerate(zip(params, breaks)):
            x, y = images[r, i], float(labels[r, i])
            try:
                if b:
                    cache = broken_net.forward(p, x)[1]
                    broken_net.backward(p, cache, y, b)
                    if r in align:
                        broken_net.backward(p, cache, y, ())
                else:
                    original_net.backward(p, original_net.forward(p, x)[1], y)
            except FloatingPointError as own:
                return RunDiverged(r, epoch, cause(own), lrs[r])
    return RunDiverged(None, epoch, cause(error), lrs[0])


# ---------------------------------------------------------------- python3 -m study.lockstep

def measure(sizes=(1, 5, 10, 20, 40), epochs=5, images=100, repeats=5):
    """Seconds a step of original_net.train takes, and a run-step of lock-step batches
    of each size, the best of repeats, all measured side by side in this process. The
    runs are those compare.py trains: seed s's own images and order, half of them
    broken; the article's network (W3 16x28, W4 28x36); the first images of each split."""
    import time
    data = {seed: original_net.load_data(seed)[:2] for seed in range(max(sizes))}

    def seconds(train):
        start = time.perf_counter()
        train()
        return time.perf_counter() - start

    def batch(runs):
        params = [original_net.init_params(seed) for seed in range(runs)]
        x = np.stack([data[seed][0][:images] for seed in range(runs)])
        y = np.stack([data[seed][1][:images] for seed in range(runs)])
        breaks = [()] * (runs - runs // 2) + [("green", "red")] * (runs // 2)
        return lambda: train(params, x, y, breaks, epochs, 0.001, 0.9)

    best = dict.fromkeys(("one",) + tuple(sizes), math.inf)
    x, y = data[0][0][:images], data[0][1][:images]
    for _ in range(repeats):  # each measured beside the others, so that they see one machine
        best["one"] = min(best["one"], seconds(
            lambda: original_net.train(original_net.init_params(0), x, y, epochs)))
        for runs in sizes:
            best[runs] = min(best[runs], seconds(batch(runs)) / runs)
    return {key: value / (epochs * images) for key, value in best.items()}


def main(argv=None):
    """python3 -m study.lockstep: the side-by-side measurement; returns the exit status."""
    return cli.run_main("study.lockstep", measure_and_print, argv)


def measure_and_print(argv):
    cli.Parser(prog="python3 -m study.lockstep",
               description="Measure a step of original_net.train against a run-step of "
                           "lock-step batches, side by side in one process (about 5 s).",
               allow_abbrev=False).parse_args(argv)
    step = measure()
    one = step.pop("one")
    print(f"one original_net.train step: {one * 1e6:.1f} us (the best of five)")
    for runs, per in step.items():
        print(f"lock-step batch of {cli.count(runs, 'run'):7} ({runs // 2} broken): "
              f"{per * 1e6:5.1f} us a run-step = {per / one:.3f}x", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
