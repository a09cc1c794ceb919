# The test set over a real sky (beyond the paper): the image stage's test views re-rendered with
# each test cluster's own members injected into real SDSS fields that training never saw (the
# test fields, evaluate.real_sky.blank_frames; each view a square crop of one field's frame,
# nothing in it but real sky), predicted by the trained model and swept like Table 2, per field
# and pooled; and the same model over the test fields with nothing injected (false detections
# per square degree of blank real sky). Each view is rendered once per member kind
# (evaluate.real_sky.member_kinds): GalSim members, real-galaxy members (the galaxy library's test
# galaxies), the members scattered over the view, and nothing (evaluate/real_sky_members.py).
#
#   02_images/views.ecsv (test rows) + 02_images/real_fields/test ──► the image stage's render
#       + stretch + labels (all 'test') ──► the detector's predict script with 03_train/model.pt
#       ──► real_sky_evaluate ──► table_real_sky_sweep (pooled), table_real_sky_fields (each
#       field), 04_evaluate/real_sky/summary.json (F1 beside the synthetic one)
#
# REALSKY, REALSKY_CFG, REALSKY_SHARDS and real_sky_images_params are in rules/common.smk.


rule real_sky_views:
    """The test views of the image stage's plan, re-sharded for the real-sky render."""
    input:
        views=f"{IMAGES}/views.ecsv",
    output:
        views=f"{REALSKY}/views.ecsv",
    log:
        f"{LOGS}/real_sky/views.log",
    conda:
        "../envs/images.yaml"
    params:
        lineage=LINEAGE["views"],
        shards=len(REALSKY_SHARDS),
        fields=[field_name(f) for f in REAL_FIELD_FOLDERS["test"]],
        views_per_cluster=REALSKY_CFG["views_per_cluster"],
        member_kinds=REALSKY_MEMBER_KINDS,
        real_view=_images_sub("pixels", "pixel_scale_arcsec", "max_offset_arcsec")
        | {"real_view_pixels": _IMGCFG["mock"]["real_view_pixels"]},
    script:
        "../scripts/real_sky_views.py"


use rule images_render_shard as real_sky_render_shard with:
    input:
        unpack(real_sky_galaxy_library),
        views=f"{REALSKY}/views.ecsv",
        real_fields=f"{IMAGES}/real_fields/test.json",
    output:
        manifest=f"{REALSKY}/manifests/fits_{{shard}}.json",
        fits=directory(f"{REALSKY}/fits/{{shard}}"),
    log:
        f"{LOGS}/real_sky/render_{{shard}}.log",
    priority: 10
    params:
        lineage=LINEAGE["views"],
        images=real_sky_images_params(),
        seed=config["seed"],
        source="mock",
        fits_dir=lambda wildcards, output: output.fits,
        seal=dir_seal(f"{REALSKY}/manifests/fits_{{shard}}.json", f"{REALSKY}/fits/{{shard}}"),


use rule images_stretch_shard as real_sky_stretch_shard with:
    input:
        views=f"{REALSKY}/views.ecsv",
        fits=f"{REALSKY}/manifests/fits_{{shard}}.json",
        fits_dir=f"{REALSKY}/fits/{{shard}}",
    output:
        manifest=f"{REALSKY}/manifests/png_{{shard}}.json",
        png=directory(f"{REALSKY}/png/{{shard}}"),
    log:
        f"{LOGS}/real_sky/stretch_{{shard}}.log",
    priority: 10
    params:
        lineage=LINEAGE["views"],
        seal=dir_seal(f"{REALSKY}/manifests/png_{{shard}}.json", f"{REALSKY}/png/{{shard}}"),


use rule images_labels as real_sky_labels with:
    input:
        views=f"{REALSKY}/views.ecsv",
        fits=expand(f"{REALSKY}/manifests/fits_{{shard}}.json", shard=REALSKY_SHARDS),
        pngs=expand(f"{REALSKY}/manifests/png_{{shard}}.json", shard=REALSKY_SHARDS),
        fits_dirs=expand(f"{REALSKY}/fits/{{shard}}", shard=REALSKY_SHARDS),
        png_dirs=expand(f"{REALSKY}/png/{{shard}}", shard=REALSKY_SHARDS),
    output:
        labels=f"{REALSKY}/labels.ecsv",
        summary=f"{REALSKY}/images_summary.json",
        flips=directory(f"{REALSKY}/png_flip"),
    log:
        f"{LOGS}/real_sky/labels.log",
    priority: 10  # not on the way to training; the real-sky chain is the longest after it
    params:
        lineage=LINEAGE["views"],
        images=lambda wc: {**_images_sub("stretch", "labels", "split"), "augment": {"hflip": False}},
        seed=config["seed"],


use rule predict_test as real_sky_predict with:
    input:
        model=f"{TRAIN}/model.pt",
        labels=f"{REALSKY}/labels.ecsv",
        cuda=local_cuda_check,
    output:
        predictions=f"{REALSKY}/predictions.ecsv",
    log:
        f"{LOGS}/real_sky/predict.log",
    priority: 10  # the real-sky chain is the longest after training: start it first
    threads: int(REALSKY_CFG["predict_threads"])
    params:
        lineage=LINEAGE["evaluate"],


