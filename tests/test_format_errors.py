"""Every error a reader raises, whole: the code, the file, the line or record, and the reason, on one line.

test_validation.py runs a catalogue through the command line; this one calls the readers directly and compares
each message in full, so that a message naming the wrong line, record or token, or none, fails."""

import errno
import os
from pathlib import Path

import pytest
from spacy.tokens import DocBin

from recipe_cli.data.formats import read_docs
from recipe_cli.errors import RecipeError

# name, content, the message with {path} for the file.
CATALOGUE = [
    ("uner-notag.iob2", "1\tParis\tB-LOC\t-\n2\tis\n", "[E026] {path}, line 2: expected a token and a tag, got '2\\tis'"),
    ("piped-notag.iob", "Paris|B-LOC is|O\nRome B-LOC x|O\n", "[E026] {path}, line 2: expected word|TAG, got 'Rome'"),
    ("piped-noword.iob", "Paris|B-LOC is|O\nRome|B-LOC |NNP|O\n", "[E026] {path}, line 2: no word in '|NNP|O'"),
    ("piped-docstart.iob", "Paris|B-LOC is|O\n\n-DOCSTART-|O x|O\nRome|B-LOC ||O\n", "[E026] {path}, line 4: no word in '||O'"),
    ("surrogate.jsonl", '{"text": "ok"}\n{"text": "bad \\ud800 x"}\n', "[E026] {path}, line 2: a \\ud800-\\udfff escape that is not half of a surrogate pair (no character)"),
    ("array.jsonl", '{"text": "ok"}\n[1, 2]\n', "[E026] {path}, line 2: expected a JSON object"),
    ("label-after.jsonl", '{"text": "ok", "cats": {"A": 1}}\n{"text": "b", "label": "A"}\n', "[E026] {path}, line 2: a 'label' record after records without one: give every record a 'label', or use 'cats'"),
    ("label-after-answers.jsonl", '{"text": "ok", "label": "A", "answer": "accept"}\n{"text": "b", "label": "A"}\n', "[E026] {path}, line 2: a 'label' record without an 'answer' after Prodigy's answers: give every record an 'answer'"),
    ("answer.jsonl", '{"text": "ok", "label": "A", "answer": "accept"}\n{"text": "b", "label": "A", "answer": "maybe"}\n', "[E026] {path}, line 2: answer 'maybe': expected accept, reject or ignore"),
    ("answer-list.jsonl", '{"text": "ok", "label": "A", "answer": "accept"}\n{"text": "b", "label": "A", "answer": []}\n', "[E026] {path}, line 2: answer []: expected accept, reject or ignore"),
    ("spans.jsonl", '{"text": "ok"}\n{"text": "b", "spans": {"start": 0}}\n', "[E026] {path}, line 2: 'spans' is not a list"),
    ("cats-list.jsonl", '{"text": "ok", "cats": {"A": 1}}\n{"text": "b", "cats": [1]}\n', "[E026] {path}, line 2: 'cats' is not an object"),
    ("cats-text.jsonl", '{"text": "ok", "cats": {"A": 1}}\n{"text": "b", "cats": {"A": "yes"}}\n', "[E026] {path}, line 2: 'cats' values must be numbers"),
    ("cats-nan.jsonl", '{"text": "ok", "cats": {"A": 1}}\n{"text": "b", "cats": {"A": NaN}}\n', "[E026] {path}, line 2: 'cats' values must be numbers"),
    ("tokens-strings.jsonl", '{"text": "ok"}\n{"text": "a b", "tokens": ["a", "b"]}\n', "[E026] {path}, line 2: 'tokens' must be objects with a non-empty 'text'"),
    ("tokens-empty.jsonl", '{"text": "ok"}\n{"text": "a b", "tokens": []}\n', "[E026] {path}, line 2: 'tokens' is empty"),
    ("tokens-offsets.jsonl", '{"text": "a b", "tokens": [{"text": "a", "start": 0, "end": 1}, {"text": "b", "start": 1, "end": 3}]}\n', "[E026] {path}, line 1: token 1 'b' has offsets 1-3 that do not match the text"),
    ("tokens-long.jsonl", '{"text": "abcdefghijklmnopqrstuvwxyz b", "tokens": [{"text": "abcdefghijklmnopqrstuvwxyz", "start": 0, "end": 25}, {"text": "b", "start": 27, "end": 28}]}\n', "[E026] {path}, line 1: token 0 'abcdefghijklmnopqrst...' has offsets 0-25 that do not match the text"),
    ("tokens-20.jsonl", '{"text": "abcdefghijklmnopqrst b", "tokens": [{"text": "abcdefghijklmnopqrst", "start": 0, "end": 19}]}\n', "[E026] {path}, line 1: token 0 'abcdefghijklmnopqrst' has offsets 0-19 that do not match the text"),
    ("tokens-gap.jsonl", '{"text": "a  xb c", "tokens": [{"text": "a", "start": 0, "end": 1}, {"text": "b", "start": 4, "end": 5}, {"text": "c", "start": 6, "end": 7}]}\n', "[E026] {path}, line 1: token 1 'b' does not follow token 0 in the text (characters between them: '  x')"),
    ("tokens-ws.jsonl", '{"text": "a b", "tokens": [{"text": "a", "ws": false}, {"text": "b"}]}\n', "[E026] {path}, line 1: the tokens do not spell out the text (check their 'ws' flags and offsets)"),
    ("classic-triple.json", '[["ok", {}], ["a", "b", "c"]]', "[E025] {path}, record 2: expected [text, {annotations}]"),
    ("classic-list.json", '[["ok", {}], ["a", ["b"]]]', "[E025] {path}, record 2: expected [text, {annotations}]"),
    ("classic-notext.json", '[["ok", {}], [" ", {}]]', "[E025] {path}, record 2: record without text"),
    ("classic-pair.json", '[["ok", {}], ["a b", {"entities": [[0, 1]]}]]', "[E032] {path}, record 2: entity [0, 1] is not [start, end, label]"),
    ("classic-nolabel.json", '[["ok", {}], ["a b", {"entities": [[0, 1, ""]]}]]', "[E032] {path}, record 2: entity [0, 1, ''] has no label"),
    ("classic-range.json", '[["ok", {}], ["a b", {"entities": [[2, 9, "X"]]}]]', "[E032] {path}, record 2: entity [2, 9, 'X'] ('b') does not fall on token boundaries"),
    ("classic-strings.json", '[["ok", {}], ["a b", {"entities": [["0", 1, "X"]]}]]', "[E032] {path}, record 2: entity [0, 1, 'X'] ('') does not fall on token boundaries"),
    ("classic-empty.json", '[["ok", {}], ["a b", {"entities": [[1, 1, "X"]]}]]', "[E032] {path}, record 2: entity [1, 1, 'X'] ('') does not fall on token boundaries"),
    ("classic-biluo.json", '[["ok", {}], ["a b", {"entities": "B-X L-X"}]]', "[E032] {path}, record 2: 'entities' is not a list"),
    ("classic-heads.json", '[["ok", {}], ["a b", {"heads": [5, 1], "deps": ["x", "ROOT"]}]]', "[E025] {path}, record 2: [E190] Token head out of range in `Doc.from_array()` for token index '0' with value '5' (equivalent to relative head index: '5'). The head indices should be relative to the current token index rather than absolute indices in the array."),
    ("classic-surrogate.json", '[["ok", {}], ["bad \\ud800 x", {}]]', "[E025] {path}, record 2: a \\ud800-\\udfff escape that is not half of a surrogate pair (no character)"),
    ("surrogate-upper.jsonl", '{"text": "ok"}\n{"text": "bad \\uD800 x"}\n', "[E026] {path}, line 2: a \\ud800-\\udfff escape that is not half of a surrogate pair (no character)"),
    ("dict-surrogate.json", '{"text": "bad \\ud800 x"}', "[E025] {path}, record 1: a \\ud800-\\udfff escape that is not half of a surrogate pair (no character)"),
    ("layout.json", '[{"id": 0}]', "[E031] {path}: unsupported JSON layout: expected spaCy v2 documents with 'paragraphs' or [text, annotations] pairs"),
    ("v2-head.json", '[{"id": 0, "paragraphs": [{"raw": "a", "sentences": [{"tokens": [{"id": 0, "orth": "a", "head": 0, "dep": "ROOT"}]}]}]}, {"id": 1, "paragraphs": [{"raw": "a b", "sentences": [{"tokens": [{"id": 0, "orth": "a", "head": 5, "dep": "x"}, {"id": 1, "orth": "b", "head": 0, "dep": "ROOT"}]}]}]}]', "[E025] {path}, record 2: paragraph 1, sentence 1, token 0: 'head' 5 is not the offset of a token of the paragraph (spaCy v2's JSON training format): fix or remove this record"),
    ("v2-head-huge.json", '[{"id": 0, "paragraphs": [{"sentences": [{"tokens": [{"orth": "a", "head": 0}]}]}]}, {"id": 1, "paragraphs": [{"sentences": [{"tokens": [{"orth": "a", "head": 0}]}, {"tokens": [{"orth": "b", "head": 99999999999999999999}]}]}]}]', "[E025] {path}, record 2: paragraph 1, sentence 2, token 0: 'head' 99999999999999999999 is not the offset of a token of the paragraph (spaCy v2's JSON training format): fix or remove this record"),
    ("v2-head-text.json", '[{"id": 0, "paragraphs": [{"sentences": [{"tokens": [{"orth": "a", "head": "0"}]}]}]}]', "[E025] {path}, record 1: paragraph 1, sentence 1, token 0: 'head' '0' is not the offset of a token of the paragraph (spaCy v2's JSON training format): fix or remove this record"),
    ("v2-notokens.json", '[{"id": 0, "paragraphs": [{"sentences": [{"tokens": [{"orth": "a"}]}]}]}, {"id": 1, "paragraphs": [{"sentences": [{"words": ["a"]}]}]}]', "[E025] {path}, record 2: paragraph 1, sentence 1: no 'tokens' list (spaCy v2's JSON training format): fix or remove this record"),
    ("v2-noorth.json", '[{"id": 0, "paragraphs": [{"sentences": [{"tokens": [{"orth": "a"}, {"text": "b"}]}]}]}]', "[E025] {path}, record 1: paragraph 1, sentence 1, token 1: expected an object with an 'orth' string (spaCy v2's JSON training format): fix or remove this record"),
    ("v2-nosentences.json", '[{"id": 0, "paragraphs": [{"raw": "a"}]}]', "[E025] {path}, record 1: paragraph 1: 'sentences' must be a list of objects (spaCy v2's JSON training format): fix or remove this record"),
    ("v2-paragraphs.json", '[{"id": 0, "paragraphs": {"sentences": []}}]', "[E025] {path}, record 1: 'paragraphs' must be a list of objects (spaCy v2's JSON training format): fix or remove this record"),
    ("v2-bracket.json", '[{"id": 0, "paragraphs": [{"sentences": [{"tokens": [{"orth": "a"}, {"orth": "b"}], "brackets": [{"first": 0, "last": 1, "label": "NP"}, {"last": 1, "label": "NP"}]}]}]}]', "[E025] {path}, record 1: paragraph 1, sentence 1, bracket 2: expected 'first' and 'last' token numbers and a 'label' (spaCy v2's JSON training format): fix or remove this record"),
    ("textcat-nolabel.jsonl", '{"text": "good", "label": "POS", "answer": "accept"}\n{"text": "bad", "label": "POS", "answer": "reject"}\n{"text": "fine", "answer": "reject"}\n', "[E026] {path}, line 3: answered reject without the 'label' it is about (the file holds Prodigy's answers on labels): give the record its label, or leave it out"),
    ("cut.json", '[["ok", {}],\n ["unterminated, {}]]', "[E024] {path}: invalid JSON: Unterminated string starting at line 2, column 3"),
    ("control.json", '[["ok", {}],\n ["a\tb", {}]]', "[E024] {path}: invalid JSON: Invalid control character at line 2, column 5"),
    ("comma.json", '[["ok", {}]\n ["a", {}]]', "[E024] {path}: invalid JSON: line 2, column 2: Expecting ',' delimiter"),
    ("cut.jsonl", '{"text": "ok"}\n{"text": "unterminated}\n', "[E026] {path}, line 2: invalid JSON: Unterminated string starting at column 10"),
    ("entities-dict.jsonl", '{"text": "ok", "entities": []}\n{"text": "a b", "entities": {"start": 0, "end": 1, "label": "X"}}\n', "[E032] {path}, line 2: 'entities' is not a list"),
    ("classic-cats.json", '[["ok", {"cats": {"A": 1}}], ["a b", {"cats": {"A": "x"}}]]', "[E025] {path}, record 2: 'cats' values must be numbers"),
    ("v2-noparagraphs.json", '[{"id": 0, "paragraphs": [{"raw": "a", "sentences": [{"tokens": [{"id": 0, "orth": "a"}]}]}]}, {"id": 1}]', "[E025] {path}, record 2: document without 'paragraphs'"),
    ("v2-cats.json", '[{"id": 0, "paragraphs": [{"raw": "a", "cats": [{"label": "A", "value": "x"}], "sentences": [{"tokens": [{"id": 0, "orth": "a"}]}]}]}]', "[E025] {path}, record 1: 'cats' values must be numbers"),
    ("conllu-head.conllu", "# sent_id = 1\n1\tGo\tgo\tVERB\tVB\t_\t0\troot\t_\t_\n2\t!\t!\tPUNCT\t.\t_\tx\tpunct\t_\t_\n", "[E026] {path}, line 3: 'x' is not a number"),
    ("conllu-range.conllu", "# sent_id = 1\n1-x\tdon't\t_\t_\t_\t_\t_\t_\t_\t_\n", "[E026] {path}, line 2: 'x' is not a number"),
    ("conllu-open-range.conllu", "1\tI\tI\tPRON\tPRP\t_\t2\tnsubj\t_\t_\n2-4\tcannot\t_\t_\t_\t_\t_\t_\t_\t_\n2\tcan\tcan\tAUX\tMD\t_\t0\troot\t_\t_\n3\tnot\tnot\tPART\tRB\t_\t2\tadvmod\t_\t_\n", "[E026] {path}, line 4: the sentence ends at word 3, inside a multiword token that ends at word 4"),
    ("conllu-upos.conllu", "1\tGo\tgo\tVERB\tVB\t_\t0\troot\t_\t_\n\n# sent_id = 2\n1\tStop\tstop\tVB\tVB\t_\t0\troot\t_\t_\n", '[E026] {path}, line 4: [E1021] `pos` value "VB" is not a valid Universal Dependencies tag. Non-UD tags should use the `tag` property.'),
    ("table-notext.tsv", "text\tlabel\nhi\tA\n\tB\n", "[E026] {path}, line 3: row without text"),
    ("table-empty.tsv", "", "[E022] {path}: file is empty."),
    ("table-header.csv", "Sentence,Foo  Bar\nhi,A\n", "[E026] {path}, line 1: the header must name a text column (text, sentence, content, document, body) and a label column (label, labels, category, categories, class, intent); it holds sentence, foo bar"),
    ("table-quote.csv", 'text,label\n"hi",A\n"unclosed,B\n', "[E026] {path}, line 3: expected 2 columns as in the header, got 1"),
]  # fmt: skip


