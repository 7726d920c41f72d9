"""The Triton kernels against the torch kernel and the float64 reference.

With a CUDA device the compiled kernels run on it. Without one they run on the CPU through
Triton's interpreter (``TRITON_INTERPRET=1``, see ``conftest.py``), which executes each
program as NumPy, one at a time, so sizes stay small; odd sizes and a small ``block``
exercise the chunk loops and their carries. The kernel module is imported afresh for this
file (Triton decides at definition whether a kernel is interpreted) and dropped afterwards.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from types import ModuleType

import numpy as np
import pytest
import torch

from structloss_smooth_topk import SmoothTopK, smooth_topk_torch
from structloss_smooth_topk.backend import default_compute_backend
from structloss_smooth_topk.reference import recursive_loss_and_grad
from structloss_smooth_topk.triton_ops import launch_shape

pytestmark = pytest.mark.filterwarnings(
    # the interpreter evaluates log(0) = -inf with NumPy, which warns
    "ignore:divide by zero encountered in log:RuntimeWarning"
)

MODULE = "structloss_smooth_topk.triton_kernel"
NO_TRITON = "triton is not installed (pip install 'structloss-smooth-topk[triton]')"


def _fresh_import(monkeypatch: pytest.MonkeyPatch, interpret: bool) -> Iterator[ModuleType]:
    """Import the kernel module anew (interpreted or compiled); drop it afterwards."""
    saved = sys.modules.pop(MODULE, None)
    if interpret:
        monkeypatch.setenv("TRITON_INTERPRET", "1")
    else:
        monkeypatch.delenv("TRITON_INTERPRET", raising=False)
    try:
        yield importlib.import_module(MODULE)
    finally:
        sys.modules.pop(MODULE, None)
        if saved is not None:
            sys.modules[MODULE] = saved


def _language_interpreted() -> bool:
    import triton.language.standard as standard
    from triton.runtime.interpreter import InterpretedFunction

    return isinstance(standard.max, InterpretedFunction)


@pytest.fixture(scope="module")
def setup() -> Iterator[tuple[ModuleType, torch.device]]:
    """The kernel module and the device to test it on: compiled on CUDA, else interpreted."""
    pytest.importorskip("triton", reason=NO_TRITON)
    with pytest.MonkeyPatch.context() as monkeypatch:
        if torch.cuda.is_available():
            yield from ((m, torch.device("cuda")) for m in _fresh_import(monkeypatch, False))
        elif not _language_interpreted():
            pytest.skip(
                "triton was imported without TRITON_INTERPRET=1 before conftest.py could set"
                " it; run plugins/smooth-topk/tests on their own"
            )
        else:
            yield from ((m, torch.device("cpu")) for m in _fresh_import(monkeypatch, True))


@pytest.fixture
def kernels(setup: tuple[ModuleType, torch.device]) -> ModuleType:
    """The Triton kernel module under test."""
    return setup[0]


@pytest.fixture
def device(setup: tuple[ModuleType, torch.device]) -> torch.device:
    """Where the Triton kernels run in this session."""
    return setup[1]


def run(fn, scores: torch.Tensor, target: torch.Tensor, *args, **kwargs):
    """Loss and gradient of ``fn(scores, target, *args).sum()``, back on the CPU."""
    scores = scores.detach().clone().requires_grad_()
    loss = fn(scores, target, *args, **kwargs)
    (grad,) = torch.autograd.grad(loss.sum(), scores)
    return loss.detach().cpu(), grad.cpu()


@pytest.mark.parametrize(
    ("n", "k", "block"),
    [
        (2, 1, None),
        (3, 2, None),
        (7, 1, None),
        (7, 6, None),
        (37, 4, 16),
        (64, 3, 16),
        (50, 5, None),
    ],
)
@pytest.mark.parametrize(("scale", "tau"), [(3.0, 1.0), (30.0, 0.05)])
def test_matches_the_torch_kernel(kernels, device, n, k, block, scale, tau):
    generator = torch.Generator().manual_seed(n * 100 + k)
    scores = (torch.randn(3, n, generator=generator) * scale).to(device)
    target = torch.randint(n, (3,), generator=generator).to(device)
    loss, grad = run(kernels.smooth_topk_triton, scores, target, k, tau, 0.8, block=block)
    want_loss, want_grad = run(smooth_topk_torch, scores, target, k, tau, 0.8)
    assert loss.dtype == torch.float32 and grad.dtype == torch.float32
    torch.testing.assert_close(loss, want_loss, rtol=1e-5, atol=1e-5 * tau)
    torch.testing.assert_close(grad, want_grad, rtol=0, atol=1e-5)


@pytest.mark.parametrize("k", [1, 3])
@pytest.mark.parametrize(("scale", "shift", "tau"), [(1e4, 1000.0, 0.01), (100.0, 0.0, 0.1)])
def test_meets_the_accuracy_bar_on_extreme_scores(kernels, device, k, scale, shift, tau):
    generator = torch.Generator().manual_seed(k)
    scores = torch.randn(4, 45, generator=generator) * scale + shift
    scores[0, 1] = scores[0].topk(k + 1).values[k]  # a tie at the split
    target = torch.randint(45, (4,), generator=generator)
    loss, grad = run(
        kernels.smooth_topk_triton, scores.to(device), target.to(device), k, tau, 1.0, block=16
    )
    want_loss, want_grad = recursive_loss_and_grad(scores, target, k, tau, 1.0)
    assert torch.isfinite(loss).all() and torch.isfinite(grad).all()
    bar = 1e-4 * np.maximum(np.abs(want_loss), tau)
    assert (np.abs(loss.double().numpy() - want_loss) <= bar).all()
    assert np.abs(grad.double().numpy() - want_grad).max() <= 1e-4


def test_equal_scores_and_ties(kernels, device):
    scores = torch.zeros(2, 9, device=device)
    scores[1, :4] = 2.0  # four tied maxima
    target = torch.tensor([4, 0], device=device)
    for k in (1, 2, 5, 8):
        loss, grad = run(kernels.smooth_topk_triton, scores, target, k, 0.5, 1.0)
        want_loss, want_grad = run(smooth_topk_torch, scores, target, k, 0.5, 1.0)
        torch.testing.assert_close(loss, want_loss, rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(grad, want_grad, rtol=0, atol=1e-5)


def test_through_the_objective_with_masks(kernels, device):
    generator = torch.Generator().manual_seed(1)
    scores = (torch.randn(5, 21, generator=generator) * 4).to(device)
    target = torch.tensor([3, -100, 20, 0, -100], device=device)
    triton_loss = SmoothTopK(21, k=3, tau=0.5, backend=default_compute_backend("triton"))
    torch_loss = SmoothTopK(21, k=3, tau=0.5, backend=default_compute_backend("torch"))
    assert triton_loss.backend.select("smooth-topk", device) == "triton"
    value, grad = run(lambda s, t: triton_loss(s, t), scores, target)
    want, want_grad = run(lambda s, t: torch_loss(s, t), scores, target)
    torch.testing.assert_close(value, want, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(grad, want_grad, rtol=0, atol=1e-5)
    assert (grad[[1, 4]] == 0).all()


def test_class_weights_on_the_triton_backend(kernels, device):
    generator = torch.Generator().manual_seed(2)
    scores = (torch.randn(6, 13, generator=generator) * 3).to(device)
    target = torch.tensor([3, -100, 12, 0, 7, 3], device=device)
    weight = torch.rand(13, generator=generator).tolist()
    options = {"k": 2, "tau": 0.5, "weight": weight}
    triton_loss = SmoothTopK(13, backend=default_compute_backend("triton"), **options).to(device)
    torch_loss = SmoothTopK(13, backend=default_compute_backend("torch"), **options).to(device)
    value, grad = run(lambda s, t: triton_loss(s, t), scores, target)
    want, want_grad = run(lambda s, t: torch_loss(s, t), scores, target)
    torch.testing.assert_close(value, want, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(grad, want_grad, rtol=0, atol=1e-5)
    plain = SmoothTopK(
        13, reduction="none", backend=default_compute_backend("triton"), k=2, tau=0.5
    )
    w = torch.tensor(weight)[[3, 12, 0, 7, 3]]
    kept = plain(scores, target).cpu()[[0, 2, 3, 4, 5]]
    torch.testing.assert_close(value, (w * kept).sum() / w.sum(), rtol=1e-5, atol=1e-6)


def test_auto_picks_triton_where_it_can_run(kernels, device):
    assert default_compute_backend().select("smooth-topk", device) == "triton"


def test_half_inputs_and_strided_scores(kernels, device):
    generator = torch.Generator().manual_seed(2)
    wide = (torch.randn(13, 6, generator=generator) * 3).to(device)
    scores = wide.t()  # (6, 13), not contiguous
    target = torch.randint(13, (6,), generator=generator).to(device)
    loss, grad = run(kernels.smooth_topk_triton, scores, target, 2, 1.0, 1.0)
    want_loss, want_grad = run(smooth_topk_torch, scores.contiguous(), target, 2, 1.0, 1.0)
    torch.testing.assert_close(loss, want_loss, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(grad, want_grad, rtol=0, atol=1e-5)
    half = scores.to(torch.float16)
    loss, grad = run(kernels.smooth_topk_triton, half, target, 2, 1.0, 1.0)
    assert loss.dtype == torch.float32 and grad.dtype == torch.float16
    want = smooth_topk_torch(half.float(), target, 2, 1.0, 1.0).cpu()
    torch.testing.assert_close(loss, want, rtol=1e-5, atol=1e-6)


def test_float64_and_large_k_run_the_torch_kernel(kernels, device):
    scores = torch.randn(2, 40, dtype=torch.float64, device=device)
    target = torch.tensor([0, 39], device=device)
    loss, _ = run(kernels.smooth_topk_triton, scores, target, 3, 1.0, 1.0)
    assert loss.dtype == torch.float64
    k = kernels.MAX_K + 1
    loss, _ = run(kernels.smooth_topk_triton, scores.float(), target, k, 1.0, 1.0)
    want = smooth_topk_torch(scores.float(), target, k, 1.0, 1.0).cpu()
    torch.testing.assert_close(loss, want)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize(("n", "k"), [(1000, 5), (10000, 2), (33, 1)])
def test_large_rows_on_gpu(kernels, device, n, k):
    generator = torch.Generator().manual_seed(n)
    scores = (torch.randn(64, n, generator=generator) * 100 + 1000).to(device)
    target = torch.randint(n, (64,), generator=generator).to(device)
    loss, grad = run(kernels.smooth_topk_triton, scores, target, k, 0.1, 1.0)
    want_loss, want_grad = run(smooth_topk_torch, scores, target, k, 0.1, 1.0)
    torch.testing.assert_close(loss, want_loss, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(grad, want_grad, rtol=0, atol=1e-5)


COMPILE_CHECK = """
import sys
from triton.backends.compiler import GPUTarget
from triton.compiler import ASTSource, compile
from structloss_smooth_topk import triton_kernel as tk

