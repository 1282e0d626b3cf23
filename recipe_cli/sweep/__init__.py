"""recipe-sweep: many recipe-train runs (tasks × variants × seeds) in one resumable command, and their report.

spec (the YAML file, validated once) → trial (one recipe-train run and one recipe-eval of its model-best, in
SWEEP/trials/<task>/<variant>/seed-<n>/) → local (a process pool on this machine) or cluster (Ray tasks) →
results (SWEEP/trials.jsonl) → stats and report (paired comparisons against a baseline variant).
"""
