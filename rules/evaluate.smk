# Stage 4 — evaluation of the test set (paper §3.1; docs/design.md §7), plus the beyond-the-paper
# re-splits (k-fold over clusters, one cluster-level hold-out split).
#
#   predictions_test.ecsv + labels.ecsv ──► evaluate_test ──► Table 2, Table 1, distances, KS, summary
#                                                         └──► Figs 7, 12, 13, 14, 15
#   + mock truth (02_images/truth/) or SDSS spectra ──► evaluate_case_studies ──► Figs 8-11, FP causes (table, Fig 18)
#   labels.ecsv ──► kfold_labels (fold i) ──► train (same script) ──► predict (same script) ──► sweep
#               └─► cluster_split_labels  ──► train ──► predict ──► sweep ──► tables
#
# EVALUATE, RESPLIT, KFOLD_K, CLUSTER_SPLIT, evaluate_params and _resplit_train_cfg are in
# rules/common.smk.


rule evaluate_test:
    """The paper's sweep over confidence thresholds on the test set, distances, σ, KS tests, Table 1."""
    input:
        predictions=f"{EVALUATE}/predictions_test.ecsv",
        labels=IMAGES_LABELS,
        sample=f"{RESULTS}/01_catalogue/sample.ecsv",
    output:
        sweep_csv=report(
            f"{TABLES}/table2_sweep_test.csv", caption="../report/table2_sweep_test.rst", category="Evaluation"
        ),
        sweep_tex=f"{TABLES}/table2_sweep_test.tex",
        table1_csv=report(
            f"{TABLES}/table1_examples.csv", caption="../report/table1_examples.rst", category="Evaluation"
        ),
        table1_tex=f"{TABLES}/table1_examples.tex",
        distances=f"{EVALUATE}/distances_test.ecsv",
        recovered=f"{EVALUATE}/recovered_test.ecsv",
        ks=f"{EVALUATE}/ks_test.json",
        summary=f"{EVALUATE}/summary.json",
    log:
        f"{LOGS}/evaluate/evaluate_test.log",
    conda:
        "../envs/evaluate.yaml"
    params:
        lineage=LINEAGE["evaluate"],
        evaluate=evaluate_params(),
        seed=config["seed"],
    script:
        "../scripts/evaluate_test.py"


rule fig07_examples:
    """Figure 7: the three Table 1 test clusters with the true box and predicted boxes + scores."""
    input:
        table1=f"{TABLES}/table1_examples.csv",
        recovered=f"{EVALUATE}/recovered_test.ecsv",
        predictions=f"{EVALUATE}/predictions_test.ecsv",
        summary=f"{EVALUATE}/summary.json",
    output:
        pdf=report(f"{FIGURES}/fig07_examples.pdf", caption="../report/fig07_examples.rst", category="Evaluation"),
        png=f"{FIGURES}/fig07_examples.png",
    log:
        f"{LOGS}/evaluate/fig07.log",
    conda:
        "../envs/evaluate.yaml"
    params:
        lineage=LINEAGE["evaluate"],
        figure="fig07",
        max_boxes=5,
    script:
        "../scripts/evaluate_figures.py"


rule fig12_precision_recall_test:
    input:
        sweep=f"{TABLES}/table2_sweep_test.csv",
        summary=f"{EVALUATE}/summary.json",
    output:
        pdf=report(
            f"{FIGURES}/fig12_precision_recall_test.pdf",
            caption="../report/fig12_precision_recall_test.rst",
            category="Evaluation",
        ),
        png=f"{FIGURES}/fig12_precision_recall_test.png",
    log:
        f"{LOGS}/evaluate/fig12.log",
    conda:
        "../envs/evaluate.yaml"
    params:
        lineage=LINEAGE["evaluate"],
        figure="fig12",
    script:
        "../scripts/evaluate_figures.py"


