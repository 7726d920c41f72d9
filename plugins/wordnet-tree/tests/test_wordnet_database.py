"""The reader of the WordNet file format, on the tiny database."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from structloss.errors import StructureError
from structloss_wordnet_tree.database import WordNet, normalize_lemma
from structloss_wordnet_tree.testing import TINY, database_bytes, write_zip


def test_offsets_are_byte_positions_of_lines(tiny_dir: Path, tiny_offsets: dict[str, int]) -> None:
    data = (tiny_dir / "data.noun").read_bytes()
    for key, offset in tiny_offsets.items():
        assert data[offset - 1 : offset] == b"\n"
        assert data[offset : offset + 9] == b"%08d " % offset, key


def test_synset_fields(tiny: WordNet, tiny_offsets: dict[str, int]) -> None:
    dog = tiny.synset(tiny_offsets["dog"])
    assert dog.lemmas == ("dog", "domestic_dog", "Canis_familiaris")
    assert dog.lex_filenum == 3
    # hypernyms in file order; the hyponym back-pointers (~, ~i) are not hypernyms
    assert dog.hypernyms == (tiny_offsets["canine"], tiny_offsets["domestic_animal"])
    assert dog.gloss == 'a domesticated canine; "the dog barked"'
    assert dog.wnid == f"n{tiny_offsets['dog']:08d}"


def test_instance_hypernyms_count_as_hypernyms(tiny: WordNet, tiny_offsets: dict[str, int]) -> None:
    assert tiny.synset(tiny_offsets["laika"]).hypernyms == (tiny_offsets["dog"],)


def test_roots_have_no_hypernyms(tiny: WordNet, tiny_offsets: dict[str, int]) -> None:
    assert tiny.synset(tiny_offsets["entity"]).hypernyms == ()


def test_no_synset_inside_a_line(tiny: WordNet, tiny_offsets: dict[str, int]) -> None:
    offset = tiny_offsets["dog"]
    assert tiny.has_synset(offset)
    for wrong in (offset + 1, offset - 1, 0, 10**9):
        assert not tiny.has_synset(wrong)
    with pytest.raises(StructureError, match="no noun synset at offset"):
        tiny.synset(offset + 3)


def test_lookup_in_sense_order(tiny: WordNet, tiny_offsets: dict[str, int]) -> None:
    assert tiny.lookup("crane") == (tiny_offsets["crane_device"], tiny_offsets["crane_bird"])
    assert tiny.lookup("laika") == (tiny_offsets["laika"],)
    assert tiny.lookup("t-shirt") == (tiny_offsets["tshirt"],)
    assert tiny.lookup("Laika") == ()  # the index is lower case; normalise first
    assert tiny.lookup("unicorn") == ()
    assert tiny.lookup("") == ()


def test_every_lemma_is_found_by_bisection(tiny: WordNet) -> None:
    for lemma in tiny.lemmas:
        assert tiny.lookup(lemma), lemma
    assert list(tiny.lemmas) == sorted(tiny.lemmas, key=str.encode)


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="abcdefghijklmnopqrstuvwxyz_-'", max_size=12))
def test_lookup_agrees_with_a_scan(word: str) -> None:
    index, data, exceptions, _ = database_bytes()
    db = WordNet(index=index, data=data, exceptions=exceptions, source="memory")
    assert bool(db.lookup(word)) == (word in db.lemmas)


def test_base_forms(tiny: WordNet) -> None:
    assert tiny.base_forms("mice") == ["mouse"]  # noun.exc
    assert tiny.base_forms("dogs") == ["dog"]  # suffix rule
    assert tiny.base_forms("boxes") == ["box"]
    assert tiny.base_forms("dog") == ["dog"]
    assert tiny.base_forms("geese") == []  # in noun.exc, but goose is no lemma here


def test_synset_names_follow_nltk(tiny: WordNet, tiny_offsets: dict[str, int]) -> None:
    assert tiny.synset_name(tiny_offsets["dog"]) == "dog.n.01"
    assert tiny.synset_name(tiny_offsets["crane_device"]) == "crane.n.01"
    assert tiny.synset_name(tiny_offsets["crane_bird"]) == "crane.n.02"
    assert tiny.synset_name(tiny_offsets["laika"]) == "laika.n.01"  # lower-cased
    assert tiny.synset_name(tiny_offsets["tshirt"]) == "t-shirt.n.01"


def test_synset_by_name(tiny: WordNet, tiny_offsets: dict[str, int]) -> None:
    assert tiny.synset_by_name("crane.n.02") == tiny_offsets["crane_bird"]
    assert tiny.synset_by_name("Crane.n.2") == tiny_offsets["crane_bird"]
    assert tiny.synset_by_name("crane.n.03") is None
    assert tiny.synset_by_name("crane.n.00") is None
    assert tiny.synset_by_name("crane") is None
    with pytest.raises(StructureError, match="part of speech 'v'"):
        tiny.synset_by_name("run.v.01")


def test_version_and_digest(tiny: WordNet) -> None:
    assert tiny.version == "9.9"
    assert len(tiny.digest()) == 64


@pytest.mark.parametrize("prefix", ["wordnet/", ""])
def test_zip_reads_like_a_directory(
    tmp_path: Path, tiny: WordNet, tiny_offsets: dict[str, int], prefix: str
) -> None:
    archive = tmp_path / "wordnet.zip"
    write_zip(archive, prefix=prefix)
    zipped = WordNet.from_zip(archive)
    for key, offset in tiny_offsets.items():
        assert zipped.synset(offset) == tiny.synset(offset), key
    assert zipped.lemmas == tiny.lemmas
    assert zipped.base_forms("mice") == ["mouse"]


def test_zip_without_wordnet(tmp_path: Path) -> None:
    import zipfile

    archive = tmp_path / "other.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("readme.txt", "hello")
    with pytest.raises(StructureError, match="not a WordNet database"):
        WordNet.from_zip(archive)
    (tmp_path / "broken.zip").write_bytes(b"not a zip")
    with pytest.raises(StructureError, match="cannot read the WordNet archive"):
        WordNet.from_zip(tmp_path / "broken.zip")


def test_missing_files(tmp_path: Path) -> None:
    with pytest.raises(StructureError, match=r"has no index\.noun"):
        WordNet.from_dir(tmp_path)


def test_malformed_line_names_the_offset(tiny_offsets: dict[str, int]) -> None:
    index, data, exceptions, _ = database_bytes()
    offset = tiny_offsets["dog"]
    end = data.index(b"\n", offset)
    garbled = b"%08d 03 n zz dog" % offset
    broken = data[:offset] + garbled.ljust(end - offset) + data[end:]
    assert len(broken) == len(data)
    db = WordNet(index=index, data=broken, exceptions=exceptions, source="broken")
    with pytest.raises(StructureError, match=f"malformed data.noun line at offset {offset:08d}"):
        db.synset(offset)


def test_normalize_lemma() -> None:
    assert normalize_lemma("  Pickup   Truck ") == "pickup_truck"
    assert normalize_lemma("maple_tree") == "maple_tree"
    assert normalize_lemma("T-Shirt") == "t-shirt"


def test_tiny_has_the_promised_cases() -> None:
    keys = {key: hypernyms for key, _, hypernyms, _ in TINY}
    assert len(keys["dog"]) == 2  # a multi-parent synset
    assert keys["laika"][0][0] == "@i"  # an instance hypernym
    assert ("@", "dog") in keys["poodle"]  # a class that is a hypernym of another
