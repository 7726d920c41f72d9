"""PMI embedding: time and memory to learn it at scale; head + loss cost against sigmoid BCE.

Run ``python benchmarks/pmi_embedding_speed.py``. Two measurements:

1. Learning the embedding (provider ``pmi-embedding``) from 1,000,000 samples with about 5
   labels each over 10,000 labels (Zipf-like frequencies, drawn independently: the most
   distinct pairs, so the sparsest case is not flattered) to 256 dimensions, with the
   provider's defaults. The bar: at most 30 s and 4 GB peak resident memory on 2 cores. The
   end-to-end call is timed ``--embed-repeats`` times (best and median printed); one more
   call, under ``tracemalloc``, splits the time into phases and reports the peak of traced
   (numpy) allocations.
2. One training step, head + loss forward and backward, at batch 256, 2048 features,
   10,000 labels: ``nn.Linear(2048, 256)`` + loss ``pmi-embedding`` against
   ``nn.Linear(2048, 10000)`` + ``F.binary_cross_entropy_with_logits`` (and + the core's
   ``binary-cross-entropy``, which validates its targets alike), timed in interleaved
   repeats; the medians and their ratios are printed (the bar: well below 1).
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import time
import tracemalloc

import numpy as np
import torch
import torch.nn.functional as F
from _timing import backward_step, interleaved, median
from scipy import sparse
from torch import nn

from structloss import LabelEmbedding
from structloss.builtin.losses import BinaryCrossEntropy
from structloss_pmi_embedding import (
    PMIEmbeddingLoss,
    cooccurrence,
    pmi_embedding,
    pmi_matrix,
    svd_embedding,
)


def zipf_labels(
    num_samples: int,
    num_labels: int,
    *,
    mean_labels: float = 5.0,
    exponent: float = 1.0,
    seed: int = 0,
) -> sparse.csr_matrix:
    """Return a (samples, labels) binary CSR matrix, vectorised.

    Each sample draws ``1 + Poisson(mean_labels - 1)`` labels from ``p_l ~ 1 / (l + 1) **
    exponent`` (a repeated draw counts once, so samples average slightly fewer labels).
    """
    rng = np.random.default_rng(seed)
    sizes = 1 + rng.poisson(mean_labels - 1.0, size=num_samples)
    weights = 1.0 / np.arange(1, num_labels + 1) ** exponent
    draws = rng.choice(num_labels, size=int(sizes.sum()), p=weights / weights.sum())
    rows = np.repeat(np.arange(num_samples), sizes)
    matrix = sparse.csr_matrix(
        (np.ones(draws.size, dtype=np.float32), (rows, draws)), shape=(num_samples, num_labels)
    )
    matrix.data[:] = 1.0  # duplicates were summed
    return matrix


def peak_rss_gb() -> float:
    """Peak resident set size of this process so far, in GB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e9


