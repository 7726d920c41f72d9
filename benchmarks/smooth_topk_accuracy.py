"""Smooth top-k accuracy: float32 kernels against the float64 reference over the grid.

Run ``python benchmarks/smooth_topk_accuracy.py``. For n in {100, 1000, 10000} and every
(tau, scale, shift, k) in {1, 0.1, 0.01} x {1, 100, 1e4} x {0, +1000} x {1, 2, 5} it
measures the torch kernel (and, with a CUDA device and triton, the Triton kernel) against
the float64 sequential log-space recursion, and prints the worst loss error relative to
max(|L|, tau) and the worst absolute gradient error (the bar is 1e-4 for both).
"""

from __future__ import annotations

import argparse
import importlib.util
from collections.abc import Callable

import torch

from structloss_smooth_topk import smooth_topk_torch
from structloss_smooth_topk.reference import GridError, grid_errors


def report(
    name: str, kernel: Callable[..., torch.Tensor], rows: dict[int, int], device: str
) -> None:
    """Print the worst errors per n and per (n, k), and the settings where they occur."""
    print(f"\n{name} ({device})")
    print("| n | rows | k | max loss error / max(|L|, tau) | max grad error | all finite |")
    print("| ---: | ---: | ---: | ---: | ---: | :---: |")
    worst: list[GridError] = []
    for n, count in rows.items():
        errors = grid_errors(kernel, n, count, device=device)
        worst.extend(errors)
        for k in sorted({e.k for e in errors}):
            part = [e for e in errors if e.k == k]
            loss = max(e.loss for e in part)
            grad = max(e.grad for e in part)
            finite = all(e.finite for e in part)
            print(
                f"| {n} | {count} | {k} | {loss:.2e} | {grad:.2e} | {'yes' if finite else 'NO'} |"
            )
    by_loss = max(worst, key=lambda e: e.loss)
    by_grad = max(worst, key=lambda e: e.grad)
    print(f"worst loss error {by_loss.loss:.2e} at {by_loss._asdict()}")
    print(f"worst grad error {by_grad.grad:.2e} at {by_grad._asdict()}")


def main(argv: list[str] | None = None) -> None:
    """Print the accuracy tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs=3, default=[64, 16, 4], metavar="R")
    args = parser.parse_args(argv)
    rows = dict(zip((100, 1000, 10000), args.rows, strict=True))
    report("torch kernel", smooth_topk_torch, rows, "cpu")
    if torch.cuda.is_available() and importlib.util.find_spec("triton") is not None:
        from structloss_smooth_topk.triton_kernel import smooth_topk_triton

        report("Triton kernel", smooth_topk_triton, rows, "cuda")
        report("torch kernel", smooth_topk_torch, rows, "cuda")
    else:
        print("\nTriton kernel skipped: needs a CUDA device and triton.")


if __name__ == "__main__":
    main()