common = {"S": "*fp32", "stride_s": "i64", "Y": "*i64", "n": "i32", "k_tau": "fp32"}
stats = {name: "*fp32" for name in ("STATS", "TOPV", "LOGRHO", "LOGTAU", "CARRY")}
stats["TOPI"] = "*i32"
forward = {**common, **stats, "LOSS": "*fp32", "tau": "fp32", "alpha_over_tau": "fp32"}
backward = {**common, **stats, "GOUT": "*fp32", "GRAD": "*bf16", "stride_g": "i64"}
for n, k in [(10000, 5), (37, 1), (1000, tk.MAX_K)]:
    kp, block, chunks, num_warps = tk.launch_shape(n, k, None)
    constants = {"K": k, "KP": kp, "BLOCK": block, "NCHUNK": chunks}
    for kernel, types in [(tk._smooth_topk_forward, forward), (tk._smooth_topk_backward, backward)]:
        signature = {}
        for name in kernel.arg_names:
            signature[name] = "constexpr" if name in constants else types[name]
        source = ASTSource(fn=kernel, signature=signature, constexprs=constants)
        compiled = compile(source, target=GPUTarget("cuda", 90, 32), options={"num_warps": num_warps})
        assert ".entry " + kernel.__name__ in compiled.asm["ptx"]