rule real_sky_evaluate:
    """Table 2's sweep on the real-sky test views, pooled and field by field, with the synthetic
    test set's F1 beside it."""
    input:
        predictions=f"{REALSKY}/predictions.ecsv",
        labels=f"{REALSKY}/labels.ecsv",
        views=f"{REALSKY}/views.ecsv",
        synthetic=f"{EVALUATE}/summary.json",
    output:
        sweep_csv=report(
            f"{TABLES}/table_real_sky_sweep.csv", caption="../report/table_real_sky_sweep.rst", category="Evaluation"
        ),
        sweep_tex=f"{TABLES}/table_real_sky_sweep.tex",
        fields_csv=report(
            f"{TABLES}/table_real_sky_fields.csv", caption="../report/table_real_sky_fields.rst", category="Evaluation"
        ),
        fields_tex=f"{TABLES}/table_real_sky_fields.tex",
        field_sweeps_csv=f"{REALSKY}/field_sweeps.csv",
        members_csv=report(
            f"{TABLES}/table_real_sky_members.csv",
            caption="../report/table_real_sky_members.rst",
            category="Evaluation",
        ),
        members_tex=f"{TABLES}/table_real_sky_members.tex",
        summary=f"{REALSKY}/summary.json",
    log:
        f"{LOGS}/real_sky/evaluate.log",
    conda:
        "../envs/evaluate.yaml"
    params:
        lineage=LINEAGE["evaluate"],
        evaluate=evaluate_params(keep="real_sky"),
        seed=config["seed"],
    script:
        "../scripts/real_sky_evaluate.py"


rule real_sky_blank:
    """The trained model over the real test fields with nothing injected: false detections per
    square degree of blank real sky at the real-sky operating threshold, each box cross-matched
    to the bundled real catalogues (evaluate/blank_sky.py)."""
    input:
        model=f"{TRAIN}/model.pt",
        fields=f"{IMAGES}/real_fields/test.json",
        real_sky=f"{REALSKY}/summary.json",
        mcxc=SEARCH_CFG["mcxc"],
        redmapper=config["catalogue"]["bundled"]["redmapper"],
        abell=config["catalogue"]["bundled"]["abell"],
        cuda=local_cuda_check,
    output:
        detections=f"{REALSKY}/blank/detections.ecsv",
        summary=f"{REALSKY}/blank/summary.json",
        tiles=directory(f"{REALSKY}/blank/tiles"),
    log:
        f"{LOGS}/real_sky/blank.log",
    conda:
        "../envs/evaluate.yaml"
    threads: int(_train_cfg()["predict"]["threads"])
    resources:
        gpu=1 if _predict_uses_gpu() else 0,
    params:
        lineage=LINEAGE["evaluate"],
        config=lambda wc: {
            "images": _images_sub("pixels", "stretch")
            | {"mock": {"real_view_pixels": _IMGCFG["mock"]["real_view_pixels"]}},
            "train": {"predict": _train_cfg()["predict"]},
            "evaluate": {k: EVAL_CFG[k] for k in ("score_rule", "thresholds", "bootstrap")},
            "catalogue": {k: config["catalogue"][k] for k in ("bundled", "match_radius_arcmin")},
            "search": {"score_min": SEARCH_CFG["score_min"]},
        },
        tiles_dir=lambda wildcards, output: output.tiles,
    script:
        "../scripts/real_sky_blank.py"


rule fig25_real_sky_fields:
    """Figure 25: F1 against threshold on each real test field and pooled; false detections per
    square degree of blank real sky against threshold."""
    input:
        field_sweeps=f"{REALSKY}/field_sweeps.csv",
        sweep=f"{TABLES}/table_real_sky_sweep.csv",
        summary=f"{REALSKY}/summary.json",
        blank=f"{REALSKY}/blank/summary.json",
    output:
        pdf=report(
            f"{FIGURES}/fig25_real_sky_fields.pdf",
            caption="../report/fig25_real_sky_fields.rst",
            category="Evaluation",
        ),
        png=f"{FIGURES}/fig25_real_sky_fields.png",
    log:
        f"{LOGS}/real_sky/fig25.log",
    conda:
        "../envs/evaluate.yaml"
    params:
        lineage=LINEAGE["evaluate"],
        figure="fig25",
    script:
        "../scripts/evaluate_figures.py"


rule fig24_precision_recall_real_sky:
    """Figure 24: precision, recall and F1 against threshold on the real-sky test views."""
    input:
        sweep=f"{TABLES}/table_real_sky_sweep.csv",
        summary=f"{REALSKY}/summary.json",
    output:
        pdf=report(
            f"{FIGURES}/fig24_precision_recall_real_sky.pdf",
            caption="../report/fig24_precision_recall_real_sky.rst",
            category="Evaluation",
        ),
        png=f"{FIGURES}/fig24_precision_recall_real_sky.png",
    log:
        f"{LOGS}/real_sky/fig24.log",
    conda:
        "../envs/evaluate.yaml"
    params:
        lineage=LINEAGE["evaluate"],
        figure="fig24",
    script:
        "../scripts/evaluate_figures.py"


if REALSKY_ENABLED:
    FINAL_TARGETS += [
        f"{REALSKY}/summary.json",
        f"{TABLES}/table_real_sky_sweep.csv",
        f"{TABLES}/table_real_sky_sweep.tex",
        f"{FIGURES}/fig24_precision_recall_real_sky.pdf",
        f"{FIGURES}/fig24_precision_recall_real_sky.png",
        f"{TABLES}/table_real_sky_fields.csv",
        f"{TABLES}/table_real_sky_members.csv",
        f"{TABLES}/table_real_sky_members.tex",
        f"{REALSKY}/blank/summary.json",
        f"{FIGURES}/fig25_real_sky_fields.pdf",
        f"{FIGURES}/fig25_real_sky_fields.png",
    ]
