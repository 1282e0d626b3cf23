"""The evidence studies: their specs, config files, data and published pages (docs/evidence*.md)."""
