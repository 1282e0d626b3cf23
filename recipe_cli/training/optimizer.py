"""Optimizers whose step on a large weight table costs what the batch touches, with thinc's Adam.v1 settings.

recipe.LazyAdam.v1: thinc's Adam.v1, with the same settings and the same training, whose step on a table runs Adam
on the rows the batch touches and the rows still moving, instead of on every entry. recipe.SparseAdam.v1 (the
`SparseAdam` class below) moves only the touched rows, as PyTorch's SparseAdam does: a different training, chosen
by evidence or not at all.

thinc's Optimizer updates every entry of every parameter array at every step: it clips the gradient, runs Adam on
the weights and both moments, zeroes the gradient, applies L2 as weight decay and updates the averaged weights, in
about twenty passes over the array and its temporaries. A batch of one text touches a few hundred rows of a
hash-embedding table, or about a hundred entries of TextCatBOW's.

Which arrays are tables is found from the gradients: a float32 array of 1 or 2 dimensions and at least MIN_ROWS rows
(entries of a 1-D array are its rows). A row is *moving* (touched, or Adam still moves its weights) or *quiet*
(every later Adam move of its weights is below an eighth of their float32 spacing, so that thinc's step rounds it
away). A table whose moving and touched rows are more than DENSE_SHARE of its rows takes thinc's own dense step
(a small hash table whose rows are mostly moving, say), and is checked for quiet rows every CHECK_EVERY updates.
Each other step of a table:

1. the gradient's non-zero rows are found;
2. the gradient is clipped by the norm of the whole array, as thinc does;
3. thinc's own kernel (`ops.adam`) runs on the touched and moving rows, gathered;
4. every row's moments decay (x b1, x b2) and its weights shrink by weight decay, with the float32 operations of
   thinc's kernel and Optimizer; the processed rows' results are written over them. The forward pass of the next
   batch may read any row, and weight decay (learn_rate * L2 = 1e-5 per step) is far above float32's resolution,
   so no row's weights may be left behind; the moments are kept exact the same way, because a closed form
   (m * b1^k) differs from k float32 multiplications by their rounding, and the gradients of later updates,
   computed from weights that differ in their last bits, drift apart within a few hundred updates;
5. the averages of the processed rows are updated with thinc's `ops.update_averages`, and the quiet ones among
   them stop moving.

So the live weights and the moments are thinc's, bit for bit, but for the flush of tiny moments below. The
averages of quiet rows (which nothing reads during training) are brought up to date lazily, when the row is next
processed and before anything reads them: `averages` is a property that does so (for `use_params` at evaluation
and saving, the model-last of an interrupted run, the resume state), and so does pickling. A quiet row's weights
follow w_j = w_s * prod(1 - c_i) (c_i = lr * L2 at update i), so its average after updates s+1..t is
ema_t = P * ema_s + Q * w_t, with P = prod_j d_j and Q = sum_j (1 - d_j) * prod_{i>j} d_i * w_j / w_t, from float64
log-prefix sums (d_j = min((1 + j) / (10 + j), 0.9999), thinc's decay). thinc's float32 decay rounds each update
by up to half a spacing, so the catch-up's error is at most 2^-24 * d_t / (1 - d_t) * max|w| (thinc's own float32
average carries up to 2^-24 / (1 - d_t) * max|w| of rounding).

The bound on a quiet row's later moves: the move at update s+j is at most
lr * F * (b1 / sqrt(b2))^j * |m| / (sqrt(v) + eps), with F the largest bias correction sqrt(1 - b2^n) / (1 - b1^n)
and lr the largest learn rate so far (a larger one makes every row moving again).

No subnormal moments (x86 arithmetic on them is 10-100x slower): moments below FLUSH (1e-36) are set to zero, on
the processed rows at every step and on the whole array every FLUSH_EVERY steps, in between which a moment decays
by at most b1^16 (0.19 at b1 = 0.9), staying above float32's smallest normal number (1.2e-38). A first moment below
FLUSH moves a weight by at most lr * FLUSH / eps / (1 - b1 / sqrt(b2)) over all later updates: 1.0e-30 with the
recipe's settings (lr 0.001, eps 1e-8, b1 0.9, b2 0.999); a second moment below FLUSH changes sqrt(v) + eps by at
most 1e-18, a relative 1e-10, below float32's resolution (6e-8).

Arrays that are not tables (small, 3-D, dense gradients), cupy arrays, L2 added to the gradient
(L2_is_weight_decay = false), scheduled betas or eps take thinc's own step.
"""

