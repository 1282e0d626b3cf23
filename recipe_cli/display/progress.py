"""Watching a run: a live progress bar per epoch on a terminal, and the schedules' trace for the plot."""

from typing import IO, Protocol

from spacy.training import Example
from tqdm import tqdm


class UpdateInfo(Protocol):
    """Where the run is after an update (the training loop's EpochInfo)."""

    epoch: int
    step: int
    words: int
    dropout: float
    losses: dict[str, float]


class EpochProgress:
    """Called after every update: records (step, dropout, batch size) and, on a terminal, draws a bar.

    The bar shows examples and words per second, the current batch size, dropout, running loss and the
    epoch's ETA; it is cleared when the epoch ends, so the per-epoch table stays clean.
    """

    def __init__(self, n_examples: int, stream: IO[str], *, show: bool) -> None:
        self.n_examples = n_examples
        self.stream = stream
        self.show = show
        # (step, dropout, batch size) of every update, for the schedules plot.
        self.trace: list[tuple[int, float, int]] = []
        self._bar: tqdm | None = None
        self._epoch = 0
        self._words0 = 0

    def __call__(self, info: UpdateInfo, batch: list[Example]) -> None:
        self.trace.append((info.step, info.dropout, len(batch)))
        if not self.show:
            return
        if self._bar is None or info.epoch != self._epoch:
            self._start(info, batch)
        assert self._bar is not None
        self._bar.update(len(batch))
        if self._bar.n % 10 == 0 or self._bar.n >= self.n_examples:
            elapsed = self._bar.format_dict["elapsed"] or 1e-9
            self._bar.set_postfix_str(
                f"{(info.words - self._words0) / elapsed:,.0f} words/s, batch {len(batch)}, "
                f"drop {info.dropout:.2f}, loss {sum(info.losses.values()):.1f}",
                refresh=False,
            )

    def _start(self, info: UpdateInfo, first_batch: list[Example]) -> None:
        self.close()
        self._epoch = info.epoch
        # Words seen before this epoch's first batch.
        self._words0 = info.words - sum(len(eg.predicted) for eg in first_batch)
        self._bar = tqdm(total=self.n_examples, desc=f"Epoch {info.epoch}", unit="ex", file=self.stream,
                         leave=False, dynamic_ncols=True)  # fmt: skip

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