@pytest.mark.parametrize("name,content,message", CATALOGUE, ids=[c[0] for c in CATALOGUE])
def test_reader_errors_in_full(tmp_path, nlp, name, content, message):
    path = tmp_path / name
    path.write_text(content, encoding="utf8")
    with pytest.raises(RecipeError) as error:
        list(read_docs(path, nlp))
    assert str(error.value) == message.replace("{path}", str(path))


def test_table_rows_keep_their_text_and_label_with_windows_line_ends(tmp_path, nlp):
    path = tmp_path / "crlf.tsv"
    for content in (b"text\tlabel\r\nhi there\tA\r\nho\tB\r\n", b"label\ttext\r\nA\thi there\r\nB\tho\r\n"):
        path.write_bytes(content)
        docs = list(read_docs(path, nlp))
        assert [doc.text for doc in docs] == ["hi there", "ho"]
        assert [doc.cats for doc in docs] == [{"A": 1.0, "B": 0.0}, {"A": 0.0, "B": 1.0}]


def test_piped_iob_reads_words_and_tags_and_skips_docstart(tmp_path, nlp):
    path = tmp_path / "piped.iob"
    path.write_text("-DOCSTART-|O\n\nNew|B-LOC York|I-LOC is|O big|O\nRome|NNP|U-LOC\n")
    docs = list(read_docs(path, nlp))
    assert [[(e.text, e.label_) for e in doc.ents] for doc in docs] == [[("New York", "LOC")], [("Rome", "LOC")]]
    assert [t.text for t in docs[0]] == ["New", "York", "is", "big"]