import math
from typing import Any

import numpy
from thinc.api import NumpyOps, Optimizer, registry
from thinc.optimizers import FloatOrSeq, KeyT
from thinc.types import FloatsXd

# Arrays with fewer rows take thinc's dense step: the bookkeeping would cost more than it saves.
MIN_ROWS = 512
# A step that would process more than this share of a table's rows processes all of them, densely: gathering and
# scattering half of a 5,000 x 96 table cost 1.7 times thinc's dense step, a quarter about as much.
DENSE_SHARE = 0.25
# Moments below this magnitude are set to zero every FLUSH_EVERY updates (see the module's docstring): in
# between they decay by at most 0.9^16 = 0.19 (b1 = 0.9), to no less than 1.9e-37, above float32's smallest
# normal number (1.2e-38).
FLUSH = 1e-36
FLUSH_EVERY = 16
# A table whose rows are mostly moving takes thinc's dense step, and is checked for quiet rows every this many
# updates (a multiple of FLUSH_EVERY).
CHECK_EVERY = 64
# A table's per-step history restarts (after bringing every row up to date) every this many updates, so that its
# float64 prefix sums stay far from overflow.
REBASE_STEPS = 50_000
# A gradient is searched for touched rows in blocks of this many 64-bit words, then pieces of PIECE words (see
# _touched_rows): measured fastest among 256-4096 on a 1,048,576 and a 7,340,032-float table.
BLOCK = 512
PIECE = 32

_OPS = NumpyOps()
# The base class's slots, which the properties below shadow: the optimizer's own access to its state.
_SLOTS: dict[str, Any] = {name: Optimizer.__dict__[name] for name in ("mom1", "mom2", "averages")}


def describe_optimizer(name: str, *, gpu: bool) -> str:
    """The training header's line for the registered optimizer `name`, saying what it does on this device."""
    steps = {
        "recipe.LazyAdam.v1": "thinc's Adam.v1, whose step on a table runs on the rows still moving",
        "recipe.SparseAdam.v1": "Adam whose step on a table moves the rows the batch touches, the others kept",
        "recipe.SparseAdam.v2": "Adam whose step on a table moves the rows the batch touches by their momentum's "
        "whole effect, the others caught up when next touched",
    }
    if name not in steps:
        return name
    if gpu:
        return f"{name}: on GPU every array takes thinc's dense Adam.v1 step (the table steps run on CPU arrays)"
    return f"{name} ({steps[name]})"


@registry.optimizers("recipe.LazyAdam.v1")
def lazy_adam(
    *,
    learn_rate: FloatOrSeq,
    beta1: FloatOrSeq,
    beta2: FloatOrSeq,
    eps: FloatOrSeq,
    L2: FloatOrSeq,
    L2_is_weight_decay: bool,
    grad_clip: FloatOrSeq,
    use_averages: bool,
) -> Optimizer:
    """thinc's Adam.v1 (same settings, same training) whose step on a table runs Adam only on the rows the batch
    touches and the rows still moving."""
    return LazyAdam(
        learn_rate,
        beta1=beta1,
        beta2=beta2,
        eps=eps,
        L2=L2,
        L2_is_weight_decay=L2_is_weight_decay,
        grad_clip=grad_clip,
        use_averages=use_averages,
    )


