# rules/images.smk — the image stage (paper §2.2; docs/design.md §1, §4).
#
#   views plan -> render (mock) | download (skyview), per shard -> stretch, per shard
#   -> labels (split + flips + labels.ecsv + summary.json) -> figures 3, 4, examples
#
# Rendering/downloading and stretching are separate rules, so changing a stretch limit
# re-stretches without re-rendering. Each rule gets only the config keys it uses as
# params, so Snakemake's params trigger reruns exactly what a change affects.
# The folders come from the output paths (params below), so the redMaPPer comparison can
# reuse these rules with `use rule ... as ... with: input/output` for results/05_redmapper/.
# IMAGES, IMAGE_SHARDS and _images_sub are in rules/common.smk.


rule images_views:
    input:
        catalogue=f"{RESULTS}/01_catalogue/sample.ecsv",
    output:
        views=f"{IMAGES}/views.ecsv",
    log:
        f"{LOGS}/images/views.log",
    conda:
        "../envs/images.yaml"
    params:
        lineage=LINEAGE["images"],
        images={
            **_images_sub(
                "source", "views_per_cluster", "max_offset_arcsec", "shards", "split", "pixels", "pixel_scale_arcsec"
            ),
            "mock": {
                k: _IMGCFG["mock"][k]
                for k in ("real_background_fraction", "negative_fraction", "blank_frames", "real_view_pixels")
            },
        },
        seed=config["seed"],
    script:
        "../scripts/images_views.py"


rule images_real_fields:
    """Real SDSS fields of one role (train | test), each aligned in g, r, i, binned to the
    project's pixel scale and written once as a view-style FITS (images/mock/real_fields.py)."""
    input:
        frames=real_field_frames,
    output:
        manifest=f"{IMAGES}/real_fields/{{role}}.json",
        fits=directory(f"{IMAGES}/real_fields/{{role}}"),
    log:
        f"{LOGS}/images/real_fields_{{role}}.log",
    wildcard_constraints:
        role="train|test",
    priority: 10  # the test fields start the real-sky chain, the longest after training
    conda:
        "../envs/images.yaml"
    threads: 2  # bz2 decompression releases the GIL: two fields at once
    params:
        lineage=LINEAGE["images"],
        folders=lambda wildcards: REAL_FIELD_FOLDERS[wildcards.role],
        pixel_scale_arcsec=_IMGCFG["pixel_scale_arcsec"],
        fits_dir=lambda wildcards, output: output.fits,
    script:
        "../scripts/images_real_fields.py"


_ACQUIRE_PARAMS = dict(
    images=_images_sub("source", "pixels", "pixel_scale_arcsec", "mock", "skyview"),
    seed=config["seed"],
    source=_IMGCFG["source"],
    sky_match_radius_arcmin=config["catalogue"]["match_radius_arcmin"],
    fits_dir=lambda wildcards, output: output.fits,
    seal=dir_seal(f"{IMAGES}/manifests/fits_{{shard}}.json", f"{IMAGES}/fits/{{shard}}"),
)

if _IMGCFG["source"] == "skyview":

    # Downloads need the network: on a cluster run them on the login node
    # (`snakemake --cores 1 images_download`), then the rest anywhere.
    localrules:
        images_download_shard,
        images_download,

    rule images_download_shard:
        input:
            views=f"{IMAGES}/views.ecsv",
        output:
            manifest=f"{IMAGES}/manifests/fits_{{shard}}.json",
            # every FITS file of the shard is a tracked output: sealed in the manifest (params.seal),
            # so one edited or deleted reruns the shard and everything downstream
            fits=directory(f"{IMAGES}/fits/{{shard}}"),
        log:
            f"{LOGS}/images/download_{{shard}}.log",
        conda:
            "../envs/images.yaml"
        resources:
            skyview=1,
        params:
            **_ACQUIRE_PARAMS,
            lineage=LINEAGE["images"],
        script:
            "../scripts/images_acquire.py"

    rule images_download:
        input:
            expand(f"{IMAGES}/manifests/fits_{{shard}}.json", shard=IMAGE_SHARDS),