rule fig13_distances:
    input:
        distances=f"{EVALUATE}/distances_test.ecsv",
        summary=f"{EVALUATE}/summary.json",
    output:
        pdf=report(f"{FIGURES}/fig13_distances.pdf", caption="../report/fig13_distances.rst", category="Evaluation"),
        png=f"{FIGURES}/fig13_distances.png",
    log:
        f"{LOGS}/evaluate/fig13.log",
    conda:
        "../envs/evaluate.yaml"
    params:
        lineage=LINEAGE["evaluate"],
        figure="fig13",
    script:
        "../scripts/evaluate_figures.py"


rule fig14_offsets_recovered:
    input:
        recovered=f"{EVALUATE}/recovered_test.ecsv",
        summary=f"{EVALUATE}/summary.json",
    output:
        pdf=report(
            f"{FIGURES}/fig14_offsets_recovered.pdf",
            caption="../report/fig14_offsets_recovered.rst",
            category="Evaluation",
        ),
        png=f"{FIGURES}/fig14_offsets_recovered.png",
    log:
        f"{LOGS}/evaluate/fig14.log",
    conda:
        "../envs/evaluate.yaml"
    params:
        lineage=LINEAGE["evaluate"],
        figure="fig14",
    script:
        "../scripts/evaluate_figures.py"


rule fig15_properties_ks:
    input:
        recovered=f"{EVALUATE}/recovered_test.ecsv",
        ks=f"{EVALUATE}/ks_test.json",
        summary=f"{EVALUATE}/summary.json",
    output:
        pdf=report(
            f"{FIGURES}/fig15_properties_ks.pdf", caption="../report/fig15_properties_ks.rst", category="Evaluation"
        ),
        png=f"{FIGURES}/fig15_properties_ks.png",
    log:
        f"{LOGS}/evaluate/fig15.log",
    conda:
        "../envs/evaluate.yaml"
    params:
        lineage=LINEAGE["evaluate"],
        figure="fig15",
    script:
        "../scripts/evaluate_figures.py"


FINAL_TARGETS += [
    f"{TABLES}/table2_sweep_test.csv",
    f"{TABLES}/table2_sweep_test.tex",
    f"{TABLES}/table1_examples.csv",
    f"{TABLES}/table1_examples.tex",
    f"{EVALUATE}/distances_test.ecsv",
    f"{EVALUATE}/ks_test.json",
    f"{EVALUATE}/summary.json",
] + [
    f"{FIGURES}/{name}.{ext}"
    for name in (
        "fig07_examples",
        "fig12_precision_recall_test",
        "fig13_distances",
        "fig14_offsets_recovered",
        "fig15_properties_ks",
    )
    for ext in ("pdf", "png")
]


if config["images"].get("source", "mock") != "mock":

    # Real images have no mock truth: the case studies use SDSS spectra (needs the network).
    localrules:
        evaluate_sdss_redshifts,

    rule evaluate_sdss_redshifts:
        """SDSS spectroscopic redshifts around every test cluster (paper Figs 8-11), cached and retried."""
        input:
            labels=IMAGES_LABELS,
        output:
            truth=f"{EVALUATE}/sdss_redshifts_test.ecsv",
        log:
            f"{LOGS}/evaluate/sdss_redshifts.log",
        conda:
            "../envs/evaluate.yaml"
        params:
            lineage=LINEAGE["evaluate"],
            sdss=lambda wc: config["evaluate"].get("sdss_redshifts", {}),
        script:
            "../scripts/evaluate_sdss_redshifts.py"