class _Table:
    """The lazy state of one table: per row, the update count its average is current at; the rows still moving;
    and per-update log-prefix sums for the averages' catch-up, counted from update `base`."""

    # fmt: off
    __slots__ = ("rows", "stamp", "moving", "is_moving", "processed", "dense", "lr_ref", "base", "log_d", "log_g",
                 "sums", "size")
    # fmt: on

    def __init__(self, rows: int, current: int) -> None:
        self.rows = rows
        self.stamp = numpy.full(rows, current, dtype=numpy.int64)
        # Dense steps until the first check; the learn rate its quiet rows were judged with.
        self.dense = True
        self.lr_ref = 0.0
        self.wake()
        self.restart(current)

    def wake(self) -> None:
        """Make every row moving (processed at the next step)."""
        self.moving = numpy.arange(self.rows, dtype=numpy.intp)
        self.is_moving = numpy.ones(self.rows, dtype=bool)
        self.processed = self.rows

    def settle(self, processed: numpy.ndarray, quiet: numpy.ndarray) -> None:
        """After a step that processed these rows: the quiet ones stop moving."""
        self.is_moving[processed] = ~quiet
        self.moving = processed[~quiet]
        self.processed = len(processed)

    def restart(self, base: int) -> None:
        self.base = base
        self.log_d = numpy.zeros(1024, dtype=numpy.float64)
        self.log_g = numpy.zeros(1024, dtype=numpy.float64)
        self.sums = numpy.zeros(1024, dtype=numpy.float64)
        self.size = 1

    def record(self, decay: float, shrink: float) -> None:
        """Add a step whose average decay is `decay` and whose weight decay multiplies weights by `shrink`."""
        if self.size == len(self.log_d):
            for name in ("log_d", "log_g", "sums"):
                old = getattr(self, name)
                new = numpy.zeros(2 * len(old), dtype=numpy.float64)
                new[: len(old)] = old
                setattr(self, name, new)
        i = self.size
        self.log_d[i] = self.log_d[i - 1] + math.log(decay)
        self.log_g[i] = self.log_g[i - 1] + math.log(shrink)
        self.sums[i] = self.sums[i - 1] + (1.0 - decay) * math.exp(self.log_g[i] - self.log_d[i])
        self.size += 1


