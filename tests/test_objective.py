"""The Objective base class and the built-in cross-entropy, against ``F.cross_entropy``."""

from __future__ import annotations

import copy
import pickle
import re
from typing import Any

import pytest
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from structloss import Objective, PluginHost, compose
from structloss.builtin.losses import CrossEntropy
from structloss.errors import InputError, OptionError

NUM_CLASSES = 5
CLASSES = [f"c{i}" for i in range(NUM_CLASSES)]
DTYPES = [torch.float32, torch.float64]


def make_ce(**options: Any) -> Objective:
    host = PluginHost(entry_points=[], env={})
    return compose({"classes": CLASSES, "loss": {"name": "cross-entropy", **options}}, host=host)


def batch(n: int = 7, dtype: torch.dtype = torch.float32, seed: int = 0) -> tuple[Tensor, Tensor]:
    generator = torch.Generator().manual_seed(seed)
    outputs = torch.randn(n, NUM_CLASSES, generator=generator, dtype=dtype) * 2
    target = torch.randint(0, NUM_CLASSES, (n,), generator=generator)
    return outputs, target


def value_and_grad(fn: Any, outputs: Tensor, target: Tensor) -> tuple[Tensor, Tensor]:
    x = outputs.detach().clone().requires_grad_(True)
    loss = fn(x, target)
    # a fixed random cotangent checks the gradient of every element for reduction="none"
    cotangent = torch.linspace(0.5, 1.5, loss.numel(), dtype=loss.dtype).reshape(loss.shape)
    (grad,) = torch.autograd.grad(loss, x, cotangent)
    return loss.detach(), grad


def assert_matches(ours: tuple[Tensor, Tensor], theirs: tuple[Tensor, Tensor]) -> None:
    dtype = ours[0].dtype
    tol = {"rtol": 1e-5, "atol": 1e-6} if dtype == torch.float32 else {"rtol": 1e-10, "atol": 1e-12}
    torch.testing.assert_close(ours[0], theirs[0], **tol)
    torch.testing.assert_close(ours[1], theirs[1], **tol)


# -- equality with F.cross_entropy --------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cross_entropy_equals_torch(dtype: torch.dtype, reduction: str) -> None:
    outputs, target = batch(dtype=dtype)
    ours = value_and_grad(make_ce(reduction=reduction), outputs, target)
    theirs = value_and_grad(
        lambda x, t: F.cross_entropy(x, t, reduction=reduction), outputs, target
    )
    assert ours[0].dtype == dtype
    assert ours[0].shape == ((7,) if reduction == "none" else ())
    assert_matches(ours, theirs)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("ignore_index", [-100, -1, 7])
def test_ignore_index_equals_torch(dtype: torch.dtype, reduction: str, ignore_index: int) -> None:
    outputs, target = batch(dtype=dtype)
    target[[1, 4]] = ignore_index
    ours = value_and_grad(make_ce(reduction=reduction, ignore_index=ignore_index), outputs, target)
    theirs = value_and_grad(
        lambda x, t: F.cross_entropy(x, t, reduction=reduction, ignore_index=ignore_index),
        outputs,
        target,
    )
    assert_matches(ours, theirs)
    assert (ours[1][[1, 4]] == 0).all()


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_all_targets_ignored_give_zero_not_nan(dtype: torch.dtype, reduction: str) -> None:
    outputs, _ = batch(dtype=dtype)
    target = torch.full((7,), -100)
    for objective in (
        make_ce(reduction=reduction),
        make_ce(reduction=reduction, weight=[1, 2, 3, 4, 5]),
    ):
        value, grad = value_and_grad(objective, outputs, target)
        assert torch.isfinite(value).all()
        assert (value == 0).all()
        assert torch.equal(grad, torch.zeros_like(grad))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_label_smoothing_equals_torch(dtype: torch.dtype, reduction: str) -> None:
    outputs, target = batch(dtype=dtype)
    target[2] = -100
    ours = value_and_grad(make_ce(reduction=reduction, label_smoothing=0.1), outputs, target)
    theirs = value_and_grad(
        lambda x, t: F.cross_entropy(x, t, reduction=reduction, label_smoothing=0.1),
        outputs,
        target,
    )
    assert_matches(ours, theirs)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("smoothing", [0.0, 0.2])
