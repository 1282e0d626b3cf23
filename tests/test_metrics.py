"""OUT/metrics.jsonl: a row per epoch, read back whole even after a crash cut the last one short."""

import pytest
import srsly

from recipe_cli.output.layout import METRICS_FILE
from recipe_cli.output.metrics import append_row, read_rows


def _row(epoch: int) -> dict:
    return {"epoch": epoch, "step": 10 * epoch, "score": 0.5 + epoch / 100, "scores": {"ents_f": 0.5}, "best": True}


def test_a_last_line_cut_short_is_left_out(tmp_path):
    path = tmp_path / METRICS_FILE
    for epoch in (1, 2, 3):
        append_row(path, _row(epoch))
    whole = path.read_bytes()
    assert read_rows(path) == [_row(1), _row(2), _row(3)]
    # A crash while the third row was written: any cut of its line leaves the first two rows.
    third = len(srsly.json_dumps(_row(3))) + 1
    for cut in (2, third // 2, third - 1):
        path.write_bytes(whole[:-cut])
        assert read_rows(path) == [_row(1), _row(2)], cut
    # The line cut just before its newline is whole: it is read.
    path.write_bytes(whole[:-1])
    assert read_rows(path) == [_row(1), _row(2), _row(3)]


def test_a_broken_line_before_the_last_is_an_error(tmp_path):
    path = tmp_path / METRICS_FILE
    lines = [srsly.json_dumps(_row(epoch)) for epoch in (1, 2, 3)]
    path.write_text("\n".join([lines[0], lines[1][:-5], lines[2]]) + "\n", encoding="utf8")
    with pytest.raises(ValueError):
        read_rows(path)