rule evaluate_case_studies:
    """Figures 8-11 (four test images whose top box lies nearest 88, 158, 220, 1163 kpc from the
    centre, with the galaxies by redshift: the mock's truth, or SDSS spectra for real images) and
    every FP at the chosen threshold by cause."""
    input:
        predictions=f"{EVALUATE}/predictions_test.ecsv",
        labels=IMAGES_LABELS,
        sample=f"{RESULTS}/01_catalogue/sample.ecsv",
        truth=case_study_truth,
        distances=f"{EVALUATE}/distances_test.ecsv",
        recovered=f"{EVALUATE}/recovered_test.ecsv",
        summary=f"{EVALUATE}/summary.json",
    output:
        cases=f"{EVALUATE}/case_studies.ecsv",
        summary=f"{EVALUATE}/false_positives_summary.json",
        fp_ecsv=f"{EVALUATE}/false_positives.ecsv",
        fp_csv=report(
            f"{TABLES}/table_false_positives.csv",
            caption="../report/table_false_positives.rst",
            category="Beyond the paper",
        ),
        fp_tex=f"{TABLES}/table_false_positives.tex",
        fp_pdf=report(
            f"{FIGURES}/fig18_false_positives.pdf",
            caption="../report/fig18_false_positives.rst",
            category="Beyond the paper",
        ),
        fp_png=f"{FIGURES}/fig18_false_positives.png",
        fig08_pdf=f"{FIGURES}/fig08_case_study.pdf",
        fig08_png=f"{FIGURES}/fig08_case_study.png",
        fig09_pdf=f"{FIGURES}/fig09_case_study.pdf",
        fig09_png=f"{FIGURES}/fig09_case_study.png",
        fig10_pdf=f"{FIGURES}/fig10_case_study.pdf",
        fig10_png=f"{FIGURES}/fig10_case_study.png",
        fig11_pdf=f"{FIGURES}/fig11_case_study.pdf",
        fig11_png=f"{FIGURES}/fig11_case_study.png",
    log:
        f"{LOGS}/evaluate/case_studies.log",
    conda:
        "../envs/evaluate.yaml"
    params:
        lineage=LINEAGE["evaluate"],
        false_positives=lambda wc: config["evaluate"].get("false_positives", {}),
    script:
        "../scripts/evaluate_case_studies.py"


FINAL_TARGETS += [
    f"{EVALUATE}/case_studies.ecsv",
    f"{EVALUATE}/false_positives_summary.json",
    f"{TABLES}/table_false_positives.csv",
    f"{TABLES}/table_false_positives.tex",
] + [
    f"{FIGURES}/{name}.{ext}"
    for name in (
        "fig08_case_study",
        "fig09_case_study",
        "fig10_case_study",
        "fig11_case_study",
        "fig18_false_positives",
    )
    for ext in ("pdf", "png")
]


# ---------------------------------------------------------------- beyond the paper: re-splits
# Each re-split gets its own labels file; training and inference reuse the detector stage's
# scripts through `use rule ... with:` (see rules/train.smk), so nothing is re-implemented.


rule kfold_labels:
    """Fold {fold} of k: that fold's clusters are the test set, all other clusters train."""
    input:
        labels=IMAGES_LABELS,
    output:
        labels=f"{RESPLIT}/kfold{{k}}_fold{{fold}}/labels.ecsv",
    log:
        f"{LOGS}/evaluate/kfold{{k}}_fold{{fold}}_labels.log",
    conda:
        "../envs/evaluate.yaml"
    params:
        lineage=LINEAGE["evaluate"],
        kind="kfold",
        k=lambda wc: int(wc.k),
        fold=lambda wc: int(wc.fold),
        seed=config["seed"],
        test_fraction=None,
    script:
        "../scripts/evaluate_resplit.py"


rule cluster_split_labels:
    """One cluster-level hold-out split with the image stage's test fraction."""
    input:
        labels=IMAGES_LABELS,
    output:
        labels=f"{RESPLIT}/cluster_split/labels.ecsv",
    log:
        f"{LOGS}/evaluate/cluster_split_labels.log",
    conda:
        "../envs/evaluate.yaml"
    params:
        lineage=LINEAGE["evaluate"],
        kind="cluster",
        k=0,
        fold=0,
        seed=config["seed"],
        test_fraction=lambda wc: config["evaluate"].get("cluster_split", {}).get("test_fraction"),
    script:
        "../scripts/evaluate_resplit.py"


wildcard_constraints:
    k=r"\d+",
    fold=r"\d+",
    name=r"kfold\d+_fold\d+|cluster_split",


