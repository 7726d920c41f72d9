"""Contract checks that any structloss plugin can run in its own tests.

Each check raises ``AssertionError`` with a message naming what is wrong and how to fix it,
so a plain ``pytest`` test is all a plugin needs::

    import structloss
    from structloss.testing import check_loss, check_plugin, check_structure

    import my_plugin.hooks


    def test_plugin_contract():
        check_plugin(my_plugin.hooks)  # specs valid, every loss composes and passes check_loss


    def test_my_loss():
        loss = structloss.compose({"classes": ["a", "b", "c"], "loss": {"name": "my-loss"}})
        check_loss(loss)

- :func:`check_loss`: an :class:`~structloss.Objective` trains like ``nn.CrossEntropyLoss``.
- :func:`check_structure`: a :class:`~structloss.LabelStructure` is consistent, converts and
  round-trips.
- :func:`check_plugin`: a hooks module registers cleanly on a fresh host, its specs are
  valid, its losses compose and pass :func:`check_loss`, its structure providers build and pass
  :func:`check_structure`.
"""

from __future__ import annotations

import copy
import importlib
import inspect
import pickle
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from structloss.backends import Backend
from structloss.config import build_structure, compose, factory_options
from structloss.errors import IncompatibleStructureError, StructlossError
from structloss.hookspecs import HOOK_NAMES
from structloss.objective import REDUCTIONS, Objective
from structloss.plugins import PluginHost
from structloss.registry import KINDS, PluginInfo
from structloss.specs import STRUCTURE_KINDS
from structloss.structures import (
    Hierarchy,
    LabelEmbedding,
    LabelStructure,
    Similarity,
    check_classes,
)

__all__ = [
    "DEFAULT_CLASSES",
    "check_loss",
    "check_plugin",
    "check_structure",
    "example_hierarchy",
    "example_structure",
]

DEFAULT_CLASSES: tuple[str, ...] = ("cat", "dog", "lion", "wolf", "truck", "bus", "car", "boat")
"""The class list :func:`check_plugin` composes losses and builds structures for."""

LossFactory = Callable[..., Objective]
"""``factory(**overrides) -> Objective``: builds the loss under test again, the same way."""

_MODULE_INTERNALS = frozenset(vars(nn.Module()))
_RTOL, _ATOL = 1e-5, 1e-6


def _fail(who: str, message: str) -> AssertionError:
    return AssertionError(f"{who}: {message}")


def _close(who: str, what: str, actual: Tensor, expected: Tensor, **tolerance: float) -> None:
    try:
        torch.testing.assert_close(
            actual.detach().cpu(),
            expected.detach().cpu(),
            rtol=tolerance.get("rtol", _RTOL),
            atol=tolerance.get("atol", _ATOL),
            check_dtype=False,
        )
    except AssertionError as exc:
        raise _fail(who, f"{what}\n{exc}") from None


# -- example structures ---------------------------------------------------------------------
def example_hierarchy(classes: Sequence[str] = DEFAULT_CLASSES) -> Hierarchy:
    """Return a small two-level hierarchy over ``classes`` for tests.

    The classes are split in label order into two groups (``_group0``, ``_group1``) under a
    root ``_root``; a single class hangs directly under the root.

    Raises:
        StructureError: when a class is named like one of the internal nodes.
    """
    names = check_classes(classes)
    if len(names) < 2:
        return Hierarchy.flat(names, root="_root")
    half = (len(names) + 1) // 2
    parents = {name: "_group0" if i < half else "_group1" for i, name in enumerate(names)}
    parents.update({"_group0": "_root", "_group1": "_root"})
    return Hierarchy.from_parents(names, parents)


def example_structure(kind: str, classes: Sequence[str] = DEFAULT_CLASSES) -> LabelStructure:
    """Return a small structure of ``kind`` over ``classes``, derived from
    :func:`example_hierarchy`.

    ``"hierarchy"`` is that tree, ``"similarity"`` its Wu-Palmer similarity, and
    ``"embedding"`` its path matrix (one row per class, 1 on the nodes of the class's path).

    Raises:
        ValueError: for an unknown kind.
    """
    tree = example_hierarchy(classes)
    if kind == "hierarchy":
        return tree
    if kind == "similarity":
        return tree.to_similarity()
    if kind == "embedding":
        return LabelEmbedding.from_matrix(tree.classes, tree.path_matrix(np.float64))
    raise ValueError(f"unknown structure kind {kind!r}; choose one of {STRUCTURE_KINDS}")


