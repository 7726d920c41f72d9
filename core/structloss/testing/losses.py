"""``check_loss``: an :class:`~structloss.Objective` trains like ``nn.CrossEntropyLoss``."""

from __future__ import annotations

import copy
import pickle
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import torch
from torch import Tensor, nn

from structloss.objective import REDUCTIONS, Objective
from structloss.testing._assertions import call, close, fail

__all__ = ["LossFactory", "check_loss", "fit"]

LossFactory = Callable[..., Objective]
"""``factory(**overrides) -> Objective``: builds the loss under test again, the same way."""

_MODULE_INTERNALS = frozenset(vars(nn.Module()))


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
        raise fail(who, f"expected a structloss.Objective, got {type(objective).__name__}")
    multilabel = bool(objective.multilabel) if multilabel is None else multilabel
    check_ignore = not multilabel if check_ignore is None else check_ignore
    if check_ignore and batch < 2:
        raise ValueError("check_loss needs batch >= 2 to check ignore_index")
    _check_tensors_registered(objective, who)
    generator = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        head = call(who, "objective.head(in_features)", objective.head, in_features)
    if not isinstance(head, nn.Module):
        raise fail(who, f"head() must return an nn.Module, got {type(head).__name__}")
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


def fit(
    loss: Objective,
    model: nn.Module,
    x: Tensor,
    target: Any,
    *,
    steps: int = 100,
    lr: float = 0.05,
    optimizer: Callable[..., torch.optim.Optimizer] = torch.optim.Adam,
) -> tuple[float, float]:
    """Train ``model`` on one batch with ``loss``; return the loss before and after.

    For tests that a loss can train: ``first, last = fit(loss, loss.head(8), x, y)`` and
    assert ``last < first / 2``. ``optimizer(parameters, lr=lr)`` makes the optimiser.
    """
    opt = optimizer(model.parameters(), lr=lr)
    first = float(loss(model(x), target).detach())
    for _ in range(steps):
        opt.zero_grad()
        loss(model(x), target).backward()
        opt.step()
    return first, float(loss(model(x), target).detach())