use rule train_detector as resplit_train with:
    input:
        labels=f"{RESPLIT}/{{name}}/labels.ecsv",
        cuda=local_cuda_check,
    output:
        model=f"{RESPLIT}/{{name}}/model.pt",
        losses=f"{RESPLIT}/{{name}}/losses.csv",
        summary=f"{RESPLIT}/{{name}}/train_summary.json",
    log:
        f"{LOGS}/evaluate/resplit_{{name}}_train.log",
    params:
        lineage=LINEAGE["evaluate"],
        train=lambda wc: _resplit_train_cfg(wc.name),
        seed=config["seed"],
        checkpoints=lambda wc: f"{RESPLIT}/{wc.name}/checkpoints",
        tensorboard=lambda wc: f"{RESPLIT}/{wc.name}/tensorboard",


use rule predict_test as resplit_predict with:
    input:
        model=f"{RESPLIT}/{{name}}/model.pt",
        labels=f"{RESPLIT}/{{name}}/labels.ecsv",
        cuda=local_cuda_check,
    output:
        predictions=f"{RESPLIT}/{{name}}/predictions_test.ecsv",
    log:
        f"{LOGS}/evaluate/resplit_{{name}}_predict.log",
    params:
        lineage=LINEAGE["evaluate"],


rule resplit_sweep:
    """A re-split model's sweep (same definitions as Table 2)."""
    input:
        predictions=f"{RESPLIT}/{{name}}/predictions_test.ecsv",
        labels=f"{RESPLIT}/{{name}}/labels.ecsv",
    output:
        csv=f"{RESPLIT}/{{name}}/sweep.csv",
        tex=f"{RESPLIT}/{{name}}/sweep.tex",
        summary=f"{RESPLIT}/{{name}}/summary.json",
    log:
        f"{LOGS}/evaluate/resplit_{{name}}_sweep.log",
    conda:
        "../envs/evaluate.yaml"
    params:
        lineage=LINEAGE["evaluate"],
        evaluate=evaluate_params(),
    script:
        "../scripts/evaluate_sweep.py"


rule kfold_table:
    """k-fold: mean ± std per threshold over the folds."""
    input:
        sweeps=expand(f"{RESPLIT}/kfold{KFOLD_K}_fold{{fold}}/sweep.csv", fold=range(KFOLD_K)),
    output:
        csv=report(f"{TABLES}/table_kfold.csv", caption="../report/table_kfold.rst", category="Beyond the paper"),
        tex=f"{TABLES}/table_kfold.tex",
        summary=f"{EVALUATE}/kfold_summary.json",
        pdf=report(
            f"{FIGURES}/figX1_precision_recall_kfold.pdf",
            caption="../report/figX1_precision_recall_kfold.rst",
            category="Beyond the paper",
        ),
        png=f"{FIGURES}/figX1_precision_recall_kfold.png",
    log:
        f"{LOGS}/evaluate/kfold_table.log",
    conda:
        "../envs/evaluate.yaml"
    params:
        lineage=LINEAGE["evaluate"],
    script:
        "../scripts/evaluate_kfold_table.py"


rule cluster_split_table:
    """The cluster-level split's sweep as a table (Table 2's columns)."""
    input:
        csv=f"{RESPLIT}/cluster_split/sweep.csv",
        tex=f"{RESPLIT}/cluster_split/sweep.tex",
    output:
        csv=report(
            f"{TABLES}/table_cluster_split.csv",
            caption="../report/table_cluster_split.rst",
            category="Beyond the paper",
        ),
        tex=f"{TABLES}/table_cluster_split.tex",
    log:
        f"{LOGS}/evaluate/cluster_split_table.log",
    params:
        lineage=LINEAGE["evaluate"],
    run:
        import shutil

        shutil.copyfile(input.csv, output.csv)
        shutil.copyfile(input.tex, output.tex)


if KFOLD_K >= 2:
    FINAL_TARGETS += [
        f"{TABLES}/table_kfold.csv",
        f"{TABLES}/table_kfold.tex",
        f"{EVALUATE}/kfold_summary.json",
        f"{FIGURES}/figX1_precision_recall_kfold.pdf",
        f"{FIGURES}/figX1_precision_recall_kfold.png",
    ]
if CLUSTER_SPLIT:
    FINAL_TARGETS += [f"{TABLES}/table_cluster_split.csv", f"{TABLES}/table_cluster_split.tex"]
