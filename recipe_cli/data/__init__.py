"""Reading training and evaluation data: one module per format, the corpus reader, and the checks and summaries
made before training."""
