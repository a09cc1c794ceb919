"""The detector carries every hyper-parameter of the paper (§2.1; docs/design.md §5)."""

from __future__ import annotations

import urllib.error

import pytest
import torch

from deepcee.core.errors import DeepCeeError
from deepcee.detector.model import anchor_sizes, build_detector, coco_cache_path, detector_config


@pytest.fixture(scope="module")
def mobilenet():
    torch.manual_seed(0)
    return build_detector({"backbone": "mobilenet_v3_large_fpn"}, 500)


def test_paper_values(mobilenet):
    m = mobilenet
    # anchors: 0.25, 0.5, 1, 2 x 256 px at 1000 px → scaled to 500 px images; ratios 0.5, 1, 2
    assert m.rpn.anchor_generator.sizes == ((32, 64, 128, 256),) * 3
    assert m.rpn.anchor_generator.aspect_ratios == ((0.5, 1.0, 2.0),) * 3
    assert m.rpn.anchor_generator.num_anchors_per_location() == [12, 12, 12]  # paper: 12 per position
    assert m.rpn.head.cls_logits.out_channels == 12
    # RPN: 128 positive + 128 negative, >50 % overlap foreground, NMS 0.7, 300 proposals
    assert m.rpn.fg_bg_sampler.batch_size_per_image == 256
    assert m.rpn.fg_bg_sampler.positive_fraction == 0.5
    assert m.rpn.proposal_matcher.high_threshold == 0.5
    assert m.rpn.nms_thresh == 0.7
    assert m.rpn._post_nms_top_n == {"training": 300, "testing": 300}
    assert m.rpn._pre_nms_top_n == {"training": 2000, "testing": 1000}
    # DN: 16 positive + 48 negative, NMS 0.6, every box scored, 300 per image
    rh = m.roi_heads
    assert rh.fg_bg_sampler.batch_size_per_image == 64
    assert rh.fg_bg_sampler.positive_fraction == 0.25
    assert rh.proposal_matcher.high_threshold == 0.5
    assert rh.nms_thresh == 0.6
    assert rh.score_thresh == 0.0
    assert rh.detections_per_img == 300
    # 14 x 14 RoI crops, 2 x 2 max-pool into the box head; background + cluster
    assert rh.box_roi_pool.output_size == (14, 14)
    assert rh.box_head.pool == 2
    assert rh.box_head.fc6.in_features == 256 * 7 * 7
    assert rh.box_predictor.cls_score.out_features == 2
    assert rh.box_predictor.bbox_pred.out_features == 8
    # DN output layers ~ N(0, 0.01), zero bias (paper §2.1)
    assert float(rh.box_predictor.cls_score.bias.detach().abs().max()) == 0.0
    assert 0.007 < float(rh.box_predictor.cls_score.weight.detach().std()) < 0.013
    # training images are not resized
    assert m.transform.min_size == (500,) and m.transform.max_size == 500


def test_anchor_scaling_and_layouts():
    cfg = detector_config({})
    assert anchor_sizes(cfg, 1000) == ((64, 128, 256, 512),) * 3
    assert anchor_sizes(dict(cfg, scale_anchors_with_image=False), 500) == ((64, 128, 256, 512),) * 3
    r50 = detector_config({"backbone": "resnet50_fpn_v2"})
    # 4 paper sizes on P3-P6, P2 gets 0.125 x 256: torchvision's COCO layout at 1000 px
    assert anchor_sizes(r50, 1000) == ((32,), (64,), (128,), (256,), (512,))
    assert anchor_sizes(dict(r50, anchor_layout="all_levels"), 1000) == ((64, 128, 256, 512),) * 5


def test_resnet50_fpn_v2_values():
    m = build_detector({"backbone": "resnet50_fpn_v2", "roi_maxpool": 1, "roi_crop_size": 7}, 1000)
    assert m.rpn.anchor_generator.num_anchors_per_location() == [3] * 5
    assert m.roi_heads.box_roi_pool.output_size == (7, 7)
    assert m.roi_heads.box_roi_pool.featmap_names == ["0", "1", "2", "3"]
    assert m.roi_heads.nms_thresh == 0.6 and m.roi_heads.detections_per_img == 300
    assert m.transform.min_size == (1000,)


