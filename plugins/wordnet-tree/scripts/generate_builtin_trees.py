"""Generate the trees of the built-in class lists that ship with structloss-wordnet-tree.

Usage (from the repository root, with the plugin installed)::

    python plugins/wordnet-tree/scripts/generate_builtin_trees.py            # write the trees
    python plugins/wordnet-tree/scripts/generate_builtin_trees.py --check    # verify them
    python plugins/wordnet-tree/scripts/generate_builtin_trees.py \\
        --imagenet-synsets /tmp/timm/timm-1.0.31-py3-none-any.whl           # refresh the ids

It reads WordNet 3.0 (``--wordnet-dir``, else the plugin's usual search: WNSEARCHDIR, nltk's
data path, /usr/share/wordnet) and writes ``src/structloss_wordnet_tree/data/<list>_tree.json``
with the default options (``hypernym_path = "longest"``, ``collapse = true``) and the list's
synset overrides (``classlists.CIFAR100_SYNSETS``). Each file is ``Hierarchy.to_json()``
plus a ``"meta"`` entry recording how it was made.

Provenance of the class lists in ``data/``:

- ``cifar100_classes.txt``: CIFAR-100's ``fine_label_names`` from the dataset's ``meta``
  file (https://www.cs.toronto.edu/~kriz/cifar.html), which lists them alphabetically;
  label i is line i + 1.
- ``imagenet1k_classes.txt``: the 1000 ILSVRC-2012 WordNet ids, sorted (the label order of
  torchvision's ImageFolder and of timm). Taken from the PyPI wheel of timm 1.0.31
  (``pip download timm==1.0.31 --no-deps``), member ``timm/data/_info/imagenet_synsets.txt``,
  sha256 ``70002b0ff5de60a3a17a82dbfcff291931f96225ddf941ad2e182fc39e183d15``. Pass the wheel
  (or the extracted text file) as ``--imagenet-synsets`` to re-import it; the script checks
  the digest unless ``--any-digest`` is given.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import warnings
import zipfile
from pathlib import Path

from structloss_wordnet_tree import AmbiguousSenseWarning
from structloss_wordnet_tree.classlists import BUILTIN_LISTS
from structloss_wordnet_tree.locate import locate
from structloss_wordnet_tree.provider import build_from_wordnet

DATA = Path(__file__).resolve().parents[1] / "src" / "structloss_wordnet_tree" / "data"
TIMM_MEMBER = "timm/data/_info/imagenet_synsets.txt"
TIMM_SHA256 = "70002b0ff5de60a3a17a82dbfcff291931f96225ddf941ad2e182fc39e183d15"


def read_imagenet_synsets(source: Path, *, any_digest: bool) -> list[str]:
    """Read the 1000 ImageNet-1k ids from timm's wheel or its extracted text file."""
    if source.suffix == ".whl":
        with zipfile.ZipFile(source) as wheel:
            raw = wheel.read(TIMM_MEMBER)
    else:
        raw = source.read_bytes()
    digest = hashlib.sha256(raw).hexdigest()
    if digest != TIMM_SHA256 and not any_digest:
        sys.exit(f"{source}: sha256 {digest} is not the recorded {TIMM_SHA256}; check the file")
    wnids = raw.decode("ascii").split()
    if len(wnids) != 1000 or wnids != sorted(set(wnids)):
        sys.exit(f"{source}: expected 1000 distinct sorted WordNet ids, got {len(wnids)}")
    return wnids


def render(name: str, wordnet_dir: str | None) -> str:
    """Build list ``name``'s tree from WordNet 3.0 and return the file's text."""
    location = locate(wordnet_dir)
    db = location.open()
    if db.version != "3.0":
        sys.exit(f"{location.path} is not WordNet 3.0; the shipped trees are built from 3.0")
    builtin = BUILTIN_LISTS[name]
    with warnings.catch_warnings():
        # every by-name sense of a built-in list was checked by hand (classlists.py)
        warnings.simplefilter("ignore", AmbiguousSenseWarning)
        tree = build_from_wordnet(db, builtin.classes(), builtin.synsets)
    document = json.loads(tree.to_json())
    document["meta"] = {
        "generator": "plugins/wordnet-tree/scripts/generate_builtin_trees.py",
        "wordnet": "3.0",
        "data.noun sha256": db.digest(),
        "hypernym_path": "longest",
        "collapse": True,
        "synsets": dict(builtin.synsets),
    }
    return json.dumps(document, indent=1) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Write (or with ``--check`` verify) the shipped trees; return the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--wordnet-dir", help="WordNet 3.0 dict directory or wordnet.zip")
    parser.add_argument("--imagenet-synsets", type=Path, help="timm wheel or its synsets file")
    parser.add_argument("--any-digest", action="store_true", help="accept another timm file")
    parser.add_argument("--check", action="store_true", help="fail if a file would change")
    args = parser.parse_args(argv)
    if args.imagenet_synsets is not None:
        wnids = read_imagenet_synsets(args.imagenet_synsets, any_digest=args.any_digest)
        (DATA / "imagenet1k_classes.txt").write_text("\n".join(wnids) + "\n", encoding="utf-8")
    stale = []
    for name in BUILTIN_LISTS:
        path = DATA / f"{name}_tree.json"
        text = render(name, args.wordnet_dir)
        current = path.read_text(encoding="utf-8") if path.exists() else None
        if text == current:
            print(f"{path.name}: up to date")
        elif args.check:
            stale.append(path.name)
        else:
            path.write_text(text, encoding="utf-8")
            print(f"{path.name}: written")
    if stale:
        print(f"out of date: {', '.join(stale)}; run this script without --check")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
