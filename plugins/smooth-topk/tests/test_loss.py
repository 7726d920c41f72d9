"""The smooth top-k loss (torch backend): definition, limits, gradients, conventions, errors."""

from __future__ import annotations

import math
import pickle

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from structloss.errors import ConfigError, InputError
from structloss_smooth_topk import SmoothTopK, smooth_topk_torch
from structloss_smooth_topk.reference import brute_force_loss, hard_topk_loss


def torch_loss(num_classes: int, **options: object) -> SmoothTopK:
    """A SmoothTopK on the torch backend only, per-sample losses."""
    from structloss_smooth_topk.backend import default_compute_backend

    options.setdefault("reduction", "none")
    return SmoothTopK(num_classes, backend=default_compute_backend("torch"), **options)  # type: ignore[arg-type]


@pytest.mark.parametrize("n", [2, 3, 5, 8])
@pytest.mark.parametrize("tau", [1.0, 0.3, 0.02])
@pytest.mark.parametrize("alpha", [0.0, 1.0, 2.5])
def test_matches_brute_force_over_all_subsets(n, tau, alpha):
    generator = torch.Generator().manual_seed(n)
    scores = torch.randn(7, n, generator=generator, dtype=torch.float64) * 3
    target = torch.randint(n, (7,), generator=generator)
    for k in range(1, n):
        got = smooth_topk_torch(scores, target, k, tau, alpha)
        want = brute_force_loss(scores, target, k, tau, alpha)
        torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("k", [1, 2, 4, 6])
def test_gradient_matches_brute_force_float32(k):
    generator = torch.Generator().manual_seed(k)
    scores = (torch.randn(16, 7, generator=generator) * 4).requires_grad_()
    target = torch.randint(7, (16,), generator=generator)
    (grad,) = torch.autograd.grad(smooth_topk_torch(scores, target, k, 0.5, 1.0).sum(), scores)
    reference = scores.detach().double().requires_grad_()
    (want,) = torch.autograd.grad(brute_force_loss(reference, target, k, 0.5, 1.0).sum(), reference)
    assert grad.dtype == torch.float32
    torch.testing.assert_close(grad.double(), want, rtol=0, atol=1e-6)


@pytest.mark.parametrize(("n", "k"), [(2, 1), (3, 2), (6, 1), (6, 3), (9, 8)])
@pytest.mark.parametrize("tau", [1.0, 0.1])
def test_gradcheck_float64(n, k, tau):
    generator = torch.Generator().manual_seed(n * 10 + k)
    scores = torch.randn(4, n, generator=generator, dtype=torch.float64).requires_grad_()
    target = torch.randint(n, (4,), generator=generator)
    assert torch.autograd.gradcheck(
        lambda s: smooth_topk_torch(s, target, k, tau, 0.7), (scores,), eps=1e-6, atol=1e-7
    )


def test_gradient_sums_to_zero_and_target_gets_minus_weight():
    # D is shift invariant, so dL/ds sums to 0; dL/ds_y = -sigmoid(D) / k
    scores = torch.randn(32, 50, dtype=torch.float64).requires_grad_()
    target = torch.randint(50, (32,))
    loss = smooth_topk_torch(scores, target, 5, 0.5, 1.0)
    (grad,) = torch.autograd.grad(loss.sum(), scores)
    torch.testing.assert_close(
        grad.sum(1), torch.zeros(32, dtype=torch.float64), atol=1e-12, rtol=0
    )
    sig = -torch.expm1(-loss / 0.5)  # 1 - exp(-L / tau) = sigmoid(D)
    torch.testing.assert_close(grad.gather(1, target[:, None]).squeeze(1), -sig / 5)


@pytest.mark.parametrize("tau", [1.0, 0.1, 0.01])
@pytest.mark.parametrize("alpha", [0.0, 1.0])
def test_k1_is_the_closed_form(tau, alpha):
    scores = torch.randn(20, 30, dtype=torch.float64) * 5
    target = torch.randint(30, (20,))
    margin = alpha * (1 - F.one_hot(target, 30).double())
    s_y = scores.gather(1, target[:, None])
    want = tau * torch.logsumexp((scores + margin - s_y) / tau, 1)
    torch.testing.assert_close(smooth_topk_torch(scores, target, 1, tau, alpha), want)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_k1_tau1_alpha0_is_cross_entropy(dtype):
    scores = (torch.randn(64, 100, dtype=dtype) * 3).requires_grad_()
    target = torch.randint(100, (64,))
    loss = torch_loss(100, k=1, tau=1.0, alpha=0.0, reduction="mean")
    value = loss(scores, target)
    want = F.cross_entropy(scores, target)
    torch.testing.assert_close(value, want)
    (grad,) = torch.autograd.grad(value, scores)
    (want_grad,) = torch.autograd.grad(want, scores)
    torch.testing.assert_close(grad, want_grad)


