"""What a person watching a run sees: the console, the per-epoch table (a spaCy logger), the progress bar."""