class LazyAdam(Optimizer):
    """thinc's Optimizer (Adam) with lazy steps on tables; see the module's docstring."""

    __slots__ = ["_tables", "_weights", "_in_step", "_bias_max"]

    def __init__(
        self,
        learn_rate: FloatOrSeq,
        *,
        L2: FloatOrSeq,
        beta1: FloatOrSeq,
        beta2: FloatOrSeq,
        eps: FloatOrSeq,
        grad_clip: FloatOrSeq,
        use_averages: bool,
        L2_is_weight_decay: bool,
    ) -> None:
        self._tables: dict[KeyT, _Table] = {}
        self._weights: dict[KeyT, numpy.ndarray] = {}
        self._in_step = True
        super().__init__(
            learn_rate,
            L2=L2,
            beta1=beta1,
            beta2=beta2,
            eps=eps,
            grad_clip=grad_clip,
            use_averages=use_averages,
            use_radam=False,
            L2_is_weight_decay=L2_is_weight_decay,
        )
        self._bias_max = _bias_max(self.b1, self.b2)
        self._in_step = False

    # The averages others read (use_params, the saved state) are brought up to date first.
    @property
    def averages(self) -> dict[KeyT, FloatsXd] | None:
        self._catch_up_unless_stepping()
        return _SLOTS["averages"].__get__(self)

    @averages.setter
    def averages(self, value: dict[KeyT, FloatsXd] | None) -> None:
        _SLOTS["averages"].__set__(self, value)

    def __getstate__(self) -> dict[str, Any]:
        self.catch_up()
        return {name: getattr(self, name) for name in Optimizer.__slots__}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self._in_step = True
        self._tables = {}
        self._weights = {}
        for name, value in state.items():
            setattr(self, name, value)
        self._bias_max = _bias_max(self.b1, self.b2)
        self._in_step = False

    def processed_share(self) -> dict[KeyT, float]:
        """Per table (the arrays that take the lazy step): the share of its rows the last step processed."""
        return {key: table.processed / table.rows for key, table in self._tables.items()}

    def catch_up(self) -> None:
        """Bring every row up to date (the quiet rows' averages here; the sparse rules' weights and moments too),
        and restart each table's history there: the state is then the one a fresh optimizer restored from it
        (`output.state.restore_state`) has, so that a resumed run goes on bit for bit as the uninterrupted one."""
        for key, table in self._tables.items():
            current = self.nr_update[key]
            self._catch_up(key, table, numpy.flatnonzero(table.stamp < current), current)
            table.restart(current)

    def _catch_up_unless_stepping(self) -> None:
        if not self._in_step and self._tables:
            self._in_step = True
            try:
                self.catch_up()
            finally:
                self._in_step = False

    def __call__(
        self, key: KeyT, weights: FloatsXd, gradient: FloatsXd, *, lr_scale: float = 1.0
    ) -> tuple[FloatsXd, FloatsXd]:
        """Update weights from gradient in place, as thinc's Optimizer does; RETURNS (weights, gradient)."""
        self._in_step = True
        try:
            if self._is_table(weights, gradient):
                return self._table_step(key, weights, gradient, lr_scale)  # type: ignore[arg-type,return-value]
            table = self._tables.pop(key, None)
            if table is not None:
                # No longer a table (a dense gradient or a changed shape): bring it up to date first.
                self._catch_up(key, table, numpy.flatnonzero(table.stamp < self.nr_update[key]), self.nr_update[key])
                del self._weights[key]
            return super().__call__(key, weights, gradient, lr_scale=lr_scale)
        finally:
            self._in_step = False

    def _is_table(self, weights: Any, gradient: Any) -> bool:
        return (
            isinstance(weights, numpy.ndarray)
            and isinstance(gradient, numpy.ndarray)
            and weights.dtype == numpy.float32
            and gradient.dtype == numpy.float32
            and weights.ndim in (1, 2)
            and weights.shape == gradient.shape
            and weights.shape[0] >= MIN_ROWS
            and weights.flags.c_contiguous
            and gradient.flags.c_contiguous
            and self.b1 > 0.0
            and self.b2 > 0.0
            and (self.L2 == 0 or self.L2_is_weight_decay)
            and not {"b1", "b2", "eps"} & set(self.schedules)
        )

    def _table_state(self, key: KeyT, weights: numpy.ndarray) -> tuple[dict, dict, dict | None, _Table]:
        """The moments, the averages (None: not kept) and the lazy state of a table, made where missing."""
        mom1 = _SLOTS["mom1"].__get__(self)
        mom2 = _SLOTS["mom2"].__get__(self)
        averages = _SLOTS["averages"].__get__(self)
        if key not in mom1:
            mom1[key] = _OPS.alloc1f(weights.size)
            mom2[key] = _OPS.alloc1f(weights.size)
        if averages is not None and key not in averages:
            averages[key] = _OPS.alloc(weights.shape, dtype="float32")
        table = self._tables.get(key)
        if table is None or table.rows != weights.shape[0] or mom1[key].size != weights.size:
            # New (or restored from a saved state, or resized): every row is current and moving.
            table = self._tables[key] = _Table(weights.shape[0], self.nr_update[key])
        self._weights[key] = weights
        return mom1, mom2, averages, table

    def _table_step(
        self, key: KeyT, weights: numpy.ndarray, gradient: numpy.ndarray, lr_scale: float
    ) -> tuple[numpy.ndarray, numpy.ndarray]:
        ops = _OPS
        mom1, mom2, averages, table = self._table_state(key, weights)
        rows = weights.shape[0]
        step = self.nr_update[key] + 1
        lr_now = lr_scale * self.learn_rate
        if lr_now > table.lr_ref:
            # A quiet row's skipped moves are bounded with the largest learn rate so far: a larger one wakes all.
            table.lr_ref = lr_now
            table.wake()
        if table.dense and step % CHECK_EVERY:
            # Most of the table's rows are still moving: thinc's own step on all of them until the next check,
            # without looking for touched rows (every row is then current, and stays moving).
            super().__call__(key, weights, gradient, lr_scale=lr_scale)  # type: ignore[arg-type]
            if step % FLUSH_EVERY == 0:
                _flush(mom1[key])
                _flush(mom2[key])
            table.stamp.fill(step)
            table.record(_average_decay(step), 1.0 - self._shrink(lr_scale))
            return weights, gradient
        self.nr_update[key] = step
        W = weights.reshape(rows, -1)
        G = gradient.reshape(rows, -1)
        M1 = mom1[key].reshape(rows, -1)
        M2 = mom2[key].reshape(rows, -1)
        # 1. The touched rows: those whose gradient is not all zero.
        touched = _touched_rows(gradient)
        stale = touched[table.stamp[touched] < step - 1]
        self._catch_up(key, table, stale, step - 1)
        process = numpy.concatenate([table.moving, touched[~table.is_moving[touched]]])
        # 2. Clipping by the whole gradient's norm, as thinc's ops.clip_gradient does.
        scale = None
        if self.grad_clip:
            norm = numpy.linalg.norm(gradient)
            if norm >= self.grad_clip:
                scale = self.grad_clip / norm
        # 3. Adam with thinc's kernel on the processed rows (all of them when they are most of the table), gathered
        # before the moments' decay below, which the kernel does itself.
        fix1 = 1.0 - (self.b1**step)
        fix2 = 1.0 - (self.b2**step)
        lr = self.learn_rate * fix2**0.5 / fix1
        dense = len(process) > DENSE_SHARE * rows
        if dense:
            self._catch_up(key, table, numpy.flatnonzero(table.stamp < step - 1), step - 1)
            process = numpy.arange(rows, dtype=numpy.intp)
            w, g, m, v = W, G, M1, M2
        else:
            w, g, m, v = W[process], G[process], M1[process], M2[process]
        if scale is not None:
            g *= scale
        ops.adam(w.reshape(-1), g.reshape(-1), m.reshape(-1), v.reshape(-1), self.b1, self.b2, self.eps, lr * lr_scale)
        G[touched] = 0
        # 4. Every row's moments decay, and its weights by weight decay, with the float32 arithmetic of thinc's
        # kernel and Optimizer: the processed rows' new values are decayed apart and written over the others.
        shrink = self._shrink(lr_scale)
        if shrink:
            weights -= shrink * weights
            if not dense:
                w -= shrink * w
        if not dense:
            M1 *= numpy.float32(self.b1)
            M2 *= numpy.float32(self.b2)
            W[process] = w
        # No subnormal moments: the processed rows are flushed at every step, the others (which only decay, by
        # at most b1^16 = 0.19 in between) every FLUSH_EVERY steps.
        if not dense:
            _flush(m)
            _flush(v)
            M1[process] = m
            M2[process] = v
        if step % FLUSH_EVERY == 0:
            _flush(M1)
            _flush(M2)
        # 5. Averages of the processed rows; the rows whose next Adam steps round away become quiet.
        if averages is not None:
            E = averages[key].reshape(rows, -1)
            e = E if dense else E[process]
            ops.update_averages(e, w, step)
            if not dense:
                E[process] = e
        table.stamp[process] = step
        table.settle(process, self._quiet(w, m, v, table.lr_ref))
        # Mostly moving: dense steps until the next check (rows moving for longer than needed is always exact).
        table.dense = len(table.moving) > DENSE_SHARE * rows
        if table.dense:
            table.wake()
        table.record(_average_decay(step), 1.0 - shrink)
        if table.size > REBASE_STEPS:
            self._catch_up(key, table, numpy.flatnonzero(table.stamp < step), step)
            table.restart(step)
        return weights, gradient

    def _shrink(self, lr_scale: float) -> float:
        """The share of every weight that weight decay takes at this step (thinc's expression)."""
        return lr_scale * self.learn_rate * self.L2 if self.L2 != 0 and self.L2_is_weight_decay else 0.0

    def _quiet(self, w: numpy.ndarray, m: numpy.ndarray, v: numpy.ndarray, lr_ref: float) -> numpy.ndarray:
        """The rows whose every later Adam step is below an eighth of their weights' float32 spacing."""
        bound = lr_ref * self._bias_max * float(numpy.float32(self.b1)) / math.sqrt(numpy.float32(self.b2))
        # Eight times the move against the spacing: an eighth of the spacing of 0.0 would round to 0.
        moves = numpy.abs(m) * (8 * bound) / (numpy.sqrt(v) + self.eps)
        return (moves < numpy.spacing(numpy.abs(w))).all(axis=1)

    def _catch_up(self, key: KeyT, table: _Table, rows: numpy.ndarray, current: int) -> None:
        """Bring the given quiet rows' averages from their stamps up to update `current`."""
        averages = _SLOTS["averages"].__get__(self)
        if not len(rows) or averages is None:
            table.stamp[rows] = current
            return
        start = (table.stamp[rows] - table.base)[:, None]
        end = current - table.base
        log_d_end = table.log_d[end]
        keep = numpy.exp(log_d_end - table.log_d[start])
        take = math.exp(log_d_end - table.log_g[end]) * (table.sums[end] - table.sums[start])
        W = self._weights[key].reshape(table.rows, -1)
        E = averages[key].reshape(table.rows, -1)
        E[rows] = (keep * E[rows] + take * W[rows]).astype(numpy.float32)
        table.stamp[rows] = current