def test_class_weights_equal_torch(dtype: torch.dtype, reduction: str, smoothing: float) -> None:
    weight = [0.5, 2.0, 1.0, 3.0, 0.25]
    outputs, target = batch(dtype=dtype)
    target[3] = -100
    objective = make_ce(reduction=reduction, weight=weight, label_smoothing=smoothing)
    ours = value_and_grad(objective, outputs, target)
    w = torch.tensor(weight, dtype=dtype)
    theirs = value_and_grad(
        lambda x, t: F.cross_entropy(
            x, t, weight=w, reduction=reduction, label_smoothing=smoothing
        ),
        outputs,
        target,
    )
    assert_matches(ours, theirs)


def test_weighted_mean_divides_by_the_sum_of_weights() -> None:
    outputs, _ = batch(n=3, dtype=torch.float64)
    target = torch.tensor([0, 1, 1])
    weight = torch.tensor([1.0, 3.0, 1.0, 1.0, 1.0], dtype=torch.float64)
    per_sample = F.cross_entropy(outputs, target, reduction="none")
    expected = (per_sample * weight[target]).sum() / weight[target].sum()
    value = make_ce(weight=weight.tolist())(outputs, target)
    torch.testing.assert_close(value, expected)
    assert not torch.allclose(value, (per_sample * weight[target]).mean())


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("weighted", [False, True])
def test_probability_targets_equal_torch(
    dtype: torch.dtype, reduction: str, weighted: bool
) -> None:
    outputs, _ = batch(dtype=dtype)
    soft = torch.softmax(torch.randn(7, NUM_CLASSES, dtype=dtype), dim=1)
    weight = [0.5, 2.0, 1.0, 3.0, 0.25] if weighted else None
    ours = value_and_grad(
        make_ce(reduction=reduction, weight=weight, label_smoothing=0.1), outputs, soft
    )
    w = None if weight is None else torch.tensor(weight, dtype=dtype)
    theirs = value_and_grad(
        lambda x, t: F.cross_entropy(x, t, weight=w, reduction=reduction, label_smoothing=0.1),
        outputs,
        soft,
    )
    assert_matches(ours, theirs)


def test_one_hot_targets_equal_index_targets() -> None:
    outputs, target = batch(dtype=torch.float64)
    objective = make_ce()
    one_hot = F.one_hot(target, NUM_CLASSES).to(torch.float64)
    torch.testing.assert_close(objective(outputs, one_hot), objective(outputs, target))


def test_integer_target_dtypes_are_accepted() -> None:
    outputs, target = batch()
    objective = make_ce()
    expected = F.cross_entropy(outputs, target)
    for dtype in (torch.int32, torch.int16, torch.uint8):
        torch.testing.assert_close(objective(outputs, target.to(dtype)), expected)


def test_empty_batch_mean_is_zero() -> None:
    outputs = torch.zeros(0, NUM_CLASSES, requires_grad=True)
    value = make_ce()(outputs, torch.zeros(0, dtype=torch.long))
    assert value.item() == 0.0
    value.backward()


# -- bad inputs ---------------------------------------------------------------------------
def test_float_targets_of_index_shape() -> None:
    outputs, target = batch()
    with pytest.raises(
        InputError,
        match=r"CrossEntropy expects class indices as an integer tensor, got torch\.float32; convert with target\.long\(\)",
    ):
        make_ce()(outputs, target.float())


def test_bool_targets() -> None:
    outputs, _ = batch()
    with pytest.raises(InputError, match=r"integer tensor, got torch\.bool"):
        make_ce()(outputs, torch.ones(7, dtype=torch.bool))


@pytest.mark.parametrize("shape", [(6,), (7, 1), (1, 7), ()])
def test_wrong_target_shape(shape: tuple[int, ...]) -> None:
    outputs, _ = batch()
    target = torch.zeros(shape, dtype=torch.long)
    with pytest.raises(
        InputError,
        match=re.escape(
            f"CrossEntropy expects target of shape (7,) to match the outputs' batch, got {shape}"
        ),
    ):
        make_ce()(outputs, target)