# -- check_loss -----------------------------------------------------------------------------
def check_loss(
    objective: Objective,
    *,
    in_features: int = 8,
    batch: int = 4,
    multilabel: bool | None = None,
    factory: LossFactory | None = None,
    check_ignore: bool | None = None,
    devices: Sequence[str | torch.device] | None = None,
    seed: int = 0,
) -> None:
    """Check that ``objective`` trains like ``nn.CrossEntropyLoss`` and is a well-behaved module.

    It checks that every tensor the objective owns is a registered buffer or parameter; that
    outputs of ``objective.head(in_features)`` give a finite value of the right shape for the
    objective's ``reduction``; that gradients reach the features and the head, are finite and
    non-zero somewhere; that ``scores`` is (batch, num_classes) and finite; that
    ``"sum"`` equals ``"none"``'s sum and ``"mean"`` its mean over the valid rows; for
    single-label losses, that rows whose target is ``ignore_index`` give 0 and a batch whose
    targets are all ignored gives 0, not NaN; that ``.to(torch.float64)`` (and every device in
    ``devices``) keeps it working with the same value; that it pickles; and that its
    ``state_dict`` loads into a fresh instance that then gives the same values.

    Args:
        objective: the loss under test, built for its classes.
        in_features: the width of the random features fed to ``objective.head``.
        batch: the batch size (at least 2 when ignored targets are checked).
        multilabel: whether targets are multi-hot label sets; default
            ``objective.multilabel``.
        factory: ``factory(**overrides) -> Objective`` building the loss again the same way
            (``factory(reduction="sum")`` a variant). Without it, variants are deep copies with
            ``.reduction`` set, and the state-dict round trip loads into a perturbed copy.
        check_ignore: check ``ignore_index`` handling; default: for single-label losses.
        devices: extra devices to move the loss to; default ``["cuda"]`` when CUDA is
            available, else none.
        seed: seeds the random head, features and targets.

    Raises:
        AssertionError: naming the first contract the objective breaks.
        ValueError: for ``batch < 2`` when ignored targets are checked.
    """
    who = f"check_loss({type(objective).__name__})"
    if not isinstance(objective, Objective):
        raise _fail(who, f"expected a structloss.Objective, got {type(objective).__name__}")
    multilabel = bool(objective.multilabel) if multilabel is None else multilabel
    check_ignore = not multilabel if check_ignore is None else check_ignore
    if check_ignore and batch < 2:
        raise ValueError("check_loss needs batch >= 2 to check ignore_index")
    _check_tensors_registered(objective, who)
    generator = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        head = _call(who, "objective.head(in_features)", objective.head, in_features)
    if not isinstance(head, nn.Module):
        raise _fail(who, f"head() must return an nn.Module, got {type(head).__name__}")
    features = torch.randn(batch, in_features, generator=generator)
    target = _random_target(objective.num_classes, batch, multilabel, generator)
    outputs = _check_forward(objective, head, features, target, who)
    _check_scores(objective, outputs, who)
    with torch.no_grad():
        reference = objective(outputs, target)
    _check_pickle(objective, outputs, target, reference, who)
    _check_state_dict(objective, factory, outputs, target, reference, who)
    _check_reductions(objective, factory, outputs, target, check_ignore, who)
    _check_moves(objective, head, features, target, reference, devices, who)


def _call(who: str, what: str, function: Callable[..., Any], *args: Any) -> Any:
    try:
        return function(*args)
    except Exception as exc:
        raise _fail(who, f"{what} raised {type(exc).__name__}: {exc}") from exc


def _walk_tensors(value: Any, path: str) -> Iterable[str]:
    if isinstance(value, Tensor):
        yield path
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            yield from _walk_tensors(item, f"{path}[{i}]")
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _walk_tensors(item, f"{path}[{key!r}]")


