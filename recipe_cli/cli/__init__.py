"""The commands: one module each (train, evaluate, sweep), and main, the `recipe` umbrella over them. Nothing is
imported here, so that one command loads only what it needs."""
