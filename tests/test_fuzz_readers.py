"""Property-based tests of every reader: valid files from the bundled slices, mutated (truncated, flipped or
NUL bytes, BOM, CRLF, another encoding, missing or extra columns, over-long and shuffled lines, edited JSON
values, an empty file) are always read correctly or refused with the one-line RecipeError naming the file --
never another exception, never a hang.

A quick run of each format is part of the normal suite; the slow variant runs 1,000 cases per format.
"""

import json
import random
import re
import signal
import tempfile
import warnings
import zlib
from collections.abc import Callable
from functools import partial
from pathlib import Path

import pytest
import spacy
import srsly
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from spacy.tokens import DocBin
from spacy.training import docs_to_json

from recipe_cli.data.corpus import RecipeCorpus
from recipe_cli.data.formats import read_docs
from recipe_cli.errors import RecipeError

DATA = Path(__file__).parent / "data"
# Seconds one read may take before it counts as a hang.
TIMEOUT = 10
NLP = spacy.blank("en")


# Valid files, seeded from the bundled slices: (file name, bytes) per format.


def _blocks(name: str, n: int, skip: int = 0) -> list[str]:
    """The first n sentence blocks of a token-per-line slice (blank or whitespace-only lines end them)."""
    blocks, block = [], []
    for line in (DATA / name).read_text(encoding="utf8").splitlines():
        if line.strip():
            block.append(line)
        elif block:
            blocks.append("\n".join(block))
            block = []
    return blocks[skip : skip + n]


def _classic(name: str, n: int) -> list:
    return json.loads((DATA / name).read_text(encoding="utf8"))[:n]


def _seeds() -> dict[str, list[tuple[str, bytes]]]:
    conllu = _blocks("ewt-train.conllu", 4)
    # A sentence with a multi-word token ("don't": 19-20).
    conllu += [b for b in _blocks("ewt-train.conllu", 40) if "\n19-20\t" in b][:1]
    wnut = _blocks("wnut17-train.conll", 6)
    ner_docs = list(read_docs(DATA / "wnut17-train.conll", NLP))[:6]
    ud_docs = list(read_docs(DATA / "ewt-dev.conllu", NLP))[:3]
    cats = _classic("goemotions-train.json", 4)
    multi = _classic("goemotions-multilabel-train.json", 4)

    def spans(doc):
        return [{"start": e.start_char, "end": e.end_char, "label": e.label_} for e in doc.ents]

    def tokens(doc):
        return [{"text": t.text, "start": t.idx, "end": t.idx + len(t), "id": t.i, "ws": bool(t.whitespace_)}
                for t in doc]  # fmt: skip

    def jsonl(records):
        return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records).encode()

    def table(sep, records):
        rows = [f"text{sep}label"]
        for text, annots in records:
            labels = ",".join(k for k, v in annots["cats"].items() if v)
            rows.append(f"{text.replace(sep, ' ')}{sep}{labels}" if sep == "\t" else f'"{text}",{labels}')
        return ("\n".join(rows) + "\n").encode()

    def offsets(doc):
        return [[e.start_char, e.end_char, e.label_] for e in doc.ents]

    def tag(token):
        return f"{token.ent_iob_}-{token.ent_type_}" if token.ent_type_ else "O"

    answers = ["accept", "reject", "accept", "ignore", "accept", "accept"]
    prodigy = [
        {"text": d.text, "spans": spans(d), "tokens": tokens(d), "answer": a}
        for d, a in zip(ner_docs, answers, strict=True)
    ]
    docbin = DocBin(docs=ner_docs + ud_docs, store_user_data=True).to_bytes()
    classic_ner = [[d.text, {"entities": offsets(d)}] for d in ner_docs]
    return {
        "spacy": [("data.spacy", docbin)],
        "json": [
            ("v2.json", json.dumps([docs_to_json(ud_docs[:2]), docs_to_json(ner_docs[:3])]).encode()),
            ("classic.json", json.dumps(cats + classic_ner[:3], ensure_ascii=False, indent=1).encode()),
        ],
        "jsonl": [
            ("ents.jsonl", jsonl({"text": d.text, "entities": offsets(d)} for d in ner_docs)),
            ("prodigy.jsonl", jsonl(prodigy)),
            ("cats.jsonl", jsonl({"text": t, "cats": a["cats"]} for t, a in multi)),
            ("label.jsonl", jsonl({"text": t, "label": max(a["cats"], key=a["cats"].get)} for t, a in cats)),
        ],
        "conllu": [("ewt.conllu", ("\n\n".join(conllu) + "\n\n").encode())],
        "iob": [
            ("wnut.conll", ("\n\t\n".join(wnut) + "\n").encode()),
            ("uner.iob2", ("\n\n".join(_blocks("uner-dev.iob2", 3)) + "\n\n").encode()),
            ("piped.iob", "".join(" ".join(f"{t.text}|{tag(t)}" for t in d) + "\n" for d in ner_docs).encode()),
        ],
        "table": [("cats.tsv", table("\t", multi)), ("cats.csv", table(",", cats))],
    }


