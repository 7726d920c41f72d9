"""structloss hooks of the ``simloss`` plugin: losses ``simloss`` and ``simloss-neighbours``,
provider ``ordinal``.

Importing this module loads torch (the loss's base class needs it) and nothing else heavy.
"""

from __future__ import annotations

from structloss.hookspecs import provides
from structloss.specs import LossSpec, StructureSpec
from structloss_simloss.loss import build_simloss, build_simloss_neighbours
from structloss_simloss.ordinal import build_ordinal

__all__ = ["structloss_losses", "structloss_structures"]

#: ``simloss`` needs a similarity (compose converts hierarchies and embeddings to one);
#: ``simloss-neighbours`` an embedding, whose nearest classes it keeps
structloss_losses = provides(
    LossSpec(
        "simloss",
        build_simloss,
        "cross-entropy crediting similar classes: -log sum_c S[y,c] p_c",
        needs="similarity",
    ),
    LossSpec(
        "simloss-neighbours",
        build_simloss_neighbours,
        "SimLoss over each class's m nearest classes in an embedding (no classes x classes matrix)",
        needs="embedding",
    ),
)
#: ``ordinal``: ``S_ij = r ** |i - j|``
structloss_structures = provides(
    StructureSpec(
        "ordinal", build_ordinal, "ordered classes: r ** |i - j| (option r)", "similarity"
    ),
)