def check_compiles(
    loss: Objective,
    outputs: Tensor,
    target: Any,
    *,
    backend: str = "aot_eager",
    fullgraph: bool = True,
    rtol: float | None = None,
    atol: float | None = None,
) -> None:
    """Assert ``torch.compile(loss)`` gives the eager loss's value and gradient.

    ``backend="inductor"`` checks the default compiler (slower to compile); ``fullgraph``
    asserts there is no graph break. ``outputs`` need not require grad: copies do.
    """
    compiled = torch.compile(loss, backend=backend, fullgraph=fullgraph)
    z = outputs.detach().clone().requires_grad_()
    eager = outputs.detach().clone().requires_grad_()
    value, expected = compiled(z, target), loss(eager, target)
    torch.testing.assert_close(value, expected, rtol=rtol, atol=atol)
    value.sum().backward()
    expected.sum().backward()
    torch.testing.assert_close(z.grad, eager.grad, rtol=rtol, atol=atol)


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
                raise fail(
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
        raise fail(who, f"{what} returned {type(value).__name__}, not a tensor")
    shape = _expected_shape(reduction, batch)
    if tuple(value.shape) != shape:
        raise fail(
            who, f"{what}: shape {tuple(value.shape)}, expected {shape} (reduction={reduction!r})"
        )
    if not value.is_floating_point():
        raise fail(who, f"{what} has dtype {value.dtype}; a loss value is floating point")
    if not bool(torch.isfinite(value).all()):
        raise fail(who, f"{what} is not finite: {value.detach()}")
    return value


def _check_forward(
    objective: Objective, head: nn.Module, features: Tensor, target: Tensor, who: str
) -> Tensor:
    """Check value and gradients; return the head's (detached) outputs."""
    features = features.clone().requires_grad_(True)
    outputs = call(who, "head(features)", head, features)
    expected = (features.shape[0], objective.output_size)
    if not isinstance(outputs, Tensor) or tuple(outputs.shape) != expected:
        got = tuple(outputs.shape) if isinstance(outputs, Tensor) else type(outputs).__name__
        raise fail(who, f"head(features) gave {got}; expected (batch, output_size) = {expected}")
    value = call(who, "objective(outputs, target)", objective, outputs, target)
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
        raise fail(who, "no gradient reaches the features: the loss is detached from its inputs")
    for name, grad in grads:
        if not bool(torch.isfinite(grad).all()):
            raise fail(who, f"the gradient of {name} is not finite")
    if not any(bool((grad != 0).any()) for _, grad in grads):
        raise fail(who, "every gradient is zero: the loss does not depend on the outputs")
    objective.zero_grad(set_to_none=True)
    return outputs.detach()


def _check_scores(objective: Objective, outputs: Tensor, who: str) -> None:
    with torch.no_grad():
        scores = call(who, "objective.scores(outputs)", objective.scores, outputs)
    expected = (outputs.shape[0], objective.num_classes)
    if not isinstance(scores, Tensor) or tuple(scores.shape) != expected:
        got = tuple(scores.shape) if isinstance(scores, Tensor) else type(scores).__name__
        raise fail(
            who, f"scores(outputs) has shape {got}; expected (batch, num_classes) = {expected}"
        )
    if not scores.is_floating_point() or not bool(torch.isfinite(scores).all()):
        raise fail(who, "scores(outputs) must be finite floating-point class scores")


def _variant(
    objective: Objective, factory: LossFactory | None, reduction: str, who: str
) -> Objective:
    if factory is None:
        made = copy.deepcopy(objective)
        made.reduction = reduction
        return made
    made = call(who, f"factory(reduction={reduction!r})", lambda: factory(reduction=reduction))
    if not isinstance(made, Objective):
        raise fail(who, f"factory() returned {type(made).__name__}, not an Objective")
    call(
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
            value = call(who, what, loss, outputs, target)
            values[reduction] = _check_value(value, reduction, batch, who, what)
    none = values["none"]
    if check_ignore and float(none[0]) != 0.0:
        raise fail(
            who,
            f"reduction='none' gives {float(none[0])} for a row whose target is ignore_index"
            f" ({objective.ignore_index}); ignored rows must give 0 (use self.reduce), or pass"
            " check_ignore=False if the loss does not support ignore_index",
        )
    close(who, "reduction='sum' differs from reduction='none' summed", values["sum"], none.sum())
    close(
        who,
        "reduction='mean' differs from the mean of reduction='none' over the valid rows",
        values["mean"],
        none[valid].mean(),
    )
    if check_ignore:
        ignored = torch.full_like(target, objective.ignore_index)
        with torch.no_grad():
            value = call(
                who, "a batch whose targets are all ignored", losses["mean"], outputs, ignored
            )
        if not isinstance(value, Tensor) or not bool(torch.isfinite(value).all()) or value != 0:
            raise fail(
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
            value = call(
                who,
                f"after .to({label}) the loss",
                lambda moved=moved, moved_head=moved_head, x=x: moved(
                    moved_head(x), target.to(device=x.device)
                ),
            )
        value = _check_value(value, objective.reduction, x.shape[0], who, f"after .to({label})")
        if dtype is not None and value.dtype != dtype:
            raise fail(who, f"after .to({label}) the loss is {value.dtype}, not {dtype}")
        if device is not None and value.device.type != device.type:
            raise fail(who, f"after .to({label}) the loss is on {value.device}")
        close(
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
        raise fail(
            who,
            f"the objective cannot be pickled ({type(exc).__name__}: {exc}); checkpoints,"
            " DataLoader workers and DDP need that: keep lambdas, open files and locks out of"
            " its attributes",
        ) from exc
    with torch.no_grad():
        value = call(who, "the unpickled objective", restored, outputs, target)
    close(who, "the unpickled objective gives another value", value, reference)


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
    fresh = _perturbed_copy(objective) if factory is None else call(who, "factory()", factory)
    if not isinstance(fresh, Objective):
        raise fail(who, f"factory() returned {type(fresh).__name__}, not an Objective")
    fresh.reduction = objective.reduction
    call(who, "load_state_dict(state_dict())", fresh.load_state_dict, objective.state_dict())
    with torch.no_grad():
        value = call(who, "the objective with a loaded state_dict", fresh, outputs, target)
    close(
        who,
        "a fresh instance with the loaded state_dict gives another value (is some state kept"
        " outside registered buffers and parameters, or in a buffer with persistent=False?)",
        value,
        reference,
    )