@pytest.mark.parametrize("shape", [(7, 4), (7, 6), (7,), (7, 5, 1), (5,)])
def test_wrong_output_shape_points_at_head(shape: tuple[int, ...]) -> None:
    outputs = torch.randn(shape)
    target = torch.zeros(7, dtype=torch.long)
    with pytest.raises(
        InputError,
        match=r"CrossEntropy expects outputs of shape \(batch, 5\), got .*; build the last layer with objective\.head\(in_features\)",
    ):
        make_ce()(outputs, target)


@pytest.mark.parametrize("shape", [(7, 4), (7, 6), (5,)])
def test_wrong_output_shape_with_probability_targets(shape: tuple[int, ...]) -> None:
    outputs = torch.randn(shape)
    soft = torch.softmax(torch.randn(shape), dim=-1)
    with pytest.raises(InputError, match=r"expects outputs of shape \(batch, 5\).*objective\.head"):
        make_ce()(outputs, soft)


@pytest.mark.parametrize("shape", [(7, 4), (6, 5), (7, 1)])
def test_probability_targets_of_the_wrong_shape(shape: tuple[int, ...]) -> None:
    outputs, _ = batch()
    with pytest.raises(
        InputError,
        match=re.escape(
            f"CrossEntropy expects probability targets of shape (batch, num_classes) = (7, 5), got {shape};"
            " or pass class indices"
        ),
    ):
        make_ce()(outputs, torch.rand(shape))


def test_probability_targets_on_another_device() -> None:
    outputs, _ = batch()
    with pytest.raises(InputError, match=r"target is on meta but outputs are on cpu; move both"):
        make_ce()(outputs, torch.rand(7, NUM_CLASSES, device="meta"))


def test_bad_outputs_with_probability_targets() -> None:
    soft = torch.rand(2, NUM_CLASSES)
    with pytest.raises(InputError, match=r"CrossEntropy expects a tensor of outputs, got list"):
        make_ce()([[0.0] * NUM_CLASSES] * 2, soft)
    with pytest.raises(InputError, match=r"expects floating-point outputs, got torch\.int64"):
        make_ce()(torch.zeros(2, NUM_CLASSES, dtype=torch.long), soft)


def test_integer_outputs() -> None:
    with pytest.raises(InputError, match=r"expects floating-point outputs, got torch\.int64"):
        make_ce()(torch.zeros(2, NUM_CLASSES, dtype=torch.long), torch.zeros(2, dtype=torch.long))


def test_non_tensor_inputs() -> None:
    outputs, _ = batch()
    with pytest.raises(
        InputError, match=r"expects tensors \(outputs, target\), got \(Tensor, list\)"
    ):
        make_ce()(outputs, [0] * 7)


@pytest.mark.parametrize("bad", [5, 17, -1, -7])
def test_out_of_range_targets_name_the_value_and_range(bad: int) -> None:
    outputs, target = batch()
    target[3] = bad
    with pytest.raises(
        InputError,
        match=rf"target holds class index {bad}, outside 0\.\.4 \(ignore_index is -100\); check the labels",
    ):
        make_ce()(outputs, target)


def test_validate_false_skips_the_value_check() -> None:
    outputs, target = batch()
    objective = CrossEntropy(NUM_CLASSES)
    objective.validate = False
    target[0] = NUM_CLASSES  # ignored by the value check: torch itself raises
    with pytest.raises((IndexError, RuntimeError)):
        objective(outputs, target)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU")
def test_target_on_another_device() -> None:
    outputs, target = batch()
    with pytest.raises(
        InputError, match=r"target is on cuda:0 but outputs are on cpu; move both to one device"
    ):
        make_ce()(outputs, target.cuda())


def test_target_on_another_device_without_gpu() -> None:
    outputs, target = batch()
    with pytest.raises(InputError, match=r"target is on meta but outputs are on cpu; move both"):
        make_ce()(outputs, target.to("meta"))