@registry.optimizers("recipe.SparseAdam.v1")
def sparse_adam(
    *,
    learn_rate: FloatOrSeq,
    beta1: FloatOrSeq,
    beta2: FloatOrSeq,
    eps: FloatOrSeq,
    L2: FloatOrSeq,
    L2_is_weight_decay: bool,
    grad_clip: FloatOrSeq,
    use_averages: bool,
) -> Optimizer:
    """Adam whose step on a table moves only the rows the batch touches, as PyTorch's SparseAdam does: a row
    without gradient keeps its weights and moments (no momentum, no weight decay for it at that step); every
    other array takes thinc's Adam.v1 step."""
    return SparseAdam(
        learn_rate,
        beta1=beta1,
        beta2=beta2,
        eps=eps,
        L2=L2,
        L2_is_weight_decay=L2_is_weight_decay,
        grad_clip=grad_clip,
        use_averages=use_averages,
    )


class SparseAdam(LazyAdam):
    """Adam, the sparse rule: on a table, the touched rows take Adam's step (clipped by the gradient's norm, bias
    corrected with the optimizer's update count), then weight decay and the averages' update, with thinc's float32
    expressions; the other rows keep their weights and moments, and their averages, which move towards the
    unchanged weights at every update, are brought up to date in closed form (`LazyAdam._catch_up` with no
    shrinking: ema_t = P * ema_s + (1 - P) * w) when the row is next touched and before anything reads them.
    Other arrays take thinc's dense step. No moment decays without a gradient, so none becomes subnormal that way;
    those the step decays are flushed below FLUSH, as are the dense arrays' every FLUSH_EVERY updates.

    Not Adam's training: one gradient moves a row about a tenth as far, because Adam's momentum goes on moving it
    at the next updates, by (b1 / sqrt(b2))^k of the first move at the k-th (about 10 first moves in all with the
    recipe's betas), and here it stops with the gradient."""

    __slots__: list[str] = []

    def __call__(
        self, key: KeyT, weights: FloatsXd, gradient: FloatsXd, *, lr_scale: float = 1.0
    ) -> tuple[FloatsXd, FloatsXd]:
        """Update weights from gradient in place, as thinc's Optimizer does; RETURNS (weights, gradient)."""
        result = super().__call__(key, weights, gradient, lr_scale=lr_scale)
        if key not in self._tables and self.nr_update[key] % FLUSH_EVERY == 0:
            mom1 = _SLOTS["mom1"].__get__(self)
            if key in mom1 and isinstance(mom1[key], numpy.ndarray):
                _flush(mom1[key])
                _flush(_SLOTS["mom2"].__get__(self)[key])
        return result

    def _table_step(
        self, key: KeyT, weights: numpy.ndarray, gradient: numpy.ndarray, lr_scale: float
    ) -> tuple[numpy.ndarray, numpy.ndarray]:
        ops = _OPS
        mom1, mom2, averages, table = self._table_state(key, weights)
        rows = weights.shape[0]
        step = self.nr_update[key] = self.nr_update[key] + 1
        W = weights.reshape(rows, -1)
        G = gradient.reshape(rows, -1)
        M1 = mom1[key].reshape(rows, -1)
        M2 = mom2[key].reshape(rows, -1)
        touched = _touched_rows(gradient)
        self._catch_up(key, table, touched[table.stamp[touched] < step - 1], step - 1)
        w, g, m, v = W[touched], G[touched], M1[touched], M2[touched]
        if self.grad_clip:
            # thinc's ops.clip_gradient, on the only rows whose gradient is not zero.
            norm = numpy.linalg.norm(g)
            if norm >= self.grad_clip:
                g *= self.grad_clip / norm
        b1 = self._table_beta1()
        fix1 = 1.0 - (b1**step)
        fix2 = 1.0 - (self.b2**step)
        lr = self.learn_rate * fix2**0.5 / fix1
        ops.adam(w.reshape(-1), g.reshape(-1), m.reshape(-1), v.reshape(-1), b1, self.b2, self.eps, lr * lr_scale)
        shrink = self._shrink(lr_scale)
        if shrink:
            w -= shrink * w
        _flush(m)
        _flush(v)
        W[touched] = w
        M1[touched] = m
        M2[touched] = v
        G[touched] = 0
        if averages is not None:
            E = averages[key].reshape(rows, -1)
            e = E[touched]
            ops.update_averages(e, w, step)
            E[touched] = e
        table.stamp[touched] = step
        table.record(_average_decay(step), self._quiet_shrink(shrink))
        if table.size > REBASE_STEPS:
            self._catch_up(key, table, numpy.flatnonzero(table.stamp < step), step)
            table.restart(step)
        return weights, gradient

    def _table_beta1(self) -> float:
        """The first moment's decay in a table's step."""
        return self.b1

    def _quiet_shrink(self, shrink: float) -> float:
        """What an update does to the weights of a table's rows without gradient (1.0: nothing)."""
        return 1.0


