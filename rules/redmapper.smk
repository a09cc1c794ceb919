# Stage 5 — the redMaPPer comparison (paper §3.2; docs/design.md §7).
#
#   redmapper.ecsv + sample.ecsv + labels.ecsv ──► redmapper_region ──► region.ecsv (+ counts)
#   region.ecsv ──► the image stage's own rules/scripts (views → render → stretch → labels, all 'test')
#               ──► the detector stage's predict script with results/03_train/model.pt ──► predictions.ecsv
#               ──► redmapper_evaluate (same sweep) ──► Table 3, Fig 17; Fig 16 (sky map)

#
# REDMAPPER, RM_CFG, RM_SHARDS and _rm_images_params are in rules/common.smk.


rule redmapper_region:
    """Comparison clusters: 0.1<z<0.2 in the configured box, none within the match radius of a training/test cluster."""
    input:
        # the sample holds every training and test cluster (each is imaged): the comparison set
        # needs no image of its own stage, so it is made while the training images are
        redmapper=f"{RESULTS}/01_catalogue/redmapper.ecsv",
        sample=f"{RESULTS}/01_catalogue/sample.ecsv",
    output:
        catalogue=f"{REDMAPPER}/region.ecsv",
        summary=f"{REDMAPPER}/region.json",
    log:
        f"{LOGS}/redmapper/region.log",
    conda:
        "../envs/evaluate.yaml"
    params:
        lineage=LINEAGE["views"],
        redmapper=lambda wc: config["evaluate"]["redmapper"],
    script:
        "../scripts/redmapper_region.py"


# ---- the comparison views through the image stage's own rules (same acquisition + stretch) ----
use rule images_views as redmapper_views with:
    input:
        catalogue=f"{REDMAPPER}/region.ecsv",
    output:
        views=f"{REDMAPPER}/views.ecsv",
    log:
        f"{LOGS}/redmapper/views.log",
    params:
        lineage=LINEAGE["views"],
        images=lambda wc: {
            **_rm_images_params("max_offset_arcsec"),
            "views_per_cluster": int(RM_CFG.get("views_per_cluster", 1)),
            "shards": len(RM_SHARDS),
        },
        seed=config["seed"],


if _RM_IMGCFG.get("source", "mock") == "skyview":

    use rule images_download_shard as redmapper_download_shard with:
        input:
            views=f"{REDMAPPER}/views.ecsv",
        output:
            manifest=f"{REDMAPPER}/manifests/fits_{{shard}}.json",
            fits=directory(f"{REDMAPPER}/fits/{{shard}}"),
        log:
            f"{LOGS}/redmapper/download_{{shard}}.log",
        params:
            lineage=LINEAGE["views"],
            seal=dir_seal(f"{REDMAPPER}/manifests/fits_{{shard}}.json", f"{REDMAPPER}/fits/{{shard}}"),

    localrules:
        redmapper_download_shard,

else:

    use rule images_render_shard as redmapper_render_shard with:
        input:
            unpack(sky_galaxy_library),
            **MOCK_SKY_INPUTS,
            views=f"{REDMAPPER}/views.ecsv",
        output:
            manifest=f"{REDMAPPER}/manifests/fits_{{shard}}.json",
            fits=directory(f"{REDMAPPER}/fits/{{shard}}"),
        log:
            f"{LOGS}/redmapper/render_{{shard}}.log",
        params:
            lineage=LINEAGE["views"],
            seal=dir_seal(f"{REDMAPPER}/manifests/fits_{{shard}}.json", f"{REDMAPPER}/fits/{{shard}}"),


use rule images_stretch_shard as redmapper_stretch_shard with:
    input:
        views=f"{REDMAPPER}/views.ecsv",
        fits=f"{REDMAPPER}/manifests/fits_{{shard}}.json",
        fits_dir=f"{REDMAPPER}/fits/{{shard}}",
    output:
        manifest=f"{REDMAPPER}/manifests/png_{{shard}}.json",
        png=directory(f"{REDMAPPER}/png/{{shard}}"),
    log:
        f"{LOGS}/redmapper/stretch_{{shard}}.log",
    params:
        lineage=LINEAGE["views"],
        seal=dir_seal(f"{REDMAPPER}/manifests/png_{{shard}}.json", f"{REDMAPPER}/png/{{shard}}"),


