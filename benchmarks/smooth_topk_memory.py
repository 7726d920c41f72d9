"""Peak extra memory of smooth-topk forward + backward, against cross-entropy, on the CPU.

Run ``python benchmarks/smooth_topk_memory.py``. Each measurement runs in a fresh process:
it builds the logits (batch 256 x n, float32) and the target, records the resident-set
high-water mark, runs forward + backward three times, and reports how far the high-water
mark rose, as a multiple of the logits' size. Large tensors are mapped and unmapped
directly by the allocator, so the rise is the peak of what the step held at once (the
gradient included). Target: smooth-topk at most 10x the logits' size at 10,000 classes.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

CHILD = """
import json, resource, sys, torch
import torch.nn.functional as F
torch.set_num_threads(1)
batch, n, k, which = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
generator = torch.Generator().manual_seed(0)
logits = torch.randn(batch, n, generator=generator).requires_grad_()
target = torch.randint(n, (batch,), generator=generator)
if which == "smooth-topk":
    from structloss_smooth_topk import smooth_topk_torch
    step = lambda: smooth_topk_torch(logits, target, k, 1.0, 1.0).mean()
else:
    step = lambda: F.cross_entropy(logits, target)
def peak_kib():
    # VmHWM is this process image's own peak; ru_maxrss survives exec, so a child of a large
    # parent would start at the parent's size and show no growth
    try:
        with open("/proc/self/status") as status:
            return next(int(l.split()[1]) for l in status if l.startswith("VmHWM:"))
    except (OSError, StopIteration):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
(logits * 1).sum()  # touch the allocator and the logits once
before = peak_kib()
for _ in range(3):
    logits.grad = None
    step().backward()
after = peak_kib()
print(json.dumps({"extra_bytes": (after - before) * 1024, "logits_bytes": logits.numel() * 4}))
"""


def measure(batch: int, n: int, k: int, which: str) -> float:
    """Return the peak extra memory of one step as a multiple of the logits' size."""
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(batch), str(n), str(k), which],
        capture_output=True,
        text=True,
        check=True,
    )
    data = json.loads(out.stdout.strip().splitlines()[-1])
    return data["extra_bytes"] / data["logits_bytes"]


def main(argv: list[str] | None = None) -> None:
    """Print a table of peak extra memory in multiples of the logits' size."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--classes", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--k", type=int, default=5)
    args = parser.parse_args(argv)
    print(f"batch {args.batch}, k {args.k}, float32; extra memory / logits size (target <= 10)")
    print("| classes | cross-entropy | smooth-topk (torch) |")
    print("| ---: | ---: | ---: |")
    for n in args.classes:
        ce = measure(args.batch, n, args.k, "cross-entropy")
        topk = measure(args.batch, n, args.k, "smooth-topk")
        print(f"| {n} | {ce:.1f}x | {topk:.1f}x |")


if __name__ == "__main__":
    main()