SEEDS = _seeds()


# Mutations: each takes the file's bytes and a few drawn values, and returns new bytes.


def _at(data: bytes, where: float) -> int:
    return min(len(data), int(where * len(data)))


def truncate(data: bytes, where: float) -> bytes:
    return data[: _at(data, where)]


def flip(data: bytes, where: float, mask: int) -> bytes:
    if not data:
        return data
    i = min(len(data) - 1, _at(data, where))
    return data[:i] + bytes([data[i] ^ mask]) + data[i + 1 :]


def insert(data: bytes, where: float, chunk: bytes) -> bytes:
    i = _at(data, where)
    return data[:i] + chunk + data[i:]


def bom(data: bytes) -> bytes:
    return b"\xef\xbb\xbf" + data


def newlines(data: bytes, newline: bytes) -> bytes:
    return data.replace(b"\n", newline)


def reencode(data: bytes, encoding: str) -> bytes:
    return data.decode("utf8", errors="replace").encode(encoding, errors="replace")


def empty(data: bytes) -> bytes:
    return b""


def _edit_lines(data: bytes, edit: Callable[[list[bytes], random.Random], None], seed: int) -> bytes:
    lines = data.split(b"\n")
    edit(lines, random.Random(seed))
    return b"\n".join(lines)


def _columns(line: bytes) -> tuple[bytes, list[bytes]]:
    sep = b"\t" if b"\t" in line else b"," if b"," in line else b" "
    return sep, line.split(sep)


def drop_column(data: bytes, seed: int) -> bytes:
    def edit(lines, rng):
        i = rng.randrange(len(lines))
        sep, cols = _columns(lines[i])
        del cols[rng.randrange(len(cols))]
        lines[i] = sep.join(cols)

    return _edit_lines(data, edit, seed)


def set_column(data: bytes, seed: int, value: str, extra: bool) -> bytes:
    """Replace one column of a line with a value (or insert it as an extra column)."""

    def edit(lines, rng):
        i = rng.randrange(len(lines))
        sep, cols = _columns(lines[i])
        j = rng.randrange(len(cols) + extra)
        cols[j : j + (not extra)] = [value.encode("utf8", errors="replace")]
        lines[i] = sep.join(cols)

    return _edit_lines(data, edit, seed)