def test_a_damaged_docbin_names_the_document(tmp_path, nlp):
    good = nlp("one two three")
    bad = DocBin(attrs=["ORTH", "HEAD"])
    bad.add(nlp("fine here"))
    bad.add(good)
    data = bad.to_bytes()
    path = tmp_path / "bad.spacy"
    path.write_bytes(data)
    assert [doc.text for doc in read_docs(path, nlp)] == ["fine here", "one two three"]
    broken = DocBin().from_bytes(data)
    heads = broken.tokens[1].copy()
    heads[:, 1] = 50  # the second document's heads point outside it
    broken.tokens[1] = heads
    path.write_bytes(broken.to_bytes())
    with pytest.raises(RecipeError) as error:
        list(read_docs(path, nlp))
    assert str(error.value) == (
        f"[E027] {path}: not a spaCy DocBin (document 2: [E190] Token head out of range in `Doc.from_array()` for "
        "token index '0' with value '50' (equivalent to relative head index: '50'). The head indices should be "
        "relative to the current token index rather than absolute indices in the array.)."
    )
    path.write_bytes(b"not a docbin")
    with pytest.raises(RecipeError) as error:
        list(read_docs(path, nlp))
    assert str(error.value) == (
        f"[E027] {path}: not a spaCy DocBin ([E1014] Error loading DocBin data. It doesn't look like the data is in "
        "DocBin (.spacy) format. If your data is in spaCy v2's JSON training format, convert it using `python -m "
        "spacy convert file.json .`.)."
    )


