"""Smooth top-k vs ``F.cross_entropy``: forward + backward time, side by side.

Run ``python benchmarks/smooth_topk_speed.py``. On the CPU it times the torch backend of
``smooth-topk`` against cross-entropy at batch 256 for n in {1000, 10000} and k in {1, 5};
with a CUDA device and triton it then times the Triton backend, the torch backend and
cross-entropy on the GPU, and finally Triton / CE and torch / CE at ``--gpu-batch`` x
``--gpu-classes`` (4096 x 32,000) in float32 and bfloat16, eager and compiled. Each
configuration is timed in interleaved repeats (so drift in machine load hits all alike).
"""

from __future__ import annotations

import argparse
import importlib.util
from collections.abc import Callable

import torch
import torch.nn.functional as F
from _timing import arguments, backward_step, best, interleaved, median, start

from structloss_smooth_topk import smooth_topk_torch

Step = Callable[[], None]


def median_times(
    steps: dict[str, Step], repeats: int, sync: Callable[[], None]
) -> dict[str, float]:
    """Median seconds of each step over interleaved repeats (after 3 warm-up rounds)."""
    return median(interleaved(steps, repeats, sync=sync))


def steps_for(
    batch: int, classes: int, k: int, device: str, kernels: dict[str, Callable[..., torch.Tensor]]
) -> dict[str, Step]:
    """Forward + backward closures of cross-entropy and of each smooth top-k kernel."""
    generator = torch.Generator().manual_seed(classes + k)
    logits = torch.randn(batch, classes, generator=generator).to(device).requires_grad_()
    target = torch.randint(classes, (batch,), generator=generator).to(device)

    steps = {"cross-entropy": backward_step(logits, lambda: F.cross_entropy(logits, target))}
    for name, kernel in kernels.items():
        loss = lambda kernel=kernel: kernel(logits, target, k, 1.0, 1.0).mean()  # noqa: E731
        steps[name] = backward_step(logits, loss)
    return steps


def table(
    title: str,
    device: str,
    kernels: dict[str, Callable[..., torch.Tensor]],
    args: argparse.Namespace,
    sync: Callable[[], None],
) -> None:
    """Print one markdown table: medians in ms and ratios to cross-entropy."""
    names = ["cross-entropy", *kernels]
    print(f"\n{title}")
    header = " | ".join(f"{name} (ms)" for name in names)
    ratios = " | ".join(f"{name} / CE" for name in kernels)
    print(f"| classes | k | {header} | {ratios} |")
    print("| ---: | ---: |" + " ---: |" * (len(names) + len(kernels)))
    for classes in args.classes:
        for k in args.k:
            steps = steps_for(args.batch, classes, k, device, kernels)
            medians = median_times(steps, args.repeats, sync)
            ce = medians["cross-entropy"]
            cells = " | ".join(f"{medians[name] * 1e3:.3f}" for name in names)
            rel = " | ".join(f"{medians[name] / ce:.1f}" for name in kernels)
            print(f"| {classes} | {k} | {cells} | {rel} |")


def main(argv: list[str] | None = None) -> None:
    """Print the CPU table and, where CUDA and triton are available, the GPU table."""
    k_option = {"type": int, "nargs": "+", "default": [1, 5]}
    args = arguments(
        __doc__.splitlines()[0],
        repeats=20,
        k=k_option,
        **{
            "gpu-batch": {"type": int, "default": 4096},
            "gpu-classes": {"type": int, "default": 32_000},
        },
    ).parse_args(argv)
    start(args)
    table(
        "CPU: forward + backward, torch backend",
        "cpu",
        {"smooth-topk torch": smooth_topk_torch},
        args,
        lambda: None,
    )
    if not torch.cuda.is_available():
        print("\nGPU part skipped: no CUDA device.")
        return
    if importlib.util.find_spec("triton") is None:
        print("\nGPU part skipped: triton is not installed.")
        return
    from structloss_smooth_topk.triton_kernel import smooth_topk_triton

    print(f"\nGPU: {torch.cuda.get_device_name()}")
    table(
        "GPU: forward + backward, Triton and torch backends",
        "cuda",
        {"smooth-topk triton": smooth_topk_triton, "smooth-topk torch": smooth_topk_torch},
        args,
        torch.cuda.synchronize,
    )
    large(args.gpu_batch, args.gpu_classes, args.repeats)


def large(batch: int, classes: int, repeats: int) -> None:
    """Print Triton / CE and torch / CE at ``batch`` x ``classes``, float32 and bfloat16.

    k = 5, eager and with the loss inside ``torch.compile`` (the Triton kernels are custom
    ops, so the compiled step is one graph).
    """
    print(f"\nGPU: {batch} x {classes:,}, k = 5, forward + backward, min of interleaved repeats")
    print(
        "| dtype | CE (ms) | triton (ms) | torch (ms) | compiled triton (ms) | triton / CE | torch / CE |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for dtype in (torch.float32, torch.bfloat16):
        t = _large_times(batch, classes, dtype, repeats)
        print(
            f"| {str(dtype).removeprefix('torch.')} | {t['ce'] * 1e3:.3f} | {t['triton'] * 1e3:.3f}"
            f" | {t['torch'] * 1e3:.3f} | {t['compiled'] * 1e3:.3f} | {t['triton'] / t['ce']:.1f}"
            f" | {t['torch'] / t['ce']:.1f} |"
        )


def _large_times(batch: int, classes: int, dtype: torch.dtype, repeats: int) -> dict[str, float]:
    """The fastest seconds of CE, Triton, torch and compiled Triton at one size and dtype."""
    from structloss_smooth_topk.triton_kernel import smooth_topk_triton

    generator = torch.Generator().manual_seed(0)
    logits = torch.randn(batch, classes, generator=generator).to("cuda", dtype)
    logits.requires_grad_()
    target = torch.randint(classes, (batch,), generator=generator).to("cuda")
    compiled = torch.compile(lambda z, t: smooth_topk_triton(z, t, 5, 1.0, 1.0).mean())
    steps = {
        "ce": backward_step(logits, lambda: F.cross_entropy(logits, target)),
        "triton": backward_step(
            logits, lambda: smooth_topk_triton(logits, target, 5, 1.0, 1.0).mean()
        ),
        "torch": backward_step(
            logits, lambda: smooth_topk_torch(logits, target, 5, 1.0, 1.0).mean()
        ),
        "compiled": backward_step(logits, lambda: compiled(logits, target)),
    }
    return best(interleaved(steps, repeats, sync=torch.cuda.synchronize))


if __name__ == "__main__":
    main()