@pytest.mark.parametrize("k", [1, 2, 5])
def test_small_tau_approaches_the_hard_topk_hinge(k):
    generator = torch.Generator().manual_seed(k)
    scores = torch.randn(50, 20, generator=generator, dtype=torch.float64) * 2
    target = torch.randint(20, (50,), generator=generator)
    hard = hard_topk_loss(scores, target, k, 1.0)
    bound = math.log(2) + math.log(math.comb(20, k))
    previous = math.inf
    for tau in [1.0, 0.1, 0.01, 1e-3, 1e-5]:
        gap = (smooth_topk_torch(scores, target, k, tau, 1.0) - hard).abs().max().item()
        assert gap <= tau * bound  # |tau softplus(D) - max(0, tau D)| <= tau log 2, ...
        assert gap <= previous + 1e-12
        previous = gap
    assert previous < 1e-4


def test_hard_limit_formula_matches_brute_force_at_tiny_tau():
    scores = torch.randn(10, 6, dtype=torch.float64)
    target = torch.randint(6, (10,))
    for k in range(1, 6):
        torch.testing.assert_close(
            brute_force_loss(scores, target, k, 1e-4, 0.8),
            hard_topk_loss(scores, target, k, 0.8),
            atol=1e-4 * math.log(2 * math.comb(6, k)),
            rtol=0,
        )


def test_value_on_equal_scores():
    # all scores equal: L = tau log(C(n,k) e^{alpha/tau} ... ) in closed form
    n, k, tau, alpha = 10, 3, 0.5, 1.0
    loss = smooth_topk_torch(
        torch.zeros(1, n, dtype=torch.float64), torch.tensor([0]), k, tau, alpha
    )
    out = math.comb(n - 1, k) * math.exp(alpha / tau)
    inside = math.comb(n - 1, k - 1)
    assert loss.item() == pytest.approx(tau * math.log((out + inside) / inside), rel=1e-12)


# -- hypothesis properties --------------------------------------------------------------
finite = st.floats(-50, 50, allow_nan=False, width=64)


@st.composite
def problems(draw: st.DrawFn) -> tuple[torch.Tensor, torch.Tensor, int, float, float]:
    n = draw(st.integers(2, 9))
    rows = draw(st.integers(1, 4))
    values = draw(st.lists(st.lists(finite, min_size=n, max_size=n), min_size=rows, max_size=rows))
    target = draw(st.lists(st.integers(0, n - 1), min_size=rows, max_size=rows))
    k = draw(st.integers(1, n - 1))
    tau = draw(st.floats(0.01, 10))
    alpha = draw(st.floats(0, 5))
    return torch.tensor(values, dtype=torch.float64), torch.tensor(target), k, tau, alpha


@settings(max_examples=60, deadline=None)
@given(problems(), st.floats(-1e3, 1e3))
def test_invariant_to_adding_a_constant(problem, shift):
    scores, target, k, tau, alpha = problem
    base = smooth_topk_torch(scores, target, k, tau, alpha)
    shifted = smooth_topk_torch(scores + shift, target, k, tau, alpha)
    torch.testing.assert_close(shifted, base, rtol=1e-9, atol=1e-9 * tau)