def test_piped_iob_errors_name_the_line_and_a_token_without_a_word(tmp_path, nlp):
    path = tmp_path / "piped.iob"
    path.write_text("Paris|B-LOC is|O\nRome|B-LOC |O\n")
    with pytest.raises(RecipeError) as error:
        list(read_docs(path, nlp))
    assert str(error.value) == f"[E026] {path}, line 2: expected word|TAG, got '|O'"
    path.write_text("Paris|B-LOC is|O\nRome|X-LOC\n")
    with pytest.raises(RecipeError, match=r"^\[E026\] .*piped.iob, line 2: unknown tag 'X-LOC'"):
        list(read_docs(path, nlp))


def test_piped_iob_reads_an_orphan_i_tag_as_the_start_of_an_entity(tmp_path, nlp):
    path = tmp_path / "piped.iob"
    path.write_text("Paris|I-LOC is|O nice|O\nin|O Rome|I-LOC\n")
    with pytest.warns(UserWarning, match=r"\[W003\] .*piped.iob: 2 I- tag\(s\) without a preceding entity"):
        docs = list(read_docs(path, nlp))
    assert [[(e.text, e.label_) for e in doc.ents] for doc in docs] == [[("Paris", "LOC")], [("Rome", "LOC")]]


def test_jsonl_tokens_with_ws_flags_and_without_any(tmp_path, nlp):
    path = tmp_path / "tokens.jsonl"
    path.write_text(
        '{"text": "ab.", "tokens": [{"text": "a", "ws": false}, {"text": "b", "ws": false}, {"text": ".", "ws": false}]}\n'
        '{"text": "a b c", "tokens": [{"text": "a"}, {"text": "b"}, {"text": "c"}]}\n'
        '{"text": "a b c ", "tokens": [{"text": "a"}, {"text": "b"}, {"text": "c"}]}\n'
        '{"text": "a b ", "tokens": [{"text": "a", "start": 0, "end": 1}, {"text": "b", "start": 2, "end": 3}]}\n'
    )
    docs = list(read_docs(path, nlp))
    assert [[t.text for t in doc] for doc in docs] == [["a", "b", "."], ["a", "b", "c"], ["a", "b", "c"], ["a", "b"]]
    assert [doc.text for doc in docs] == ["ab.", "a b c", "a b c ", "a b "]
    # Two spaces after the last token: a Doc cannot hold them without a whitespace token.
    path.write_text(
        '{"text": "a b  ", "tokens": [{"text": "a", "start": 0, "end": 1}, {"text": "b", "start": 2, "end": 3}]}\n'
    )
    with pytest.raises(RecipeError) as error:
        list(read_docs(path, nlp))
    assert (
        str(error.value)
        == f"[E026] {path}, line 1: the tokens do not spell out the text (check their 'ws' flags and offsets)"
    )


