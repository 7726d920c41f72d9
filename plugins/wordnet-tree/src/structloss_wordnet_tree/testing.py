"""A tiny WordNet database in the real file format, for tests (yours and ours).

:func:`database_bytes` renders synsets to ``index.noun``, ``data.noun`` and ``noun.exc``
exactly as WordNet lays them out: a licence header of lines starting with two spaces, one
synset per line whose first field is its own byte offset, pointers ``symbol offset pos
source/target``, hyponym (``~``, ``~i``) back-pointers, and an index sorted by lemma.
"""

from __future__ import annotations

import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path

# key, lemmas, hypernyms as (symbol, key), gloss. Order fixes the byte offsets and the
# sense order of shared lemmas ("crane": the device is sense 1, the bird sense 2).
TINY: tuple[tuple[str, tuple[str, ...], tuple[tuple[str, str], ...], str], ...] = (
    ("entity", ("entity",), (), "that which exists"),
    ("physical_entity", ("physical_entity",), (("@", "entity"),), "a physical thing"),
    ("abstraction", ("abstraction", "abstract_entity"), (("@", "entity"),), "an idea"),
    ("object", ("object", "physical_object"), (("@", "physical_entity"),), "a tangible thing"),
    ("organism", ("organism", "being"), (("@", "object"),), "a living thing"),
    ("animal", ("animal", "beast"), (("@", "organism"),), "a living organism that moves"),
    ("chordate", ("chordate",), (("@", "animal"),), "an animal with a notochord"),
    ("vertebrate", ("vertebrate", "craniate"), (("@", "chordate"),), "an animal with a spine"),
    ("mammal", ("mammal",), (("@", "vertebrate"),), "a warm-blooded vertebrate"),
    ("carnivore", ("carnivore",), (("@", "mammal"),), "a flesh-eating mammal"),
    ("canine", ("canine", "canid"), (("@", "carnivore"),), "a dog-like carnivore"),
    ("feline", ("feline", "felid"), (("@", "carnivore"),), "a cat-like carnivore"),
    ("rodent", ("rodent", "gnawer"), (("@", "mammal"),), "a gnawing mammal"),
    ("mouse", ("mouse",), (("@", "rodent"),), "a small rodent"),
    ("domestic_animal", ("domestic_animal",), (("@", "animal"),), "a tame animal"),
    (
        "dog",
        ("dog", "domestic_dog", "Canis_familiaris"),
        (("@", "canine"), ("@", "domestic_animal")),
        'a domesticated canine; "the dog barked"',
    ),
    (
        "cat",
        ("cat", "true_cat"),
        (("@", "domestic_animal"), ("@", "feline")),
        "a small domesticated feline",
    ),
    ("poodle", ("poodle", "poodle_dog"), (("@", "dog"),), "a dog with a curly coat"),
    ("laika", ("Laika",), (("@i", "dog"),), "the first dog in orbit"),
    ("dogcat", ("dogcat",), (("@", "canine"), ("@", "feline")), "a tie, canine first"),
    ("catdog", ("catdog",), (("@", "feline"), ("@", "canine")), "a tie, feline first"),
    ("bird", ("bird",), (("@", "vertebrate"),), "a feathered vertebrate"),
    ("crane_device", ("crane",), (("@", "device"),), "a lifting machine"),
    ("crane_bird", ("crane",), (("@", "bird"),), "a long-legged wading bird"),
    ("artifact", ("artifact", "artefact"), (("@", "object"),), "a man-made object"),
    ("device", ("device",), (("@", "artifact"),), "an instrumentality"),
    ("tshirt", ("T-shirt", "tee_shirt"), (("@", "artifact"),), "a short-sleeved shirt"),
    ("box", ("box",), (("@", "artifact"),), "a container"),
    ("void", ("void",), (), "a second root, joined to nothing"),
)

EXCEPTIONS: Mapping[str, str] = {"mice": "mouse", "geese": "goose"}

