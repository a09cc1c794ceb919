"""Rule select_catalogue: normalise the sources, apply the paper's cuts, write ECSV + summary."""

from deepcee.catalogue.select import load_sources, select_sample, write_catalogue
from deepcee.core.files import run_script, write_summary


def main(snakemake):
    cfg = snakemake.params.catalogue
    parent, redmapper, notes = load_sources(cfg, snakemake.input.get("whl12"), snakemake.input.get("redmapper"))
    sample, counts = select_sample(parent, cfg)
    bcg_available = bool((~sample["bcg_rmag"].mask).any()) if hasattr(sample["bcg_rmag"], "mask") else True
    write_catalogue(sample, snakemake.output.sample, description="Deep-CEE sample after the paper's cuts",
                    parent=notes["parent"])
    write_catalogue(redmapper, snakemake.output.redmapper, description="redMaPPer comparison catalogue",
                    parent=notes["comparison"])
    write_summary(
        snakemake.output.summary,
        counts={"sample": len(sample), "redmapper": len(redmapper), "parent": len(parent),
                **({"abell_clusters": notes["abell_clusters"]} if "abell_clusters" in notes else {})},
        config=cfg,
        contract="catalogue_summary",
        cuts=counts,
        sources=notes,
        bcg_rmag_available=bcg_available,
        notes=[] if bcg_available else [
            "bcg_rmag: the source catalogue has no BCG magnitude; the column is masked, not invented"],
        paper={"sample": 497, "parent": "WHL12 Abell clusters"},
    )


run_script(main, snakemake)  # noqa: F821
