"""Deep-CEE: a reproducible Faster R-CNN search for galaxy clusters (Chan & Stott 2019)."""

__version__ = "0.1.0"
