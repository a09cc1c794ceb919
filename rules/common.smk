# Shared by the rules/*.smk files: the results layout, the config sections each stage reads and the
# helper functions of the rules (input functions, params filters). Included first by the
# Snakefile, so every rules/*.smk holds rules only (`snakemake --lint`: no functions mixed
# with rules). The layout of results/ and the files in it: docs/design.md §2, docs/contracts.md.

import os

# ---------------------------------------------------------------- the results layout
# One folder per profile (config key results_dir, default "results"), so the default and the paper
# profile sit side by side. The default's logs stay in logs/ and its paper in paper/ms.pdf; another
# folder holds its own logs/, ms.pdf and LaTeX build/ inside it.
RESULTS = config["results_dir"].rstrip("/")
_OWN_FOLDERS = RESULTS != "results"
LOGS = f"{RESULTS}/logs" if _OWN_FOLDERS else "logs"
PAPER_BUILD = RESULTS if _OWN_FOLDERS else "paper"
FIGURES = f"{RESULTS}/figures"
TABLES = f"{RESULTS}/tables"

CATALOGUE = f"{RESULTS}/01_catalogue"
VIZIER_RAW = f"{CATALOGUE}/raw"
IMAGES = f"{RESULTS}/02_images"
IMAGES_LABELS = f"{IMAGES}/labels.ecsv"
TRAIN = f"{RESULTS}/03_train"
EVALUATE = f"{RESULTS}/04_evaluate"
RESPLIT = f"{EVALUATE}/resplit"
REDMAPPER = f"{RESULTS}/05_redmapper"
PAPER_STAGE = f"{RESULTS}/06_paper"
SEARCH = f"{RESULTS}/07_search"
REDSHIFT = f"{RESULTS}/08_redshift"

# ---------------------------------------------------------------- the config each stage comes from
# Each rule reading a results file carries `lineage=LINEAGE[stage]` in its params, a hash of
# every config section upstream of its inputs. Change any of them and every downstream job reruns
# (and so rebuilds whatever it needs, even a missing intermediate whose consumers still stand,
# which Snakemake alone would not): results never stand for a config that is no longer in force.
from deepcee.core.lineage import stage_hashes

LINEAGE = stage_hashes(config)

# Snakemake's rerun reason prints a changed param whole; say once, readably, which keys differ
# from the config that made this folder's last finished run (its provenance.json).
if workflow.is_main_process:
    from deepcee.core.lineage import changes_since_last_run

    _changed = changes_since_last_run(f"{RESULTS}/provenance.json", config)
    if _changed:
        print(
            f"Config changed since {RESULTS}/provenance.json (the jobs these keys shape, and all downstream, "
            "rerun): " + "; ".join(_changed),
            file=sys.stderr,
        )

# Each rules/*.smk appends the final artefacts of its stage here.
FINAL_TARGETS = []

# ---------------------------------------------------------------- config sections
# The config is validated (and its schema defaults filled) by the Snakefile before this file
# is read, so the sections below are complete.
_IMGCFG = config["images"]
IMAGE_SHARDS = list(range(int(_IMGCFG["shards"])))
EVAL_CFG = config["evaluate"]
KFOLD_K = int(EVAL_CFG["kfold"]["k"])
CLUSTER_SPLIT = bool(EVAL_CFG["cluster_split"]["enabled"])
RM_CFG = EVAL_CFG["redmapper"]
REDMAPPER_ENABLED = bool(RM_CFG["enabled"])
# The comparison views reuse the image stage's settings, on at most 4 shards (a few dozen views).
_RM_IMGCFG = config["images"]
RM_SHARDS = list(range(max(1, min(int(_RM_IMGCFG["shards"]), 4))))


# ---------------------------------------------------------------- catalogue (rules/catalogue.smk)
def catalogue_inputs(wildcards):
    """The source catalogues select_catalogue reads: the VizieR downloads or the bundled files."""
    cfg = config["catalogue"]
    if cfg["source"] == "vizier":
        return {"whl12": f"{VIZIER_RAW}/whl12.ecsv", "redmapper": f"{VIZIER_RAW}/redmapper.ecsv"}
    _check_bundled_sizes([*cfg["bundled"]["abell"], cfg["bundled"]["redmapper"]])
    return {"abell": cfg["bundled"]["abell"], "redmapper": cfg["bundled"]["redmapper"]}


