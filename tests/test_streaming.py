"""Training data streamed from disk: lazy readers, several DATA paths, and the same run as in memory."""

import pytest
from typer.testing import CliRunner

from recipe_cli.cli.train import app as train_app
from recipe_cli.cli.util import split_data_words
from recipe_cli.data.formats import read_docs
from recipe_cli.errors import RecipeError
from recipe_cli.output.metrics import read_rows

runner = CliRunner()
TIMING = ("seconds", "train_seconds", "checkpoint_seconds")


def _train(args):
    # --no-plot: these runs do not look at training.png (test_progress.py and test_cli.py do).
    return runner.invoke(train_app, [str(a) for a in [*args, "--no-plot"]])


def _untimed(row):
    """A metrics row without the fields that measure time."""
    row = {k: v for k, v in row.items() if k not in TIMING}
    row["scores"] = {k: v for k, v in row["scores"].items() if k != "speed"}
    return row


def test_split_data_words():
    paths, overrides = split_data_words(
        ["a.conll", "--training.max_epochs", "5", "b.jsonl", "--x.flag", "--y.z=3", "c.iob"]
    )
    assert [str(p) for p in paths] == ["a.conll", "b.jsonl", "c.iob"]
    assert overrides == ["--training.max_epochs", "5", "--x.flag", "--y.z=3"]


@pytest.mark.parametrize(
    "suffix,good,bad",
    [
        (".conll", "Paris\tB-LOC\n\n", "Paris\n"),
        (".jsonl", '{"text": "Paris", "entities": [[0, 5, "LOC"]]}\n', "{oops\n"),
        (".conllu", "1\tParis\tParis\tPROPN\tNNP\t_\t0\troot\t_\t_\n\n", "1\tParis\n\n"),
    ],
)
def test_text_formats_are_read_lazily(tmp_path, nlp, suffix, good, bad):
    """The first document comes out before the reader reaches a broken line 2,000 documents later."""
    path = tmp_path / f"data{suffix}"
    path.write_text(good * 2000 + bad)
    docs = read_docs(path, nlp)
    assert next(docs).text.strip() == "Paris"
    with pytest.raises(RecipeError, match=f"{path.name}, line {4001 if suffix != '.jsonl' else 2001}"):
        list(docs)


def test_undecodable_bytes_name_the_line(tmp_path, nlp):
    path = tmp_path / "data.conll"
    path.write_bytes(b"Paris\tB-LOC\n\nBerlin\tB-LOC\n\xff\xfe\tO\n")
    with pytest.raises(RecipeError, match=r"data.conll: not valid UTF-8 text \(line 4, byte 0"):
        list(read_docs(path, nlp))


@pytest.mark.slow
def test_streamed_and_in_memory_runs_see_the_same_data(tmp_path, data_dir):
    """A corpus that fits the buffer is kept in memory and trains exactly as shuffle_buffer = 0 does; a smaller
    buffer streams it from disk, every example once per epoch."""
    rows, outputs = {}, {}
    for name, buffer in (("fits", 10_000), ("in-memory", 0), ("streamed", 40)):
        out = tmp_path / name
        args = ["ner", data_dir / "wnut17-train.conll", "--dev", data_dir / "wnut17-dev.conll", "-o", out,
                "--training.max_epochs", "2", "--corpora.train.limit", "80", "--training.shuffle_buffer", buffer]  # fmt: skip
        result = _train(args)
        assert result.exit_code == 0, result.output
        outputs[name] = result.output
        rows[name] = [_untimed(row) for row in read_rows(out / "metrics.jsonl")]
    assert "in memory: fewer than the shuffle buffer holds" in outputs["fits"]
    assert "streamed from disk, shuffled 40 at a time" in outputs["streamed"]
    assert rows["fits"] == rows["in-memory"]
    assert len(rows["fits"]) == 2 and rows["fits"][0]["step"] > 0
    for a, b in zip(rows["streamed"], rows["in-memory"], strict=True):
        assert (a["step"], a["words"]) == (b["step"], b["words"])
    assert rows["streamed"][1]["losses"] != rows["in-memory"][1]["losses"]


@pytest.mark.slow
def test_several_data_paths_and_dev_paths(tmp_path, data_dir):
    """DATA may be several files of different formats, --dev repeated, overrides mixed in; a small buffer streams."""
    lines = (data_dir / "wnut17-train.conll").read_text().split("\n\t\n")
    first = tmp_path / "first.conll"
    first.write_text("\n\t\n".join(lines[:30]) + "\n")
    second = tmp_path / "second.iob"  # the same layout under another extension
    second.write_text("\n\t\n".join(lines[30:70]) + "\n")
    out = tmp_path / "out"
    dev = data_dir / "wnut17-dev.conll"
    args = ["ner", first, "--training.max_epochs", "1", second, "--dev", dev, "--dev", dev, "-o", out,
            "--training.shuffle_buffer", "8"]  # fmt: skip
    result = _train(args)
    assert result.exit_code == 0, result.output
    assert "Training data: 70 examples (streamed from disk, shuffled 8 at a time)" in result.output
    assert f"{first}, {second}" in result.output
    (row,) = read_rows(out / "metrics.jsonl")
    assert row["words"] == sum(len(s.split("\n")) for s in lines[:70] if s.strip())


@pytest.mark.slow
def test_recipe_eval_rereads_a_held_out_split_of_several_paths(tmp_path, data_dir):
    """A run over two DATA paths with a held-out dev split: recipe-eval OUT scores that same split again."""
    import json

    from recipe_cli.cli.evaluate import app as eval_app

    out = tmp_path / "out"
    files = [data_dir / "wnut17-train.conll", data_dir / "wnut17-dev.conll"]
    result = _train(["ner", *files, "-o", out, "--training.max_epochs", "1", "--corpora.train.limit", "100"])
    assert result.exit_code == 0, result.output
    evaluated = runner.invoke(eval_app, [str(out), "--json"])
    assert evaluated.exit_code == 0, evaluated.output
    report = json.loads(evaluated.output)
    assert report["data"] == [str(f) for f in files]
    (epoch,) = report["epochs"]
    assert epoch["score"] == pytest.approx(read_rows(out / "metrics.jsonl")[0]["score"], abs=1e-9)