def _check_tensors_registered(objective: Objective, who: str) -> None:
    for prefix, module in objective.named_modules():
        for name, value in vars(module).items():
            if name in _MODULE_INTERNALS:
                continue
            for path in _walk_tensors(value, f"{prefix}.{name}" if prefix else name):
                raise _fail(
                    who,
                    f"{path} is a tensor stored as a plain attribute: it does not follow"
                    " .to(device/dtype) and is not in state_dict. Register it with"
                    f" self.register_buffer({name!r}, tensor) (or make it an nn.Parameter)",
                )


def _random_target(
    num_classes: int, batch: int, multilabel: bool, generator: torch.Generator
) -> Tensor:
    if not multilabel:
        return torch.randint(0, num_classes, (batch,), generator=generator)
    hot = torch.rand(batch, num_classes, generator=generator) < 0.5
    hot[torch.arange(batch), torch.randint(0, num_classes, (batch,), generator=generator)] = True
    return hot.float()


def _expected_shape(reduction: str, batch: int) -> tuple[int, ...]:
    return (batch,) if reduction == "none" else ()


def _check_value(value: Any, reduction: str, batch: int, who: str, what: str) -> Tensor:
    if not isinstance(value, Tensor):
        raise _fail(who, f"{what} returned {type(value).__name__}, not a tensor")
    shape = _expected_shape(reduction, batch)
    if tuple(value.shape) != shape:
        raise _fail(
            who, f"{what}: shape {tuple(value.shape)}, expected {shape} (reduction={reduction!r})"
        )
    if not value.is_floating_point():
        raise _fail(who, f"{what} has dtype {value.dtype}; a loss value is floating point")
    if not bool(torch.isfinite(value).all()):
        raise _fail(who, f"{what} is not finite: {value.detach()}")
    return value


def _check_forward(
    objective: Objective, head: nn.Module, features: Tensor, target: Tensor, who: str
) -> Tensor:
    """Check value and gradients; return the head's (detached) outputs."""
    features = features.clone().requires_grad_(True)
    outputs = _call(who, "head(features)", head, features)
    expected = (features.shape[0], objective.output_size)
    if not isinstance(outputs, Tensor) or tuple(outputs.shape) != expected:
        got = tuple(outputs.shape) if isinstance(outputs, Tensor) else type(outputs).__name__
        raise _fail(who, f"head(features) gave {got}; expected (batch, output_size) = {expected}")
    value = _call(who, "objective(outputs, target)", objective, outputs, target)
    batch = features.shape[0]
    _check_value(value, objective.reduction, batch, who, "objective(outputs, target)")
    value.sum().backward()
    named = [("the features", features.grad)]
    named += [(f"head.{n}", p.grad) for n, p in head.named_parameters()]
    named += [
        (f"objective.{n}", p.grad) for n, p in objective.named_parameters() if p.requires_grad
    ]
    grads = [(n, g) for n, g in named if g is not None]
    if features.grad is None:
        raise _fail(who, "no gradient reaches the features: the loss is detached from its inputs")
    for name, grad in grads:
        if not bool(torch.isfinite(grad).all()):
            raise _fail(who, f"the gradient of {name} is not finite")
    if not any(bool((grad != 0).any()) for _, grad in grads):
        raise _fail(who, "every gradient is zero: the loss does not depend on the outputs")
    objective.zero_grad(set_to_none=True)
    return outputs.detach()


def _check_scores(objective: Objective, outputs: Tensor, who: str) -> None:
    with torch.no_grad():
        scores = _call(who, "objective.scores(outputs)", objective.scores, outputs)
    expected = (outputs.shape[0], objective.num_classes)
    if not isinstance(scores, Tensor) or tuple(scores.shape) != expected:
        got = tuple(scores.shape) if isinstance(scores, Tensor) else type(scores).__name__
        raise _fail(
            who, f"scores(outputs) has shape {got}; expected (batch, num_classes) = {expected}"
        )
    if not scores.is_floating_point() or not bool(torch.isfinite(scores).all()):
        raise _fail(who, "scores(outputs) must be finite floating-point class scores")