def test_jsonl_token_shown_in_an_error_is_cut_after_20_characters(tmp_path, nlp):
    path = tmp_path / "tokens.jsonl"
    word = "abcdefghijklmnopqrstu"  # 21 characters
    path.write_text(f'{{"text": "{word} b", "tokens": [{{"text": "{word}", "start": 0, "end": 20}}]}}\n')
    with pytest.raises(RecipeError) as error:
        list(read_docs(path, nlp))
    assert "token 0 'abcdefghijklmnopqrst...' has offsets 0-20" in str(error.value)


def test_jsonl_token_with_only_a_start_is_an_offset_error(tmp_path, nlp):
    path = tmp_path / "tokens.jsonl"
    path.write_text('{"text": "a b", "tokens": [{"text": "a", "start": 0}, {"text": "b", "start": 2, "end": 3}]}\n')
    with pytest.raises(RecipeError, match="token 0 'a' has offsets 0-None that do not match the text"):
        list(read_docs(path, nlp))


def test_a_csv_field_over_the_csv_modules_limit_is_one_line(tmp_path, nlp):
    import csv

    path = tmp_path / "big.csv"
    path.write_text("text,label\nhi,A\n" + "x" * (csv.field_size_limit() + 1) + ",B\n")
    with pytest.raises(RecipeError) as error:
        list(read_docs(path, nlp))
    assert str(error.value).startswith(f"[E026] {path}, line 3: CSV: field larger than field limit")


