"""Entity spans given as character offsets, and the slips annotators make in them.

Annotation tools store what the annotator's mouse selected: a span may take a space before or after its words
(``" Jane Smith"``), or stop inside a word (``"ane"`` of ``"Jane"``). Whitespace at either end is trimmed, always:
the span's words are unchanged. A span that cuts a token is an error naming the record, unless the reader is
told to snap it to token boundaries as spaCy's ``Doc.char_span`` does (``alignment_mode`` "expand": every token
it touches; "contract": only the tokens wholly inside it). Each span changed is counted on its Doc (see
``spans_changed``), for the data summary. Overlapping spans are an error naming the record.

Category names are checked here too: a label that is a list or a JSON fragment (``['a', 'b']``,
``{"choices": [...]}``) is a layout the reader did not understand, never a category.
"""

from collections import Counter
from pathlib import Path
from typing import Any

from spacy.tokens import Doc, Span

from ...errors import Errors, RecipeError

# Values of the corpus reader's span_alignment setting (--span-alignment): "strict" refuses a span that cuts a
# token; the others are Doc.char_span's alignment modes.
ALIGNMENTS = ("strict", "expand", "contract")
# doc.user_data key of the Counter of spans changed on reading ("trimmed", "expanded", "contracted").
SPANS_CHANGED = "recipe_spans_changed"
# A label that starts or ends with one of these is a piece of a list or of JSON ('["a"', '"b"]}').
_FRAGMENT = "[]{}\"'"


def entity_spans(path: Path, where: str, doc: Doc, entities: list, alignment: str) -> list[Span]:
    """Entities given as [start, end, label] character offsets, as spans of doc; changes are counted on doc.

    where (str): the record, e.g. "line 7" or "task 3", named in errors.
    alignment (str): one of ALIGNMENTS.
    RETURNS (List[Span]): the entities, in the order given.
    """

    def fail(reason: str) -> RecipeError:
        return RecipeError(Errors.E032.format(path=path, where=where, reason=reason))

    text = doc.text
    spans: list[Span] = []
    changed = Counter[str]()
    for ent in entities:
        if not (isinstance(ent, (list, tuple)) and len(ent) == 3):
            raise fail(f"entity {ent!r} is not [start, end, label]")
        start, end, label = ent
        if not (label and isinstance(label, (str, list, dict))):
            raise fail(f"entity {ent!r} has no label")
        label = check_label(path, where, label)  # a list or a piece of JSON is no name
        in_text = type(start) is int and type(end) is int and 0 <= start < end <= len(text)
        if not in_text:
            shown = text[start:end] if isinstance(start, int) and isinstance(end, int) else ""
            raise fail(f"entity [{start}, {end}, {label!r}] ({shown!r}) does not fall on token boundaries")
        trimmed_start = start + len(text[start:end]) - len(text[start:end].lstrip())
        trimmed_end = end - (len(text[start:end]) - len(text[start:end].rstrip()))
        if trimmed_start >= trimmed_end:
            raise fail(f"entity [{start}, {end}, {label!r}] ({text[start:end]!r}) holds only whitespace")
        if (trimmed_start, trimmed_end) != (start, end):
            changed["trimmed"] += 1
        span = doc.char_span(trimmed_start, trimmed_end, label=label)
        if span is None:
            cut = doc.char_span(trimmed_start, trimmed_end, alignment_mode="expand")
            words = cut.text if cut is not None else text[trimmed_start:trimmed_end]
            if alignment == "strict":
                raise fail(
                    f"entity [{start}, {end}, {label!r}] ({text[start:end]!r}) cuts a token ({words!r}): fix the "
                    "span, or pass --span-alignment expand (or contract) to snap it to token boundaries"
                )
            span = doc.char_span(trimmed_start, trimmed_end, label=label, alignment_mode=alignment)
            if span is None or not len(span):
                raise fail(
                    f"entity [{start}, {end}, {label!r}] ({text[start:end]!r}) holds no whole token: "
                    "--span-alignment contract leaves nothing of it"
                )
            changed[f"{alignment}ed"] += 1
        spans.append(span)
    check_overlaps(path, where, spans)
    if changed:
        doc.user_data.setdefault(SPANS_CHANGED, Counter()).update(changed)
    return spans


def check_overlaps(path: Path, where: str, spans: list[Span]) -> None:
    """Entities must not share a token: one error naming the record and both spans."""
    taken: dict[int, Span] = {}
    for span in spans:
        other = next((taken[i] for i in range(span.start, span.end) if i in taken), None)
        if other is not None:
            first, second = sorted((other, span), key=lambda s: (s.start_char, s.end_char))
            reason = (
                f"entity [{second.start_char}, {second.end_char}, {second.label_!r}] ({second.text!r}) overlaps "
                f"[{first.start_char}, {first.end_char}, {first.label_!r}] ({first.text!r}); spaCy's entities "
                "cannot overlap"
            )
            raise RecipeError(Errors.E032.format(path=path, where=where, reason=reason))
        taken.update(dict.fromkeys(range(span.start, span.end), span))


def spans_changed(doc: Doc) -> Counter:
    """How many of doc's spans reading changed, by how ("trimmed", "expanded", "contracted")."""
    return doc.user_data.get(SPANS_CHANGED, Counter())


def check_label(path: Path, where: str, label: Any) -> str:
    """A category or entity label as a name: a non-empty string that is not a list or a JSON fragment.

    RETURNS (str): the label.
    """
    if isinstance(label, str):
        name = label.strip()
        if name and name[0] not in _FRAGMENT and name[-1] not in _FRAGMENT:
            return label
    reason = f"label {label!r} is a list or a JSON fragment, not a name: the file's layout was not understood"
    if isinstance(label, str) and not label.strip():
        reason = "empty label"
    raise RecipeError(Errors.E032.format(path=path, where=where, reason=reason))