def _check_bundled_sizes(paths):
    """Each bundled file an input function names checked against the size its PROVENANCE.md records
    (one stat each) while the DAG is built: a cut file, which still parses into a smaller sample or
    field, stops the run before the first job with one line. The jobs reading the files also check
    their sha256 (deepcee.core.bundled)."""
    from deepcee.core.bundled import check_bundled

    try:
        for path in paths:
            check_bundled(path, content=False)
    except DeepCeeError as err:
        sys.exit(f"ERROR: {err}")


# ---------------------------------------------------------------- images (rules/images.smk)
def _images_sub(*keys):
    """Only the images.* keys a rule uses, so a params change reruns exactly what it affects."""
    return {k: _IMGCFG[k] for k in keys if k in _IMGCFG}


# The catalogues the one mock sky holds (src/deepcee/images/mock/sky.py): every synthetic view is a
# cutout of that sky, so a render shard reads them and reruns when they change.
MOCK_SKY_INPUTS = {
    "sky_redmapper": config["catalogue"]["bundled"]["redmapper"],
    "sky_abell": config["catalogue"]["bundled"]["abell"],
}


def dir_seal(manifest, folder):
    """A params value that changes when a file of a shard's directory() output no longer matches
    the seal in its manifest (deleted, edited, added), so `snakemake -n` already lists the shard
    and everything downstream (deepcee.core.integrity). A function of the wildcards only: Snakemake
    records such params and compares them with the last run's."""
    from snakemake.io import IOFile

    from deepcee.core.integrity import recorded_marker, seal_marker

    def marker(wildcards):
        path = manifest.format(**dict(wildcards.items()))
        try:
            recorded = workflow.persistence.params(IOFile(path))
        except Exception:  # no metadata store (e.g. --lint): nothing recorded to compare with
            recorded = None
        return seal_marker(path, folder.format(**dict(wildcards.items())), recorded_marker(recorded))

    return marker


# ---------------------------------------------------------------- detector (rules/train.smk)
def _train_cfg():
    return config["train"]


def _train_uses_gpu():
    return str(_train_cfg()["device"]).startswith("cuda")


def _predict_uses_gpu():
    return str(_train_cfg()["predict"]["device"]).startswith("cuda")


def _centring_photometry():
    """redshift.photometry where predictions are centred on BCGs (else {}: changing it reruns nothing)."""
    if _train_cfg()["predict"]["centre"]["method"] == "bcg":
        return config["redshift"]["photometry"]
    return {}


# CUDA asked for where the jobs run here (the Snakefile has read the config files: _config_files).
from deepcee.core.config import check_local_cuda, cuda_requested

_CUDA_KEYS = cuda_requested(config)  # no torch import unless some device is "cuda"
_cuda_checked = []


def _jobs_run_here():
    """Whether this Snakemake runs the jobs on this machine: the main process (not a job that a
    cluster node runs) with the local executor. Known once the DAG is built, not at parse time.
    A dry run executes through the "dryrun" plugin whatever --executor says, but Snakemake sets
    use_threads for every non-local executor (snakemake/api.py), which tells the two apart."""
    plugin = workflow.executor_plugin
    if plugin is None or not workflow.is_main_process:
        return False
    return bool(plugin.common_settings.local_exec and not workflow.execution_settings.use_threads)


def local_cuda_check(wildcards):
    """Input function (no files) of the rules that use the device: a CUDA device asked for on a
    machine without one stops the run while the DAG is built, before the first job, with one line
    naming the config file and key. On a cluster the jobs run on GPU nodes: no check here."""
    if _CUDA_KEYS and not _cuda_checked and _jobs_run_here():
        _cuda_checked.append(True)
        try:
            check_local_cuda(config, _config_files, workflow.config_settings.config)
        except DeepCeeError as err:
            sys.exit(f"ERROR: {err}")
    return []