def test_a_table_of_blank_lines_is_empty(tmp_path, nlp):
    path = tmp_path / "blank.tsv"
    path.write_text("\n\n")
    with pytest.raises(RecipeError) as error:
        list(read_docs(path, nlp))
    assert str(error.value) == f"[E022] {path}: file is empty."


def test_locate_finds_the_document_and_names_where_it_is(tmp_path, nlp):
    from recipe_cli.data.formats import locate

    conll = tmp_path / "a.conll"
    conll.write_text("Paris B-LOC\n\nRome O\n\nBerlin B-LOC\nis O\n")
    jsonl = tmp_path / "b.jsonl"
    jsonl.write_text('{"text": "one"}\n\n{"text": "two words"}\n')
    file, where, doc = locate(conll, nlp, lambda doc: doc[0].text == "Rome")
    assert (file, where, doc.text.strip()) == (conll, "document 2", "Rome")
    file, where, doc = locate([str(conll), jsonl], nlp, lambda doc: len(doc) == 2 and doc[0].text == "two")
    assert (file, where, doc.text) == (jsonl, "line 3", "two words")
    # Two sentences per document: "Berlin is" is in the second document.
    file, where, doc = locate(conll, nlp, lambda doc: "Berlin" in doc.text, sents_per_doc=2)
    assert (file, where) == (conll, "document 2")
    # A format given is used, whatever the file is called.
    renamed = tmp_path / "c.txt"
    renamed.write_text(conll.read_text())
    file, where, _ = locate(renamed, nlp, lambda doc: doc[0].text == "Berlin", format="iob")
    assert (file, where) == (renamed, "document 3")
    assert locate(conll, nlp, lambda doc: False) is None