@pytest.mark.parametrize(
    ("reduction", "match"),
    [
        (
            "meen",
            r"unknown reduction 'meen'; choose one of: mean, none, sum; did you mean 'mean'\?",
        ),
        ("summ", r"did you mean 'sum'\?"),
        ("batchmean", r"unknown reduction 'batchmean'; choose one of: mean, none, sum"),
    ],
)
def test_bad_reduction(reduction: str, match: str) -> None:
    with pytest.raises(InputError, match=match):
        CrossEntropy(NUM_CLASSES, reduction=reduction)


@pytest.mark.parametrize("ignore_index", [0, 2, 4])
def test_ignore_index_inside_the_class_range(ignore_index: int) -> None:
    with pytest.raises(
        InputError,
        match=rf"ignore_index {ignore_index} is a valid class index \(0\.\.4\); pick a value outside that range, such as -100",
    ):
        make_ce(ignore_index=ignore_index)


@pytest.mark.parametrize("ignore_index", [1.5, True, "x"])
def test_ignore_index_must_be_an_integer(ignore_index: Any) -> None:
    with pytest.raises(InputError, match=rf"ignore_index must be an integer, got {ignore_index!r}"):
        CrossEntropy(NUM_CLASSES, ignore_index=ignore_index)


@pytest.mark.parametrize("num_classes", [0, -3, 2.0, True, "5"])
def test_num_classes_must_be_positive(num_classes: Any) -> None:
    with pytest.raises(
        InputError, match=rf"num_classes must be a positive integer, got {num_classes!r}"
    ):
        CrossEntropy(num_classes)


@pytest.mark.parametrize("smoothing", [-0.1, 1.5])
def test_label_smoothing_range(smoothing: float) -> None:
    with pytest.raises(InputError, match=rf"label_smoothing must be in \[0, 1\], got {smoothing}"):
        make_ce(label_smoothing=smoothing)


@pytest.mark.parametrize(
    ("weight", "shape"),
    [
        ([1.0, 2.0], r"\(2,\)"),
        ([1, 1, 1, 1, -1], r"\(5,\)"),
        ([1, 1, 1, 1, float("nan")], r"\(5,\)"),
        ([0, 0, 0, 0, 0], r"\(5,\): \[0\.0, 0\.0"),
    ],
)
def test_bad_weights(weight: list[float], shape: str) -> None:
    with pytest.raises(
        OptionError,
        match=rf"weight must be 5 finite non-negative numbers \(one per class\), not all zero;"
        rf" got shape {shape}",
    ):
        make_ce(weight=weight)


# -- head, scores, subclasses ----------------------------------------------------------------
def test_default_head_is_a_linear_layer() -> None:
    head = make_ce().head(16)
    assert isinstance(head, nn.Linear)
    assert (head.in_features, head.out_features) == (16, NUM_CLASSES)


@pytest.mark.parametrize("in_features", [0, -1, 2.5, True, "16"])
def test_head_rejects_bad_in_features(in_features: Any) -> None:
    with pytest.raises(
        InputError, match=rf"in_features must be a positive integer, got {in_features!r}"
    ):
        make_ce().head(in_features)


def test_default_scores_are_the_outputs() -> None:
    outputs, _ = batch()
    assert make_ce().scores(outputs) is outputs


class HingeLoss(Objective):
    """A third-party loss implementing only ``forward`` (multi-class hinge)."""

    def forward(self, outputs: Tensor, target: Tensor) -> Tensor:
        index, valid = self.check_inputs(outputs, target)
        true = outputs.gather(1, index[:, None])
        margins = (1 + outputs - true).clamp_min(0).sum(1) - 1
        return self.reduce(margins, valid)


def test_a_subclass_implementing_only_forward_works() -> None:
    loss = HingeLoss(NUM_CLASSES, ignore_index=-1)
    head = loss.head(3)
    assert isinstance(head, nn.Linear)
    assert head.out_features == NUM_CLASSES
    outputs, target = batch(dtype=torch.float64)
    target[0] = -1
    assert loss.scores(outputs) is outputs
    value = loss(outputs, target)
    expected = F.multi_margin_loss(outputs[1:], target[1:], reduction="sum") * NUM_CLASSES / 6
    torch.testing.assert_close(value, expected)
    assert "num_classes=5, reduction='mean'" in repr(loss)
    with pytest.raises(InputError, match=r"HingeLoss expects outputs of shape \(batch, 5\)"):
        loss(outputs[:, :3], target)