def _variant(
    objective: Objective, factory: LossFactory | None, reduction: str, who: str
) -> Objective:
    if factory is None:
        made = copy.deepcopy(objective)
        made.reduction = reduction
        return made
    made = _call(who, f"factory(reduction={reduction!r})", lambda: factory(reduction=reduction))
    if not isinstance(made, Objective):
        raise _fail(who, f"factory() returned {type(made).__name__}, not an Objective")
    _call(
        who,
        "loading the state_dict into a factory() variant",
        made.load_state_dict,
        objective.state_dict(),
    )
    return made


def _check_reductions(
    objective: Objective,
    factory: LossFactory | None,
    outputs: Tensor,
    target: Tensor,
    check_ignore: bool,
    who: str,
) -> None:
    batch = outputs.shape[0]
    losses = {r: _variant(objective, factory, r, who) for r in REDUCTIONS}
    valid = torch.ones(batch, dtype=torch.bool)
    if check_ignore:
        target = target.clone()
        target[0] = objective.ignore_index
        valid[0] = False
    values: dict[str, Tensor] = {}
    with torch.no_grad():
        for reduction, loss in losses.items():
            what = f"reduction={reduction!r}" + (" with an ignored target" if check_ignore else "")
            value = _call(who, what, loss, outputs, target)
            values[reduction] = _check_value(value, reduction, batch, who, what)
    none = values["none"]
    if check_ignore and float(none[0]) != 0.0:
        raise _fail(
            who,
            f"reduction='none' gives {float(none[0])} for a row whose target is ignore_index"
            f" ({objective.ignore_index}); ignored rows must give 0 (use self.reduce), or pass"
            " check_ignore=False if the loss does not support ignore_index",
        )
    _close(who, "reduction='sum' differs from reduction='none' summed", values["sum"], none.sum())
    _close(
        who,
        "reduction='mean' differs from the mean of reduction='none' over the valid rows",
        values["mean"],
        none[valid].mean(),
    )
    if check_ignore:
        ignored = torch.full_like(target, objective.ignore_index)
        with torch.no_grad():
            value = _call(
                who, "a batch whose targets are all ignored", losses["mean"], outputs, ignored
            )
        if not isinstance(value, Tensor) or not bool(torch.isfinite(value).all()) or value != 0:
            raise _fail(
                who,
                f"a batch whose targets are all ignored must give 0 with reduction='mean', got"
                f" {value}",
            )


def _default_devices() -> list[str]:
    return ["cuda"] if torch.cuda.is_available() else []


def _check_moves(
    objective: Objective,
    head: nn.Module,
    features: Tensor,
    target: Tensor,
    reference: Tensor,
    devices: Sequence[str | torch.device] | None,
    who: str,
) -> None:
    moves: list[tuple[str, torch.device | None, torch.dtype | None]] = [
        ("torch.float64", None, torch.float64)
    ]
    moves += [(str(d), torch.device(d), None) for d in (devices or _default_devices())]
    for label, device, dtype in moves:
        moved, moved_head = copy.deepcopy(objective), copy.deepcopy(head)
        moved.to(device=device, dtype=dtype)
        moved_head.to(device=device, dtype=dtype)
        x = features.to(device=device, dtype=dtype)
        with torch.no_grad():
            value = _call(
                who,
                f"after .to({label}) the loss",
                lambda moved=moved, moved_head=moved_head, x=x: moved(
                    moved_head(x), target.to(device=x.device)
                ),
            )
        value = _check_value(value, objective.reduction, x.shape[0], who, f"after .to({label})")
        if dtype is not None and value.dtype != dtype:
            raise _fail(who, f"after .to({label}) the loss is {value.dtype}, not {dtype}")
        if device is not None and value.device.type != device.type:
            raise _fail(who, f"after .to({label}) the loss is on {value.device}")
        _close(
            who,
            f"after .to({label}) the loss has another value",
            value.double(),
            reference.double(),
            rtol=1e-3,
            atol=1e-4,
        )


