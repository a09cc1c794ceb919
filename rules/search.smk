# Stage 7 — the blind search (the paper's closing aim: run the detector over survey imaging).
#
#   config (region | MOC) ──► search_tiles ──► tiles.ecsv (tiles on the centres of the strip grid's cells, shard of each)
#   [skyview | hips2fits: search_download_shard, local rules, fill the cache on a node with network]
#   tiles.ecsv + model.pt ──► search_shard (one job per shard, resumable) ──► shards/shard_{shard}.ecsv
#   shards + 08_redshift/calibration.json ──► search_catalogue ──► candidates.ecsv, summary.json, fig21-23_search_*,
#   tables/table_search_*
#
# SEARCH, SEARCH_CFG, SEARCH_SHARDS and search_* helpers are in rules/common.smk.


rule search_tiles:
    """Every tile of the region (or MOC) and its shard."""
    input:
        search_moc_input,
    output:
        tiles=f"{SEARCH}/tiles.ecsv",
        info=f"{SEARCH}/tiles.json",
    log:
        f"{LOGS}/search/tiles.log",
    conda:
        "../envs/evaluate.yaml"
    params:
        lineage=LINEAGE["search"],
        config=search_params("search", "images"),
    script:
        "../scripts/search_tiles.py"


if SEARCH_CFG["source"] != "mock":

    # Downloads need the network: on a cluster run them on the login node
    # (`snakemake --cores 1 search_download`), then the shards anywhere.
    rule search_download_shard:
        """Fill the download cache for one shard's tiles (SkyView or hips2fits)."""
        input:
            tiles=f"{SEARCH}/tiles.ecsv",
        output:
            manifest=f"{SEARCH}/downloads/shard_{{shard}}.json",
        log:
            f"{LOGS}/search/download_{{shard}}.log",
        localrule: True
        conda:
            "../envs/evaluate.yaml"
        resources:
            skyview=1,
        params:
            lineage=LINEAGE["search"],
            config=search_params("search", "images"),
        script:
            "../scripts/search_download.py"

    rule search_download:
        input:
            expand(f"{SEARCH}/downloads/shard_{{shard}}.json", shard=SEARCH_SHARDS),
        localrule: True


rule search_inject:
    """Synthetic clusters of known position, z and λ, planted in the search's mock sky only."""
    input:
        tiles=f"{SEARCH}/tiles.ecsv",
        redmapper=config["catalogue"]["bundled"]["redmapper"],
        abell=config["catalogue"]["bundled"]["abell"],
    output:
        injected=f"{SEARCH}/injected.ecsv",
    log:
        f"{LOGS}/search/inject.log",
    conda:
        "../envs/evaluate.yaml"
    params:
        lineage=LINEAGE["search"],
        config=search_params("search", "images", "catalogue", "seed"),
    script:
        "../scripts/search_inject.py"


rule search_shard:
    """Detector inference over one shard's tiles (written atomically: a killed search redoes only this shard)."""
    input:
        unpack(search_shard_inputs),
        cuda=local_cuda_check,
    output:
        detections=f"{SEARCH}/shards/shard_{{shard}}.ecsv",
        stats=f"{SEARCH}/shards/shard_{{shard}}.json",
    log:
        f"{LOGS}/search/shard_{{shard}}.log",
    conda:
        "../envs/train.yaml"
    threads: int(SEARCH_CFG["threads"])
    resources:
        gpu=1 if search_uses_gpu() else 0,
    params:
        lineage=LINEAGE["search"],
        config=search_params("search", "images", "catalogue", "seed"),
    script:
        "../scripts/search_shard.py"


rule search_catalogue:
    """Merge, cross-match (redMaPPer, Abell/ACO, MCXC), a z and λ per candidate above the threshold, completeness, purity, sky map, tables."""
    input:
        **SEARCH_CALIBRATION,
        tiles=f"{SEARCH}/tiles.ecsv",
        injected=f"{SEARCH}/injected.ecsv",
        detections=expand(f"{SEARCH}/shards/shard_{{shard}}.ecsv", shard=SEARCH_SHARDS),
        stats=expand(f"{SEARCH}/shards/shard_{{shard}}.json", shard=SEARCH_SHARDS),
        mcxc=SEARCH_CFG["mcxc"],
        redmapper=config["catalogue"]["bundled"]["redmapper"],
        abell=config["catalogue"]["bundled"]["abell"],
    output:
        **SEARCH_OUTPUTS,
    log:
        f"{LOGS}/search/catalogue.log",
    conda:
        "../envs/evaluate.yaml"
    params:
        lineage=LINEAGE["search"],
        config=search_params("search", "images", "catalogue", "seed", "redshift", "train"),
    script:
        "../scripts/search_catalogue.py"


if SEARCH_ENABLED:
    FINAL_TARGETS += list(SEARCH_OUTPUTS.values())
