"""Rule redmapper_evaluate: the same sweep on the redMaPPer comparison set -> Table 3 + summary."""

from deepcee.core.files import run_script
from deepcee.evaluate.stage import evaluate_redmapper


def main(snakemake):
    o = snakemake.output
    q = evaluate_redmapper(
        snakemake.input.predictions,
        snakemake.input.labels,
        snakemake.input.region,
        out={
            "sweep_csv": o.sweep_csv,
            "sweep_tex": o.sweep_tex,
            "distances": o.distances,
            "ks": o.ks,
            "recovered": o.recovered,
            "summary": o.summary,
        },
        cfg=snakemake.params.evaluate,
        config=snakemake.params.evaluate,
        seed=snakemake.params.seed,
    )
    at = q["at_chosen"]
    print(
        f"redMaPPer set: {q['n_test_images']} images; best threshold {q['chosen_threshold']:g}%: "
        f"TP={at['tp']} FP={at['fp']} FN={at['fn']} F1={at['f1']:.4f}"
    )


run_script(main, snakemake)