def long_line(data: bytes, seed: int, size: int, pattern: bytes) -> bytes:
    def edit(lines, rng):
        i = rng.randrange(len(lines))
        lines[i] = (lines[i] + pattern) * max(1, size // max(1, len(lines[i]) + len(pattern)))

    return _edit_lines(data, edit, seed)


def shuffle_lines(data: bytes, seed: int) -> bytes:
    return _edit_lines(data, lambda lines, rng: rng.shuffle(lines), seed)


def delete_line(data: bytes, seed: int) -> bytes:
    return _edit_lines(data, lambda lines, rng: lines.pop(rng.randrange(len(lines))), seed)


def duplicate_line(data: bytes, seed: int) -> bytes:
    def edit(lines, rng):
        i = rng.randrange(len(lines))
        lines.insert(rng.randrange(len(lines) + 1), lines[i])

    return _edit_lines(data, edit, seed)


def json_value(data: bytes, seed: int, value, op: str) -> bytes:
    """Replace, delete or add one value deep inside the JSON of the file (or of one JSON line)."""
    rng = random.Random(seed)
    lines = data.split(b"\n")
    whole = not any(line.strip().startswith(b"{") for line in lines[:1])
    candidates = [i for i, line in enumerate(lines) if line.strip()] if not whole else []
    i = rng.choice(candidates) if candidates else None
    try:
        tree = json.loads(data if whole else lines[i])
    except (ValueError, TypeError, IndexError):
        return data
    # Slots by depth: a depth is chosen first, so that top-level keys are edited as often as tokens.
    slots: dict[int, list] = {}

    def walk(node, depth):
        items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
        for key, child in items:
            slots.setdefault(depth, []).append((node, key))
            walk(child, depth + 1)

    walk(tree, 0)
    if not slots:
        return data
    parent, key = rng.choice(slots[rng.choice(sorted(slots))])
    if op == "delete":
        del parent[key]
    elif op == "add" and isinstance(parent, dict):
        parent[rng.choice(KEYS)] = value
    elif op == "add":
        parent.insert(key, value)
    else:
        parent[key] = value
    text = json.dumps(tree, ensure_ascii=False).encode("utf8", errors="replace")
    if whole:
        return text
    lines[i] = text
    return b"\n".join(lines)


def docbin_field(data: bytes, seed: int, value, op: str) -> bytes:
    """Edit one field inside a DocBin (past its compression): cut or extend its bytes, replace or drop it."""
    rng = random.Random(seed)
    try:
        msg = srsly.msgpack_loads(zlib.decompress(data))
    except Exception:
        return data
    if not isinstance(msg, dict) or not msg:
        return data
    key = rng.choice(sorted(msg))
    field = msg[key]
    if op == "delete":
        del msg[key]
    elif op == "add" and isinstance(field, (bytes, list)):
        i = rng.randrange(len(field) + 1)
        msg[key] = field[:i] + (field[:8] if isinstance(field, bytes) else [value]) + field[i:]
    elif isinstance(field, (bytes, list)) and field:
        i = rng.randrange(len(field))
        msg[key] = field[:i] + field[i + 1 + rng.randrange(8) :]
    else:
        msg[key] = value
    return zlib.compress(srsly.msgpack_dumps(msg))


# Keys and values the readers look for, so that edits reach their checks.
KEYS = ["text", "entities", "spans", "tokens", "start", "end", "label", "ws", "cats", "answer", "paragraphs",
        "sentences", "orth", "head", "dep", "ner", "tag", "raw", "id", "words", "brackets", "links"]  # fmt: skip
FIELDS = ["_", "0", "-1", "1", "3", "1-2", "2-1", "1.1", "", " ", "99999999999999999999", "x", "root", "O", "B-",
          "I-X", "U-LOC", "B-B-B", "SpaceAfter=No", "|", "a|b|c", "#", "# x = y", "-DOCSTART-", "\u00a0", "\u2028",
          "\x00", "\ufeff", '"', "'", "\\", "𝔘"]  # fmt: skip
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-3, 10**6) | st.floats(allow_nan=True) | st.text(max_size=8)
    | st.sampled_from(FIELDS + KEYS),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(KEYS), inner, max_size=3),
    max_leaves=6,
)  # fmt: skip

