"""Stage 6: turns a manifest and its result rows into tables people read."""
