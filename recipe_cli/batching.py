"""The automatic maximum batch size of the recipe."""

# Largest batch, in examples, by the factory of the trained component.
MAX_BATCH_SIZE: dict[str, int] = {
    "tagger": 32,
    "morphologizer": 32,
    "senter": 32,
    "parser": 16,
    "ner": 16,
    "spancat": 16,
    "textcat": 64,
    "textcat_multilabel": 64,
}
# Used when none of the trained components is in the table.
FALLBACK_MAX_BATCH_SIZE = 16


def auto_max_batch_size(factories: list[str], n_examples: int) -> int:
    """The recipe's MAX: the smallest of the trained components' maxima, halved below 1000
    training examples and halved again below 500.

    factories (List[str]): factory names of the components being trained.
    n_examples (int): number of training examples.
    RETURNS (int): the largest batch size, at least 1.
    """
    known = [MAX_BATCH_SIZE[f] for f in factories if f in MAX_BATCH_SIZE]
    size = min(known) if known else FALLBACK_MAX_BATCH_SIZE
    if n_examples < 1000:
        size //= 2
    if n_examples < 500:
        size //= 2
    return max(1, size)
