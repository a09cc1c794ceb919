"""Figures 5 and 6 and Table A1 of the paper, from ``results/03_train/losses.csv``.

Per-step losses are noisy (batch of 1-4 images), so the figures draw each step
faintly and a running mean over ``window`` steps on top; Table A1 gives the running
mean at a set of steps (the paper's own steps where the run is that long, else
``rows`` evenly spaced ones). The paper's Table A1 values (Chan & Stott 2019,
Appendix A; total = sum of the four components) are drawn as reference points.
"""

from __future__ import annotations

import numpy as np

from deepcee.core.files import atomic_path
from deepcee.detector.training import LOSS_KEYS, read_losses

# Chan & Stott (2019) Table A1: epoch (= training step, batch 1), total, RPN objectness,
# RPN box regression, DN classification, DN box regression.
PAPER_TABLE_A1 = np.array(
    [
        [float(v) for v in line.split()]
        for line in """
147 0.5954 0.3825 0.0535 0.1162 0.0432
204 0.3448 0.2023 0.0538 0.0605 0.0282
313 0.3185 0.1242 0.0515 0.0794 0.0634
450 0.2841 0.0834 0.0487 0.0994 0.0526
581 0.2559 0.0694 0.0436 0.0838 0.0591
934 0.1641 0.0441 0.0380 0.0552 0.0268
1065 0.1347 0.0401 0.0302 0.0367 0.0277
1361 0.1399 0.0344 0.0283 0.0543 0.0229
1455 0.2004 0.0327 0.0268 0.1129 0.0280
1582 0.1242 0.0302 0.0279 0.0443 0.0217
1709 0.1049 0.0307 0.0256 0.0274 0.0212
1836 0.1465 0.0280 0.0261 0.0646 0.0277
1960 0.1344 0.0281 0.0301 0.0531 0.0232
2083 0.1090 0.0290 0.0246 0.0377 0.0177
2209 0.1322 0.0274 0.0237 0.0521 0.0290
2335 0.1540 0.0284 0.0256 0.0712 0.0288
2461 0.1096 0.0267 0.0247 0.0365 0.0218
2588 0.0942 0.0273 0.0245 0.0244 0.0181
2716 0.1184 0.0269 0.0354 0.0339 0.0223
2842 0.0986 0.0253 0.0235 0.0324 0.0173
2968 0.0969 0.0247 0.0222 0.0310 0.0190
3187 0.1048 0.0251 0.0275 0.0326 0.0196
3312 0.1293 0.0234 0.0233 0.0611 0.0214
3438 0.1125 0.0240 0.0224 0.0458 0.0204
3566 0.0900 0.0250 0.0232 0.0243 0.0175
3697 0.0901 0.0247 0.0213 0.0256 0.0185
3823 0.1237 0.0233 0.0238 0.0548 0.0219
3948 0.1189 0.0233 0.0229 0.0520 0.0208
4073 0.1059 0.0231 0.0208 0.0420 0.0201
4198 0.1015 0.0239 0.0217 0.0337 0.0223
4321 0.1177 0.0224 0.0204 0.0509 0.0240
4543 0.1118 0.0231 0.0221 0.0461 0.0205
4675 0.0943 0.0232 0.0215 0.0294 0.0202
4805 0.1042 0.0232 0.0264 0.0297 0.0249
4944 0.1024 0.0222 0.0194 0.0398 0.0209
5072 0.1038 0.0223 0.0201 0.0423 0.0191
5198 0.0881 0.0241 0.0205 0.0253 0.0182
5330 0.1047 0.0220 0.0202 0.0425 0.0199
5462 0.1275 0.0219 0.0241 0.0541 0.0274
5587 0.0969 0.0233 0.0220 0.0294 0.0222
5917 0.0972 0.0224 0.0265 0.0265 0.0219
6048 0.0943 0.0221 0.0184 0.0344 0.0194
6179 0.1038 0.0228 0.0228 0.0313 0.0268
6495 0.1066 0.0235 0.0231 0.0352 0.0248
6698 0.1035 0.0216 0.0184 0.0446 0.0189
6824 0.1022 0.0223 0.0190 0.0427 0.0182
6951 0.1045 0.0217 0.0187 0.0460 0.0180
7077 0.1029 0.0217 0.0188 0.0378 0.0247
7204 0.0910 0.0208 0.0180 0.0341 0.0181
7332 0.0974 0.0215 0.0176 0.0403 0.0181
7458 0.0926 0.0249 0.0211 0.0268 0.0198
""".strip().splitlines()
    ]
)

COMPONENTS = [  # (losses.csv column, panel title as in the paper's Fig. 6, paper Table A1 column)
    ("loss_rpn_objectness", "(a) RPN objectness loss", 2),
    ("loss_rpn_box", "(b) RPN box regression loss", 3),
    ("loss_classifier", "(c) DN classification loss", 4),
    ("loss_box_reg", "(d) DN box regression loss", 5),
]
TABLE_COLUMNS = ["step", "loss_total", *LOSS_KEYS]
TABLE_HEADER = [
    "Step",
    "Total loss",
    "RPN objectness loss",
    "RPN box regression loss",
    "DN classification loss",
    "DN box regression loss",
]


