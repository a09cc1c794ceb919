"""Redshift and richness of each detection from the g, r, i pixels (red sequence, calibrated on training clusters)."""