fraction = st.floats(0, 1)
seed = st.integers(0, 2**16)
MUTATIONS = st.one_of(
    st.builds(partial, st.just(truncate), where=fraction),
    st.builds(partial, st.just(flip), where=fraction, mask=st.integers(1, 255)),
    st.builds(partial, st.just(insert), where=fraction, chunk=st.sampled_from([b"\x00", b"\r", b"\n", b"\t", b"\xff", b"\xc3"])),
    st.builds(partial, st.just(insert), where=fraction, chunk=st.binary(min_size=1, max_size=12)),
    st.builds(partial, st.just(insert), where=fraction, chunk=st.text(min_size=1, max_size=12).map(str.encode)),
    st.just(bom),
    st.builds(partial, st.just(newlines), newline=st.sampled_from([b"\r\n", b"\r", b"\n\n", b"\x0b", "\u2028".encode()])),
    st.builds(partial, st.just(reencode), encoding=st.sampled_from(["latin-1", "utf-16", "utf-16-le", "utf-32", "cp1252"])),
    st.just(empty),
    st.builds(partial, st.just(drop_column), seed=seed),
    st.builds(partial, st.just(set_column), seed=seed, value=st.sampled_from(FIELDS) | st.text(max_size=6), extra=st.booleans()),
    st.builds(partial, st.just(long_line), seed=seed, size=st.integers(100, 5000), pattern=st.sampled_from([b" ", b"\t", b"x", b"|", b","])),
    st.builds(partial, st.just(shuffle_lines), seed=seed),
    st.builds(partial, st.just(delete_line), seed=seed),
    st.builds(partial, st.just(duplicate_line), seed=seed),
    st.builds(partial, st.just(json_value), seed=seed, value=JSON_VALUES, op=st.sampled_from(["replace", "delete", "add"])),
    st.builds(partial, st.just(docbin_field), seed=seed, value=JSON_VALUES, op=st.sampled_from(["replace", "delete", "add"])),
)  # fmt: skip


@st.composite
def mutated_files(draw, fmt: str) -> tuple[str, bytes, list]:
    name, data = draw(st.sampled_from(SEEDS[fmt]))
    mutations = draw(st.lists(MUTATIONS, min_size=1, max_size=3))
    for mutation in mutations:
        data = mutation(data)
    return name, data, mutations


class Hang(Exception):
    pass


def _alarm(signum, frame):
    raise Hang(f"a read took more than {TIMEOUT}s")


