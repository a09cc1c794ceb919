# Stage 8 — a redshift and a richness for every detection (beyond the paper; its closing
# section names them as the next step), from the g, r, i pixels of each box.
#
#   labels.ecsv + training FITS ──► redshift_calibrate ──► calibration.json (z(g−r, r−i), λ(N))
#   predictions_test.ecsv + 04_evaluate/summary.json ──► redshift_test ──► detections_test.ecsv
#   05_redmapper/predictions.ecsv + summary.json     ──► redshift_redmapper ──► detections_redmapper.ecsv
#   detections_*.ecsv ──► redshift_summary ──► summary.json ──► redshift_figures ──► fig19_redshift, fig20_richness

# REDSHIFT, REDSHIFT_ENABLED and REDSHIFT_SETS are in rules/common.smk.


rule redshift_calibrate:
    """z(colour) and λ(member count) fitted on the training clusters' true boxes (catalogue z, λ)."""
    input:
        labels=IMAGES_LABELS,
        fits=expand(f"{IMAGES}/manifests/fits_{{shard}}.json", shard=IMAGE_SHARDS),
    output:
        calibration=f"{REDSHIFT}/calibration.json",
    log:
        f"{LOGS}/redshift/calibrate.log",
    conda:
        "../envs/redshift.yaml"
    params:
        lineage=LINEAGE["redshift"],
        redshift=lambda wc: config["redshift"],
        seed=config["seed"],
    script:
        "../scripts/redshift_calibrate.py"


rule redshift_test:
    """Every test-set detection above the evaluation's chosen threshold: z_est, richness_est (or a flag)."""
    input:
        predictions=f"{EVALUATE}/predictions_test.ecsv",
        labels=IMAGES_LABELS,
        summary=f"{EVALUATE}/summary.json",
        calibration=f"{REDSHIFT}/calibration.json",
    output:
        detections=f"{REDSHIFT}/detections_test.ecsv",
    log:
        f"{LOGS}/redshift/test.log",
    conda:
        "../envs/redshift.yaml"
    params:
        lineage=LINEAGE["redshift"],
        redshift=lambda wc: config["redshift"],
    script:
        "../scripts/redshift_estimate.py"


use rule redshift_test as redshift_redmapper with:
    input:
        predictions=f"{REDMAPPER}/predictions.ecsv",
        labels=f"{REDMAPPER}/labels.ecsv",
        summary=f"{REDMAPPER}/summary.json",
        calibration=f"{REDSHIFT}/calibration.json",
    output:
        detections=f"{REDSHIFT}/detections_redmapper.ecsv",
    log:
        f"{LOGS}/redshift/redmapper.log",


rule redshift_summary:
    """σ_z/(1+z) (NMAD), bias, outlier fraction, richness scatter and slope, 95 % cluster bootstraps, flag counts."""
    input:
        **REDSHIFT_SETS,
        calibration=f"{REDSHIFT}/calibration.json",
    output:
        summary=f"{REDSHIFT}/summary.json",
    log:
        f"{LOGS}/redshift/summary.log",
    conda:
        "../envs/redshift.yaml"
    params:
        lineage=LINEAGE["redshift"],
        redshift=lambda wc: config["redshift"],
        seed=config["seed"],
        sets=list(REDSHIFT_SETS),
    script:
        "../scripts/redshift_summary.py"


rule redshift_figures:
    """z_est against catalogue z, and richness_est against λ, for the recovered clusters of each set."""
    input:
        **REDSHIFT_SETS,
        summary=f"{REDSHIFT}/summary.json",
    output:
        redshift_pdf=report(
            f"{FIGURES}/fig19_redshift.pdf", caption="../report/fig19_redshift.rst", category="Beyond the paper"
        ),
        redshift_png=f"{FIGURES}/fig19_redshift.png",
        richness_pdf=report(
            f"{FIGURES}/fig20_richness.pdf", caption="../report/fig20_richness.rst", category="Beyond the paper"
        ),
        richness_png=f"{FIGURES}/fig20_richness.png",
    log:
        f"{LOGS}/redshift/figures.log",
    conda:
        "../envs/redshift.yaml"
    params:
        lineage=LINEAGE["redshift"],
        sets=list(REDSHIFT_SETS),
    script:
        "../scripts/redshift_figures.py"


if REDSHIFT_ENABLED:
    FINAL_TARGETS += [f"{REDSHIFT}/calibration.json", f"{REDSHIFT}/summary.json", *REDSHIFT_SETS.values()] + [
        f"{FIGURES}/{name}.{ext}" for name in ("fig19_redshift", "fig20_richness") for ext in ("pdf", "png")
    ]