else:

    rule images_render_shard:
        input:
            unpack(training_real_fields),
            unpack(training_galaxy_library),
            **MOCK_SKY_INPUTS,
            views=f"{IMAGES}/views.ecsv",
        output:
            manifest=f"{IMAGES}/manifests/fits_{{shard}}.json",
            truth=f"{IMAGES}/truth/truth_{{shard}}.ecsv",
            # every FITS file of the shard is a tracked output: sealed in the manifest (params.seal),
            # so one edited or deleted reruns the shard and everything downstream
            fits=directory(f"{IMAGES}/fits/{{shard}}"),
        log:
            f"{LOGS}/images/render_{{shard}}.log",
        conda:
            "../envs/images.yaml"
        params:
            **_ACQUIRE_PARAMS,
            lineage=LINEAGE["images"],
        script:
            "../scripts/images_acquire.py"

    rule images_render:
        input:
            expand(f"{IMAGES}/manifests/fits_{{shard}}.json", shard=IMAGE_SHARDS),


rule images_stretch_shard:
    input:
        views=f"{IMAGES}/views.ecsv",
        fits=f"{IMAGES}/manifests/fits_{{shard}}.json",
        fits_dir=f"{IMAGES}/fits/{{shard}}",
    output:
        manifest=f"{IMAGES}/manifests/png_{{shard}}.json",
        png=directory(f"{IMAGES}/png/{{shard}}"),
    log:
        f"{LOGS}/images/stretch_{{shard}}.log",
    conda:
        "../envs/images.yaml"
    params:
        lineage=LINEAGE["images"],
        images=_images_sub("stretch", "pixels"),
        fits_dir=lambda wildcards, input: input.fits_dir,
        png_dir=lambda wildcards, output: output.png,
        seal=dir_seal(f"{IMAGES}/manifests/png_{{shard}}.json", f"{IMAGES}/png/{{shard}}"),
    script:
        "../scripts/images_stretch.py"


rule images_labels:
    input:
        views=f"{IMAGES}/views.ecsv",
        fits=expand(f"{IMAGES}/manifests/fits_{{shard}}.json", shard=IMAGE_SHARDS),
        pngs=expand(f"{IMAGES}/manifests/png_{{shard}}.json", shard=IMAGE_SHARDS),
        fits_dirs=expand(f"{IMAGES}/fits/{{shard}}", shard=IMAGE_SHARDS),
        png_dirs=expand(f"{IMAGES}/png/{{shard}}", shard=IMAGE_SHARDS),
    output:
        labels=f"{IMAGES}/labels.ecsv",
        negatives=f"{IMAGES}/negatives.ecsv",
        summary=f"{IMAGES}/summary.json",
        flips=directory(f"{IMAGES}/png_flip"),
    log:
        f"{LOGS}/images/labels.log",
    # the gate to training: before the comparison sets' images, which would otherwise take the
    # cores first (two 1-thread jobs fit where this 2-thread one waits)
    priority: 50
    conda:
        "../envs/images.yaml"
    threads: 2  # the flips' PNG encoding, while nothing else can run (training waits for the labels)
    params:
        lineage=LINEAGE["images"],
        images=_images_sub("stretch", "labels", "split", "augment"),
        seed=config["seed"],
    script:
        "../scripts/images_labels.py"


rule images_figures:
    input:
        labels=f"{IMAGES}/labels.ecsv",
        parent=f"{RESULTS}/01_catalogue/redmapper.ecsv",
    output:
        fig03_pdf=report(f"{FIGURES}/fig03_offsets.pdf", caption="../report/fig03_offsets.rst", category="Images"),
        fig03_png=f"{FIGURES}/fig03_offsets.png",
        fig04_pdf=report(f"{FIGURES}/fig04_sky_map.pdf", caption="../report/fig04_sky_map.rst", category="Images"),
        fig04_png=f"{FIGURES}/fig04_sky_map.png",
        examples_pdf=f"{FIGURES}/fig_examples_images.pdf",
        examples_png=report(
            f"{FIGURES}/fig_examples_images.png", caption="../report/fig_examples_images.rst", category="Images"
        ),
    log:
        f"{LOGS}/images/figures.log",
    conda:
        "../envs/images.yaml"
    params:
        lineage=LINEAGE["images"],
        n_examples=_IMGCFG.get("figures", {}).get("n_examples", 12),
        seed=config["seed"],
    script:
        "../scripts/images_figures.py"


