# Stage 3 — train the detector and predict on the test set (paper §2.1, §3.1; docs/design.md §5).
#
#   train_detector  labels.ecsv + PNGs → model.pt, losses.csv, summary.json
#                   checkpoints + live losses in results/03_train/checkpoints/<config>-<labels>/
#                   (one folder per train config and labels file; the 3 newest kept) and TensorBoard
#                   events in results/03_train/tensorboard/ are NOT outputs: a failed or killed
#                   job keeps them and rerunning the rule resumes from the last checkpoint.
#                   To start over: rm -r results/03_train/checkpoints
#   predict_test    model.pt + test PNGs → results/04_evaluate/predictions_test.ecsv
#   training_figures losses.csv → Figures 5, 6 and Table A1
#   fig01_architecture model.pt → Figure 1 (the network as built)
#
# TRAIN, IMAGES_LABELS, _train_cfg and the GPU checks are in rules/common.smk.


rule train_detector:
    """Train (or resume) the Faster R-CNN on the training split (paper §2.1)."""
    input:
        unpack(training_negatives),
        labels=IMAGES_LABELS,
        cuda=local_cuda_check,  # no file: CUDA checked before the first job (Snakefile)
    output:
        model=f"{TRAIN}/model.pt",
        losses=f"{TRAIN}/losses.csv",
        summary=f"{TRAIN}/summary.json",
    log:
        f"{LOGS}/train/train_detector.log",
    # the longest job: started as soon as the labels exist, before jobs that do not feed it
    priority: 50
    conda:
        "../envs/train.yaml"
    threads: int(_train_cfg().get("threads") or 2)
    resources:
        gpu=1 if _train_uses_gpu() else 0,
        mem_mb=16000 if _train_uses_gpu() else 6000,
        runtime=int(_train_cfg().get("runtime_min") or 240),
    params:
        lineage=LINEAGE["train"],
        train=lambda wc: _train_cfg(),
        seed=config["seed"],
        checkpoints=f"{TRAIN}/checkpoints",
        tensorboard=f"{TRAIN}/tensorboard",
    script:
        "../scripts/train_detector.py"


rule predict_test:
    """Every box with its score on the test images (score threshold 0, 300 per image)."""
    input:
        model=f"{TRAIN}/model.pt",
        labels=IMAGES_LABELS,
        cuda=local_cuda_check,
    output:
        predictions=f"{RESULTS}/04_evaluate/predictions_test.ecsv",
    log:
        f"{LOGS}/train/predict_test.log",
    conda:
        "../envs/train.yaml"
    threads: int(_train_cfg()["predict"]["threads"])
    resources:
        gpu=1 if _predict_uses_gpu() else 0,
    params:
        lineage=LINEAGE["train"],
        split="test",
        predict=lambda wc: _train_cfg().get("predict", {}),
        photometry=lambda wc: _centring_photometry(),
    script:
        "../scripts/predict_images.py"


rule training_figures:
    """Figures 5 (total loss) and 6 (RPN and DN losses) and Table A1 from losses.csv."""
    input:
        losses=f"{TRAIN}/losses.csv",
    output:
        fig05_pdf=report(
            f"{FIGURES}/fig05_total_loss.pdf", caption="../report/fig05_total_loss.rst", category="Training"
        ),
        fig05_png=f"{FIGURES}/fig05_total_loss.png",
        fig06_pdf=report(
            f"{FIGURES}/fig06_loss_components.pdf", caption="../report/fig06_loss_components.rst", category="Training"
        ),
        fig06_png=f"{FIGURES}/fig06_loss_components.png",
        table_csv=report(f"{TABLES}/tableA1_losses.csv", caption="../report/tableA1_losses.rst", category="Training"),
        table_tex=f"{TABLES}/tableA1_losses.tex",
    log:
        f"{LOGS}/train/training_figures.log",
    conda:
        "../envs/train.yaml"
    params:
        lineage=LINEAGE["train"],
        figures=lambda wc: _train_cfg().get("figures", {}),
    script:
        "../scripts/train_figures.py"


rule fig01_architecture:
    """Figure 1: the detector's architecture, read back from the trained model (backbone, maps, anchors, RPN, DN)."""
    input:
        model=f"{TRAIN}/model.pt",
    output:
        pdf=report(f"{FIGURES}/fig01_architecture.pdf", caption="../report/fig01_architecture.rst", category="Training"),
        png=f"{FIGURES}/fig01_architecture.png",
    log:
        f"{LOGS}/train/fig01_architecture.log",
    conda:
        "../envs/train.yaml"
    params:
        lineage=LINEAGE["train"],
    script:
        "../scripts/train_fig01.py"


FINAL_TARGETS += [
    f"{FIGURES}/fig01_architecture.pdf",
    f"{FIGURES}/fig01_architecture.png",
    f"{TRAIN}/model.pt",
    f"{TRAIN}/summary.json",
    f"{RESULTS}/04_evaluate/predictions_test.ecsv",
    f"{FIGURES}/fig05_total_loss.pdf",
    f"{FIGURES}/fig05_total_loss.png",
    f"{FIGURES}/fig06_loss_components.pdf",
    f"{FIGURES}/fig06_loss_components.png",
    f"{TABLES}/tableA1_losses.csv",
    f"{TABLES}/tableA1_losses.tex",
]