def test_locate_reads_annotation_tools_spans_as_the_corpus_does(tmp_path, data_dir, nlp):
    """A span that cuts a token: refused unless span_alignment snaps it, as when the corpus was read."""
    from recipe_cli.data.formats import locate

    path = tmp_path / "slips.jsonl"
    slips = '{"text": "Jane Smith met Bob", "label": [[0, 3, "PER"], [14, 18, "PER"]]}\n'
    path.write_text((data_dir / "doccano-ner.jsonl").read_text(encoding="utf8") + slips, encoding="utf8")
    with pytest.raises(RecipeError) as error:
        locate(path, nlp, lambda doc: doc.text.startswith("Jane"))
    assert str(error.value) == (
        f"[E032] {path}, line 10: entity [0, 3, 'PER'] ('Jan') cuts a token ('Jane'): fix the span, or pass "
        "--span-alignment expand (or contract) to snap it to token boundaries"
    )
    file, where, doc = locate(path, nlp, lambda doc: doc.text.startswith("Jane"), span_alignment="expand")
    assert (file, where, [(e.text, e.label_) for e in doc.ents]) == (
        path,
        "document 10",
        [("Jane", "PER"), ("Bob", "PER")],
    )


@pytest.mark.parametrize("name", ["blank.txt", "blank.jsonl", "latin-1.txt", "latin-1.jsonl"])
def test_detecting_the_format_of_a_file_without_a_first_line(tmp_path, nlp, name):
    """Blank lines only: a .txt file is no fastText export (its format cannot be told). A first line that is not
    UTF-8: a .txt file is refused as text that cannot be read (it may well be fastText lines in another encoding), a
    .jsonl file is read as JSON Lines, whose reader names what is wrong."""
    from recipe_cli.data.formats import detect_format

    path = tmp_path / name
    path.write_bytes(b"\n \n" if name.startswith("blank") else "Café\n".encode("latin-1"))
    if name.endswith(".jsonl"):
        assert detect_format(path) == "jsonl"
        return
    with pytest.raises(RecipeError) as error:
        detect_format(path)
    if name == "latin-1.txt":
        assert str(error.value) == f"[E023] {path}: not valid UTF-8 text (line 1, byte 3: invalid continuation byte)."
        return
    assert str(error.value) == (
        f"[E021] {path}: cannot tell the data format from the file name (expected .spacy, .json, .jsonl, .conllu, "
        ".iob, .bio, .conll, .tsv or .csv, or a .txt file of fastText lines; or pass --format)."
    )


@pytest.mark.parametrize(
    "name,content", [("a.json", '[["a b", {}]]'), ("a.conll", "a\tO\n"), ("a.jsonl", '{"text": "a"}\n')]
)
def test_a_file_that_fails_while_it_is_read_is_one_line_naming_it(tmp_path, nlp, monkeypatch, name, content):
    """A disk error (or a file unreadable to this user) after the file was found: the file and the system's reason,
    whether the reader takes the whole text or reads it line by line."""
    path = tmp_path / name
    path.write_text(content, encoding="utf8")
    real_read_text, real_open = Path.read_text, Path.open

    def broken(real):
        def read(self, *args, **kwargs):
            if self == path:
                raise OSError(errno.EIO, "Input/output error")
            return real(self, *args, **kwargs)

        return read

    monkeypatch.setattr(Path, "read_text", broken(real_read_text))
    monkeypatch.setattr(Path, "open", broken(real_open))
    with pytest.raises(RecipeError) as error:
        list(read_docs(path, nlp, format=name.split(".")[1].replace("conll", "iob")))
    assert str(error.value) == f"[E094] {path}: cannot be read (Input/output error)."


