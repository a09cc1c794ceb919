"""Rule real_sky_evaluate: the Table 2 sweep on the test views over a real SDSS sky, beside the synthetic one."""

from deepcee.core.files import run_script
from deepcee.evaluate.stage import evaluate_real_sky


def main(sm):
    o = sm.output
    q = evaluate_real_sky(
        sm.input.predictions,
        sm.input.labels,
        sm.input.synthetic,
        out={"sweep_csv": o.sweep_csv, "sweep_tex": o.sweep_tex, "summary": o.summary},
        cfg=sm.params.evaluate,
        config=sm.params.evaluate,
        seed=sm.params.seed,
    )
    at = q["at_chosen"]
    print(
        f"real sky ({q['blank_frames']}): {q['n_test_images']} images; best threshold {q['chosen_threshold']:g}%: "
        f"TP={at['tp']} FP={at['fp']} FN={at['fn']} F1={at['f1']:.4f} (synthetic F1 "
        f"{q['synthetic']['at_chosen']['f1']:.4f}; gap {q['f1_gap']:+.4f})"
    )


run_script(main, snakemake)