FINAL_TARGETS += [
    f"{IMAGES}/labels.ecsv",
    f"{IMAGES}/summary.json",
    f"{FIGURES}/fig03_offsets.pdf",
    f"{FIGURES}/fig03_offsets.png",
    f"{FIGURES}/fig04_sky_map.pdf",
    f"{FIGURES}/fig04_sky_map.png",
    f"{FIGURES}/fig_examples_images.pdf",
    f"{FIGURES}/fig_examples_images.png",
]


rule images_realism:
    """Realism of the mock: a classifier two-sample test of 64 px mock crops against crops of the
    real SDSS fields, whole fields held out (deepcee.images.realism); Figure 26. The benchmark
    with the CNN as well: python -m deepcee.bench.realism --cnn."""
    input:
        unpack(sky_galaxy_library),
        **MOCK_SKY_INPUTS,
        manifests=[f"{IMAGES}/real_fields/train.json", f"{IMAGES}/real_fields/test.json"],
    output:
        json=f"{IMAGES}/realism.json",
        pdf=report(f"{FIGURES}/fig26_realism.pdf", caption="../report/fig26_realism.rst", category="Images"),
        png=f"{FIGURES}/fig26_realism.png",
    log:
        f"{LOGS}/images/realism.log",
    conda:
        "../envs/images.yaml"
    params:
        lineage=LINEAGE["images"],
        seed=config["seed"],
        catalogue={k: config["catalogue"][k] for k in ("bundled", "match_radius_arcmin")},
        images=_images_sub("pixels", "pixel_scale_arcsec", "mock", "stretch"),
        folders=REAL_FIELD_FOLDERS["train"] + REAL_FIELD_FOLDERS["test"],
        crop=64,
    script:
        "../scripts/images_realism.py"


if _IMGCFG["source"] == "mock":
    FINAL_TARGETS += [f"{IMAGES}/realism.json", f"{FIGURES}/fig26_realism.pdf", f"{FIGURES}/fig26_realism.png"]


rule images_galaxy_library:
    """The library of real galaxies and stars cut from the training and the test SDSS fields
    (images/mock/galaxy_library.py): found with sep on the aligned g, r, i frames, measured (Kron r
    magnitude, g - r, r - i, half-light radius on the native pixels), split into stars and galaxies
    by size against each field's stellar locus, each cut to its own segment (neighbours masked,
    local background removed) and tagged with its field's role; Figure 29. Real-galaxy cluster
    members draw from it, training views from training fields only, test views from test fields only."""
    input:
        frames=lambda wildcards: real_field_frame_files("train", "test"),
    output:
        table=f"{IMAGES}/galaxy_library/library.ecsv",
        stamps=f"{IMAGES}/galaxy_library/stamps.npz",
        pdf=report(
            f"{FIGURES}/fig29_galaxy_library.pdf",
            caption="../report/fig29_galaxy_library.rst",
            category="Images",
        ),
        png=f"{FIGURES}/fig29_galaxy_library.png",
    log:
        f"{LOGS}/images/galaxy_library.log",
    conda:
        "../envs/images.yaml"
    params:
        lineage=LINEAGE["images"],
        train_fields=REAL_FIELD_FOLDERS["train"],
        test_fields=REAL_FIELD_FOLDERS["test"],
        pixel_scale_arcsec=GALAXY_LIBRARY_SCALE,
    script:
        "../scripts/images_galaxy_library.py"


# The library is measured at 1.584" at most (core.sdss.library_pixel_scale): there a galaxy has a
# shape and each field a stellar locus; coarser views (configs/ci.yaml's 6.336") sum its stamps.
if GALAXY_LIBRARY_ENABLED:
    FINAL_TARGETS += [
        f"{IMAGES}/galaxy_library/library.ecsv",
        f"{IMAGES}/galaxy_library/stamps.npz",
        f"{FIGURES}/fig29_galaxy_library.pdf",
        f"{FIGURES}/fig29_galaxy_library.png",
    ]