@settings(max_examples=60, deadline=None)
@given(problems(), st.randoms(use_true_random=False))
def test_permutation_equivariant(problem, rng):
    scores, target, k, tau, alpha = problem
    n = scores.shape[1]
    perm = list(range(n))
    rng.shuffle(perm)
    perm_t = torch.tensor(perm)
    inverse = torch.argsort(perm_t)
    scores = scores.requires_grad_()
    loss = smooth_topk_torch(scores, target, k, tau, alpha)
    (grad,) = torch.autograd.grad(loss.sum(), scores)
    permuted = scores.detach()[:, perm_t].requires_grad_()
    loss_p = smooth_topk_torch(permuted, inverse[target], k, tau, alpha)
    (grad_p,) = torch.autograd.grad(loss_p.sum(), permuted)
    torch.testing.assert_close(loss_p, loss, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(grad_p, grad[:, perm_t], rtol=1e-9, atol=1e-12)


@settings(max_examples=40, deadline=None)
@given(problems())
def test_matches_brute_force_property(problem):
    scores, target, k, tau, alpha = problem
    torch.testing.assert_close(
        smooth_topk_torch(scores, target, k, tau, alpha),
        brute_force_loss(scores, target, k, tau, alpha),
        rtol=1e-9,
        atol=1e-9 * tau,
    )


# -- objective conventions -------------------------------------------------------------
def test_reductions_and_ignore_index():
    scores = torch.randn(6, 12)
    target = torch.tensor([0, 3, -100, 11, -100, 5])
    per_sample = torch_loss(12, k=3)(scores, target)
    assert per_sample.shape == (6,)
    assert per_sample[2] == 0 and per_sample[4] == 0
    valid = target != -100
    total = torch_loss(12, k=3, reduction="sum")(scores, target)
    mean = torch_loss(12, k=3, reduction="mean")(scores, target)
    torch.testing.assert_close(total, per_sample.sum())
    torch.testing.assert_close(mean, per_sample[valid].mean())
    other = torch_loss(12, k=3, reduction="none", ignore_index=-1)
    torch.testing.assert_close(other(scores, target.clamp(min=-1)), per_sample)


def test_all_ignored_gives_zero_and_zero_gradient():
    scores = torch.randn(3, 8, requires_grad=True)
    value = torch_loss(8, k=2, reduction="mean")(scores, torch.full((3,), -100))
    value.backward()
    assert value.item() == 0.0
    assert torch.equal(scores.grad, torch.zeros_like(scores))


def test_empty_batch():
    scores = torch.randn(0, 8, requires_grad=True)
    value = torch_loss(8, k=2, reduction="sum")(scores, torch.zeros(0, dtype=torch.long))
    value.backward()
    assert value.item() == 0.0 and scores.grad.shape == (0, 8)


def test_half_precision_computes_in_float32():
    scores = (torch.randn(4, 20) * 3).to(torch.bfloat16).requires_grad_()
    target = torch.randint(20, (4,))
    value = torch_loss(20, k=2)(scores, target)
    assert value.dtype == torch.float32
    want = smooth_topk_torch(scores.detach().float(), target, 2, 0.3, 1.0)
    torch.testing.assert_close(value, want)
    value.sum().backward()
    assert scores.grad.dtype == torch.bfloat16


def test_head_and_scores_defaults():
    loss = SmoothTopK(10, k=3)
    head = loss.head(7)
    assert isinstance(head, torch.nn.Linear) and head.out_features == 10
    outputs = torch.randn(2, 10)
    assert loss.scores(outputs) is outputs
    assert list(loss.buffers()) == [] and list(loss.parameters()) == []


def test_pickles_and_repr():
    loss = SmoothTopK(10, k=3, tau=0.5, alpha=0.2)
    copy = pickle.loads(pickle.dumps(loss))
    scores, target = torch.randn(4, 10), torch.randint(10, (4,))
    torch.testing.assert_close(copy(scores, target), loss(scores, target))
    assert "k=3, tau=0.5, alpha=0.2" in repr(loss)


def test_trains_a_linear_model():
    torch.manual_seed(0)
    x = torch.randn(256, 16)
    y = (x[:, :4].argmax(1) * 3 + (x[:, 4] > 0).long()) % 12
    loss = SmoothTopK(12, k=2, tau=0.5)
    model = loss.head(16)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.05)
    first = loss(model(x), y).item()
    for _ in range(60):
        optimizer.zero_grad()
        value = loss(model(x), y)
        value.backward()
        optimizer.step()
    assert value.item() < 0.5 * first


# -- errors -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"k": 0}, "1 <= k < num_classes"),
        ({"k": 10}, r"1 <= k < num_classes \(10\), got 10"),
        ({"k": 2.0}, "integer"),
        ({"k": True}, "integer"),
        ({"tau": 0.0}, "tau"),
        ({"tau": -1.0}, "tau"),
        ({"tau": float("nan")}, "tau"),
        ({"tau": "1"}, "tau"),
        ({"alpha": -0.1}, "alpha"),
        ({"alpha": float("inf")}, "alpha"),
    ],
)
def test_invalid_options_are_config_errors(options, match):
    with pytest.raises(ConfigError, match=match):
        SmoothTopK(10, **options)


def test_one_class_is_an_error():
    with pytest.raises(ConfigError, match="at least 2 classes"):
        SmoothTopK(1, k=1)


def test_bad_targets_are_input_errors():
    loss = SmoothTopK(5, k=2)
    with pytest.raises(InputError, match=r"outside 0\.\.4"):
        loss(torch.randn(2, 5), torch.tensor([1, 5]))
    with pytest.raises(InputError, match="integer tensor"):
        loss(torch.randn(2, 5), torch.tensor([1.0, 2.0]))
    with pytest.raises(InputError, match=r"shape \(batch, 5\)"):
        loss(torch.randn(2, 6), torch.tensor([1, 2]))
    with pytest.raises(InputError, match="reduction"):
        SmoothTopK(5, k=2, reduction="avg")


