"""Training: the shared set-up of a fresh and a resumed run, schedules, batching, the loop, fit, transfer and
rehearsal."""