def check_read(fmt: str, name: str, data: bytes, sents_per_doc: int) -> None:
    """The file reads into Examples, or fails with a one-line RecipeError naming it; within TIMEOUT."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / name
        path.write_bytes(data)
        corpus = RecipeCorpus(path, format=fmt, sents_per_doc=sents_per_doc, holdout=0.0, part="all", seed=0)
        previous = signal.signal(signal.SIGALRM, _alarm)
        signal.setitimer(signal.ITIMER_REAL, TIMEOUT)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                examples = list(corpus(NLP))
        except RecipeError as e:
            assert str(path) in str(e), f"the error does not name the file: {e}"
            assert "\n" not in str(e), f"the error is not one line: {e!r}"
            return
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)
        for eg in examples:
            assert len(eg.reference) and eg.reference.text == eg.predicted.text


def _fuzz_test(max_examples: int, **kwargs):
    @settings(max_examples=max_examples, deadline=None, print_blob=True,
              suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                     HealthCheck.data_too_large], **kwargs)  # fmt: skip
    @given(data=st.data())
    def test(fmt, data):
        name, content, _ = data.draw(mutated_files(fmt), label="file")
        check_read(fmt, name, content, data.draw(st.sampled_from([1, 3]), label="sents_per_doc"))

    return test


def _docbin_without(field: str) -> bytes:
    """A DocBin whose per-document list `field` lost its entries (the file stays valid msgpack)."""
    msg = srsly.msgpack_loads(zlib.decompress(DocBin(docs=[NLP("a b"), NLP("c")]).to_bytes()))
    msg[field] = []
    return zlib.compress(srsly.msgpack_dumps(msg))


def _v2(token: str) -> bytes:
    return ('[{"id": 0, "paragraphs": [{"sentences": [{"tokens": [' + token + "]}]}]}]").encode()


# Each defect the fuzzer found, as the smallest input that showed it: (format, file name, content).
DEFECTS = {
    "v2 dep null: AttributeError": ("json", "a.json", _v2('{"id": 0, "orth": "a", "dep": null, "head": 0}')),
    "v2 ner list: AttributeError": ("json", "a.json", _v2('{"id": 0, "orth": "a", "ner": "O"}, {"id": 1, "orth": "b", "ner": []}')),
    "v2 huge head: OverflowError": ("json", "a.json", _v2('{"id": 0, "orth": "a", "head": 99999999999999999999, "dep": "x"}')),
    "v2 spaCy message over lines": ("json", "a.json", _v2('{"id": 0, "orth": "a", "ner": "I-X"}')),
    "classic huge offset: OverflowError": ("json", "a.json", b'[["a b", {"entities": [[0, 99999999999999999999, "X"]]}]]'),
    "classic lone surrogate: UnicodeEncodeError": ("json", "a.json", b'[["a \\ud800", {}]]'),
    "jsonl cats text: ValueError": ("jsonl", "a.jsonl", b'{"text": "a", "cats": {"A": ""}}\n'),
    "jsonl cats null: TypeError": ("jsonl", "a.jsonl", b'{"text": "a", "cats": {"A": null}}\n'),
    "jsonl token text list: TypeError": ("jsonl", "a.jsonl", b'{"text": "a", "tokens": [{"text": []}]}\n'),
    "jsonl token text huge: OverflowError": ("jsonl", "a.jsonl", b'{"text": "a", "tokens": [{"text": 1e308}]}\n'),
    "jsonl token text empty: ValueError": ("jsonl", "a.jsonl", b'{"text": "a", "tokens": [{"text": ""}, {"text": "a"}]}\n'),
    "jsonl spans number: TypeError": ("jsonl", "a.jsonl", b'{"text": "a", "spans": 5}\n'),
    "jsonl lone surrogate: UnicodeEncodeError": ("jsonl", "a.jsonl", b'{"text": "a \\udfff"}\n'),
    "csv header cell over lines": ("table", "a.csv", b'"x\ny",z\n"a",b\n'),
    "iob piped empty word: ValueError": ("iob", "a.iob", b"|\x00|a|O b|O\n"),
    "docbin flags cut: IndexError": ("spacy", "a.spacy", _docbin_without("flags")),
    "docbin cats cut: IndexError": ("spacy", "a.spacy", _docbin_without("cats")),
}  # fmt: skip


@pytest.mark.parametrize("defect", sorted(DEFECTS))
def test_defects_found_by_fuzzing(defect):
    fmt, name, content = DEFECTS[defect]
    check_read(fmt, name, content, 1)


# Inputs that were read without an error, but wrongly: each is now read right, or refused naming the file and
# line or record.
MISREAD = {
    "tsv cell with a vertical tab split into two rows": ("table", "a.tsv", b"text\tlabel\na\x0bb\tX\nc\tY\n", None),
    "classic cats that are not numbers": ("json", "a.json", b'[["a", {"cats": {"A": "yes"}}]]', "record 1"),
    "v2 cats that are not numbers": ("json", "a.json", b'[{"id": 0, "paragraphs": [{"cats": [{"label": "A", "value": "x"}], "sentences": [{"tokens": [{"id": 0, "orth": "a"}]}]}]}]', "record 1"),
    "jsonl cats NaN": ("jsonl", "a.jsonl", b'{"text": "a", "cats": {"A": NaN}}\n', "line 1"),
    "jsonl entity without a label": ("jsonl", "a.jsonl", b'{"text": "a b", "entities": [[0, 1, null]]}\n', "line 1"),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(MISREAD))
def test_inputs_once_misread(case, tmp_path):
    fmt, name, content, where = MISREAD[case]
    path = tmp_path / name
    path.write_bytes(content)
    if where is None:
        # Read right: the vertical tab stays inside its cell.
        docs = list(read_docs(path, NLP, format=fmt))
        assert [doc.text for doc in docs] == ["a\x0bb", "c"]
        return
    with pytest.raises(RecipeError, match=f"{re.escape(str(path))}.*{where}"):
        list(read_docs(path, NLP, format=fmt))


@pytest.mark.filterwarnings("ignore:.*skipped")
@pytest.mark.parametrize("fmt", sorted(SEEDS))
def test_seed_files_are_valid(fmt):
    for name, data in SEEDS[fmt]:
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / name
            path.write_bytes(data)
            assert list(read_docs(path, NLP, format=fmt)), name


@pytest.mark.parametrize("fmt", sorted(SEEDS))
def test_mutated_files_read_or_fail_in_one_line(fmt):
    _fuzz_test(50, derandomize=True)(fmt)


@pytest.mark.slow
@pytest.mark.parametrize("fmt", sorted(SEEDS))
def test_mutated_files_read_or_fail_in_one_line_many(fmt):
    _fuzz_test(1000)(fmt)
