"""Rule select_catalogue: normalise the sources, apply the paper's cuts, write ECSV + summary."""

import logging

from deepcee.catalogue.select import load_sources, select_sample, write_catalogue
from deepcee.core.contracts import write_summary
from deepcee.core.files import run_script


def main(snakemake):
    cfg = snakemake.params.catalogue
    parent, redmapper, notes = load_sources(cfg, snakemake.input.get("whl12"), snakemake.input.get("redmapper"))
    # Rows the readers dropped because the paper's cuts would drop them anyway (no redshift...).
    dropped = {
        name: list(table.meta.get("dropped", [])) for name, table in (("parent", parent), ("redmapper", redmapper))
    }
    for name, lines in dropped.items():
        for line in lines:
            logging.getLogger("deepcee.catalogue").info("%s catalogue: %s", name, line)
    sample, counts = select_sample(parent, cfg)
    bcg_available = bool((~sample["bcg_rmag"].mask).any()) if hasattr(sample["bcg_rmag"], "mask") else True
    write_catalogue(
        sample, snakemake.output.sample, description="Deep-CEE sample after the paper's cuts", parent=notes["parent"]
    )
    write_catalogue(
        redmapper, snakemake.output.redmapper, description="redMaPPer comparison catalogue", parent=notes["comparison"]
    )
    write_summary(
        snakemake.output.summary,
        counts={
            "sample": len(sample),
            "redmapper": len(redmapper),
            "parent": len(parent),
            **({"abell_clusters": notes["abell_clusters"]} if "abell_clusters" in notes else {}),
        },
        config=cfg,
        contract="catalogue_summary",
        cuts=counts,
        dropped=dropped,
        sources=notes,
        bcg_rmag_available=bcg_available,
        notes=[]
        if bcg_available
        else ["bcg_rmag: the source catalogue has no BCG magnitude; the column is masked, not invented"],
        paper={"sample": 497, "parent": "WHL12 Abell clusters"},
    )


run_script(main, snakemake)
