# Stage 1 — the cluster catalogues (paper §2.2; docs/design.md §4).
#   catalogue.source: bundled  → resources/ (offline)
#   catalogue.source: vizier   → download_vizier (network; a login-node rule) → select

# The folders and catalogue_inputs are in rules/common.smk.


rule download_vizier:
    """WHL12 and redMaPPer from VizieR (all rows), cached in catalogue.vizier.cache_dir.
    Needs the network: run it alone on a login node first (`snakemake --cores 1 download_vizier`)."""
    output:
        whl12=f"{VIZIER_RAW}/whl12.ecsv",
        redmapper=f"{VIZIER_RAW}/redmapper.ecsv",
    log:
        f"{LOGS}/catalogue/download_vizier.log",
    localrule: True
    conda:
        "../envs/catalogue.yaml"
    params:
        vizier=lambda wc: config["catalogue"]["vizier"],
    script:
        "../scripts/catalogue_download.py"


rule select_catalogue:
    """The paper's cuts (0.1<z<0.2, >=20 members, Dec>0, Abell) → sample; redMaPPer → comparison."""
    input:
        unpack(catalogue_inputs),
    output:
        sample=f"{CATALOGUE}/sample.ecsv",
        redmapper=f"{CATALOGUE}/redmapper.ecsv",
        summary=f"{CATALOGUE}/summary.json",
    log:
        f"{LOGS}/catalogue/select.log",
    conda:
        "../envs/catalogue.yaml"
    params:
        lineage=LINEAGE["catalogue"],
        catalogue=lambda wc: config["catalogue"],
    script:
        "../scripts/catalogue_select.py"


rule fig02_sample_properties:
    input:
        sample=f"{CATALOGUE}/sample.ecsv",
        summary=f"{CATALOGUE}/summary.json",
    output:
        pdf=report(
            f"{FIGURES}/fig02_sample_properties.pdf",
            caption="../report/fig02_sample_properties.rst",
            category="Catalogue",
        ),
        png=f"{FIGURES}/fig02_sample_properties.png",
    log:
        f"{LOGS}/catalogue/fig02.log",
    conda:
        "../envs/catalogue.yaml"
    params:
        lineage=LINEAGE["catalogue"],
    script:
        "../scripts/catalogue_fig02.py"


FINAL_TARGETS += [
    f"{CATALOGUE}/sample.ecsv",
    f"{CATALOGUE}/redmapper.ecsv",
    f"{CATALOGUE}/summary.json",
    f"{FIGURES}/fig02_sample_properties.pdf",
    f"{FIGURES}/fig02_sample_properties.png",
]
