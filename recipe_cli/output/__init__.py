"""The output folder: its layout and run.json, checkpoints, the training state, metrics, the plot, and the
record of a failure."""
