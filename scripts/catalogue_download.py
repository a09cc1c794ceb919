"""Rule download_vizier: WHL12 + redMaPPer from VizieR, cached, retried (needs the network)."""

from pathlib import Path

from deepcee.catalogue.select import VizierSettings, fetch_vizier
from deepcee.core.files import atomic_path, run_script


def main(snakemake):
    cfg = snakemake.params.vizier
    settings = VizierSettings(Path(cfg["cache_dir"]), cfg["retries"], cfg["backoff_s"], cfg["timeout_s"])
    for key in ("whl12", "redmapper"):
        table = fetch_vizier(cfg[key], settings)
        with atomic_path(snakemake.output[key]) as tmp:
            table.write(tmp, format="ascii.ecsv")


run_script(main, snakemake)