def _arrays(losses_path) -> dict[str, np.ndarray]:
    rows = read_losses(losses_path)
    if not rows:
        from deepcee.core.errors import DeepCeeError

        raise DeepCeeError(f"{losses_path}: no loss rows")
    return {k: np.array([r[k] for r in rows], dtype=float) for k in rows[0]}


def running_mean(values: np.ndarray, window: int) -> np.ndarray:
    """Mean of the last ``window`` values at each step (fewer at the start)."""
    values = np.asarray(values, float)
    csum = np.concatenate([[0.0], np.cumsum(values)])
    idx = np.arange(1, len(values) + 1)
    lo = np.maximum(0, idx - max(1, window))
    return (csum[idx] - csum[lo]) / (idx - lo)


def _panel(ax, steps, values, window, paper_steps, paper_values, ylabel, show_paper):
    ax.plot(steps, values, color="0.75", lw=0.5, label="per step")
    ax.plot(steps, running_mean(values, window), color="C0", lw=1.2, label=f"running mean ({window} steps)")
    if show_paper and len(paper_steps):
        ax.plot(paper_steps, paper_values, "o", ms=2.5, color="C3", label="Chan & Stott (2019) Table A1")
    ax.set_xlabel("training step")
    ax.set_ylabel(ylabel)
    ax.set_ylim(bottom=0)


def _paper_points(max_step):
    keep = PAPER_TABLE_A1[:, 0] <= max(max_step, 1) * 1.0
    return PAPER_TABLE_A1[keep] if keep.any() else PAPER_TABLE_A1[:0]


def fig05_total_loss(losses_path, pdf, png, window: int = 25, show_paper: bool = True) -> None:
    """Figure 5: the total loss (RPN + DN) against training step."""
    from deepcee.core.figures import new_figure, save_figure

    data = _arrays(losses_path)
    paper = _paper_points(data["step"].max())
    fig, ax = new_figure(figsize=(5.0, 3.2))
    _panel(ax, data["step"], data["loss_total"], window, paper[:, 0], paper[:, 1], "total loss", show_paper)
    ax.set_xlim(0, data["step"].max() * 1.02)
    ax.legend(frameon=False)
    ax.set_title(f"Total loss, {int(data['step'].max())} steps")
    save_figure(fig, pdf, png)


def fig06_loss_components(losses_path, pdf, png, window: int = 25, show_paper: bool = True) -> None:
    """Figure 6: (a) RPN objectness, (b) RPN box, (c) DN classification, (d) DN box loss."""
    from deepcee.core.figures import new_figure, save_figure

    data = _arrays(losses_path)
    paper = _paper_points(data["step"].max())
    fig, axes = new_figure(2, 2, figsize=(7.0, 5.0))
    for ax, (column, title, pcol) in zip(axes.ravel(), COMPONENTS):
        _panel(ax, data["step"], data[column], window, paper[:, 0], paper[:, pcol], "loss", show_paper)
        ax.set_xlim(0, data["step"].max() * 1.02)
        ax.set_title(title)
    axes[0, 0].legend(frameon=False, loc="upper right")
    fig.tight_layout()
    save_figure(fig, pdf, png)


def table_steps(max_step: int, rows: int = 30) -> np.ndarray:
    """The paper's Table A1 steps if the run reaches them, else ``rows`` evenly spaced steps."""
    if max_step >= PAPER_TABLE_A1[-1, 0]:
        return PAPER_TABLE_A1[:, 0].astype(int)
    return np.unique(np.linspace(max(1, max_step / rows), max_step, rows).round().astype(int))


def table_a1(losses_path, csv_path, tex_path, window: int = 25, rows: int = 30) -> list[list[float]]:
    """Table A1: total and component losses (running mean over ``window`` steps) at set steps."""
    data = _arrays(losses_path)
    steps = data["step"].astype(int)
    smooth = {k: running_mean(data[k], window) for k in TABLE_COLUMNS[1:]}
    out = []
    for s in table_steps(int(steps.max()), rows):
        i = int(np.searchsorted(steps, s))
        i = min(i, len(steps) - 1)
        out.append([int(steps[i])] + [float(smooth[k][i]) for k in TABLE_COLUMNS[1:]])
    with atomic_path(csv_path) as tmp:
        lines = [",".join(TABLE_COLUMNS)] + [",".join([str(r[0])] + [f"{v:.4f}" for v in r[1:]]) for r in out]
        tmp.write_text("\n".join(lines) + "\n")
    body = "\n".join(" & ".join([str(r[0])] + [f"{v:.4f}" for v in r[1:]]) + r" \\" for r in out)
    tex = (
        "% Table A1: losses during training (running mean over "
        f"{window} steps); generated from losses.csv\n"
        "\\begin{tabular}{rrrrrr}\n\\hline\n"
        + " & ".join(TABLE_HEADER)
        + r" \\"
        + "\n\\hline\n"
        + body
        + "\n\\hline\n\\end{tabular}\n"
    )
    with atomic_path(tex_path) as tmp:
        tmp.write_text(tex)
    return out


