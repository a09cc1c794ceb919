"""Rule redmapper_region: the comparison clusters (paper §3.2) and the counts of how they were chosen."""

from deepcee.catalogue.select import read_catalogue, write_catalogue
from deepcee.core.contracts import read_table, write_summary
from deepcee.core.files import run_script
from deepcee.evaluate.redmapper_region import select_region


def main(snakemake):
    r = snakemake.params.redmapper
    redmapper = read_catalogue(snakemake.input.redmapper)
    sample = read_catalogue(snakemake.input.sample)
    labels = read_table("labels", snakemake.input.labels) if snakemake.input.get("labels") else None
    selected, counts = select_region(
        redmapper,
        sample,
        r["region"],
        r["z_min"],
        r["z_max"],
        r["match_radius_arcmin"],
        labels=labels,
        what=snakemake.input.redmapper,
    )
    selected.sort("id")
    if r.get("max_clusters"):
        selected = selected[: int(r["max_clusters"])]
    counts["n_used"] = len(selected)
    write_catalogue(selected, snakemake.output.catalogue, **{"region_selection": counts})
    write_summary(
        snakemake.output.summary,
        {
            "selected": counts["n_selected"],
            "used": counts["n_used"],
            "excluded_train_or_test": counts["n_excluded_train_or_test"],
        },
        config=r,
        region_selection=counts,
        paper={"area_deg2": 105, "clusters": 31},
    )
    print(
        f"redMaPPer region {r['region']}: {counts['area_deg2']:.1f} deg2, {counts['n_in_box_and_z']} at "
        f"{r['z_min']}<z<{r['z_max']}, {counts['n_excluded_train_or_test']} excluded, {counts['n_used']} used"
    )


run_script(main, snakemake)