def _check_pickle(
    objective: Objective, outputs: Tensor, target: Tensor, reference: Tensor, who: str
) -> None:
    try:
        restored = pickle.loads(pickle.dumps(objective))
    except Exception as exc:
        raise _fail(
            who,
            f"the objective cannot be pickled ({type(exc).__name__}: {exc}); checkpoints,"
            " DataLoader workers and DDP need that: keep lambdas, open files and locks out of"
            " its attributes",
        ) from exc
    with torch.no_grad():
        value = _call(who, "the unpickled objective", restored, outputs, target)
    _close(who, "the unpickled objective gives another value", value, reference)


def _perturbed_copy(objective: Objective) -> Objective:
    fresh = copy.deepcopy(objective)
    with torch.no_grad():
        for tensor in fresh.state_dict().values():
            if tensor.is_floating_point():
                tensor.add_(1.0)
    return fresh


def _check_state_dict(
    objective: Objective,
    factory: LossFactory | None,
    outputs: Tensor,
    target: Tensor,
    reference: Tensor,
    who: str,
) -> None:
    fresh = _perturbed_copy(objective) if factory is None else _call(who, "factory()", factory)
    if not isinstance(fresh, Objective):
        raise _fail(who, f"factory() returned {type(fresh).__name__}, not an Objective")
    fresh.reduction = objective.reduction
    _call(who, "load_state_dict(state_dict())", fresh.load_state_dict, objective.state_dict())
    with torch.no_grad():
        value = _call(who, "the objective with a loaded state_dict", fresh, outputs, target)
    _close(
        who,
        "a fresh instance with the loaded state_dict gives another value (is some state kept"
        " outside registered buffers and parameters, or in a buffer with persistent=False?)",
        value,
        reference,
    )


# -- check_structure ------------------------------------------------------------------------
def check_structure(
    structure: LabelStructure, classes: Sequence[str] | None = None, *, kind: str | None = None
) -> None:
    """Check that ``structure`` is consistent, converts where it should and round-trips.

    It checks the kind; the classes (and their order, when ``classes`` is given); for a
    hierarchy, that the classes are its leaves in label order, that paths run from the root,
    that the path matrix fits, and that JSON (flat and nested) gives an equal hierarchy back;
    for matrix structures, the matrix's shape; that conversion to a similarity works for
    hierarchies and embeddings and nothing converts to a hierarchy or an embedding; and that
    pickling gives an equal structure.

    Args:
        structure: the structure under test.
        classes: the expected class names, in label order.
        kind: the expected kind (``"hierarchy"``, ``"similarity"``, ``"embedding"``).

    Raises:
        AssertionError: naming the first inconsistency.
    """
    who = f"check_structure({type(structure).__name__})"
    if not isinstance(structure, LabelStructure):
        raise _fail(
            who,
            f"expected a Hierarchy, Similarity or LabelEmbedding, got {type(structure).__name__}",
        )
    if structure.kind not in STRUCTURE_KINDS:
        raise _fail(who, f"kind {structure.kind!r} is not one of {STRUCTURE_KINDS}")
    if kind is not None and structure.kind != kind:
        raise _fail(who, f"expected a {kind}, got a {structure.kind}")
    names = structure.classes
    if not isinstance(names, tuple) or not all(isinstance(n, str) for n in names):
        raise _fail(who, f"classes must be a tuple of strings, got {names!r}")
    if classes is not None and names != tuple(classes):
        same = sorted(names) == sorted(classes)
        raise _fail(
            who,
            ("the classes are in another order" if same else "the classes differ")
            + f": expected {tuple(classes)}, got {names}",
        )
    if structure.num_classes != len(names):
        raise _fail(who, f"num_classes is {structure.num_classes}, not len(classes)={len(names)}")
    if isinstance(structure, Hierarchy):
        _check_hierarchy(structure, who)
    else:
        _check_matrix_structure(structure, who)
    _check_conversions(structure, who)
    try:
        restored = pickle.loads(pickle.dumps(structure))
    except Exception as exc:
        raise _fail(who, f"the structure cannot be pickled: {type(exc).__name__}: {exc}") from exc
    if restored != structure:
        raise _fail(who, "the unpickled structure differs from the original")