@registry.optimizers("recipe.SparseAdam.v2")
def folded_sparse_adam(
    *,
    learn_rate: FloatOrSeq,
    beta1: FloatOrSeq,
    beta2: FloatOrSeq,
    eps: FloatOrSeq,
    L2: FloatOrSeq,
    L2_is_weight_decay: bool,
    grad_clip: FloatOrSeq,
    use_averages: bool,
) -> Optimizer:
    """Adam whose step on a table moves only the rows the batch touches, each by its gradient's whole momentum at
    once (beta1 = 0 on tables), with the updates a row missed caught up in closed form (its second moment's decay
    and weight decay); every other array takes thinc's Adam.v1 step."""
    return FoldedSparseAdam(
        learn_rate,
        beta1=beta1,
        beta2=beta2,
        eps=eps,
        L2=L2,
        L2_is_weight_decay=L2_is_weight_decay,
        grad_clip=grad_clip,
        use_averages=use_averages,
    )


class FoldedSparseAdam(SparseAdam):
    """SparseAdam with Adam's momentum on tables folded into each step: a touched row moves by
    a_t * g / (sqrt(v) + eps) (Adam with beta1 = 0, where fix1 = 1), which is what Adam's momentum moves it in all
    over the updates after one gradient, sum_k (1 - b1) * (b1 / sqrt(b2))^k ~ 1.005 times that with the recipe's
    betas, only at once. A row without gradient keeps its weights and moments until it is next touched or anything
    reads the weights or averages (`catch_up`, which the averages property and pickling run); then the updates it
    missed are applied in closed form: its weights shrink by the product of (1 - lr * L2) over them and its second
    moment by b2^k, both from float64 and rounded once, and its average follows the shrinking weights
    (`LazyAdam._catch_up`). Between, the forward pass reads such a row without the weight decay it missed:
    (1 - 1e-5)^k, 1% after 1,000 updates without gradient."""

    __slots__: list[str] = []

    def _table_beta1(self) -> float:
        return 0.0

    def _quiet_shrink(self, shrink: float) -> float:
        return 1.0 - shrink

    def _catch_up(self, key: KeyT, table: _Table, rows: numpy.ndarray, current: int) -> None:
        """Bring the given rows' weights, second moments and averages from their stamps up to update `current`."""
        if len(rows):
            stamps = table.stamp[rows]
            W = self._weights[key].reshape(table.rows, -1)
            shrink = numpy.exp(table.log_g[current - table.base] - table.log_g[stamps - table.base])[:, None]
            W[rows] = (W[rows] * shrink).astype(numpy.float32)
            M2 = _SLOTS["mom2"].__get__(self)[key].reshape(table.rows, -1)
            decay = numpy.power(float(self.b2), (current - stamps).astype(numpy.float64))[:, None]
            moments = (M2[rows] * decay).astype(numpy.float32)
            _flush(moments)
            M2[rows] = moments
        super()._catch_up(key, table, rows, current)


