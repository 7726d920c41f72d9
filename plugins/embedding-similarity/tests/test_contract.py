"""The core's plugin contract checks (structloss.testing) on this plugin."""

from __future__ import annotations

import pytest

import structloss_embedding_similarity.hooks as hooks
from structloss.testing import check_plugin
from structloss_embedding_similarity import OUTPUTS

# words of the test vocabulary (conftest.WORDS), so every class has a vector
CLASSES = ["cat", "dog", "tiger", "lion", "car", "truck", "pickup", "sea"]


@pytest.mark.parametrize("output", OUTPUTS)
def test_plugin_contract(tmp_path, writer, output):
    vectors = writer(tmp_path, "word2vec-binary")
    options = {"vectors": str(vectors), "as": output}
    host = check_plugin(hooks, classes=CLASSES, structures={"embedding-similarity": options})
    assert host.spec("structure", "embedding-similarity").kind is None
