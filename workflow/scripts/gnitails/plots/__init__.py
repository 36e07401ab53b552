"""Figures: one shared style, and one drawing function per figure, each a pure function of
stored tables (no data is added, shifted or overwritten here)."""
