"""Write ewt-quotes-v2.json: UD English EWT sentences with quotation marks, as a spaCy v2 JSON training file.

    python tests/data/make_ewt_quotes_v2.py en_ewt-ud-train.conllu tests/data/ewt-quotes-v2.json

The first 80 training sentences holding a '"' token whose trees are projective, two per document (40 documents, one paragraph each), with
the quotes written PTB-style as `` and '' (which spaCy's tokenizer splits into ` and `), tags from the XPOS column,
relative heads and relations, and "space" flags from SpaceAfter=No (as spaCy's docs_to_json writes them). In every fourth document
(the 4th, 8th, ...) the first word of the first sentence that has a dependent to its right takes that dependent as
its head (the first such pair spaCy's projectivize still accepts): a head cycle, the defect of spaCy v2's own
examples/training/training-data.json ("In" <-> "review").
"""

import json
import sys

from spacy.pipeline._parser_internals.nonproj import projectivize

SENTENCES, PER_DOC, EVERY = 80, 2, 4


def sentences(path):
    """The sentences of a CoNLL-U file: rows of its words' columns, the last one whether a space follows."""
    rows, mwt_end, mwt_space = [], 0, True
    for line in open(path, encoding="utf8"):
        line = line.rstrip("\n")
        if not line:
            if rows:
                yield rows
            rows, mwt_end = [], 0
        elif not line.startswith("#"):
            cols = line.split("\t")
            space = "SpaceAfter=No" not in cols[9]
            if "-" in cols[0]:  # a multi-word token: its last word takes its spacing, the others none
                mwt_end, mwt_space = int(cols[0].split("-")[1]), space
            elif cols[0].isdigit():
                idx = int(cols[0])
                rows.append(cols[:9] + [space if idx > mwt_end else mwt_space if idx == mwt_end else False])
    if rows:
        yield rows


def tokens(rows, cycle):
    heads = [int(r[6]) - 1 for r in rows]  # -1: the root
    if cycle:
        word, dependent = next(
            (i, j)
            for i in range(len(rows))
            for j, h in enumerate(heads)
            if h == i and j > i and _stays_projective(heads, i, j)
        )
        heads[word] = dependent
    out, opening = [], True
    for i, (row, head) in enumerate(zip(rows, heads, strict=True)):
        orth, tag = row[1], row[4]
        if orth == '"':
            orth = tag = "``" if opening else "''"
            opening = not opening
        dep = "ROOT" if row[7] == "root" else row[7]
        space = " " if row[9] else ""
        out.append(
            {"id": i, "orth": orth, "space": space, "tag": tag, "head": head - i if head >= 0 else 0, "dep": dep}
        )
    return {"tokens": out}


def projective(rows):
    """Whether every word between a word and its head descends from that head."""
    heads = [int(r[6]) - 1 for r in rows]

    def descends(k, h):
        while k != h and k >= 0:
            k = heads[k]
        return k == h

    return all(descends(k, h) for j, h in enumerate(heads) if h >= 0 for k in range(min(j, h) + 1, max(j, h)))


def _stays_projective(heads, word, dependent):
    """Whether spaCy's projectivize accepts the tree once word takes dependent as its head (it walks the
    ancestors of the words under a non-projective arc, and fails on a cycle there)."""
    changed = [dependent if i == word else (h if h >= 0 else i) for i, h in enumerate(heads)]
    try:
        projectivize(changed, ["dep"] * len(changed))
    except ValueError:
        return False
    return True


def main(src, dst):
    quoted = [rows for rows in sentences(src) if any(r[1] == '"' for r in rows) and projective(rows)][:SENTENCES]
    docs = []
    for n in range(SENTENCES // PER_DOC):
        part = quoted[n * PER_DOC : (n + 1) * PER_DOC]
        cycle = (n + 1) % EVERY == 0
        sents = [tokens(rows, cycle and k == 0) for k, rows in enumerate(part)]
        docs.append({"id": n, "paragraphs": [{"sentences": sents}]})
    with open(dst, "w", encoding="utf8") as f:  # one document a line
        f.write("[\n" + ",\n".join(json.dumps(doc, ensure_ascii=False) for doc in docs) + "\n]\n")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
