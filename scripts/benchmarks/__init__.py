"""recipe-train measured against `spacy train` and against itself: speed, memory, resume, transfer, sweeps."""