def test_weight_buffer_moves_with_to_and_is_in_the_state_dict() -> None:
    objective = make_ce(weight=[1, 2, 3, 4, 5])
    assert objective.weight.dtype == torch.float32
    state = objective.state_dict()
    assert list(state) == ["weight"]
    torch.testing.assert_close(state["weight"], torch.tensor([1.0, 2, 3, 4, 5]))
    objective.to(torch.float64)
    assert objective.weight.dtype == torch.float64
    outputs, target = batch(dtype=torch.float64)
    expected = F.cross_entropy(outputs, target, weight=torch.arange(1.0, 6, dtype=torch.float64))
    torch.testing.assert_close(objective(outputs, target), expected)

    fresh = make_ce(weight=[1, 1, 1, 1, 1])
    fresh.load_state_dict(make_ce(weight=[1, 2, 3, 4, 5]).state_dict())
    torch.testing.assert_close(fresh.weight, torch.tensor([1.0, 2, 3, 4, 5]))
    assert make_ce().state_dict() == {}


def test_gradcheck_through_the_objective() -> None:
    weight = [0.5, 2.0, 1.0, 3.0, 0.25]
    outputs, target = batch(n=4, dtype=torch.float64)
    target[1] = -100
    for objective in (
        make_ce(),
        make_ce(weight=weight, label_smoothing=0.1),
        make_ce(reduction="none"),
    ):
        x = outputs.clone().requires_grad_(True)
        assert torch.autograd.gradcheck(lambda x, o=objective: o(x, target), (x,))
    soft = torch.softmax(torch.randn(4, NUM_CLASSES, dtype=torch.float64), dim=1)
    x = outputs.clone().requires_grad_(True)
    assert torch.autograd.gradcheck(lambda x: make_ce()(x, soft), (x,))


@pytest.mark.parametrize("clone", [pickle.loads, copy.deepcopy], ids=["pickle", "deepcopy"])
def test_the_module_pickles_and_deepcopies(clone: Any) -> None:
    objective = make_ce(
        weight=[1, 2, 3, 4, 5], label_smoothing=0.1, reduction="sum", ignore_index=-1
    )
    copied = clone(pickle.dumps(objective)) if clone is pickle.loads else clone(objective)
    assert type(copied) is CrossEntropy
    assert (copied.reduction, copied.ignore_index, copied.label_smoothing) == ("sum", -1, 0.1)
    torch.testing.assert_close(copied.weight, objective.weight)
    outputs, target = batch()
    torch.testing.assert_close(copied(outputs, target), objective(outputs, target))


def test_a_subclass_pickles() -> None:
    loss = HingeLoss(NUM_CLASSES)
    copied = pickle.loads(pickle.dumps(loss))
    outputs, target = batch()
    torch.testing.assert_close(copied(outputs, target), loss(outputs, target))


@pytest.mark.slow
@pytest.mark.parametrize("reduction", ["mean", "none"])
def test_works_under_torch_compile(reduction: str) -> None:
    from torch._dynamo.testing import CompileCounterWithBackend

    torch._dynamo.reset()
    objective = make_ce(reduction=reduction, weight=[0.5, 2.0, 1.0, 3.0, 0.25], label_smoothing=0.1)
    counter = CompileCounterWithBackend("aot_eager")
    compiled = torch.compile(objective, backend=counter, fullgraph=True)
    outputs, target = batch(dtype=torch.float32)
    target[2] = -100
    ours = value_and_grad(compiled, outputs, target)
    eager = value_and_grad(objective, outputs, target)
    assert_matches(ours, eager)
    assert counter.frame_count == 1  # really compiled, in one graph
    all_ignored = torch.full_like(target, -100)
    value, grad = value_and_grad(compiled, outputs, all_ignored)
    assert (value == 0).all()
    assert (grad == 0).all()