def bench_embedding(samples: int, labels: int, dim: int, repeats: int) -> None:
    """Print time and memory of learning a ``dim``-d embedding from synthetic labels.

    The end-to-end call runs ``repeats`` times; the fastest is the figure least disturbed by
    other load on the machine, the median is printed beside it.
    """
    start = time.perf_counter()
    data = zipf_labels(samples, labels)
    print(
        f"labels: {samples:,} samples x {labels:,} labels, {data.nnz:,} pairs"
        f" ({data.nnz / samples:.2f} per sample), generated in"
        f" {time.perf_counter() - start:.1f} s"
    )
    classes = [f"l{i}" for i in range(labels)]
    before = peak_rss_gb()
    times, cpu_times = [], []
    for _ in range(repeats):
        start, cpu_start = time.perf_counter(), time.process_time()
        embedding = pmi_embedding(data, classes, dim=dim)
        times.append(time.perf_counter() - start)
        cpu_times.append(time.process_time() - cpu_start)
        assert embedding.matrix.shape == (labels, dim)
        del embedding
    peak = peak_rss_gb()
    total = min(times)
    print(
        f"end to end (provider defaults, dim {dim}): best {total:.1f} s, median"
        f" {statistics.median(times):.1f} s of {', '.join(f'{t:.1f}' for t in times)} s;"
        f" CPU time (all threads) best {min(cpu_times):.1f} s"
    )
    print(f"load average over the last minute: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    print(f"peak RSS of the process: {peak:.2f} GB (before the call: {before:.2f} GB)")

    tracemalloc.start()
    phases: list[tuple[str, float]] = []
    start = time.perf_counter()
    counts = cooccurrence(data, labels)
    phases.append(("co-occurrence (label_pairs + X^T X)", time.perf_counter() - start))
    start = time.perf_counter()
    matrix = pmi_matrix(counts)
    phases.append((f"PPMI ({matrix.nnz:,} non-zeros)", time.perf_counter() - start))
    start = time.perf_counter()
    vectors = svd_embedding(matrix, dim)
    phases.append(("randomized SVD + U sqrt(S)", time.perf_counter() - start))
    start = time.perf_counter()
    LabelEmbedding.from_matrix(classes, vectors / np.linalg.norm(vectors, axis=1, keepdims=True))
    phases.append(("normalise + LabelEmbedding", time.perf_counter() - start))
    _, traced = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    for name, seconds in phases:
        print(f"  {name}: {seconds:.2f} s")
    print(f"peak traced allocations (tracemalloc, numpy included): {traced / 1e9:.2f} GB")
    verdict = "PASS" if total <= 30.0 and peak <= 4.0 else "FAIL"
    print(f"bar (<= 30 s, <= 4 GB): {verdict}")


def bench_step(
    batch: int, features: int, labels: int, dim: int, repeats: int
) -> tuple[float, float, float]:
    """Return median seconds of forward + backward steps: plain BCE, core BCE, PMI embedding.

    Plain BCE is ``F.binary_cross_entropy_with_logits``; core BCE is the structloss loss
    ``binary-cross-entropy``, which validates its multi-hot target as loss
    ``pmi-embedding`` does (``check_multilabel_inputs``).
    """
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(batch, features, generator=generator)
    target = torch.rand(batch, labels, generator=generator) < 5.0 / labels
    rng = np.random.default_rng(0)
    vectors = LabelEmbedding.from_matrix(
        [f"l{i}" for i in range(labels)], rng.normal(size=(labels, dim))
    )
    loss = PMIEmbeddingLoss(vectors)
    pmi_head = loss.head(features)
    bce_head = nn.Linear(features, labels)
    bce_target = target.float()
    core_bce = BinaryCrossEntropy(labels)

    steps = {
        "bce": backward_step(
            bce_head, lambda: F.binary_cross_entropy_with_logits(bce_head(x), bce_target)
        ),
        "core": backward_step(bce_head, lambda: core_bce(bce_head(x), target)),
        "pmi": backward_step(pmi_head, lambda: loss(pmi_head(x), target)),
    }
    times = median(interleaved(steps, repeats))
    return times["bce"], times["core"], times["pmi"]


def main(argv: list[str] | None = None) -> None:
    """Run both measurements and print them."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=1_000_000)
    parser.add_argument("--labels", type=int, default=10_000)
    parser.add_argument("--dim", type=int, default=256)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--features", type=int, default=2048)
    parser.add_argument("--repeats", type=int, default=20, help="timed training steps")
    parser.add_argument("--embed-repeats", type=int, default=3, help="end-to-end embeddings")
    args = parser.parse_args(argv)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    bench_embedding(args.samples, args.labels, args.dim, args.embed_repeats)
    bce, core, pmi = bench_step(args.batch, args.features, args.labels, args.dim, args.repeats)
    print(
        f"\nhead + loss, forward + backward (batch {args.batch}, {args.features} features,"
        f" {args.labels} labels, {args.dim} dims):"
    )
    print("| step | median (ms) |")
    print("| --- | ---: |")
    print(f"| Linear({args.features}, {args.labels}) + BCE-with-logits | {bce * 1e3:.2f} |")
    print(
        f"| Linear({args.features}, {args.labels}) + core binary-cross-entropy | {core * 1e3:.2f} |"
    )
    print(f"| Linear({args.features}, {args.dim}) + pmi-embedding | {pmi * 1e3:.2f} |")
    print(f"ratio pmi-embedding / BCE-with-logits: {pmi / bce:.3f}")
    print(f"ratio pmi-embedding / core binary-cross-entropy: {pmi / core:.3f}")


if __name__ == "__main__":
    main()
