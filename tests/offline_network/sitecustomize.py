"""Imported by every Python process started with this folder on PYTHONPATH (tests only): with
DEEPCEE_OFFLINE_NETWORK set to the resources folder, the network services are answered offline
(tests/network_fakes.py)."""

import os

if os.environ.get("DEEPCEE_OFFLINE_NETWORK"):
    import network_fakes

    network_fakes.install(os.environ["DEEPCEE_OFFLINE_NETWORK"])