# --------------------------------------------------------------------------- Figure 1
def fig01_architecture(spec: dict, pdf_path, png_path) -> None:
    """Figure 1: the Faster R-CNN as built (``deepcee.detector.model.describe``), not as intended.

    Every number drawn comes from ``spec``: the backbone and its feature maps (size, channels,
    stride), the anchors each map carries (sizes in network pixels x aspect ratios), the RPN's
    sampling and NMS numbers and the detection network's RoI crop, sampling, NMS and output cap
    (paper §2.1 and its Figure 1).
    """
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

    from deepcee.core.figures import new_figure, save_figure

    maps = spec["feature_maps"]
    rpn, det = spec["rpn"], spec["detection"]
    height = max(4.2, 1.05 * len(maps) + 1.6)
    fig, ax = new_figure(figsize=(11.0, height))
    ax.set_xlim(0, 11.0)
    ax.set_ylim(0, height)
    ax.axis("off")

    def box(x, y, w, h, text, colour, size=7.5):
        ax.add_patch(FancyBboxPatch((x, y), w, h, boxstyle="round,pad=0.04", fc=colour, ec="0.25", lw=0.8))
        ax.text(x + w / 2, y + h / 2, text, ha="center", va="center", fontsize=size)

    def arrow(x0, y0, x1, y1):
        ax.add_patch(FancyArrowPatch((x0, y0), (x1, y1), arrowstyle="-|>", mutation_scale=9, lw=0.8, color="0.2"))

    mid = height / 2
    s = spec["image_size"]
    box(0.1, mid - 0.6, 1.3, 1.2, f"input image\n{s} x {s} px\n3 bands (g, r, i)", "#e8eef7")
    box(
        1.75,
        mid - 0.9,
        1.55,
        1.8,
        f"backbone\n{spec['backbone']}\n\n{spec['parameters'] / 1e6:.1f} M parameters\n(whole detector)",
        "#dce9d5",
    )
    arrow(1.4, mid, 1.75, mid)
    # feature maps, one box each
    step = (height - 0.6) / max(len(maps), 1)
    ys = [height - 0.3 - step * (k + 0.5) for k in range(len(maps))]
    roi_maps = set(det["roi_featmaps"])
    for m, y in zip(maps, ys):
        used = " (RoI)" if m["name"] in roi_maps else ""
        sizes = ", ".join(str(a) for a in m["anchor_sizes"])
        ratios = ", ".join(f"{r:g}" for r in m["aspect_ratios"])
        box(
            3.7,
            y - 0.42,
            2.1,
            0.84,
            f"map '{m['name']}'{used}: {m['height']} x {m['width']} x {m['channels']}\n"
            f"stride {m['stride']} px; anchors {sizes} px\n"
            f"x ratios {ratios} = {m['anchors_per_position']} per position",
            "#fdf1d6",
            size=6.0,
        )
        arrow(3.3, mid, 3.7, y)
    box(
        6.25,
        mid + 0.15,
        2.0,
        1.85,
        "region proposal network\n"
        f"sample {rpn['batch_size_per_image']}/image, {rpn['positive_fraction']:g} positive\n"
        f"fg IoU > {rpn['fg_iou_thresh']:g}, bg < {rpn['bg_iou_thresh']:g}\n"
        f"top {rpn['pre_nms_top_n_test']} -> NMS {rpn['nms_thresh']:g}\n"
        f"-> {rpn['post_nms_top_n_test']} proposals",
        "#f7dede",
        size=7,
    )
    roi_text = f"RoIAlign {det['roi_crop']} x {det['roi_crop']}"
    if det["roi_maxpool"] > 1:
        roi_text += f", max-pool {det['roi_maxpool']}"
    box(
        6.25,
        mid - 2.0 + 0.05,
        2.0,
        1.85,
        "detection network\n"
        f"{roi_text}\n{det['box_head']}\n"
        f"sample {det['batch_size_per_image']}/image, {det['positive_fraction']:g} positive\n"
        f"fg IoU > {det['fg_iou_thresh']:g}, {det['classes']} classes",
        "#e6def2",
        size=7,
    )
    for m, y in zip(maps, ys):
        arrow(5.8, y, 6.25, mid + 1.0)
        if m["name"] in roi_maps:
            arrow(5.8, y, 6.25, mid - 1.0)
    arrow(7.25, mid + 0.15, 7.25, mid - 0.1)
    box(
        8.7,
        mid - 0.75,
        2.2,
        1.5,
        "output\n"
        f"NMS {det['nms_thresh']:g}, score > {det['score_thresh']:g}\n"
        f"at most {det['detections_per_img']} boxes/image\n"
        "box + confidence score",
        "#e8eef7",
        size=7.5,
    )
    arrow(8.25, mid - 1.0, 8.7, mid)
    save_figure(fig, pdf_path, png_path)