def _check_hierarchy(tree: Hierarchy, who: str) -> None:
    n = tree.num_classes
    if tree.nodes[:n] != tree.classes:
        raise _fail(who, "nodes must start with the classes, in label order")
    for name in tree.classes:
        if tree.children(name):
            raise _fail(who, f"class {name!r} has children; classes must be leaves")
        path = tree.path(name)
        if path[0] != tree.root or path[-1] != name:
            raise _fail(who, f"path({name!r}) = {path} does not run from the root to the class")
    paths = tree.path_matrix()
    if paths.shape != (n, tree.num_nodes):
        raise _fail(who, f"path_matrix() has shape {paths.shape}, not {(n, tree.num_nodes)}")
    depths = np.asarray(tree.depths[:n])
    if not np.array_equal(paths.sum(axis=1), depths + 1):
        raise _fail(who, "each row of path_matrix() must hold depth + 1 ones (root to leaf)")
    for nested in (False, True):
        text = tree.to_json(nested=nested)
        try:
            back = Hierarchy.from_json(text)
        except StructlossError as exc:
            raise _fail(who, f"to_json(nested={nested}) does not read back: {exc}") from exc
        if back != tree:
            raise _fail(who, f"to_json(nested={nested}) reads back as another hierarchy")


def _check_matrix_structure(structure: LabelStructure, who: str) -> None:
    matrix = getattr(structure, "matrix", None)
    if not isinstance(matrix, np.ndarray) or matrix.ndim != 2:
        raise _fail(who, "a similarity or embedding needs a 2-D numpy `matrix`")
    n = structure.num_classes
    if matrix.shape[0] != n:
        raise _fail(who, f"matrix has {matrix.shape[0]} rows for {n} classes")
    if not np.isfinite(matrix).all():
        raise _fail(who, "matrix has non-finite values")
    if isinstance(structure, Similarity):
        if matrix.shape != (n, n):
            raise _fail(who, f"similarity matrix has shape {matrix.shape}, not {(n, n)}")
        if matrix.min() < 0 or matrix.max() > 1 or not np.all(np.diag(matrix) == 1):
            raise _fail(who, "similarities must lie in [0, 1] with a unit diagonal")


def _check_conversions(structure: LabelStructure, who: str) -> None:
    if structure.convert(structure.kind) is not structure:
        raise _fail(who, f"convert({structure.kind!r}) must return the structure itself")
    if structure.kind in ("hierarchy", "embedding"):
        try:
            similarity = structure.convert("similarity")
        except StructlossError as exc:
            raise _fail(who, f"convert('similarity') failed: {exc}") from exc
        if not isinstance(similarity, Similarity) or similarity.classes != structure.classes:
            raise _fail(who, "convert('similarity') must give a Similarity over the same classes")
    for target in ("hierarchy", "embedding"):
        if target == structure.kind:
            continue
        try:
            structure.convert(target)
        except IncompatibleStructureError:
            continue
        raise _fail(who, f"convert({target!r}) should raise IncompatibleStructureError")


