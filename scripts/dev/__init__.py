"""Tools for working on recipe-train: mutation testing and the annotation tools' test fixtures."""