@pytest.mark.parametrize("scale", [1.0, 1e4, 1e6])
@pytest.mark.parametrize("k", [1, 3])
def test_never_nan_or_inf(scale, k):
    scores = (torch.randn(32, 40) * scale).requires_grad_()
    target = torch.randint(40, (32,))
    for tau in [10.0, 1e-3]:
        value = smooth_topk_torch(scores, target, k, tau, 1.0)
        (grad,) = torch.autograd.grad(value.sum(), scores)
        assert torch.isfinite(value).all() and torch.isfinite(grad).all()
        assert (value >= 0).all()


@pytest.mark.parametrize("weight", [None, [float(i % 7) for i in range(30)]])
def test_works_under_torch_compile(weight):
    loss = torch_loss(30, k=4, tau=0.5, reduction="mean", weight=weight)
    scores = torch.randn(8, 30, requires_grad=True)
    target = torch.randint(30, (8,))
    compiled = torch.compile(lambda s, t: loss(s, t), backend="aot_eager")
    value = compiled(scores, target)
    (grad,) = torch.autograd.grad(value, scores)
    eager = scores.detach().clone().requires_grad_()
    want = loss(eager, target)
    want.backward()
    torch.testing.assert_close(value, want)
    torch.testing.assert_close(grad, eager.grad)


# -- per-class weights, as nn.CrossEntropyLoss(weight=...) ----------------------------------
WEIGHT = [0.5, 2.0, 1.0, 0.0, 3.0, 1.5]


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_weighted_k1_tau1_alpha0_is_weighted_cross_entropy(reduction):
    scores = torch.randn(9, 6, dtype=torch.float64) * 3
    target = torch.tensor([0, 1, -100, 3, 4, 5, 1, 2, -100])
    loss = torch_loss(6, k=1, tau=1.0, alpha=0.0, weight=WEIGHT, reduction=reduction)
    want = F.cross_entropy(
        scores, target, weight=torch.tensor(WEIGHT, dtype=torch.float64), reduction=reduction
    )
    torch.testing.assert_close(loss(scores, target), want)


def test_weighted_mean_is_the_weighted_average_of_sample_losses():
    scores = torch.randn(7, 6, dtype=torch.float64) * 2
    target = torch.tensor([4, 1, 1, -100, 0, 3, 5])
    plain = torch_loss(6, k=2, tau=0.5)(scores, target)
    w = torch.tensor(WEIGHT, dtype=torch.float64)[target.clamp(min=0)] * (target >= 0)
    value = torch_loss(6, k=2, tau=0.5, weight=WEIGHT, reduction="mean")(scores, target)
    torch.testing.assert_close(value, (w * plain).sum() / w.sum())
    per_sample = torch_loss(6, k=2, tau=0.5, weight=WEIGHT)(scores, target)
    torch.testing.assert_close(per_sample, w * plain)


def test_weighted_gradcheck_float64():
    loss = torch_loss(6, k=3, tau=0.7, weight=WEIGHT, reduction="mean")
    target = torch.tensor([0, 4, 3, 1])
    scores = torch.randn(4, 6, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda s: loss(s, target), (scores,))


def test_weight_is_a_buffer_that_follows_to_and_pickles():
    loss = SmoothTopK(6, k=2, weight=WEIGHT)
    assert loss.state_dict()["weight"].tolist() == WEIGHT
    assert loss.double().weight.dtype == torch.float64
    again = pickle.loads(pickle.dumps(loss))
    assert torch.equal(again.weight, loss.weight)
    assert "weighted=True" in repr(loss)


@pytest.mark.parametrize(
    ("weight", "match"),
    [
        ([1.0, 2.0], r"got shape \(2,\)"),
        ([1, 1, -1, 1, 1, 1], "non-negative"),
        ([0] * 6, "not all zero"),
    ],
)
def test_bad_weights_are_option_errors(weight, match):
    with pytest.raises(ConfigError, match=rf"weight must be 6 .*{match}"):
        SmoothTopK(6, k=2, weight=weight)


def test_probability_targets_are_a_clear_error():
    loss = SmoothTopK(5, k=2)
    mixup = torch.full((2, 5), 0.2)
    with pytest.raises(InputError, match="SmoothTopK is a single-label loss") as caught:
        loss(torch.randn(2, 5), mixup)
    assert "probabilities to a loss defined for them" in str(caught.value)
