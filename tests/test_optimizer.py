"""recipe.LazyAdam.v1 trains as thinc's Adam.v1 does, and recipe.SparseAdam.v1 as thinc's Adam.v1 with every
untouched row of a table put back after each step: a real spaCy component, 2,000 batch-1 updates on the bundled
slices, with the training state saved and restored (as a resumed run restores it) half-way."""

import importlib.metadata
import math
import pickle
from pathlib import Path

import numpy
import pytest
import spacy
from spacy.util import fix_random_seed, load_model_from_config
from thinc.api import Adam, Model, NumpyOps, Optimizer, registry

from recipe_cli.config.build import build_config
from recipe_cli.data.corpus import RecipeCorpus
from recipe_cli.output.state import TrainingState, restore_state, save_state
from recipe_cli.training import optimizer as optimizer_module
from recipe_cli.training.optimizer import (
    DENSE_SHARE,
    FLUSH,
    FLUSH_EVERY,
    MIN_ROWS,
    FoldedSparseAdam,
    LazyAdam,
    SparseAdam,
)
from recipe_cli.training.setup import resolve_training

DATA = Path(__file__).parent / "data"
ROOT = Path(__file__).resolve().parent.parent
STEPS = 2000
# float32's unit roundoff: half the spacing of 1.0.
ROUNDOFF = 2.0**-24


def _recipe_optimizer() -> dict:
    """The recipe's [training.optimizer] settings, as configs/ner.cfg has them."""
    return dict(spacy.util.load_config(ROOT / "configs" / "ner.cfg")["training"]["optimizer"])


def test_registered_with_adams_settings():
    settings = _recipe_optimizer()
    # The packaged default.
    assert settings["@optimizers"] == "recipe.SparseAdam.v2"
    assert type(registry.resolve({"optimizer": settings})["optimizer"]) is FoldedSparseAdam
    settings["@optimizers"] = "recipe.LazyAdam.v1"
    optimizer = registry.resolve({"optimizer": settings})["optimizer"]
    assert isinstance(optimizer, LazyAdam) and isinstance(optimizer, Optimizer)
    values = (optimizer.learn_rate, optimizer.b1, optimizer.b2, optimizer.eps, optimizer.L2, optimizer.grad_clip)
    assert values == (0.001, 0.9, 0.999, 1e-08, 0.01, 1.0)
    assert optimizer.L2_is_weight_decay is True and optimizer.averages == {}
    # spaCy (spacy train, spacy debug config) finds it through the entry point where recipe-train is installed.
    points = {p.name: p.value for p in importlib.metadata.entry_points(group="thinc_optimizers")}
    assert points["recipe.LazyAdam.v1"] == "recipe_cli.training.optimizer:lazy_adam"
    assert points["recipe.SparseAdam.v1"] == "recipe_cli.training.optimizer:sparse_adam"
    assert points["recipe.SparseAdam.v2"] == "recipe_cli.training.optimizer:folded_sparse_adam"
    settings["@optimizers"] = "recipe.SparseAdam.v1"
    sparse = registry.resolve({"optimizer": settings})["optimizer"]
    assert type(sparse) is SparseAdam
    assert (sparse.learn_rate, sparse.b1, sparse.b2, sparse.eps, sparse.L2, sparse.grad_clip) == values


def _params(nlp) -> dict[str, tuple[Model, str]]:
    """Every parameter by a name that is the same in a reloaded pipeline: component/position/parameter."""
    found: dict[str, tuple[Model, str]] = {}
    seen: set[int] = set()
    for name, proc in nlp.pipeline:
        for i, node in enumerate(proc.model.walk()):
            if node.id in seen:
                continue
            seen.add(node.id)
            for param in node.param_names:
                if node.has_param(param):
                    found[f"{name}/{i}/{param}"] = (node, param)
    return found