@pytest.mark.parametrize(
    "name,content,where",
    [
        ("long.jsonl", '{"text": "a b"}\n\n{"text": "%s"}\n', "line 3"),
        ("long.json", '[["a b", {}], ["%s", {}]]', "record 2"),
        # Read through spaCy's tokenizer by a reader that does not check the length itself: the document's number.
        ("long.tsv", "text\tlabel\na b\tA\n%s\tB\n", "document 2"),
    ],
)
def test_a_text_over_spacys_max_length_is_one_line_naming_the_file_and_record(tmp_path, nlp, monkeypatch, name,
                                                                              content, where):  # fmt: skip
    monkeypatch.setattr(nlp, "max_length", 1000)
    path = tmp_path / name
    path.write_text(content % ("word " * 300), encoding="utf8")
    with pytest.raises(RecipeError) as error:
        list(read_docs(path, nlp))
    code = "E026" if name.endswith(".jsonl") else "E025" if name.endswith(".json") else "E032"
    assert str(error.value) == (
        f"[{code}] {path}, {where}: a text of 1,500 characters, over spaCy's limit of 1,000 (nlp.max_length): "
        "split it into shorter texts"
    )


# Invalid UTF-8 (the byte 0xff) on line 3 of each text format, 4 bytes into the line.
NOT_UTF8 = [
    ("table.csv", b"text,label\nhi,A\nbad\xff,B\n"),
    ("table.tsv", b"text\tlabel\nhi\tA\nbad\xff\tB\n"),
    ("fasttext.txt", b"__label__A hi\n__label__B there\nbad\xff __label__B\n"),
    ("v2.json", b'[{"id": 0, "paragraphs": [{"sentences": [{"tokens": [\n{"orth": "a"},\n{"or\xff": "b"}]}]}]}]'),
    ("classic.json", b'[["ok", {}],\n["hi", {}],\n["b\xff", {}]]'),
    ("records.jsonl", b'{"text": "ok"}\n{"text": "hi"}\n{"t\xff": "b"}\n'),
    ("sents.conll", b"Paris\tB-LOC\n\nbad\xff\tO\n"),
]


@pytest.mark.parametrize("name,content", NOT_UTF8, ids=[n for n, _ in NOT_UTF8])
def test_invalid_utf8_is_located_by_line_and_byte_in_every_text_format(tmp_path, nlp, name, content):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(RecipeError) as error:
        list(read_docs(path, nlp))
    column = content.split(b"\n")[2].index(b"\xff")
    assert str(error.value) == f"[E023] {path}: not valid UTF-8 text (line 3, byte {column}: invalid start byte)."


@pytest.mark.parametrize("encoding,bom", [("utf-16", "UTF-16"), ("utf-32", "UTF-32")])
@pytest.mark.parametrize("name", ["fasttext.txt", "table.csv", "records.jsonl", "classic.json"])
def test_a_file_saved_in_utf16_or_utf32_says_so(tmp_path, nlp, name, encoding, bom):
    """A fastText file saved as UTF-16 (Windows' "Unicode") was "cannot tell the data format"; any format says what
    the file is and what to do."""
    text = {"fasttext.txt": "__label__A hi\n", "table.csv": "text,label\nhi,A\n",
            "records.jsonl": '{"text": "hi"}\n', "classic.json": '[["hi", {}]]'}[name]  # fmt: skip
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))  # Python writes the byte order mark, as Notepad and Excel do
    with pytest.raises(RecipeError) as error:
        list(read_docs(path, nlp))
    assert (
        str(error.value)
        == f"[E023] {path}: not valid UTF-8 text ({bom} text, by its byte order mark: save it as UTF-8)."
    )


def test_a_named_pipe_as_data_is_not_a_missing_file(tmp_path, nlp):
    path = tmp_path / "train.conll"
    os.mkfifo(path)
    with pytest.raises(RecipeError) as error:
        list(read_docs(path, nlp))
    assert (
        str(error.value)
        == f"[E094] {path}: cannot be read (a named pipe (FIFO), not a regular file: give a data file)."
    )