HEADER = (
    "  1 A tiny WordNet for the structloss-wordnet-tree tests.  \n"
    "  2 WordNet 9.9 Copyright 2024 by nobody.  \n"
    "  3   \n"
)

Spec = Sequence[tuple[str, Sequence[str], Sequence[tuple[str, str]], str]]


def database_bytes(synsets: Spec = TINY) -> tuple[bytes, bytes, bytes, dict[str, int]]:
    """Render ``synsets``; return (index.noun, data.noun, noun.exc, {key: offset})."""
    keys = [key for key, *_ in synsets]
    children: dict[str, list[tuple[str, str]]] = {key: [] for key in keys}
    for key, _, hypernyms, _ in synsets:
        for symbol, target in hypernyms:
            children[target].append(("~i" if symbol == "@i" else "~", key))

    def pointers(key: str, hypernyms: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
        return [*hypernyms, *children[key]]

    def line(
        position: int,
        entry: tuple[str, Sequence[str], Sequence[tuple[str, str]], str],
        offsets: Mapping[str, int],
    ) -> str:
        key, lemmas, hypernyms, gloss = entry
        words = " ".join(f"{lemma} 0" for lemma in lemmas)
        ptrs = pointers(key, hypernyms)
        rendered = " ".join(f"{s} {offsets.get(t, 0):08d} n 0000" for s, t in ptrs)
        return f"{position:08d} 03 n {len(lemmas):02x} {words} {len(ptrs):03d} {rendered} | {gloss}  \n"

    # offsets are fixed-width, so line lengths (and so all offsets) do not depend on them
    offsets: dict[str, int] = {}
    position = len(HEADER.encode())
    for entry in synsets:
        offsets[entry[0]] = position
        position += len(line(position, entry, {}).encode())
    data = HEADER + "".join(line(offsets[e[0]], e, offsets) for e in synsets)

    senses: dict[str, list[str]] = {}
    for key, lemmas, _, _ in synsets:
        for lemma in lemmas:
            senses.setdefault(lemma.lower(), []).append(key)
    rows = []
    for lemma in sorted(senses, key=lambda s: s.encode()):
        found = senses[lemma]
        symbols = sorted({s for key in found for s, _ in pointers(key, _hypernyms(synsets, key))})
        ptr = " ".join([str(len(symbols)), *symbols])
        offs = " ".join(f"{offsets[key]:08d}" for key in found)
        rows.append(f"{lemma} n {len(found)} {ptr} {len(found)} 0 {offs}  \n")
    index = HEADER + "".join(rows)
    exceptions = "".join(f"{k} {v}\n" for k, v in sorted(EXCEPTIONS.items()))
    return index.encode(), data.encode(), exceptions.encode(), offsets


def _hypernyms(synsets: Spec, key: str) -> Sequence[tuple[str, str]]:
    return next(h for k, _, h, _ in synsets if k == key)


def write_database(directory: Path, synsets: Spec = TINY) -> dict[str, int]:
    """Write the database files into ``directory``; return ``{key: offset}``."""
    index, data, exceptions, offsets = database_bytes(synsets)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "index.noun").write_bytes(index)
    (directory / "data.noun").write_bytes(data)
    (directory / "noun.exc").write_bytes(exceptions)
    return offsets


def write_zip(path: Path, *, prefix: str = "wordnet/", synsets: Spec = TINY) -> None:
    """Write the database as a zip archive like nltk's ``wordnet.zip``."""
    index, data, exceptions, _ = database_bytes(synsets)
    with zipfile.ZipFile(path, "w") as archive:
        if prefix:
            archive.writestr(prefix, "")
        archive.writestr(prefix + "index.noun", index)
        archive.writestr(prefix + "data.noun", data)
        archive.writestr(prefix + "noun.exc", exceptions)
        archive.writestr(prefix + "lexnames", "03\tnoun.Tops\t1\n")
