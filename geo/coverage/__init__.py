"""Coverage of the official grid: gaps, overlaps, slivers, households in no grid or two."""