# ---------------------------------------------------------------- evaluate (rules/evaluate.smk)
def case_study_truth(wildcards):
    """What lies under each case-study box: the mock's truth tables, or SDSS spectroscopic redshifts."""
    if config["images"]["source"] == "mock":
        return expand(f"{IMAGES}/truth/truth_{{shard}}.ecsv", shard=IMAGE_SHARDS)
    return [f"{EVALUATE}/sdss_redshifts_test.ecsv"]


# The re-split sections configure rules of their own; the redMaPPer and real-sky sections only
# their own sets.
_EVALUATE_OWN_SECTIONS = ("kfold", "cluster_split", "redmapper", "real_sky")


def evaluate_params(keep_redmapper=False, keep=None):
    """The evaluate section as params of a sweep, less the sections other rules own (less
    evaluate.redmapper unless the sweep is the comparison set's, ``keep`` the section this
    sweep owns), so changing a re-split setting does not rerun the test-set evaluation."""
    kept = {"redmapper"} if keep_redmapper else set()
    kept |= {keep} if keep else set()
    dropped = tuple(s for s in _EVALUATE_OWN_SECTIONS if s not in kept)
    return lambda wildcards: {k: v for k, v in config["evaluate"].items() if k not in dropped}


def _deep_merge(base, over):
    out = dict(base or {})
    for key, value in (over or {}).items():
        out[key] = (
            _deep_merge(out.get(key), value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
        )
    return out


def _resplit_train_cfg(name):
    """The train section for a re-split model, with evaluate.kfold / cluster_split train_overrides."""
    section = "kfold" if str(name).startswith("kfold") else "cluster_split"
    return _deep_merge(config["train"], config["evaluate"][section]["train_overrides"])


# ---------------------------------------------------------------- redMaPPer (rules/redmapper.smk)
def _rm_images_params(*keys):
    return {k: _RM_IMGCFG[k] for k in keys if k in _RM_IMGCFG}


# ---------------------------------------------------------------- real sky (rules/real_sky.smk)
REALSKY = f"{EVALUATE}/real_sky"
REALSKY_CFG = EVAL_CFG["real_sky"]
# The mock's test views over a real blank field; a survey source's test views are real already.
REALSKY_ENABLED = bool(REALSKY_CFG["enabled"]) and _IMGCFG["source"] == "mock"
REALSKY_SHARDS = list(range(int(REALSKY_CFG["shards"])))


def real_sky_images_params():
    """The image stage's render settings with every view over a real test field (the views plan
    names each view's field; the fields come from 02_images/real_fields/test)."""
    mock = {**_IMGCFG["mock"], "background": "sdss_blank", "blank_frames": REALSKY_CFG["blank_frames"]}
    return {**_images_sub("source", "pixels", "pixel_scale_arcsec", "skyview"), "mock": mock}


# ---------------------------------------------------------------- search (rules/search.smk)
SEARCH_CFG = config["search"]
# The detector the search runs: this run's own unless search.model names another file.
SEARCH_MODEL = SEARCH_CFG["model"] or f"{TRAIN}/model.pt"
SEARCH_ENABLED = bool(SEARCH_CFG["enabled"])
SEARCH_SHARDS = list(range(int(SEARCH_CFG["shards"])))
REDSHIFT_ENABLED = bool(config["redshift"]["enabled"])
# The sets whose detections get a redshift and a richness (rules/redshift.smk).
REDSHIFT_SETS = {"test": f"{REDSHIFT}/detections_test.ecsv"}
if REDMAPPER_ENABLED:
    REDSHIFT_SETS["redmapper"] = f"{REDSHIFT}/detections_redmapper.ecsv"
SEARCH_OUTPUTS = {
    "candidates": f"{SEARCH}/candidates.ecsv",
    # the same candidates for TOPCAT and Aladin (units, UCDs, descriptions), and the searched footprint
    "candidates_fits": f"{SEARCH}/candidates.fits",
    "candidates_votable": f"{SEARCH}/candidates.vot",
    "footprint_moc": f"{SEARCH}/footprint_moc.fits",
    # injection and recovery (search.inject; mock sky): completeness per z x richness cell
    "injection_completeness": f"{TABLES}/search_injection_completeness.csv",
    "fig_injection_pdf": f"{FIGURES}/fig27_search_injection.pdf",
    "fig_injection_png": f"{FIGURES}/fig27_search_injection.png",
    # red-sequence confirmation (search.confirm): purity and injected completeness per red-excess cut
    "confirmation": f"{TABLES}/search_confirmation.csv",
    "fig_confirmation_pdf": f"{FIGURES}/fig28_search_confirmation.pdf",
    "fig_confirmation_png": f"{FIGURES}/fig28_search_confirmation.png",
    "summary": f"{SEARCH}/summary.json",
    "completeness_richness": f"{TABLES}/search_completeness_richness.csv",
    "completeness_z": f"{TABLES}/search_completeness_z.csv",
    "purity": f"{TABLES}/search_purity.csv",
    "new_csv": f"{TABLES}/table_search_new_candidates.csv",
    "new_tex": f"{TABLES}/table_search_new_candidates.tex",
    "fig_completeness_pdf": f"{FIGURES}/fig21_search_completeness.pdf",
    "fig_completeness_png": f"{FIGURES}/fig21_search_completeness.png",
    "fig_purity_pdf": f"{FIGURES}/fig22_search_purity.pdf",
    "fig_purity_png": f"{FIGURES}/fig22_search_purity.png",
    "fig_skymap_pdf": f"{FIGURES}/fig23_search_skymap.pdf",
    "fig_skymap_png": f"{FIGURES}/fig23_search_skymap.png",
}
# The candidates' redshifts and richnesses use the redshift stage's calibration (which depends on
# the image stage only: no cycle); with that stage disabled they are flagged instead.
SEARCH_CALIBRATION = {"calibration": f"{REDSHIFT}/calibration.json"} if REDSHIFT_ENABLED else {}


def search_params(*sections):
    """The config sections a search rule reads (a change reruns exactly those rules)."""
    return lambda wildcards: {k: config[k] for k in sections if k in config}


def search_moc_input(wildcards):
    """The MOC file, when the search reads one, is an input of the tiling."""
    return [SEARCH_CFG["moc"]] if SEARCH_CFG["moc"] else []


def search_uses_gpu():
    return str(SEARCH_CFG["device"]).startswith("cuda")


def search_shard_inputs(wildcards):
    """Tiles, the model, the bundled catalogues of the mock sky or the shard's downloads."""
    inputs = {"tiles": f"{SEARCH}/tiles.ecsv", "model": SEARCH_MODEL}
    if SEARCH_CFG["source"] == "mock":
        inputs["injected"] = f"{SEARCH}/injected.ecsv"
        inputs["redmapper"] = config["catalogue"]["bundled"]["redmapper"]
        inputs["abell"] = config["catalogue"]["bundled"]["abell"]
    else:
        inputs["downloads"] = f"{SEARCH}/downloads/shard_{wildcards.shard}.json"
    return inputs


# ---------------------------------------------------------------- paper (rules/paper.smk)
# Contract files of the upstream stages that the paper stage reads (docs/contracts.md).
PAPER_SOURCES = {
    "sample": f"{CATALOGUE}/sample.ecsv",
    "redmapper_catalogue": f"{CATALOGUE}/redmapper.ecsv",
    "catalogue_summary": f"{CATALOGUE}/summary.json",
    "labels": IMAGES_LABELS,
    "images_summary": f"{IMAGES}/summary.json",
    "losses": f"{TRAIN}/losses.csv",
    "train_summary": f"{TRAIN}/summary.json",
    "sweep_test": f"{TABLES}/table2_sweep_test.csv",
    "sweep_redmapper": f"{TABLES}/table3_sweep_redmapper.csv",
    "evaluate_summary": f"{EVALUATE}/summary.json",
    "ks": f"{EVALUATE}/ks_test.json",
    "redmapper_summary": f"{REDMAPPER}/summary.json",
    "redmapper_labels": f"{REDMAPPER}/labels.ecsv",
    "predictions_test": f"{EVALUATE}/predictions_test.ecsv",
    "predictions_redmapper": f"{REDMAPPER}/predictions.ecsv",
    "distances_test": f"{EVALUATE}/distances_test.ecsv",
}
# The redMaPPer comparison's files: with the stage off (evaluate.redmapper.enabled: false) they are
# dropped, so no job of rules/redmapper.smk is scheduled and the paper says nothing of the stage
# (paper/ms.tex guards its text on the stage's Table 3, \ifartefact{table3}).
REDMAPPER_PAPER_SOURCES = ("sweep_redmapper", "redmapper_summary", "redmapper_labels", "predictions_redmapper")
if not REDMAPPER_ENABLED:
    for _key in REDMAPPER_PAPER_SOURCES:
        del PAPER_SOURCES[_key]
PAPER_SUMMARIES = ["catalogue_summary", "images_summary", "train_summary", "evaluate_summary"]
PAPER_SUMMARIES += ["redmapper_summary"] if REDMAPPER_ENABLED else []
# The redMaPPer comparison's files that the paper's numbers read, where the stage runs.
REDMAPPER_NUMBERS = [k for k in ("sweep_redmapper", "redmapper_summary", "redmapper_labels") if k in PAPER_SOURCES]
# The stages beyond the paper feed its numbers and provenance when they run.
BEYOND_PAPER_SUMMARIES = []
if SEARCH_ENABLED:
    PAPER_SOURCES["search_summary"] = f"{SEARCH}/summary.json"
    # for the audit notebook's search section (footprint, injected truth, completeness, purity)
    PAPER_SOURCES["search_tiles"] = f"{SEARCH}/tiles.ecsv"
    PAPER_SOURCES["search_injected"] = f"{SEARCH}/injected.ecsv"
    PAPER_SOURCES["search_candidates"] = SEARCH_OUTPUTS["candidates"]
    PAPER_SOURCES["search_purity"] = SEARCH_OUTPUTS["purity"]
    PAPER_SOURCES["search_confirmation"] = SEARCH_OUTPUTS["confirmation"]
    PAPER_SOURCES["search_injection_completeness"] = SEARCH_OUTPUTS["injection_completeness"]
    BEYOND_PAPER_SUMMARIES.append("search_summary")
if REALSKY_ENABLED:
    PAPER_SOURCES["real_sky_summary"] = f"{REALSKY}/summary.json"
    PAPER_SOURCES["blank_sky_summary"] = f"{REALSKY}/blank/summary.json"
    # for the audit notebook's real-sky section (views per field with truth and boxes)
    PAPER_SOURCES["real_sky_views"] = f"{REALSKY}/views.ecsv"
    PAPER_SOURCES["real_sky_labels"] = f"{REALSKY}/labels.ecsv"
    PAPER_SOURCES["real_sky_predictions"] = f"{REALSKY}/predictions.ecsv"
    PAPER_SOURCES["real_sky_fields"] = f"{TABLES}/table_real_sky_fields.csv"
    PAPER_SOURCES["real_sky_members"] = f"{TABLES}/table_real_sky_members.csv"
    PAPER_SOURCES["blank_detections"] = f"{REALSKY}/blank/detections.ecsv"
    BEYOND_PAPER_SUMMARIES += ["real_sky_summary", "blank_sky_summary"]
if config["images"]["source"] == "mock":
    PAPER_SOURCES["realism_summary"] = f"{IMAGES}/realism.json"
    BEYOND_PAPER_SUMMARIES.append("realism_summary")
if REDSHIFT_ENABLED:
    PAPER_SOURCES["redshift_summary"] = f"{REDSHIFT}/summary.json"
    # for the audit notebook's redshift section (z and λ against the catalogue's, per set)
    PAPER_SOURCES.update({f"redshift_{name}": path for name, path in REDSHIFT_SETS.items()})
    BEYOND_PAPER_SUMMARIES.append("redshift_summary")
PAPER_SUMMARIES += BEYOND_PAPER_SUMMARIES

# Every file under resources/ (the bundled inputs the provenance record hashes), listed here
# rather than found on disk, so the DAG never depends on what happens to lie in the folder.
# tests/test_workflow_dag.py checks this list against the folder.
PAPER_RESOURCES = [
    "resources/README.md",
    "resources/abell-aco-vii110a/PROVENANCE.md",
    "resources/abell-aco-vii110a/abell_north.tsv",
    "resources/abell-aco-vii110a/abell_south.tsv",
    "resources/mcxc-clusterdb/PROVENANCE.md",
    "resources/mcxc-clusterdb/mcxc.csv.gz",
    "resources/redmapper-sdss-dr8-v5.10/PROVENANCE.md",
    "resources/redmapper-sdss-dr8-v5.10/sdss_redmapper.csv.gz",
    "resources/sdss-frame-r-redmapper-cluster/PROVENANCE.md",
    "resources/sdss-frame-r-redmapper-cluster/frame-r-ra138.090-dec21.498-redshift0.282.fits.bz2",
    "resources/sdss-frames-run1035-camcol6-field17-gri/PROVENANCE.md",
    "resources/sdss-frames-run1035-camcol6-field17-gri/frame-g-001035-6-0017.fits.bz2",
    "resources/sdss-frames-run1035-camcol6-field17-gri/frame-i-001035-6-0017.fits.bz2",
    "resources/sdss-frames-run1035-camcol6-field17-gri/frame-r-001035-6-0017.fits.bz2",
    "resources/sdss-frames-run1043-camcol5-field25-gri/PROVENANCE.md",
    "resources/sdss-frames-run1043-camcol5-field25-gri/frame-g-001043-5-0025.fits.bz2",
    "resources/sdss-frames-run1043-camcol5-field25-gri/frame-i-001043-5-0025.fits.bz2",
    "resources/sdss-frames-run1043-camcol5-field25-gri/frame-r-001043-5-0025.fits.bz2",
    "resources/sdss-frames-run1992-camcol1-field87-gri/PROVENANCE.md",
    "resources/sdss-frames-run1992-camcol1-field87-gri/frame-g-001992-1-0087.fits.bz2",
    "resources/sdss-frames-run1992-camcol1-field87-gri/frame-i-001992-1-0087.fits.bz2",
    "resources/sdss-frames-run1992-camcol1-field87-gri/frame-r-001992-1-0087.fits.bz2",
    "resources/sdss-frames-run2126-camcol1-gri/PROVENANCE.md",
    "resources/sdss-frames-run2126-camcol1-gri/rand_img-g-ra174.034-dec3.910-redshift0.294.fits.bz2",
    "resources/sdss-frames-run2126-camcol1-gri/rand_img-i-ra174.034-dec3.910-redshift0.294.fits.bz2",
    "resources/sdss-frames-run2126-camcol1-gri/rand_img-r-ra174.034-dec3.910-redshift0.294.fits.bz2",
    "resources/sdss-frames-run3184-camcol2-field169-gri/PROVENANCE.md",
    "resources/sdss-frames-run3184-camcol2-field169-gri/frame-g-003184-2-0169.fits.bz2",
    "resources/sdss-frames-run3184-camcol2-field169-gri/frame-i-003184-2-0169.fits.bz2",
    "resources/sdss-frames-run3184-camcol2-field169-gri/frame-r-003184-2-0169.fits.bz2",
    "resources/sdss-frames-run3918-camcol3-field213-gri/PROVENANCE.md",
    "resources/sdss-frames-run3918-camcol3-field213-gri/frame-g-003918-3-0213.fits.bz2",
    "resources/sdss-frames-run3918-camcol3-field213-gri/frame-i-003918-3-0213.fits.bz2",
    "resources/sdss-frames-run3918-camcol3-field213-gri/frame-r-003918-3-0213.fits.bz2",
    "resources/sdss-frames-run4510-camcol4-field30-gri/PROVENANCE.md",
    "resources/sdss-frames-run4510-camcol4-field30-gri/frame-g-004510-4-0030.fits.bz2",
    "resources/sdss-frames-run4510-camcol4-field30-gri/frame-i-004510-4-0030.fits.bz2",
    "resources/sdss-frames-run4510-camcol4-field30-gri/frame-r-004510-4-0030.fits.bz2",
    "resources/sdss-frames-run5390-camcol2-gri/PROVENANCE.md",
    "resources/sdss-frames-run5390-camcol2-gri/rand_img-g-ra191.052-dec16.855-redshift0.265.fits.bz2",
    "resources/sdss-frames-run5390-camcol2-gri/rand_img-i-ra191.052-dec16.855-redshift0.265.fits.bz2",
    "resources/sdss-frames-run5390-camcol2-gri/rand_img-r-ra191.052-dec16.855-redshift0.265.fits.bz2",
    "resources/sdss-frames-run5405-camcol6-field99-gri/PROVENANCE.md",
    "resources/sdss-frames-run5405-camcol6-field99-gri/frame-g-005405-6-0099.fits.bz2",
    "resources/sdss-frames-run5405-camcol6-field99-gri/frame-i-005405-6-0099.fits.bz2",
    "resources/sdss-frames-run5405-camcol6-field99-gri/frame-r-005405-6-0099.fits.bz2",
    "resources/sdss-frames-run7264-camcol3-field111-gri/PROVENANCE.md",
    "resources/sdss-frames-run7264-camcol3-field111-gri/frame-g-007264-3-0111.fits.bz2",
    "resources/sdss-frames-run7264-camcol3-field111-gri/frame-i-007264-3-0111.fits.bz2",
    "resources/sdss-frames-run7264-camcol3-field111-gri/frame-r-007264-3-0111.fits.bz2",
    "resources/sdss-frames-run8162-camcol6-field80-gri/PROVENANCE.md",
    "resources/sdss-frames-run8162-camcol6-field80-gri/frame-g-008162-6-0080.fits.bz2",
    "resources/sdss-frames-run8162-camcol6-field80-gri/frame-i-008162-6-0080.fits.bz2",
    "resources/sdss-frames-run8162-camcol6-field80-gri/frame-r-008162-6-0080.fits.bz2",
    "resources/sdss-gri-ngc6976-reprojected/PROVENANCE.md",
    "resources/sdss-gri-ngc6976-reprojected/reprojected_sdss_g.fits.bz2",
    "resources/sdss-gri-ngc6976-reprojected/reprojected_sdss_i.fits.bz2",
    "resources/sdss-gri-ngc6976-reprojected/reprojected_sdss_r.fits.bz2",
]

PAPER_OUTPUTS = {
    "numbers": f"{RESULTS}/numbers.tex",
    "numbers_json": f"{PAPER_STAGE}/numbers.json",
    "comparison": f"{TABLES}/table_comparison.tex",
    "comparison_csv": f"{TABLES}/table_comparison.csv",
    "comparison_sweeps": f"{TABLES}/table_comparison_sweeps.tex",
    "comparison_sweeps_csv": f"{TABLES}/table_comparison_sweeps.csv",
    "provenance": f"{RESULTS}/provenance.json",
    "audit_summary": f"{PAPER_STAGE}/audit_summary.json",
    "audit_html": f"{RESULTS}/audit.html",
    "pdf": f"{PAPER_BUILD}/ms.pdf",
}
AUDIT_NOTEBOOK_EXECUTED = f"{LOGS}/paper/audit.py.ipynb"


def paper_sources(*names):
    """The named upstream contract files (all of them when none is named), every one declared."""
    return {k: PAPER_SOURCES[k] for k in (names or tuple(PAPER_SOURCES))}


def _paper_upstream(wildcards):
    """Every final artefact of the other stages: the paper is built after all of them."""
    own = set(PAPER_OUTPUTS.values())
    return sorted({t for t in FINAL_TARGETS if t not in own})


def _config_without_paper():
    return {k: v for k, v in config.items() if k != "paper"}


def config_files():
    """The config files of this run, as the provenance record names them."""
    return [str(f) for f in (workflow.overwrite_configfiles or [])] or ["config.yaml"]


# ---------------------------------------------------------------- real SDSS fields (rules/images.smk)
# Each bundled field has one role (docs/real-sky.md, "Real fields and the real-sky test"): the training fields' sky may be under
# training views (images.mock.blank_frames); the test fields' only under the real-sky test
# (evaluate.real_sky.blank_frames). Core.config refuses a field named in both.
from deepcee.core.sdss import field_folders, field_name

REAL_FIELD_FOLDERS = {
    "train": field_folders(_IMGCFG["mock"]["blank_frames"]),
    "test": field_folders(config["evaluate"]["real_sky"]["blank_frames"]),
}
# The training views need the training fields only where the plan can give them a real sky.
TRAIN_ON_REAL_SKY = _IMGCFG["source"] == "mock" and (
    float(_IMGCFG["mock"]["real_background_fraction"]) > 0 or _IMGCFG["mock"]["background"] == "sdss_blank"
)


def real_field_frames(wildcards):
    """The g, r, i frame files of every field of one role (a changed frame reruns the role)."""
    return real_field_frame_files(wildcards.role)


def real_field_frame_files(*roles):
    """The g, r, i frame files of every field of these roles; a field missing a band, or whose bands
    are of different SDSS runs, stops the run here, before the first job (its headers alone are
    read: a few ms a frame)."""
    from deepcee.images.mock.real_fields import blank_frame_paths, check_field_frames

    folders = [folder for role in roles for folder in REAL_FIELD_FOLDERS[role]]
    try:
        frames = [str(p) for folder in folders for p in blank_frame_paths(folder).values()]
        _check_bundled_sizes(frames)
        for folder in folders:
            check_field_frames(folder)
    except DeepCeeError as err:
        sys.exit(f"ERROR: {err}")
    return frames


# The real-galaxy library (rules/images.smk, images_galaxy_library): built wherever a view can
# draw real members from it (images.mock.members or the real-sky test's real kind).
from deepcee.core.sdss import library_pixel_scale

GALAXY_LIBRARY_SCALE = library_pixel_scale(float(_IMGCFG["pixel_scale_arcsec"]))
GALAXY_LIBRARY_FILES = {
    "library_table": f"{IMAGES}/galaxy_library/library.ecsv",
    "library_stamps": f"{IMAGES}/galaxy_library/stamps.npz",
}
REALSKY_MEMBER_KINDS = list(REALSKY_CFG["member_kinds"])
TRAIN_ON_REAL_MEMBERS = TRAIN_ON_REAL_SKY and _IMGCFG["mock"]["members"] != "galsim"
SKY_FROM_LIBRARY = _IMGCFG["source"] == "mock" and _IMGCFG["mock"]["sky_objects"] == "real"
GALAXY_LIBRARY_ENABLED = (
    _IMGCFG["source"] == "mock"
    and bool(REAL_FIELD_FOLDERS["train"])
    and bool(REAL_FIELD_FOLDERS["test"])
    and GALAXY_LIBRARY_SCALE is not None
)
if (
    TRAIN_ON_REAL_MEMBERS or SKY_FROM_LIBRARY or (REALSKY_ENABLED and "real" in REALSKY_MEMBER_KINDS)
) and not GALAXY_LIBRARY_ENABLED:
    sys.exit(
        "ERROR: images.mock.members / images.mock.sky_objects / evaluate.real_sky.member_kinds ask for real "
        "galaxies, but the galaxy library cannot be built (it needs images.source: mock and both training and "
        "test fields)"
    )


def training_galaxy_library(wildcards):
    """The galaxy library, where the image stage's views draw real members or sky objects from it."""
    return GALAXY_LIBRARY_FILES if TRAIN_ON_REAL_MEMBERS or SKY_FROM_LIBRARY else {}


def sky_galaxy_library(wildcards):
    """The galaxy library, where the synthetic sky's bright objects are drawn from it."""
    return GALAXY_LIBRARY_FILES if SKY_FROM_LIBRARY else {}


def real_sky_galaxy_library(wildcards):
    """The galaxy library, where the real-sky test has a real-member kind."""
    return GALAXY_LIBRARY_FILES if "real" in REALSKY_MEMBER_KINDS else {}


def training_negatives(wildcards):
    """The hard negatives (images.mock.negative_fraction), where the views plan makes any."""
    if float(_IMGCFG["mock"].get("negative_fraction", 0.0)) > 0:
        return {"negatives": f"{IMAGES}/negatives.ecsv"}
    return {}


def training_real_fields(wildcards):
    """The prepared training fields, where the training views use them."""
    return {"real_fields": f"{IMAGES}/real_fields/train.json"} if TRAIN_ON_REAL_SKY else {}