use rule images_labels as redmapper_labels_raw with:
    input:
        views=f"{REDMAPPER}/views.ecsv",
        fits=expand(f"{REDMAPPER}/manifests/fits_{{shard}}.json", shard=RM_SHARDS),
        pngs=expand(f"{REDMAPPER}/manifests/png_{{shard}}.json", shard=RM_SHARDS),
        fits_dirs=expand(f"{REDMAPPER}/fits/{{shard}}", shard=RM_SHARDS),
        png_dirs=expand(f"{REDMAPPER}/png/{{shard}}", shard=RM_SHARDS),
    output:
        labels=f"{REDMAPPER}/labels_raw.ecsv",
        summary=f"{REDMAPPER}/images_summary.json",
        flips=directory(f"{REDMAPPER}/png_flip"),
    log:
        f"{LOGS}/redmapper/labels_raw.log",
    priority: 0  # not on the way to training
    params:
        lineage=LINEAGE["views"],
        images=lambda wc: {**_rm_images_params("stretch", "labels", "split"), "augment": {"hflip": False}},
        seed=config["seed"],


rule redmapper_labels:
    """The comparison views' labels, every image a test image (never flipped, never trained on)."""
    input:
        labels=f"{REDMAPPER}/labels_raw.ecsv",
    output:
        labels=f"{REDMAPPER}/labels.ecsv",
    log:
        f"{LOGS}/redmapper/labels.log",
    conda:
        "../envs/evaluate.yaml"
    params:
        lineage=LINEAGE["views"],
    script:
        "../scripts/redmapper_labels.py"


use rule predict_test as redmapper_predict with:
    input:
        model=f"{RESULTS}/03_train/model.pt",
        labels=f"{REDMAPPER}/labels.ecsv",
        cuda=local_cuda_check,
    output:
        predictions=f"{REDMAPPER}/predictions.ecsv",
    log:
        f"{LOGS}/redmapper/predict.log",
    params:
        lineage=LINEAGE["evaluate"],


rule redmapper_evaluate:
    """The same sweep as Table 2 on the comparison set → Table 3 and the comparison summary."""
    input:
        predictions=f"{REDMAPPER}/predictions.ecsv",
        labels=f"{REDMAPPER}/labels.ecsv",
        region=f"{REDMAPPER}/region.json",
    output:
        sweep_csv=report(
            f"{TABLES}/table3_sweep_redmapper.csv",
            caption="../report/table3_sweep_redmapper.rst",
            category="redMaPPer comparison",
        ),
        sweep_tex=f"{TABLES}/table3_sweep_redmapper.tex",
        distances=f"{REDMAPPER}/distances.ecsv",
        recovered=f"{REDMAPPER}/recovered.ecsv",
        ks=f"{REDMAPPER}/ks.json",
        summary=f"{REDMAPPER}/summary.json",
    log:
        f"{LOGS}/redmapper/evaluate.log",
    conda:
        "../envs/evaluate.yaml"
    params:
        lineage=LINEAGE["evaluate"],
        evaluate=evaluate_params(keep_redmapper=True),
        seed=config["seed"],
    script:
        "../scripts/redmapper_evaluate.py"


rule fig16_sky_map_redmapper:
    input:
        labels=IMAGES_LABELS,
        redmapper=f"{RESULTS}/01_catalogue/redmapper.ecsv",
        region=f"{REDMAPPER}/region.ecsv",
        region_summary=f"{REDMAPPER}/region.json",
    output:
        pdf=report(
            f"{FIGURES}/fig16_sky_map_redmapper.pdf",
            caption="../report/fig16_sky_map_redmapper.rst",
            category="redMaPPer comparison",
        ),
        png=f"{FIGURES}/fig16_sky_map_redmapper.png",
    log:
        f"{LOGS}/redmapper/fig16.log",
    conda:
        "../envs/evaluate.yaml"
    params:
        lineage=LINEAGE["evaluate"],
    script:
        "../scripts/redmapper_fig16.py"


rule fig17_precision_recall_redmapper:
    input:
        sweep=f"{TABLES}/table3_sweep_redmapper.csv",
        summary=f"{REDMAPPER}/summary.json",
    output:
        pdf=report(
            f"{FIGURES}/fig17_precision_recall_redmapper.pdf",
            caption="../report/fig17_precision_recall_redmapper.rst",
            category="redMaPPer comparison",
        ),
        png=f"{FIGURES}/fig17_precision_recall_redmapper.png",
    log:
        f"{LOGS}/redmapper/fig17.log",
    conda:
        "../envs/evaluate.yaml"
    params:
        lineage=LINEAGE["evaluate"],
        figure="fig17",
    script:
        "../scripts/evaluate_figures.py"


if REDMAPPER_ENABLED:
    FINAL_TARGETS += [
        f"{REDMAPPER}/region.ecsv",
        f"{REDMAPPER}/summary.json",
        f"{TABLES}/table3_sweep_redmapper.csv",
        f"{TABLES}/table3_sweep_redmapper.tex",
    ] + [
        f"{FIGURES}/{name}.{ext}"
        for name in ("fig16_sky_map_redmapper", "fig17_precision_recall_redmapper")
        for ext in ("pdf", "png")
    ]