def test_forward_losses_and_outputs(mobilenet):
    m = build_detector({"backbone": "mobilenet_v3_large_fpn"}, 128)
    m.train()
    images = [torch.rand(3, 128, 128)]
    targets = [{"boxes": torch.tensor([[30.0, 40.0, 70.0, 80.0]]), "labels": torch.tensor([1])}]
    losses = m(images, targets)
    assert set(losses) == {"loss_objectness", "loss_rpn_box_reg", "loss_classifier", "loss_box_reg"}
    m.eval()
    with torch.no_grad():
        out = m(images)[0]
    assert len(out["boxes"]) <= 300
    assert ((out["scores"] >= 0) & (out["scores"] <= 1)).all()


def test_narrow_fpn_sets_every_width_it_feeds(mobilenet):
    """train.detector.fpn_channels rebuilds the pyramid; the RPN head and box head follow it."""
    m = build_detector({"backbone": "mobilenet_v3_large_fpn", "fpn_channels": 64}, 128)
    assert m.backbone.out_channels == 64
    assert all(block[0].out_channels == 64 for block in m.backbone.fpn.inner_blocks)
    assert m.rpn.head.conv[0][0].in_channels == 64
    m.train()
    targets = [{"boxes": torch.tensor([[30.0, 40.0, 70.0, 80.0]]), "labels": torch.tensor([1])}]
    losses = m([torch.rand(3, 128, 128)], targets)
    assert all(torch.isfinite(v) for v in losses.values())
    narrow = sum(p.numel() for p in m.parameters())
    assert narrow < sum(p.numel() for p in mobilenet.parameters())


def test_local_weights_file(tmp_path, mobilenet):
    path = tmp_path / "w.pt"
    torch.save({"model": mobilenet.state_dict()}, path)
    other = build_detector({"weights": str(path)}, 500)
    for k, v in mobilenet.state_dict().items():
        assert torch.equal(other.state_dict()[k], v), k
    with pytest.raises(DeepCeeError, match="no such file"):
        build_detector({"weights": str(tmp_path / "missing.pt")}, 500)


def test_coco_offline_is_one_line(monkeypatch, tmp_path):
    from torchvision.models._api import WeightsEnum

    def offline(self, *a, **k):
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(WeightsEnum, "get_state_dict", offline)
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    with pytest.raises(DeepCeeError) as err:
        build_detector({"weights": "coco"}, 256)
    msg = str(err.value)
    assert "\n" not in msg and "pre-fetch" in msg and "weights: none" in msg
    assert str(coco_cache_path("mobilenet_v3_large_fpn").name) in msg


def test_unknown_key():
    with pytest.raises(DeepCeeError, match="train.detector.anchor_sizez"):
        detector_config({"anchor_sizez": [1]})


@pytest.mark.network
def test_coco_download():
    m = build_detector({"backbone": "mobilenet_v3_large_fpn", "weights": "coco"}, 512)
    assert "backbone.body.0.0.weight" not in m.deepcee_skipped_weights


def test_describe_reads_the_built_model_and_fig01_draws_it(tmp_path):
    from deepcee.detector.figures import fig01_architecture
    from deepcee.detector.model import anchor_sizes, describe, detector_config

    cfg = {
        "backbone": "mobilenet_v3_large_fpn",
        "anchor_scales": [0.5, 1.0],
        "aspect_ratios": [1.0, 2.0],
        "rpn_post_nms_top_n_test": 150,
        "box_detections_per_img": 120,
        "roi_crop_size": 7,
        "roi_maxpool": 1,
    }
    spec = describe(build_detector(cfg, 256, load_weights=False))
    assert spec["backbone"] == "mobilenet_v3_large_fpn" and spec["image_size"] == 256
    assert [m["stride"] for m in spec["feature_maps"]] == [32, 32, 64]  # MobileNetV3-FPN: C4, C5, pool
    expected = anchor_sizes(detector_config(cfg), 256)
    assert [tuple(m["anchor_sizes"]) for m in spec["feature_maps"]] == [tuple(s) for s in expected]
    assert all(m["aspect_ratios"] == [1.0, 2.0] and m["anchors_per_position"] == 4 for m in spec["feature_maps"])
    assert spec["rpn"]["post_nms_top_n_test"] == 150 and spec["rpn"]["nms_thresh"] == pytest.approx(0.7)
    assert spec["detection"]["detections_per_img"] == 120 and spec["detection"]["roi_crop"] == 7
    fig01_architecture(spec, tmp_path / "f1.pdf", tmp_path / "f1.png")
    assert (tmp_path / "f1.pdf").stat().st_size > 1000 and (tmp_path / "f1.png").stat().st_size > 1000