print("compiled")
"""


@pytest.mark.slow
def test_kernels_compile_for_a_gpu_without_one(tmp_path):
    """The compiled path (not the interpreter) builds PTX for sm_90: catches what only the
    compiler checks, such as loop-carried values that change type."""
    import os
    import subprocess

    pytest.importorskip("triton", reason=NO_TRITON)
    pytest.importorskip("triton.backends.nvidia", reason="triton has no CUDA backend here")
    env = {key: value for key, value in os.environ.items() if key != "TRITON_INTERPRET"}
    env["TRITON_CACHE_DIR"] = str(tmp_path)
    env.setdefault("TRITON_DEFAULT_FP_FUSION", "1")
    result = subprocess.run(
        [sys.executable, "-c", COMPILE_CHECK], capture_output=True, text=True, env=env, timeout=600
    )
    if result.returncode != 0 and "ASTSource" in result.stderr and "TypeError" in result.stderr:
        pytest.skip(f"this triton's compile API differs: {result.stderr.splitlines()[-1]}")
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().endswith("compiled")


def test_launch_shapes_follow_tritons_power_of_two_rules(kernels, device):
    import triton

    for n in (2, 3, 17, 100, 1000, 5000):
        for k in (1, 2, 4, 5, 7, 8, 15):
            kp = triton.next_power_of_2(k + 1)
            block = max(16, min(1024, 8192 // kp, triton.next_power_of_2(n)))
            want = (kp, block, triton.cdiv(n, block), 8 if block >= 1024 else 4)
            assert launch_shape(n, k, None) == want, (n, k)
            assert launch_shape(n, k, 64) == (kp, 64, triton.cdiv(n, 64), 4), (n, k)


def test_custom_ops_pass_opcheck(kernels, device):
    from structloss_smooth_topk.triton_ops import smooth_topk_forward

    generator = torch.Generator().manual_seed(3)
    scores = (torch.randn(3, 21, generator=generator) * 3).to(device).requires_grad_()
    target = torch.tensor([0, 20, 7], device=device)
    torch.library.opcheck(smooth_topk_forward, (scores, target, 3, 0.5, 1.0, 16))


def test_compiled_model_keeps_one_graph_with_the_triton_backend(kernels, device):
    from structloss.testing import check_compiles

    loss = SmoothTopK(21, k=3, tau=0.5, backend=default_compute_backend("triton"))
    generator = torch.Generator().manual_seed(4)
    scores = (torch.randn(4, 21, generator=generator) * 3).to(device)
    target = torch.tensor([3, 0, 20, 9], device=device)
    check_compiles(loss, scores, target, fullgraph=True, rtol=1e-5, atol=1e-6)
