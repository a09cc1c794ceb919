"""The GalSim mock of SDSS g, r, i imaging (docs/design.md §4; its numbers in docs/mock-numbers.md).

Modules, in the order imports go (each imports only those above it, never one below,
lazily or not; ``tests/test_mock_package.py`` checks it):

  * ``universe``: what exists: the populations (clusters, groups, field galaxies, stars,
    foreground galaxies) as object lists, and their photometry;
  * ``draw``: the SDSS instrument: PSF drawing (``Canvas``), saturation, the SDSS noise model;
  * ``real_fields``: real SDSS blank frames as a background;
  * ``galaxy_library``: real galaxies and stars cut from the bundled SDSS fields;
  * ``real_members``: cluster members drawn from that library instead of GalSim;
  * ``library_objects``: the one sky's bright galaxies and stars drawn from that library;
  * ``sky``: the one mock sky (``MockSky``): objects per HEALPix cell, catalogued clusters and
    groups; any TAN cutout of it;
  * ``render``: one planned view: a cutout of the sky, or a real frame with its cluster
    injected, with its truth table and FITS file.
"""