# -- check_plugin ---------------------------------------------------------------------------
def check_plugin(
    plugin: object | str,
    *,
    classes: Sequence[str] = DEFAULT_CLASSES,
    structures: Mapping[str, Mapping[str, Any] | None] | None = None,
    losses: Mapping[str, Mapping[str, Any] | None] | None = None,
    labels: Any = None,
    requires: Sequence[object | str] = (),
    in_features: int = 8,
    batch: int = 4,
) -> PluginHost:
    """Register a hooks module on a fresh host and check everything it provides.

    The module is registered on ``PluginHost(entry_points=[], env={})`` (the built-ins and
    nothing else installed), so the check does not depend on what else is installed. Then:
    registration succeeds and every hook is marked ``@structloss.hookimpl``; every hook yields
    valid specs of its kind with a one-line summary and no name clashes with the built-ins;
    every structure provider builds for ``classes`` and passes :func:`check_structure` with its
    declared kind; every loss composes for ``classes`` (with :func:`example_structure` of the
    kind it ``needs``), agrees with its spec on ``multilabel`` and passes :func:`check_loss`;
    every backend starts and answers ``unavailable_reason()`` and ``supports()``; every
    kernel names a registered backend and, where that backend can run, loads a callable;
    every class list gives distinct names.

    Args:
        plugin: the hooks module (or object), or its import path (``"my_plugin.hooks"``).
        classes: class names that losses are composed for and providers build structures for.
        structures: options per structure provider (``{"my-tree": {"depth": 2}}``); ``None``
            as a provider's value skips it. A provider with required options must be listed.
        losses: options per loss (``{"my-loss": {"margin": 0.5}}``); ``None`` skips that loss.
        labels: training labels passed to structure providers that learn from data (the
            ``labels`` of :class:`~structloss.StructureContext`).
        requires: plugins registered first (hooks modules or import paths), such as one
            that provides the backend this plugin's kernels are for.
        in_features: passed to :func:`check_loss`.
        batch: passed to :func:`check_loss`.

    Returns:
        The host with the plugin registered, for further checks.

    Raises:
        AssertionError: naming the first problem.
    """
    module = importlib.import_module(plugin) if isinstance(plugin, str) else plugin
    who = f"check_plugin({getattr(module, '__name__', type(module).__name__)})"
    host = PluginHost(entry_points=[], env={})
    for i, other in enumerate(requires):
        other = importlib.import_module(other) if isinstance(other, str) else other
        host.register(other, PluginInfo(f"required-{i}"))
    if host.pm.is_registered(module):  # a built-in module, such as structloss.builtin.losses
        under_test = host.pm.get_name(module)
    else:
        under_test = "plugin-under-test"
        host.register(module, PluginInfo(under_test))
    if host.failures:
        raise _fail(who, "; ".join(f.describe() for f in host.failures))
    _check_hooks_marked(module, host, who)
    registry = host.registry
    if registry.failures:
        raise _fail(who, "; ".join(f.describe() for f in registry.failures))
    for kind, name, regs in registry.collisions():
        raise _fail(
            who,
            f"{kind} {name!r} is provided by {' and '.join(r.plugin.describe() for r in regs)};"
            " pick another name",
        )
    entries = {
        kind: [r.spec for r in registry.entries(kind) if r.plugin.name == under_test]
        for kind in KINDS
    }
    for kind, specs in entries.items():
        for spec in specs:
            _check_summary(spec, kind, who)
    for spec in entries["structure"]:
        _check_provider(spec, host, classes, structures or {}, labels, who)
    for spec in entries["loss"]:
        _check_plugin_loss(spec, host, classes, losses or {}, in_features, batch, who)
    for spec in entries["backend"]:
        _check_backend(spec, who)
    for spec in entries["kernel"]:
        _check_kernel(spec, host, who)
    for spec in entries["class-list"]:
        names = _call(who, f"class list {spec.name!r}", spec.factory)
        try:
            check_classes(names, what=f"class list {spec.name!r}")
        except StructlossError as exc:
            raise _fail(who, str(exc)) from exc
    return host


def _check_hooks_marked(module: object, host: PluginHost, who: str) -> None:
    callers = {caller.name for caller in host.pm.get_hookcallers(module) or ()}
    unmarked = [n for n in HOOK_NAMES if callable(getattr(module, n, None)) and n not in callers]
    if unmarked:
        raise _fail(
            who,
            f"{', '.join(unmarked)} defined but not registered: decorate it with"
            " @structloss.hookimpl",
        )
    if not callers:
        raise _fail(who, f"implements none of the hooks {', '.join(HOOK_NAMES)}")


def _check_summary(spec: Any, kind: str, who: str) -> None:
    summary = spec.summary
    if not summary.strip() or "\n" in summary:
        raise _fail(who, f"{kind} {spec.name!r} needs a one-line summary, got {summary!r}")
    if kind in ("structure", "loss"):
        params = list(inspect.signature(spec.factory).parameters.values())
        positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
        if not params or params[0].kind not in positional:
            raise _fail(
                who,
                f"the factory of {kind} {spec.name!r} must take the context as its first"
                " positional parameter: factory(context, **options)",
            )


