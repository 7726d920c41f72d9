"""No code runs from data files: the tree holds no unsafe load of a file a user gives.

Unpickling (``pickle``, ``torch.load`` without ``weights_only=True``, ``np.load`` with
``allow_pickle=True``, gensim's native ``KeyedVectors.load``), ``yaml.load`` and
``eval``/``exec`` can run code hidden in a file. Each allowed use is listed here with why.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = ("core", "plugins", "benchmarks", "experiments", "docs", "tests")

UNSAFE = {
    "torch.load without weights_only=True": re.compile(r"torch\.load\((?![^)]*weights_only=True)"),
    "np.load with allow_pickle=True": re.compile(r"allow_pickle\s*=\s*True"),
    "yaml.load": re.compile(r"\byaml\.(?:unsafe_)?load\("),
    "pickle.load of a file": re.compile(r"\bpickle\.load\(|\bUnpickler\((?!.*_CifarUnpickler)"),
    "pickle.loads of bytes not made here": re.compile(r"pickle\.loads\((?!pickle\.dumps\()"),
    "eval/exec": re.compile(r"(?<![.\w])(?:eval|exec)\("),
    "gensim's pickle format": re.compile(r"KeyedVectors\.load\("),
}

#: (file, what): uses that are safe, and why.
ALLOWED = {
    # the explicit format = "gensim" path; auto-detection never reaches it (tested there)
    ("plugins/embedding-similarity/src/structloss_embedding_similarity/vectors.py",
     "gensim's pickle format"),
    # tests unpickle the small files they have just written, to modify them, or a payload
    # they made, to show that it is live before showing that the loader refuses it
    ("tests/test_data.py", "pickle.loads of bytes not made here"),
    ("plugins/embedding-similarity/tests/test_vectors.py", "pickle.loads of bytes not made here"),
    # this file names the patterns it looks for
    ("tests/test_security.py", "torch.load without weights_only=True"),
    ("tests/test_security.py", "yaml.load"),
    ("tests/test_security.py", "pickle.load of a file"),
    ("tests/test_security.py", "pickle.loads of bytes not made here"),
    ("tests/test_security.py", "eval/exec"),
    ("tests/test_security.py", "gensim's pickle format"),
    ("tests/test_security.py", "np.load with allow_pickle=True"),
}  # fmt: skip


def _sources() -> list[Path]:
    files = [p for folder in FOLDERS for p in (ROOT / folder).rglob("*.py")]
    return sorted(p for p in files if ".tox" not in p.parts and "site-packages" not in p.parts)


def test_the_scan_sees_the_tree():
    names = {p.relative_to(ROOT).as_posix() for p in _sources()}
    assert "core/structloss/lab/datasets/cifar.py" in names and len(names) > 50


@pytest.mark.parametrize("what", sorted(UNSAFE))
def test_no_unsafe_load_of_user_files(what):
    found = []
    for path in _sources():
        relative = path.relative_to(ROOT).as_posix()
        if (relative, what) in ALLOWED:
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if UNSAFE[what].search(line.split("#")[0]):
                found.append(f"{relative}:{number}: {line.strip()}")
    assert not found, f"{what}:\n" + "\n".join(found)


@pytest.mark.parametrize(
    ("what", "line"),
    [
        ("torch.load without weights_only=True", "state = torch.load(path)"),
        ("np.load with allow_pickle=True", "np.load(path, allow_pickle=True)"),
        ("yaml.load", "yaml.load(text, Loader=yaml.Loader)"),
        ("pickle.load of a file", "data = pickle.load(handle)"),
        ("pickle.loads of bytes not made here", "pickle.loads(path.read_bytes())"),
        ("eval/exec", "value = eval(text)"),
        ("gensim's pickle format", "KeyedVectors.load(str(path))"),
    ],
)
def test_each_pattern_catches_what_it_names(what, line):
    assert UNSAFE[what].search(line)
    assert not UNSAFE[what].search("torch.load(path, weights_only=True); model.eval()")