def _train(config, data: Path, optimizer_name: str, tmp_path: Path, resume_at: int | None = None):
    """STEPS updates of one example each, cycling through the file, with dropout from a fixed seed. At update
    resume_at the pipeline is saved under the averages and the training state with it, as an epoch checkpoint
    saves them; a fresh pipeline and optimizer load them and go on. RETURNS the live weights, averages and moments
    by parameter name with the number of updates each had; and the share of rows the optimizer's last step
    processed, per table, as (layer name, parameter, share)."""
    config = config.copy()
    config["training"]["optimizer"]["@optimizers"] = optimizer_name
    fix_random_seed(0)
    nlp = load_model_from_config(config, auto_fill=True, validate=True)
    optimizer = resolve_training(nlp.config)["optimizer"]
    corpus = RecipeCorpus(data, format="auto", sents_per_doc=1, holdout=0.0, part="all", seed=0, limit=0)
    examples = list(corpus(nlp))
    nlp.initialize(lambda: examples, sgd=optimizer)
    fix_random_seed(1)
    for step in range(STEPS):
        if step == resume_at:
            tmp_path.mkdir(parents=True)
            with nlp.use_params(optimizer.averages):
                nlp.to_disk(tmp_path / "model")
            save_state(nlp, optimizer, TrainingState(1, step, 0, 0.0, 1, {}, {}), tmp_path / "state")
            dropout_rng = numpy.random.get_state()
            nlp = spacy.load(tmp_path / "model")
            optimizer = resolve_training(nlp.config)["optimizer"]
            restore_state(nlp, optimizer, tmp_path / "state")
            examples = list(corpus(nlp))
            numpy.random.set_state(dropout_rng)
        nlp.update([examples[step % len(examples)]], drop=0.2, sgd=optimizer, losses={})
        optimizer.step_schedules()
    shares = optimizer.processed_share() if isinstance(optimizer, LazyAdam) else {}
    averages, mom1, mom2 = optimizer.averages, optimizer.mom1, optimizer.mom2
    result = {}
    for name, (node, param) in _params(nlp).items():
        key = (node.id, param)
        if key in optimizer.nr_update:
            arrays = (node.get_param(param), averages[key], mom1[key], mom2[key])
            result[name] = tuple(a.copy() for a in arrays) + (optimizer.nr_update[key],)
    tables = [(node.name, param, shares[(node.id, param)]) for node, param in _params(nlp).values()
              if (node.id, param) in shares]  # fmt: skip
    return result, sorted(tables)


# Small widths keep the ner run to seconds; the hash tables keep the packaged row counts, and TextCatBOW a table of
# 6 x 16,384 entries (of which a batch of one comment touches about 130).
CASES = {
    "ner": (DATA / "wnut17-train.conll", {
        "components.tok2vec.model.encode.width": 16, "components.tok2vec.model.encode.depth": 1,
        "components.ner.model.hidden_width": 16, "components.tok2vec.model.embed.rows": [20000, 4000, 10000, 10000],
    }),
    "textcat": (DATA / "goemotions-train.json", {"components.textcat.model.length": 16384}),
}  # fmt: skip


