"""Case studies (paper §3.1, Figs 8-11) and, beyond the paper, why each false positive happened.

The paper shows four test clusters whose predicted centres lie 88, 158, 220 and 1,163 kpc
from the catalogue centre, with the spectroscopic redshifts of the galaxies around them, to
ask whether an "error" is a real structure. On the mock sky the truth is known: the image
stage writes every rendered object with its redshift and what it belongs to
(``deepcee.images.mock.render.TRUTH_COLUMNS``), so the same question can be answered for every
false positive. With real images the truth table is made of SDSS spectra in the same layout
(``deepcee.evaluate.sdss_redshifts``): no groups are known there, and spectra have no
magnitudes, so every spectrum is drawn.

**Choosing the four cases.** A test image's *predicted centre* is the centre of its
highest-scoring box (any score; ties: the closer box). For each of the paper's distances in
turn, the image whose predicted-centre distance is nearest is taken, one image per
catalogue cluster, ties broken by view name.

**Classes of false positives** at the chosen threshold (every passing box but the one
true-positive box of each found cluster; ``metrics`` with ``extra_boxes: count_as_fp``),
first match wins:

1. ``duplicate on the found target`` -- within ``distance_kpc`` of a cluster already found
   (an FP only under the paper's counting);
2. ``on another catalogued cluster`` -- within ``distance_kpc`` of another sample cluster
   (at that cluster's redshift). The mock draws only each view's own cluster, so on the
   mock this class measures position coincidence only;
3. ``on an uncatalogued group`` -- within ``on_kpc`` of a mock group's central galaxy, at
   the group's redshift;
4. ``on a bright star or foreground galaxy`` -- within ``on_arcsec`` of a star brighter than
   ``bright_star_mag`` or of a foreground (z < 0.05) galaxy;
5. ``near the target but > distance_kpc`` -- within ``near_kpc`` of the image's true cluster;
6. ``nothing`` -- none of the above.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from astropy.table import Table, vstack

from deepcee.core.config import with_defaults
from deepcee.core.contracts import read_table, rows_table, write_table
from deepcee.core.cosmology import arcsec_to_kpc
from deepcee.core.errors import DeepCeeError
from deepcee.core.text import latex_escape
from deepcee.evaluate import metrics

PAPER_CASE_DISTANCES_KPC = (88.0, 158.0, 220.0, 1163.0)
FP_CLASSES = (
    "duplicate on the found target",
    "on another catalogued cluster",
    "on an uncatalogued group",
    "on a bright star or foreground galaxy",
    "near the target but > 100 kpc",
    "nothing",
)


def read_truth(paths, views=None) -> Table:
    """The mock truth of the given views (all views when ``views`` is None) from the per-shard ECSVs."""
    parts = []
    wanted = None if views is None else {str(v) for v in views}
    for path in paths:
        path = Path(path)
        if not path.is_file():
            raise DeepCeeError(f"{path}: mock truth table not found (images.source must be mock)")
        t = read_table("truth", path)
        if wanted is not None:
            t = t[np.isin(np.asarray(t["view"], dtype=str), sorted(wanted))]
        parts.append(t)
    if not parts:
        raise DeepCeeError("mock truth: no truth files given")
    return vstack(parts, metadata_conflicts="silent")


def _sep_arcsec(ra1, dec1, ra2, dec2):
    from astropy.coordinates import angular_separation

    rad = angular_separation(np.radians(ra1), np.radians(dec1), np.radians(ra2), np.radians(dec2))
    return np.degrees(np.asarray(rad, dtype=float)) * 3600.0


# --------------------------------------------------------------------------- the four cases
def top_boxes(matched: Table, n_truth: int) -> Table:
    """Per truth row: the highest-scoring box (ties: the closer); rows with no box are absent."""
    if len(matched) == 0:
        return matched[:0]
    score = np.asarray(matched["score"], dtype=float)
    dist = np.asarray(matched["distance_kpc"], dtype=float)
    idx = np.asarray(matched["truth_index"], dtype=int)
    order = np.lexsort((dist, -score, idx))
    first = np.ones(len(order), dtype=bool)
    first[1:] = idx[order][1:] != idx[order][:-1]
    return matched[order[first]]


def pick_case_studies(truth: Table, matched: Table, targets=PAPER_CASE_DISTANCES_KPC) -> list[dict]:
    """The test images whose predicted-centre distance is nearest each target (see module doc)."""
    top = top_boxes(matched, len(truth))
    clusters = [str(c) for c in truth["cluster_id"]]
    pool = sorted(
        ((int(r["truth_index"]), float(r["distance_kpc"]), r) for r in top), key=lambda p: str(truth["view"][p[0]])
    )
    chosen: list[dict] = []
    for target in targets:
        used = {c["cluster_id"] for c in chosen}
        left = [p for p in pool if clusters[p[0]] not in used] or [
            p for p in pool if p[0] not in {c["truth_index"] for c in chosen}
        ]
        if not left:
            break
        i, d, row = min(left, key=lambda p: abs(p[1] - target))
        chosen.append(
            {
                "target_kpc": float(target),
                "truth_index": i,
                "view": str(truth["view"][i]),
                "cluster_id": clusters[i],
                "z": float(truth["z"][i]),
                "distance_kpc": d,
                "score": float(row["score"]),
                "pred_index": int(row["pred_index"]),
            }
        )
    return chosen


# --------------------------------------------------------------------------- false positives
def false_positives(res: dict) -> Table:
    """The passing boxes at the chosen threshold that are not the TP box of a found cluster."""
    d = res["distances"]
    if len(d) == 0:
        return d
    return d[~np.asarray(d["tp_centre"], dtype=bool)]


def classify_false_positives(
    fps: Table,
    truth: Table,
    mock: Table,
    sample: Table | None,
    found: np.ndarray,
    distance_kpc: float = 100.0,
    cfg: dict | None = None,
) -> Table:
    """Each FP with its class (``FP_CLASSES``, first match wins).

    ``cfg``: the ``evaluate.false_positives`` section (its thresholds; complete in the workflow), checked
    and filled from schemas/evaluate.schema.yaml for callers outside it.
    """
    p = with_defaults("evaluate", {"false_positives": cfg or {}})["false_positives"]
    near_label = f"near the target but > {distance_kpc:g} kpc"
    out = fps.copy()
    classes = []
    nearest_z = []
    index_of = {str(v): i for i, v in enumerate(truth["view"])}
    by_view = {}
    for k, v in enumerate(np.asarray(mock["view"], dtype=str)):
        by_view.setdefault(v, []).append(k)
    members = np.asarray(mock["member"], dtype=str)
    central = np.asarray(mock["central"], dtype=bool)
    mra, mdec = np.asarray(mock["ra"], float), np.asarray(mock["dec"], float)
    mz, mmag = np.asarray(mock["z"], float), np.asarray(mock["mag_r"], float)
    s_ra = np.asarray(sample["ra"], float) if sample is not None else np.zeros(0)
    s_dec = np.asarray(sample["dec"], float) if sample is not None else np.zeros(0)
    s_z = np.asarray(sample["z"], float) if sample is not None else np.zeros(0)
    s_id = np.asarray(sample["id"], dtype=str) if sample is not None else np.zeros(0, dtype=str)
    for row in fps:
        view = str(row["view"])
        ra, dec = float(row["ra"]), float(row["dec"])
        i = index_of[view]
        d_target = float(row["distance_kpc"])
        label, zlab = "nothing", np.nan
        rows = np.asarray(by_view.get(view, []), dtype=int)
        if d_target <= distance_kpc and found[i]:
            label = "duplicate on the found target"
        else:
            other = s_id != str(truth["cluster_id"][i])
            if other.any():
                dk = arcsec_to_kpc(_sep_arcsec(ra, dec, s_ra[other], s_dec[other]), s_z[other])
                if np.any(dk <= distance_kpc):
                    label, zlab = "on another catalogued cluster", float(s_z[other][np.argmin(dk)])
            if label == "nothing" and len(rows):
                # a catalogued cluster outside the sample (any z or richness) that the one sky drew here
                c = rows[(members[rows] == "cluster") & central[rows]]
                if len(c):
                    dk = arcsec_to_kpc(_sep_arcsec(ra, dec, mra[c], mdec[c]), mz[c])
                    if np.any(dk <= distance_kpc):
                        label, zlab = "on another catalogued cluster", float(mz[c][np.argmin(dk)])
            if label == "nothing" and len(rows):
                g = rows[(members[rows] == "group") & central[rows]]
                if len(g):
                    dk = arcsec_to_kpc(_sep_arcsec(ra, dec, mra[g], mdec[g]), mz[g])
                    if np.any(dk <= p["on_kpc"]):
                        label, zlab = "on an uncatalogued group", float(mz[g][np.argmin(dk)])
            if label == "nothing" and len(rows):
                b = rows[
                    ((members[rows] == "star") & (mmag[rows] < p["bright_star_mag"])) | (members[rows] == "foreground")
                ]
                if len(b) and np.any(_sep_arcsec(ra, dec, mra[b], mdec[b]) <= p["on_arcsec"]):
                    label = "on a bright star or foreground galaxy"
            if label == "nothing" and d_target <= p["near_kpc"]:
                label, zlab = near_label, float(truth["z"][i])
        classes.append(label)
        nearest_z.append(zlab)
    out["fp_class"] = np.asarray(classes, dtype=str) if classes else np.zeros(0, dtype=str)
    out["structure_z"] = np.asarray(nearest_z, dtype=float)
    out.meta.update({"distance_kpc": float(distance_kpc), **{k: float(v) for k, v in p.items()}})
    return out


def breakdown(classified: Table, distance_kpc: float = 100.0) -> list[dict]:
    """Counts and fractions per class (every class listed, in ``FP_CLASSES`` order)."""
    names = [c.replace("> 100 kpc", f"> {distance_kpc:g} kpc") for c in FP_CLASSES]
    labels = [str(c) for c in classified["fp_class"]] if len(classified) else []
    n = len(labels)
    return [{"fp_class": c, "n": labels.count(c), "fraction": labels.count(c) / n if n else 0.0} for c in names]


# --------------------------------------------------------------------------- the stage step
def _png_boxes(rows) -> list[tuple]:
    return [(float(r["x0"]), float(r["y0"]), float(r["x1"]), float(r["y1"]), float(r["score"])) for r in rows]


def case_studies(
    predictions,
    labels,
    sample,
    truth_paths,
    distances,
    recovered,
    summary,
    out: dict,
    fp_cfg: dict | None = None,
    mag_limit: float = 22.0,
) -> dict:
    """Figures 8-11, the false-positive table and figure, from the evaluate stage's files.

    ``out`` keys: cases (ECSV), fp_ecsv, fp_csv, fp_tex, fp_pdf, fp_png, summary (JSON), and
    case_pdfs / case_pngs (four paths each, Figs 8-11). Reuses the evaluate stage's chosen
    threshold, distances and recovered flags rather than re-running the sweep.
    """
    import json

    from PIL import Image

    from deepcee.core.files import write_json
    from deepcee.evaluate import figures, tables
    from deepcee.images.labels import sky_to_png_pixel

    summ = json.loads(Path(summary).read_text())
    threshold = float(summ["chosen_threshold"])
    distance_kpc = float(summ.get("distance_kpc", 100.0))
    truth = metrics.truth_table(read_table("labels", labels))
    matched = metrics.match_predictions(read_table("predictions", predictions), truth, str(predictions))
    dist = read_table("distances", distances)
    rec = read_table("recovered", recovered)
    found_by_view = {str(v): bool(f) for v, f in zip(rec["view"], rec["recovered"])}
    found = np.asarray([found_by_view.get(str(v), False) for v in truth["view"]], dtype=bool)
    mock = read_truth(truth_paths, views=truth["view"])
    sample_t = read_table("catalogue", sample) if sample else None

    # false positives, classified
    fps = dist[~np.asarray(dist["tp_centre"], dtype=bool)] if len(dist) else dist
    classified = classify_false_positives(fps, truth, mock, sample_t, found, distance_kpc, fp_cfg)
    rows = breakdown(classified, distance_kpc)
    write_table("false_positives", classified, out["fp_ecsv"])
    tables.write_csv(
        out["fp_csv"], ["fp_class", "n", "fraction"], [[r["fp_class"], r["n"], r["fraction"]] for r in rows]
    )
    body = [[latex_escape(r["fp_class"]), str(r["n"]), f"{100 * r['fraction']:.1f}"] for r in rows]
    body.append(["all false positives", str(len(classified)), "100.0" if len(classified) else "0.0"])
    from deepcee.core.files import write_text

    write_text(out["fp_tex"], tables._tabular("lrr", ["Cause", "\\# FP", "Per cent"], body))
    figures.fig_false_positives(rows, classified, out["fp_pdf"], out["fp_png"], threshold=threshold)

    # the four case studies
    cases = pick_case_studies(truth, matched)
    by_pred = {int(i): k for k, i in enumerate(matched["pred_index"])}
    score = np.asarray(matched["score"], dtype=float)
    ok = metrics.passes(score, threshold, summ.get("score_rule", "greater"))
    case_rows = []
    for k, case in enumerate(cases):
        t = truth[case["truth_index"]]
        png, fits_path = str(t["png"]), str(t["fits"])
        image = np.asarray(Image.open(png).convert("RGB"))
        size = image.shape[1]
        mags = np.asarray(mock["mag_r"], float)  # NaN: spectra without a magnitude (SDSS path), all kept
        m = mock[(np.asarray(mock["view"], dtype=str) == case["view"]) & ~(mags >= mag_limit)]
        gx, gy = (
            sky_to_png_pixel(fits_path, np.asarray(m["ra"], float), np.asarray(m["dec"], float), size)
            if len(m)
            else (np.zeros(0), np.zeros(0))
        )
        top = matched[by_pred[case["pred_index"]]]
        same = np.asarray([str(v) == case["view"] for v in matched["view"]]) & ok
        others = [r for r in matched[same] if int(r["pred_index"]) != case["pred_index"]]
        members = [str(x) for x in m["member"]]
        title = (
            f"{case['cluster_id']} z={case['z']:.3f}: top box {case['distance_kpc']:.0f} kpc from the centre "
            f"(paper case {case['target_kpc']:.0f} kpc)"
        )
        figures.fig_case_study(
            {
                "image": image,
                "truth": tuple(float(t[c]) for c in ("x0", "y0", "x1", "y1")),
                "top": _png_boxes([top])[0],
                "boxes": _png_boxes(others),
                "galaxies": {"x": gx, "y": gy, "z": np.asarray(m["z"], float), "member": members},
                "distance_kpc": case["distance_kpc"],
                "z": case["z"],
                "title": title,
            },
            out["case_pdfs"][k],
            out["case_pngs"][k],
        )
        in_top = [
            mm
            for mm, x, y in zip(members, gx, gy)
            if float(top["x0"]) <= x <= float(top["x1"]) and float(top["y0"]) <= y <= float(top["y1"])
        ]
        case_rows.append(
            {
                **case,
                "figure": Path(out["case_pdfs"][k]).stem,
                "n_target_in_top_box": in_top.count("target"),
                "n_group_in_top_box": in_top.count("group"),
                "n_field_in_top_box": in_top.count("field"),
            }
        )
    for k in range(len(cases), len(out["case_pdfs"])):  # fewer test images than cases: say so
        from deepcee.core.figures import new_figure, save_figure

        fig, ax = new_figure(figsize=(4, 1.2))
        ax.axis("off")
        ax.text(
            0.5,
            0.5,
            f"no test image left for the paper's {PAPER_CASE_DISTANCES_KPC[k]:.0f} kpc case",
            ha="center",
            va="center",
        )
        save_figure(fig, out["case_pdfs"][k], out["case_pngs"][k])
    cases_table = (
        Table(rows=[[r[c] for c in case_rows[0]] for r in case_rows], names=list(case_rows[0]))
        if case_rows
        else rows_table("case_studies", [])
    )
    write_table("case_studies", cases_table, out["cases"])
    result = {
        "chosen_threshold": threshold,
        "distance_kpc": distance_kpc,
        "n_false_positives": len(classified),
        "false_positive_classes": rows,
        "classification": classified.meta,
        "case_rule": "highest-scoring box per test image; for each of the paper's 88, 158, 220, 1163 kpc "
        "the image with the nearest distance, one per cluster, ties by view name",
        "cases": case_rows,
    }
    write_json(out["summary"], result)
    return result
