"""Rule evaluate_test: Table 2, distances, KS tests, Table 1 and the summary for the test set."""

from deepcee.core.files import run_script
from deepcee.evaluate.stage import evaluate_test


def main(snakemake):
    o = snakemake.output
    q = evaluate_test(
        snakemake.input.predictions,
        snakemake.input.labels,
        out={
            "sweep_csv": o.sweep_csv,
            "sweep_tex": o.sweep_tex,
            "distances": o.distances,
            "ks": o.ks,
            "recovered": o.recovered,
            "table1_csv": o.table1_csv,
            "table1_tex": o.table1_tex,
            "summary": o.summary,
        },
        cfg=snakemake.params.evaluate,
        sample=snakemake.input.get("sample"),
        config=snakemake.params.evaluate,
        seed=snakemake.params.seed,
    )
    at = q["at_chosen"]
    line = (
        f"test set: {q['n_test_images']} images, {q['n_predictions']} boxes; chosen threshold "
        f"{q['chosen_threshold']:g}% ({q['chosen_by']}): TP={at['tp']} FP={at['fp']} FN={at['fn']} "
        f"P={at['precision']:.4f} R={at['recall']:.4f} F1={at['f1']:.4f}; sigma={q['sigma_kpc']:.2f} kpc"
    )
    print(line)


run_script(main, snakemake)
