"""SimLoss against cross-entropy, a brute-force reference and autograd, with edge cases."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from structloss import Similarity
from structloss.errors import InputError, StructureError
from structloss.testing import check_compiles, mixup_target
from structloss_simloss import SimLoss, ordinal_similarity

FAST = settings(max_examples=40, deadline=None)


def reference(logits: torch.Tensor, target: torch.Tensor, matrix: np.ndarray) -> torch.Tensor:
    """Brute force in float64: -log(sum_c S[y, c] softmax(z)_c), one sample at a time."""
    out = []
    for z, y in zip(logits.double(), target.tolist(), strict=True):
        p = torch.softmax(z, dim=0)
        out.append(-torch.log((torch.as_tensor(matrix[y], dtype=torch.float64) * p).sum()))
    return torch.stack(out)


def log_space_reference(
    logits: torch.Tensor, target: torch.Tensor, matrix: np.ndarray
) -> torch.Tensor:
    """The same in log space (float64), for logits whose softmax underflows."""
    with np.errstate(divide="ignore"):
        log_s = torch.as_tensor(np.log(matrix), dtype=torch.float64)[target]
    return -torch.logsumexp(torch.log_softmax(logits.double(), dim=1) + log_s, dim=1)


def random_similarity(n: int, seed: int, zero_fraction: float = 0.4) -> np.ndarray:
    """A random matrix in [0, 1] with a unit diagonal and some exact zeros."""
    rng = np.random.default_rng(seed)
    matrix = rng.uniform(0.0, 1.0, size=(n, n))
    matrix[rng.uniform(size=(n, n)) < zero_fraction] = 0.0
    np.fill_diagonal(matrix, 1.0)
    return matrix


@st.composite
def batches(draw: st.DrawFn, max_classes: int = 12) -> tuple[torch.Tensor, torch.Tensor]:
    n = draw(st.integers(1, max_classes))
    batch = draw(st.integers(1, 8))
    scale = draw(st.sampled_from([0.1, 1.0, 10.0, 100.0]))
    seed = draw(st.integers(0, 2**31 - 1))
    generator = torch.Generator().manual_seed(seed)
    logits = torch.randn(batch, n, generator=generator, dtype=torch.float64) * scale
    target = torch.randint(n, (batch,), generator=generator)
    return logits, target


@FAST
@given(batches(), st.sampled_from(["mean", "sum", "none"]))
def test_identity_similarity_is_cross_entropy(data, reduction):
    logits, target = data
    n = logits.shape[1]
    loss = SimLoss(np.eye(n), reduction=reduction).double()
    expected = F.cross_entropy(logits, target, reduction=reduction)
    # equal up to float64 rounding (the loss uses log(sum e) - log(e_y), not log_softmax)
    torch.testing.assert_close(loss(logits, target), expected, rtol=1e-12, atol=1e-14)


@FAST
@given(batches())
def test_ordinal_r_zero_is_cross_entropy(data):
    logits, target = data
    classes = [str(i) for i in range(logits.shape[1])]
    loss = SimLoss(ordinal_similarity(classes, r=0.0), reduction="none").double()
    expected = F.cross_entropy(logits, target, reduction="none")
    torch.testing.assert_close(loss(logits, target), expected, rtol=1e-12, atol=1e-14)


@FAST
@given(batches(), st.integers(0, 1000), st.sampled_from([0.0, 0.4, 0.9]))
def test_matches_brute_force_reference(data, seed, zero_fraction):
    logits, target = data
    matrix = random_similarity(logits.shape[1], seed, zero_fraction)
    loss = SimLoss(matrix, reduction="none").double()
    # the reference uses the matrix the loss holds (S stored at float32 precision)
    held = loss.similarity.numpy()
    torch.testing.assert_close(loss(logits, target), reference(logits, target, held))


def test_float32_matches_float64_reference():
    generator = torch.Generator().manual_seed(0)
    logits = torch.randn(16, 9, generator=generator)
    target = torch.randint(9, (16,), generator=generator)
    matrix = random_similarity(9, 1)
    value = SimLoss(matrix, reduction="none")(logits, target)
    assert value.dtype == torch.float32
    expected = reference(logits, target, matrix)
    torch.testing.assert_close(value.double(), expected, rtol=1e-5, atol=1e-6)


def test_hand_computed_case():
    # z = 0 over 3 classes: p = 1/3 each; S[0] = (1, 0.5, 0): L = -log(1.5 / 3) = log 2
    matrix = np.array([[1.0, 0.5, 0.0], [0.5, 1.0, 0.0], [0.0, 0.0, 1.0]])
    value = SimLoss(matrix)(torch.zeros(1, 3), torch.tensor([0]))
    assert value.item() == pytest.approx(np.log(2.0), rel=1e-6)


@pytest.mark.parametrize("zero_fraction", [0.0, 0.5, 1.0])
def test_gradcheck_float64(zero_fraction):
    n = 6
    matrix = random_similarity(n, 3, zero_fraction)
    loss = SimLoss(matrix, reduction="sum").double()
    logits = torch.randn(5, n, dtype=torch.float64, requires_grad=True)
    target = torch.tensor([0, 1, 2, 5, 5])
    assert torch.autograd.gradcheck(lambda z: loss(z, target), (logits,))
    assert torch.autograd.gradgradcheck(lambda z: loss(z, target), (logits,))


def test_gradient_is_softmax_minus_credited_softmax():
    # dL/dz = p - q with q_c = S[y, c] p_c / sum_k S[y, k] p_k: zero similarities give q_c = 0
    matrix = random_similarity(7, 5, 0.6)
    loss = SimLoss(matrix, reduction="sum").double()
    logits = torch.randn(4, 7, dtype=torch.float64, requires_grad=True)
    target = torch.tensor([0, 3, 6, 3])
    loss(logits, target).backward()
    p = torch.softmax(logits.detach(), dim=1)
    weighted = torch.as_tensor(loss.similarity.numpy()[target.numpy()]) * p
    q = weighted / weighted.sum(dim=1, keepdim=True)
    torch.testing.assert_close(logits.grad, p - q)
    assert torch.isfinite(logits.grad).all()


@pytest.mark.parametrize("scale", [1e4, -1e4])
def test_extreme_logits_stay_finite(scale):
    matrix = random_similarity(5, 2, 0.5)
    loss = SimLoss(matrix, reduction="none")
    logits = torch.tensor(
        [[scale, 0.0, -scale, 1.0, 2.0], [-scale, scale, 0.0, scale, -scale]]
    ).requires_grad_()
    # a target far below the best class, and one at the top
    target = torch.tensor([2, 1]) if scale > 0 else torch.tensor([0, 2])
    value = loss(logits, target)
    value.sum().backward()
    assert torch.isfinite(value).all() and torch.isfinite(logits.grad).all()
    expected = log_space_reference(logits.detach(), target, matrix)
    assert expected.max() > 1e3
    torch.testing.assert_close(value.double(), expected, rtol=1e-6, atol=1e-2)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_reductions_and_ignore_index(reduction):
    matrix = random_similarity(4, 7)
    logits = torch.randn(6, 4, dtype=torch.float64)
    target = torch.tensor([0, -1, 3, 2, -1, 1])
    loss = SimLoss(matrix, reduction=reduction, ignore_index=-1).double()
    per_sample = reference(logits, target.clamp_min(0), loss.similarity.numpy())
    per_sample = torch.where(target >= 0, per_sample, 0.0)
    expected = {
        "none": per_sample,
        "sum": per_sample.sum(),
        "mean": per_sample.sum() / 4,
    }[reduction]
    torch.testing.assert_close(loss(logits, target), expected)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_all_ignored_gives_zero_without_nan(reduction):
    loss = SimLoss(random_similarity(3, 0), reduction=reduction)
    logits = torch.randn(4, 3, requires_grad=True)
    value = loss(logits, torch.full((4,), -100))
    assert torch.count_nonzero(value) == 0
    value.sum().backward()
    assert torch.equal(logits.grad, torch.zeros_like(logits))


def test_similarity_buffer_follows_to():
    loss = SimLoss(ordinal_similarity(["a", "b", "c"], 0.5))
    assert "similarity" in dict(loss.named_buffers())
    assert "similarity" in loss.state_dict()
    assert loss.similarity.dtype == torch.float32
    loss.to(torch.float64)
    assert loss.similarity.dtype == torch.float64
    assert loss.similarity.dtype == torch.float64
    torch.testing.assert_close(loss.similarity[0, 2].item(), 0.25)
    value = loss(torch.randn(2, 3, dtype=torch.float64), torch.tensor([0, 2]))
    assert value.dtype == torch.float64


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_half_precision_outputs_are_computed_in_float32(dtype):
    matrix = random_similarity(6, 8)
    logits = torch.randn(4, 6).to(dtype).requires_grad_()
    target = torch.tensor([0, 5, 2, 2])
    value = SimLoss(matrix, reduction="none")(logits, target)
    assert value.dtype == torch.float32
    expected = reference(logits.detach().float(), target, matrix)
    torch.testing.assert_close(value.double(), expected, rtol=1e-5, atol=1e-5)
    value.sum().backward()
    assert logits.grad.dtype == dtype and torch.isfinite(logits.grad).all()


def test_state_dict_round_trip():
    source = SimLoss(random_similarity(4, 9))
    target = SimLoss(np.eye(4))
    target.load_state_dict(source.state_dict())
    assert torch.equal(target.similarity, source.similarity)


def test_accepts_similarity_structure_and_keeps_classes():
    structure = Similarity.from_matrix(["x", "y"], [[1.0, 0.2], [0.3, 1.0]])
    loss = SimLoss(structure)
    assert loss.classes == ("x", "y") and loss.num_classes == 2
    torch.testing.assert_close(loss.similarity, torch.tensor([[1.0, 0.2], [0.3, 1.0]]))


@pytest.mark.parametrize(
    ("matrix", "error", "words"),
    [
        (np.ones((2, 3)), InputError, "square"),
        (np.array([[1.0, 1.5], [0.0, 1.0]]), StructureError, "[0, 1]"),
        (np.array([[0.5, 0.0], [0.0, 1.0]]), StructureError, "itself must be 1"),
        (np.array([[1.0, np.nan], [0.0, 1.0]]), StructureError, "non-finite"),
    ],
)
def test_invalid_matrices_are_rejected(matrix, error, words):
    with pytest.raises(error) as info:
        SimLoss(matrix)
    assert words in str(info.value)


def test_bad_inputs_name_the_problem():
    loss = SimLoss(np.eye(3))
    with pytest.raises(InputError, match=r"shape \(batch, 3\)"):
        loss(torch.zeros(2, 4), torch.tensor([0, 1]))
    with pytest.raises(InputError, match=r"outside 0\.\.2"):
        loss(torch.zeros(2, 3), torch.tensor([0, 3]))
    with pytest.raises(InputError, match="integer tensor"):
        loss(torch.zeros(2, 3), torch.tensor([0.0, 1.0]))
    with pytest.raises(InputError, match="unknown reduction"):
        SimLoss(np.eye(3), reduction="avg")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_device_follows_to():  # pragma: no cover - CPU-only CI
    loss = SimLoss(random_similarity(5, 1)).cuda()
    logits = torch.randn(3, 5, device="cuda")
    target = torch.tensor([0, 1, 4], device="cuda")
    held = loss.similarity.cpu().double().numpy()
    expected = reference(logits.cpu(), target.cpu(), held).mean()
    torch.testing.assert_close(loss(logits, target).cpu().double(), expected, rtol=1e-5, atol=1e-6)


def test_outputs_on_another_device_is_a_clear_error():
    loss = SimLoss(np.eye(3)).to("meta")
    with pytest.raises(InputError, match=r"loss\.to\(device\)"):
        loss(torch.zeros(2, 3), torch.tensor([0, 1]))


@pytest.mark.slow
@pytest.mark.parametrize("reduction", ["mean", "none"])
def test_torch_compile_aot_eager(reduction):
    loss = SimLoss(random_similarity(6, 4, 0.5), reduction=reduction)
    compiled = torch.compile(loss, backend="aot_eager", fullgraph=True)
    logits = torch.randn(5, 6, requires_grad=True)
    target = torch.tensor([0, 1, -100, 5, 2])
    eager_logits = logits.detach().clone().requires_grad_()
    value = compiled(logits, target)
    expected = loss(eager_logits, target)
    torch.testing.assert_close(value, expected)
    value.sum().backward()
    expected.sum().backward()
    torch.testing.assert_close(logits.grad, eager_logits.grad)


# ---- probability targets: L = -sum_y q_y log sum_c S[y, c] p_c ----


def soft_reference(logits: torch.Tensor, q: torch.Tensor, matrix: np.ndarray) -> torch.Tensor:
    """Brute force in float64 and log space: one sample and one class at a time."""
    log_s = torch.as_tensor(np.log(np.where(matrix > 0, matrix, 1e-300)), dtype=torch.float64)
    log_s[torch.as_tensor(matrix) == 0] = float("-inf")
    out = []
    for z, row in zip(logits.double(), q.double(), strict=True):
        log_p = torch.log_softmax(z, dim=0)
        terms = [row[y] * torch.logsumexp(log_p + log_s[y], 0) for y in range(len(row)) if row[y]]
        out.append(-torch.stack(terms).sum())
    return torch.stack(out)


@st.composite
def soft_batches(draw: st.DrawFn) -> tuple[torch.Tensor, torch.Tensor]:
    logits, _ = draw(batches())
    generator = torch.Generator().manual_seed(draw(st.integers(0, 2**31 - 1)))
    q = torch.rand(logits.shape, generator=generator, dtype=torch.float64)
    q[torch.rand(logits.shape, generator=generator) < 0.5] = 0.0
    q[:, 0] += 1e-3  # no empty row
    return logits, q / q.sum(1, keepdim=True)


@FAST
@given(soft_batches(), st.integers(0, 1000), st.sampled_from([0.0, 0.5, 0.9]))
def test_probability_targets_match_brute_force(data, seed, zero_fraction):
    logits, q = data
    matrix = random_similarity(logits.shape[1], seed, zero_fraction)
    value = SimLoss(matrix, reduction="none").double()(logits, q)
    torch.testing.assert_close(value, soft_reference(logits, q, matrix))


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_one_hot_probabilities_equal_class_indices(reduction):
    matrix = random_similarity(7, 3)
    logits = torch.randn(6, 7, dtype=torch.float64) * 3
    target = torch.tensor([0, 6, 2, 2, 5, 1])
    loss = SimLoss(matrix, reduction=reduction).double()
    one_hot = F.one_hot(target, 7).double()
    torch.testing.assert_close(loss(logits, one_hot), loss(logits, target))


def test_identity_similarity_with_probabilities_is_cross_entropy():
    logits = torch.randn(5, 4, dtype=torch.float64)
    q = torch.softmax(torch.randn(5, 4, dtype=torch.float64), 1)
    loss = SimLoss(np.eye(4)).double()
    torch.testing.assert_close(loss(logits, q), F.cross_entropy(logits, q))


@pytest.mark.parametrize(("lam", "smoothing"), [(0.7, 0.1), (1.0, 0.0), (0.5, 0.0)])
def test_mixup_targets_work_unchanged(lam, smoothing):
    matrix = random_similarity(10, 8, 0.3)
    target = torch.tensor([3, 1, 4, 1, 5, 9, 2, 6])
    q = mixup_target(target, 10, lam=lam, smoothing=smoothing)  # float32, as timm returns it
    logits = torch.randn(8, 10) * 2
    value = SimLoss(matrix, reduction="none")(logits, q)
    assert value.dtype == torch.float32
    torch.testing.assert_close(
        value.double(), soft_reference(logits, q, matrix), atol=1e-5, rtol=1e-5
    )


@pytest.mark.parametrize("zero_fraction", [0.0, 0.6])
def test_probability_gradcheck_float64(zero_fraction):
    matrix = random_similarity(6, 11, zero_fraction)
    loss = SimLoss(matrix, reduction="sum").double()
    q = torch.softmax(torch.randn(4, 6, dtype=torch.float64) * 2, 1)
    q[0] = F.one_hot(torch.tensor(2), 6)
    logits = torch.randn(4, 6, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda z: loss(z, q), (logits,))
    assert torch.autograd.gradgradcheck(lambda z: loss(z, q), (logits,))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_probability_targets_with_underflowing_credit_stay_exact(dtype):
    # class 0 is similar to nothing but itself and is scored 1,000 below the best class:
    # its credit underflows in both dtypes, so the log-space fallback must give the value
    matrix = np.eye(3)
    matrix[1, 2] = matrix[2, 1] = 0.5
    logits = torch.tensor([[-1000.0, 0.0, 3.0], [0.0, 1.0, 2.0]], dtype=dtype, requires_grad=True)
    q = torch.tensor([[0.5, 0.25, 0.25], [0.0, 0.0, 1.0]], dtype=dtype)
    value = SimLoss(matrix, reduction="none").to(dtype)(logits, q)
    torch.testing.assert_close(value.double(), soft_reference(logits.detach(), q, matrix))
    value.sum().backward()
    assert torch.isfinite(logits.grad).all()
    # d/dz of -q_0 log p_0 at a vanishing p_0 is q_0 (p - e_0): -0.5 on class 0
    assert float(logits.grad[0, 0]) == pytest.approx(-0.5, abs=1e-6)


def test_zero_probability_classes_contribute_nothing():
    matrix = np.eye(3)  # credit of class 2 is p_2, which underflows to exactly 0 here
    logits = torch.tensor([[0.0, 0.0, -1e5]], requires_grad=True)
    q = torch.tensor([[0.5, 0.5, 0.0]])
    value = SimLoss(matrix)(logits, q)
    value.backward()
    assert float(value.detach()) == pytest.approx(np.log(2.0))
    assert torch.isfinite(logits.grad).all()


def test_bad_probability_targets_name_the_problem():
    loss = SimLoss(random_similarity(3, 1))
    with pytest.raises(InputError, match=r"sums to 0\.9"):
        loss(torch.zeros(1, 3), torch.tensor([[0.5, 0.3, 0.1]]))
    with pytest.raises(InputError, match=r">= 0"):
        loss(torch.zeros(1, 3), torch.tensor([[1.5, -0.5, 0.0]]))
    with pytest.raises(InputError, match=r"\(batch, num_classes\)"):
        loss(torch.zeros(1, 3), torch.tensor([[0.5, 0.5]]))


@pytest.mark.slow
def test_torch_compile_probability_targets():
    q = mixup_target(torch.tensor([0, 1, 3, 5, 2]), 6, lam=0.6, smoothing=0.1)
    check_compiles(SimLoss(random_similarity(6, 4, 0.5)), torch.randn(5, 6), q)