def _check_provider(
    spec: Any,
    host: PluginHost,
    classes: Sequence[str],
    structures: Mapping[str, Mapping[str, Any] | None],
    labels: Any,
    who: str,
) -> None:
    if spec.name in structures and structures[spec.name] is None:
        return
    options = dict(structures.get(spec.name) or {})
    accepted = factory_options(spec.factory) or {}
    required = [n for n, p in accepted.items() if p.default is inspect.Parameter.empty]
    missing = [n for n in required if n not in options]
    if missing:
        raise _fail(
            who,
            f"structure provider {spec.name!r} needs option(s) {', '.join(missing)}; pass"
            f" structures={{{spec.name!r}: {{...}}}} (or {{{spec.name!r}: None}} to skip it)",
        )
    config = {"classes": list(classes), "structure": {"provider": spec.name, **options}}
    try:
        structure = build_structure(config, labels=labels, host=host)
    except StructlossError as exc:
        raise _fail(
            who, f"structure provider {spec.name!r} failed for classes {list(classes)}: {exc}"
        ) from exc
    assert structure is not None
    check_structure(structure, classes, kind=spec.kind)


def _check_plugin_loss(
    spec: Any,
    host: PluginHost,
    classes: Sequence[str],
    losses: Mapping[str, Mapping[str, Any] | None],
    in_features: int,
    batch: int,
    who: str,
) -> None:
    if spec.name in losses and losses[spec.name] is None:
        return
    options = dict(losses.get(spec.name) or {})
    structure = example_structure(spec.needs, classes) if spec.needs else None
    accepted = factory_options(spec.factory)
    takes_reduction = accepted is None or "reduction" in accepted

    def factory(**overrides: Any) -> Objective:
        reduction = None if takes_reduction else overrides.pop("reduction", None)
        config = {"classes": list(classes), "loss": {"name": spec.name, **options, **overrides}}
        made = compose(config, structure=structure, host=host)
        if reduction is not None:
            made.reduction = reduction
        return made

    try:
        objective = factory()
    except StructlossError as exc:
        raise _fail(who, f"loss {spec.name!r} does not compose for {list(classes)}: {exc}") from exc
    if bool(objective.multilabel) != spec.multilabel:
        raise _fail(
            who,
            f"loss {spec.name!r}: LossSpec.multilabel is {spec.multilabel} but the objective's"
            f" multilabel is {objective.multilabel}; make them agree",
        )
    check_loss(
        objective,
        in_features=in_features,
        batch=batch,
        multilabel=spec.multilabel,
        factory=factory,
    )


def _check_backend(spec: Any, who: str) -> None:
    backend = _call(who, f"backend {spec.name!r} factory()", spec.factory)
    if not isinstance(backend, Backend):
        raise _fail(
            who,
            f"backend {spec.name!r}: factory() returned {type(backend).__name__}, not a"
            " structloss.Backend",
        )
    reason = _call(who, f"backend {spec.name!r} unavailable_reason()", backend.unavailable_reason)
    if reason is not None and not (isinstance(reason, str) and reason):
        raise _fail(who, f"backend {spec.name!r}: unavailable_reason() must be None or a reason")
    supports = _call(
        who, f"backend {spec.name!r} supports()", backend.supports, torch.device("cpu")
    )
    if not isinstance(supports, bool):
        raise _fail(who, f"backend {spec.name!r}: supports(device) must return a bool")


def _check_kernel(spec: Any, host: PluginHost, who: str) -> None:
    if spec.backend not in host.registry.names("backend"):
        raise _fail(
            who,
            f"kernel {spec.name!r} is for backend {spec.backend!r}, which neither this plugin"
            " nor structloss provides; pass the plugin that does as requires=[...]",
        )
    backend = host.registry.get("backend", spec.backend).factory()
    if backend.unavailable_reason() is not None:
        return
    function = _call(who, f"kernel {spec.name!r} factory()", spec.factory)
    if not callable(function):
        raise _fail(who, f"kernel {spec.name!r}: factory() must return a callable")