# ner's updates cost about 15 ms each on one core whatever the optimizer (spaCy's transition-based parser), and the
# comparison takes 4,000 of them: about a minute.
@pytest.mark.parametrize("component", [pytest.param("ner", marks=pytest.mark.slow), "textcat"])
def test_trains_as_dense_adam(component, tmp_path):
    """The tolerances, derived:

    - Live weights and moments. The lazy step does thinc's float32 operations on every entry (its own kernel on the
      rows it processes, thinc's decay expressions on the rest) except two: a quiet row's Adam move is skipped,
      and it is below an eighth of the weight's float32 spacing, so that thinc's step rounds it away too; and
      moments below FLUSH (1e-36) are set to zero, which moves a weight by at most lr * FLUSH / eps / (1 - b1 /
      sqrt(b2)) = 1.0e-30. So the live weights agree within 1e-30 and the moments within FLUSH.
    - Averages. thinc's float32 moving average rounds by up to half a spacing per update, and the error decays by
      d_n = (1 + n) / (10 + n) per update: at most ROUNDOFF / (1 - d_n) * max|w|. The lazy average of a quiet row
      is a closed form that takes the row's weights to shrink by exactly (1 - lr * L2) per update, where thinc's
      float32 decay rounds by up to half a spacing each time: its error, weighted by the average, is again at most
      ROUNDOFF * d_n / (1 - d_n) * max|w|. Both together: 2 * ROUNDOFF * (10 + n) / 9 * max|w| (2.7e-5 * max|w|
      after 2,000 updates).
    """
    data, overrides = CASES[component]
    config = build_config([component], overrides={"paths.train": str(data), "paths.dev": str(data),
                                                   "training.batcher.size.stop": 16, **overrides}).config  # fmt: skip
    dense, _ = _train(config, data, "Adam.v1", tmp_path / "dense")
    lazy, shares = _train(config, data, "recipe.LazyAdam.v1", tmp_path / "lazy", resume_at=STEPS // 2)
    assert set(lazy) == set(dense)
    settings = config["training"]["optimizer"]
    b1, b2, eps, lr = settings["beta1"], settings["beta2"], settings["eps"], settings["learn_rate"]
    flush_effect = lr * FLUSH / eps / (1 - b1 / math.sqrt(b2))
    assert flush_effect < 1.01e-30
    for name, (weights, averages, mom1, mom2, updates) in dense.items():
        lazy_weights, lazy_averages, lazy_mom1, lazy_mom2, lazy_updates = lazy[name]
        # Every parameter was updated at (nearly) every step: a table a batch does not reach is not.
        assert lazy_updates == updates >= STEPS - 10, name
        assert numpy.abs(lazy_weights - weights).max() <= flush_effect, name
        assert numpy.abs(lazy_mom1 - mom1).max() <= FLUSH, name
        assert numpy.abs(lazy_mom2 - mom2).max() <= FLUSH, name
        scale = max(numpy.abs(weights).max(), numpy.abs(averages).max())
        assert numpy.abs(lazy_averages - averages).max() <= 2 * ROUNDOFF * (10 + updates) / 9 * scale, name
    # The tables were found from their gradients, and the last step of the largest processed a small share of its
    # rows (the smaller hash tables' rows are mostly still moving: they take the dense step).
    tables = {"ner": [("hashembed", "E")] * 4, "textcat": [("sparse_linear", "W")]}
    assert [(layer, param) for layer, param, _ in shares] == tables[component]
    assert min(share for _, _, share in shares) < DENSE_SHARE


# A few rows touched at each update (the table takes the lazy step), or a few hundred among half of its rows (most
# rows keep moving: the table takes thinc's dense step).
@pytest.mark.parametrize("touched", [(64, 4), (2048, 300)], ids=["lazy steps", "dense steps"])
def test_no_subnormal_moments(touched):
    """Rows without gradient for 2,000 updates: their first moment (x0.9 per update) would pass through float32's
    subnormal range (below 1.2e-38) after about 800 updates, as thinc's dense step leaves it; LazyAdam sets
    moments below FLUSH to zero first."""
    rng = numpy.random.default_rng(0)
    settings = {k: v for k, v in _recipe_optimizer().items() if not k.startswith("@")}
    dense, lazy = Adam(**settings), LazyAdam(**settings)
    shape = (4096, 8)
    weights = {id(dense): rng.uniform(-0.1, 0.1, shape).astype("f")}
    weights[id(lazy)] = weights[id(dense)].copy()
    tiny = numpy.finfo(numpy.float32).tiny
    subnormal = {id(dense): 0, id(lazy): 0}
    for step in range(2000):
        gradient = numpy.zeros(shape, dtype="f")
        # All rows at the first update, then only some of the first ones.
        among, count = touched
        rows = numpy.arange(shape[0]) if step == 0 else rng.integers(0, among, count)
        gradient[rows] = rng.normal(0, 0.01, (len(rows), shape[1]))
        for optimizer in (dense, lazy):
            weights[id(optimizer)], _ = optimizer((1, "E"), weights[id(optimizer)], gradient.copy())
            for moments in (optimizer.mom1, optimizer.mom2):
                values = numpy.abs(moments[(1, "E")])
                subnormal[id(optimizer)] += int(((values > 0) & (values < tiny)).sum())
    assert subnormal[id(lazy)] == 0
    assert subnormal[id(dense)] > 1000
    (share,) = lazy.processed_share().values()
    assert (share < DENSE_SHARE) == (touched[0] == 64)
    assert numpy.abs(weights[id(lazy)] - weights[id(dense)]).max() <= 1.01e-30


def _warm_up():
    """A learn rate rising to 0.001 over 300 updates: each rise makes every row of a table moving again."""
    step = 0
    while True:
        yield 0.001 * min(1.0, (step + 1) / 300)
        step += 1


# fmt: off
@pytest.mark.parametrize("case", [
    {"shape": (3000, 8)},
    {"shape": (20000,)},
    {"shape": (3000, 8), "learn_rate": _warm_up},
    {"shape": (3000, 8), "pickle_at": 700},
    {"shape": (3000, 8), "rebase_steps": 100},
    {"shape": (3000, 8), "use_averages": False},
    {"shape": (3000, 8), "L2_is_weight_decay": False},
], ids=["2-D", "1-D", "rising learn rate", "pickled", "history restarted", "no averages", "L2 in the gradient"])
# fmt: on
def test_table_step_as_thinc_step(case, monkeypatch):
    """A table (2-D or 1-D) whose rows get gradient now and then, some often and some rarely: the weights and
    moments are thinc's, the averages within the bound of test_trains_as_dense_adam, also across the optimizer's
    less common paths."""
    if "rebase_steps" in case:
        monkeypatch.setattr(optimizer_module, "REBASE_STEPS", case["rebase_steps"])
    settings = {k: v for k, v in _recipe_optimizer().items() if not k.startswith("@")}
    settings["use_averages"] = case.get("use_averages", True)
    settings["L2_is_weight_decay"] = case.get("L2_is_weight_decay", True)
    rate = case.get("learn_rate")
    dense = Adam(**{**settings, "learn_rate": rate() if rate else settings["learn_rate"]})
    lazy = LazyAdam(**{**settings, "learn_rate": rate() if rate else settings["learn_rate"]})
    rng = numpy.random.default_rng(0)
    shape, key, steps = case["shape"], (1, "E"), 1500
    dense_weights = rng.uniform(-0.1, 0.1, shape).astype("f")
    lazy_weights = dense_weights.copy()
    for step in range(steps):
        gradient = numpy.zeros(shape, dtype="f")
        rows = rng.integers(0, 200 if step % 3 else shape[0], 10)
        gradient[rows] = rng.normal(0, 0.5, (10, *shape[1:]))
        dense_weights, _ = dense(key, dense_weights, gradient.copy())
        lazy_weights, _ = lazy(key, lazy_weights, gradient.copy())
        dense.step_schedules()
        lazy.step_schedules()
        if step == case.get("pickle_at"):
            lazy = pickle.loads(pickle.dumps(lazy))
    assert numpy.abs(lazy_weights - dense_weights).max() <= 1.01e-30
    assert numpy.abs(lazy.mom1[key] - dense.mom1[key]).max() <= FLUSH
    assert numpy.abs(lazy.mom2[key] - dense.mom2[key]).max() <= FLUSH
    if settings["use_averages"]:
        scale = numpy.abs(dense_weights).max()
        assert numpy.abs(lazy.averages[key] - dense.averages[key]).max() <= 2 * ROUNDOFF * (10 + steps) / 9 * scale
    else:
        assert lazy.averages is None
    # L2 added to the gradient makes every row's gradient non-zero: no table, thinc's own step.
    shares = lazy.processed_share()
    assert list(shares) == ([] if not settings["L2_is_weight_decay"] else [key])
    assert all(share < DENSE_SHARE for share in shares.values())


class RestoredRowsAdam(Optimizer):
    """The sparse rule the long way, as the reference: thinc's own dense Adam.v1 step on every array, after which
    each row of a table (MIN_ROWS rows or more) whose gradient was all zero gets its weights and moments back as
    they were before the step, and the rest of its moments below FLUSH become zero; the moments of the other
    arrays are flushed every FLUSH_EVERY updates. A table's gradient is clipped by the norm of its touched rows
    (the same numbers as the whole gradient's; thinc's dot product of the whole array may round them apart)."""

    def __call__(self, key, weights, gradient, *, lr_scale=1.0):
        table = weights.ndim in (1, 2) and weights.shape[0] >= MIN_ROWS
        if not table:
            weights, gradient = super().__call__(key, weights, gradient, lr_scale=lr_scale)
            if self.nr_update[key] % FLUSH_EVERY == 0:
                for moments in (self.mom1[key], self.mom2[key]):
                    moments[numpy.abs(moments) < FLUSH] = 0
            return weights, gradient
        rows = weights.shape[0]
        touched = (gradient.reshape(rows, -1) != 0).any(axis=1)
        norm = numpy.linalg.norm(gradient.reshape(rows, -1)[touched])
        if norm >= self.grad_clip:
            gradient *= self.grad_clip / norm
        grad_clip, self.grad_clip = self.grad_clip, 0.0
        mom1 = self.mom1.get(key, numpy.zeros(weights.size, dtype="f")).reshape(rows, -1)[~touched].copy()
        mom2 = self.mom2.get(key, numpy.zeros(weights.size, dtype="f")).reshape(rows, -1)[~touched].copy()
        kept = weights.reshape(rows, -1)[~touched].copy()
        average = self.averages[key].reshape(rows, -1)[~touched].copy() if key in (self.averages or {}) else 0 * kept
        weights, gradient = super().__call__(key, weights, gradient, lr_scale=lr_scale)
        self.grad_clip = grad_clip
        weights.reshape(rows, -1)[~touched] = kept
        if self.averages is not None:
            # thinc's moving average of the kept weights, by its own kernel.
            NumpyOps().update_averages(average, kept, self.nr_update[key])
            self.averages[key].reshape(rows, -1)[~touched] = average
        for moments, before in ((self.mom1[key], mom1), (self.mom2[key], mom2)):
            moments[numpy.abs(moments) < FLUSH] = 0
            moments.reshape(rows, -1)[~touched] = before
        return weights, gradient


@registry.optimizers("test.RestoredRowsAdam.v1")
def restored_rows_adam(
    *, learn_rate, beta1, beta2, eps, L2, L2_is_weight_decay, grad_clip, use_averages
) -> Optimizer:
    return RestoredRowsAdam(learn_rate, beta1=beta1, beta2=beta2, eps=eps, L2=L2, grad_clip=grad_clip,
                            L2_is_weight_decay=L2_is_weight_decay, use_averages=use_averages)  # fmt: skip


@pytest.mark.parametrize("component", [pytest.param("ner", marks=pytest.mark.slow), "textcat"])
def test_sparse_rule_as_thinc_step_with_untouched_rows_put_back(component, tmp_path):
    """SparseAdam against RestoredRowsAdam, with SparseAdam's state saved and restored half-way. Live weights and
    moments: thinc's float32 operations on the same numbers (its kernel works entry by entry, so a gathered row
    gets the same bits as in place), hence equal. Averages: a row's average is thinc's float32 moving average in
    the reference and a float64 closed form in SparseAdam; the bound of test_trains_as_dense_adam holds (the
    closed form of constant weights is exact but for its final rounding, at most ROUNDOFF * max|w|)."""
    data, overrides = CASES[component]
    config = build_config([component], overrides={"paths.train": str(data), "paths.dev": str(data),
                                                   "training.batcher.size.stop": 16, **overrides}).config  # fmt: skip
    reference, _ = _train(config, data, "test.RestoredRowsAdam.v1", tmp_path / "reference")
    sparse, _ = _train(config, data, "recipe.SparseAdam.v1", tmp_path / "sparse", resume_at=STEPS // 2)
    assert set(sparse) == set(reference)
    moved = 0
    for name, (weights, averages, mom1, mom2, updates) in reference.items():
        sparse_weights, sparse_averages, sparse_mom1, sparse_mom2, sparse_updates = sparse[name]
        assert sparse_updates == updates >= STEPS - 10, name
        numpy.testing.assert_array_equal(sparse_weights, weights, err_msg=name)
        numpy.testing.assert_array_equal(sparse_mom1, mom1, err_msg=name)
        numpy.testing.assert_array_equal(sparse_mom2, mom2, err_msg=name)
        scale = max(numpy.abs(weights).max(), numpy.abs(averages).max())
        assert numpy.abs(sparse_averages - averages).max() <= 2 * ROUNDOFF * (10 + updates) / 9 * scale, name
        moved += int((averages != weights).sum())
    assert moved > 0


def test_sparse_rule_keeps_untouched_rows_and_brings_their_averages_up_to_date():
    """Rows without gradient keep their weights and moments bit for bit; their averages move towards the kept
    weights at every update, and read at any time equal thinc's dense moving average within its rounding (the
    bound of test_trains_as_dense_adam); read or not, the training is the same."""
    settings = {k: v for k, v in _recipe_optimizer().items() if not k.startswith("@")}
    rng = numpy.random.default_rng(0)
    shape, key = (1000, 4), (1, "E")
    read, unread = SparseAdam(**settings), SparseAdam(**settings)
    weights = {id(read): rng.uniform(-0.1, 0.1, shape).astype("f")}
    weights[id(unread)] = weights[id(read)].copy()
    reference = weights[id(read)].copy()
    for step in range(1, 601):
        gradient = numpy.zeros(shape, dtype="f")
        rows = rng.integers(0, 100 if step > 1 else shape[0], 5 if step > 1 else shape[0])
        gradient[rows] = rng.normal(0, 0.5, (len(rows), shape[1]))
        before = {id(o): (weights[id(o)].copy(), o.mom1.get(key, numpy.zeros(4000, "f")).copy()) for o in (read,)}
        for optimizer in (read, unread):
            weights[id(optimizer)], _ = optimizer(key, weights[id(optimizer)], gradient.copy())
        untouched = numpy.ones(shape[0], dtype=bool)
        untouched[rows] = False
        kept_weights, kept_mom1 = before[id(read)]
        if step > 1:
            numpy.testing.assert_array_equal(weights[id(read)][untouched], kept_weights[untouched])
            numpy.testing.assert_array_equal(read.mom1[key].reshape(shape)[untouched], kept_mom1.reshape(shape)[untouched])
        # thinc's average, by its own kernel, densely.
        decay = min((1.0 + step) / (10.0 + step), 0.9999)
        reference -= numpy.float32(1 - decay) * (reference - weights[id(read)])
        if step % 97 == 0:
            scale = numpy.abs(weights[id(read)]).max()
            assert numpy.abs(read.averages[key] - reference).max() <= 2 * ROUNDOFF * (10 + step) / 9 * scale
            # Most rows were last touched at the first update: their averages were brought up to date now.
            assert numpy.abs(read.averages[key][100:] - reference[100:]).max() < 1e-6
    numpy.testing.assert_array_equal(weights[id(read)], weights[id(unread)])
    # Read in between, an average was rounded to float32 once more: a spacing apart at most.
    scale = numpy.abs(weights[id(read)]).max()
    assert numpy.abs(read.averages[key] - unread.averages[key]).max() <= 2 * ROUNDOFF * scale


@pytest.mark.parametrize("shape", [(4096, 8), (64, 8)], ids=["table", "dense array"])
def test_sparse_rule_no_subnormal_moments(shape):
    """Entries whose gradient is zero at every update while their row's is not (a table's always-touched rows, or
    a small array that takes thinc's dense step): their moments decay at each update, and thinc's step takes
    them through float32's subnormal range after about 800 updates; SparseAdam sets them to zero below FLUSH."""
    settings = {k: v for k, v in _recipe_optimizer().items() if not k.startswith("@")}
    rng = numpy.random.default_rng(0)
    dense, sparse = Adam(**settings), SparseAdam(**settings)
    weights = {id(dense): rng.uniform(-0.1, 0.1, shape).astype("f")}
    weights[id(sparse)] = weights[id(dense)].copy()
    tiny = numpy.finfo(numpy.float32).tiny
    subnormal = {id(dense): 0, id(sparse): 0}
    for step in range(1200):
        gradient = numpy.zeros(shape, dtype="f")
        gradient[:4, 1:] = rng.normal(0, 0.01, (4, shape[1] - 1))
        if step == 0:
            gradient[:, 0] = 0.01
        for optimizer in (dense, sparse):
            weights[id(optimizer)], _ = optimizer((1, "E"), weights[id(optimizer)], gradient.copy())
            for moments in (optimizer.mom1, optimizer.mom2):
                values = numpy.abs(moments[(1, "E")])
                subnormal[id(optimizer)] += int(((values > 0) & (values < tiny)).sum())
    assert subnormal[id(sparse)] == 0
    assert subnormal[id(dense)] > 100
    assert list(sparse.processed_share()) == ([(1, "E")] if shape[0] >= MIN_ROWS else [])


def test_the_header_says_what_the_optimizer_does_where_it_runs():
    """The training header's Optimizer line: what each of ours does, and that on GPU it is thinc's dense step
    (a table step is taken only on numpy arrays); any other optimizer by its registered name."""
    from recipe_cli.training.optimizer import describe_optimizer

    assert describe_optimizer("Adam.v1", gpu=False) == describe_optimizer("Adam.v1", gpu=True) == "Adam.v1"
    sparse = describe_optimizer("recipe.SparseAdam.v1", gpu=False)
    assert sparse.startswith("recipe.SparseAdam.v1 (") and "touches" in sparse
    assert describe_optimizer("recipe.LazyAdam.v1", gpu=False).startswith("recipe.LazyAdam.v1 (thinc's Adam.v1")
    assert describe_optimizer("recipe.SparseAdam.v2", gpu=False).startswith("recipe.SparseAdam.v2 (")
    for name in ("recipe.SparseAdam.v1", "recipe.SparseAdam.v2", "recipe.LazyAdam.v1"):
        assert describe_optimizer(name, gpu=True) == (
            f"{name}: on GPU every array takes thinc's dense Adam.v1 step (the table steps run on CPU arrays)"
        )


# fmt: off
@pytest.mark.parametrize("case", [
    {"shape": (3000, 8)},
    {"shape": (20000,)},
    {"shape": (3000, 8), "pickle_at": 700},
    {"shape": (3000, 8), "rebase_steps": 100},
], ids=["2-D", "1-D", "pickled", "history restarted"])
# fmt: on
def test_folded_momentum_rule_against_its_float64_reference(case, monkeypatch):
    """recipe.SparseAdam.v2 against its rule computed densely in float64 at every update: every row's second
    moment decays by b2 and its weights by weight decay, a touched row gets v += (1 - b2) g^2 and moves by
    a_t * g / (sqrt(v) + eps) (Adam with beta1 = 0, the gradient clipped by the norm of the whole), and every
    average follows its weights. Read (the averages property, pickling) at any time, the lazy float32 state is
    the reference's but for float32 rounding: at most a few roundings of each quantity per update, accumulated
    over the updates, 2^-21 * n * (max|w| + lr * max|g| / (sqrt(min v) + eps)) for n updates (a bound, far above
    what is seen)."""
    if "rebase_steps" in case:
        monkeypatch.setattr(optimizer_module, "REBASE_STEPS", case["rebase_steps"])
    settings = {k: v for k, v in _recipe_optimizer().items() if not k.startswith("@")}
    lr, b1, b2, eps, L2, clip = (settings[k] for k in ("learn_rate", "beta1", "beta2", "eps", "L2", "grad_clip"))
    folded = FoldedSparseAdam(**settings)
    rng = numpy.random.default_rng(0)
    shape, key, steps = case["shape"], (1, "E"), 1500
    weights = rng.uniform(-0.1, 0.1, shape).astype("f")
    w = weights.astype(numpy.float64).reshape(shape[0], -1)
    v, e = numpy.zeros_like(w), numpy.zeros_like(w)
    for step in range(1, steps + 1):
        gradient = numpy.zeros(shape, dtype="f")
        rows = rng.integers(0, 200 if step % 3 else shape[0], 10)
        gradient[rows] = rng.normal(0, 0.5, (10, *shape[1:]))
        g = gradient.astype(numpy.float64).reshape(shape[0], -1)
        touched = (g != 0).any(axis=1)
        norm = math.sqrt((g[touched] ** 2).sum())
        if norm >= clip:
            g = g * clip / norm
        v *= b2
        v[touched] += (1 - b2) * g[touched] ** 2
        a = lr * math.sqrt(1 - b2**step)
        w[touched] -= a * g[touched] / (numpy.sqrt(v[touched]) + eps)
        w -= lr * L2 * w
        e -= (1 - min((1 + step) / (10 + step), 0.9999)) * (e - w)
        weights, _ = folded(key, weights, gradient)
        if step == case.get("pickle_at"):
            folded = pickle.loads(pickle.dumps(folded))
        if step % 250 == 0 or step == steps:
            averages = folded.averages[key].reshape(w.shape)  # brings every row up to date
            live = weights.reshape(w.shape)
            moments = folded.mom2[key].reshape(w.shape)
            bound = 2.0**-21 * step * (numpy.abs(w).max() + lr * 1.0 / (math.sqrt(v[v > 0].min()) + eps))
            assert numpy.abs(live - w).max() <= bound, step
            assert numpy.abs(averages - e).max() <= bound, step
            assert numpy.abs(moments - v).max() <= 2.0**-21 * step * v.max(), step
            # What is seen, for the record: far inside the bound.
            assert numpy.abs(live - w).max() < 1e-5
    assert list(folded.processed_share()) == [key]


@pytest.mark.parametrize("name", ["recipe.SparseAdam.v1", "recipe.SparseAdam.v2"])
def test_after_catch_up_a_fresh_optimizer_with_its_state_goes_on_bit_for_bit(name):
    """A resumed run's optimizer is a fresh one holding the saved moments, update counts and averages
    (output.state.restore_state), and the saved state is taken after `catch_up` (output.state.encode_arrays): from
    there, the run that goes on with its own optimizer and the one that goes on with the fresh one must take the
    same steps, bit for bit (the epoch after a resume is the uninterrupted run's epoch)."""
    settings = {**_recipe_optimizer(), "@optimizers": name}
    rng = numpy.random.default_rng(1)
    shape, key = (3000, 8), (1, "E")
    gradients = []
    for step in range(1, 1201):
        gradient = numpy.zeros(shape, dtype="f")
        rows = rng.integers(0, 200 if step % 3 else shape[0], 10)
        gradient[rows] = rng.normal(0, 0.5, (10, shape[1]))
        gradients.append(gradient)
    runs = []
    for resumed in (False, True):
        optimizer = registry.resolve({"optimizer": settings})["optimizer"]
        weights = numpy.random.default_rng(2).uniform(-0.1, 0.1, shape).astype("f")
        for i, gradient in enumerate(gradients):
            weights, _ = optimizer(key, weights, gradient.copy())
            if i + 1 == 600:
                optimizer.catch_up()
                if resumed:
                    fresh = registry.resolve({"optimizer": settings})["optimizer"]
                    fresh.mom1[key], fresh.mom2[key] = optimizer.mom1[key].copy(), optimizer.mom2[key].copy()
                    fresh.nr_update[key] = optimizer.nr_update[key]
                    fresh.averages[key] = optimizer.averages[key].copy()
                    optimizer, weights = fresh, weights.copy()
        runs.append((weights, optimizer.mom1[key], optimizer.mom2[key], optimizer.averages[key]))
    for uninterrupted, resumed in zip(*runs, strict=True):
        assert uninterrupted.tobytes() == resumed.tobytes()