def _touched_rows(gradient: numpy.ndarray) -> numpy.ndarray:
    """The rows of a 1-D or 2-D gradient that are not all zero (-0.0 counts as zero, NaN as not), in order.

    The gradient is read once, as blocks of BLOCK 64-bit words, for the blocks holding a word that is not zero;
    only those blocks are looked at again (in pieces of PIECE words, then word by word). A comparison of every
    float with zero, its mask and a search of the mask cost several times that one read, which is what bounds a
    table's step when a batch touches a few of its rows."""
    rows = gradient.shape[0]
    flat = gradient.reshape(-1)
    if flat.size % 2 == 0 and rows:
        words = flat.view(numpy.uint64)
        whole = words.size - words.size % BLOCK
        blocks = words[:whole].reshape(-1, BLOCK)
        hit = numpy.flatnonzero(blocks.max(axis=1)) if whole else numpy.zeros(0, dtype=numpy.intp)
        if len(hit) <= len(blocks) // 8:
            block, piece = numpy.nonzero(blocks[hit].reshape(len(hit), BLOCK // PIECE, PIECE).max(axis=2))
            starts = hit[block] * BLOCK + piece * PIECE
            candidates = numpy.concatenate(
                [(starts[:, None] + numpy.arange(PIECE)).reshape(-1), numpy.arange(whole, words.size)]
            )
            candidates = candidates[words[candidates] != 0]
            elements = numpy.concatenate([2 * candidates, 2 * candidates + 1])
            elements = elements[flat[elements] != 0]
            return numpy.unique(elements // (flat.size // rows))
    mask = gradient != 0
    return numpy.flatnonzero(mask if mask.ndim == 1 else mask.any(axis=1))


def _flush(array: numpy.ndarray) -> None:
    """Set entries below FLUSH in magnitude to zero (no subnormal moments)."""
    array[numpy.abs(array) < FLUSH] = 0.0


def _average_decay(step: int) -> float:
    """thinc's decay of the averages at update `step` (ops.update_averages)."""
    return min((1.0 + step) / (10.0 + step), 0.9999)


def _bias_max(b1: float, b2: float) -> float:
    """The largest Adam bias correction sqrt(1 - b2^n) / (1 - b1^n) over n >= 1 (1 or more)."""
    n = numpy.arange(1, 200_001, dtype=numpy.float64)
    factors = numpy.sqrt(1.0 - b2**n) / (1.0 - b1**n)
    return max(1.0, float(factors.max()) / (1.0 - b1**200_000))
