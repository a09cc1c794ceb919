"""Rule real_sky_evaluate: the Table 2 sweep on the test views over a real SDSS sky, beside the synthetic one."""

from deepcee.core.files import run_script
from deepcee.evaluate.stage import evaluate_real_sky


def main(sm):
    o = sm.output
    q = evaluate_real_sky(
        sm.input.predictions,
        sm.input.labels,
        sm.input.synthetic,
        out={
            "sweep_csv": o.sweep_csv,
            "sweep_tex": o.sweep_tex,
            "fields_csv": o.fields_csv,
            "fields_tex": o.fields_tex,
            "field_sweeps_csv": o.field_sweeps_csv,
            "members_csv": o.members_csv,
            "members_tex": o.members_tex,
            "summary": o.summary,
        },
        cfg=sm.params.evaluate,
        config=sm.params.evaluate,
        seed=sm.params.seed,
        views=sm.input.views,
    )
    at = q["at_chosen"]
    print(
        f"real sky ({q['blank_frames']}): {q['n_test_images']} images; best threshold {q['chosen_threshold']:g}%: "
        f"TP={at['tp']} FP={at['fp']} FN={at['fn']} F1={at['f1']:.4f} (synthetic F1 "
        f"{q['synthetic']['at_chosen']['f1']:.4f}; gap {q['f1_gap']:+.4f})"
    )
    members = q.get("members", {})
    if "real" in members:
        r = members["real"]
        print(
            f"  real-galaxy members: {r['views']} images, F1 {r['at_chosen']['f1']:.3f} "
            f"[{r['f1_interval'][0]:.3f}, {r['f1_interval'][1]:.3f}] at its best {r['chosen_threshold']:g}%; "
            f"{r['at_galsim_threshold']['f1']:.3f} at the galsim threshold"
        )
    for kind in ("scattered", "blank"):
        if kind in members:
            c = members[kind]
            print(
                f"  {kind}: {c['views_with_box']} of {c['views']} views with a box > {c['threshold']:g}% "
                f"({100 * c['fraction_with_box']:.1f}% [{100 * c['fraction_lo']:.1f}, {100 * c['fraction_hi']:.1f}])"
            )
    for row in q.get("fields", []):
        print(
            f"  {row['field']}: {row['images']} images, F1 {row['f1']:.3f} [{row['f1_lo']:.3f}, {row['f1_hi']:.3f}] "
            f"at {row['threshold']:g}% (own best {row['best_f1']:.3f} at {row['best_threshold']:g}%)"
        )


run_script(main, snakemake)
