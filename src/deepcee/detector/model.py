"""The detector: a torchvision Faster R-CNN built with the paper's hyper-parameters.

Chan & Stott (2019) used the TensorFlow-1 Object Detection API's COCO-pretrained
Inception-v2 Faster R-CNN, which no maintained framework provides today. This module
builds torchvision's ``FasterRCNN`` instead; every hyper-parameter the paper states
(§2.1; docs/design.md §5) is passed explicitly and read back by ``tests/test_detector.py``:

==========================================  =============================================
paper                                        here
==========================================  =============================================
anchors 0.25, 0.5, 1, 2 x 256 px; ratios      ``AnchorGenerator`` (see ``anchor_layout``)
0.5, 1, 2 (12 boxes per position)
RPN 128 positive + 128 negative per image    ``rpn_batch_size_per_image=256``, fraction 0.5
RPN NMS 0.7, fewer than 300 proposals        ``rpn_nms_thresh=0.7``, post-NMS top-n 300
>50 % overlap = foreground (RPN and DN)      ``rpn_fg_iou_thresh=0.5``, ``box_fg_iou_thresh=0.5``
DN 16 positive + 48 negative                 ``box_batch_size_per_image=64``, fraction 0.25
DN NMS 0.6                                   ``box_nms_thresh=0.6``
every box scored (sweep from 0)              ``box_score_thresh=0.0``, 300 detections/image
14 x 14 RoI crops                            ``MultiScaleRoIAlign(output_size=14)`` then a
                                             2 x 2 max-pool (as the TF-1 API's
                                             ``initial_crop_size: 14``, ``maxpool_kernel_size: 2``)
                                             so the box head sees 7 x 7 and COCO box-head
                                             weights still fit
RPN/DN weights ~ N(0, 0.01), biases 0        torchvision's RPN head already; the DN's two
                                             output layers re-initialised so
images 1000 x 1000                           ``FixedScaleTransform``: every input resized by
                                             network side / training PNG side
==========================================  =============================================

One pixel scale for every input size: the network works at ``train.detector.image_size``
(default: the training PNG side) and every input is resized by the same factor, network side /
reference PNG side (320 / 500 = 0.64 in the CPU default), whatever its size. So a 350 px view
at the training views' sky pixel scale is seen at 224 px, as its sky would be in a 500 px view;
torchvision's own transform (``min_size = max_size``) would stretch it to 320 px instead. For
inputs of the reference side the resize is torchvision's, bit for bit.

Anchor sizes: the paper's 256 px reference is for 1000 px training images. With
``scale_anchors_with_image`` (default true) the sizes scale with the training image
size (``image_size / anchor_reference_size``), because the clusters' boxes shrink
in pixels when the same sky is resampled to fewer pixels.

``anchor_layout``:
- ``all_levels``: all four sizes x three ratios at every feature map (12 anchors per
  position, the paper's count). Default for ``mobilenet_v3_large_fpn`` (3 maps).
- ``per_level``: one size per FPN level, three ratios (3 anchors per position, as in
  torchvision's COCO models). For ``resnet50_fpn_v2`` (5 maps, strides 4-64) the
  paper's four sizes go on P3-P6 and P2 gets half the smallest (0.125 x 256 px); at
  1000 px that is exactly torchvision's COCO layout (32, 64, 128, 256, 512), so the
  COCO-pretrained RPN head is used as trained. Default for ``resnet50_fpn_v2``.
"""

from __future__ import annotations

import functools
import math
import os
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from deepcee.core.config import with_defaults
from deepcee.core.errors import DeepCeeError

BACKBONES = ("mobilenet_v3_large_fpn", "resnet50_fpn_v2")
CLASSES = ("background", "cluster")


def detector_config(cfg: dict | None) -> dict:
    """``cfg`` (``train.detector``) with schemas/train.schema.yaml's defaults filled and checked;
    a bad key or value is one line naming it."""
    out = with_defaults("train", {"detector": cfg or {}})["detector"]
    if out["backbone"] not in BACKBONES:
        raise DeepCeeError(f"config key 'train.detector.backbone': {out['backbone']!r} is not one of {list(BACKBONES)}")
    if out["roi_crop_size"] % out["roi_maxpool"]:
        raise DeepCeeError("config key 'train.detector.roi_crop_size' must be a multiple of 'roi_maxpool'")
    return out


def anchor_sizes(cfg: dict, image_size: int) -> tuple[tuple[int, ...], ...]:
    """The anchor-size tuple per feature map for ``cfg['backbone']``."""
    factor = image_size / cfg["anchor_reference_size"] if cfg["scale_anchors_with_image"] else 1.0
    sizes = [max(4, int(round(s * cfg["anchor_base_px"] * factor))) for s in cfg["anchor_scales"]]
    layout = anchor_layout(cfg)
    n_maps = 3 if cfg["backbone"] == "mobilenet_v3_large_fpn" else 5
    if layout == "all_levels":
        return (tuple(sizes),) * n_maps
    # per_level: one size per map, smallest on the finest map.
    sizes = sorted(sizes)
    while len(sizes) < n_maps:  # extra finer maps get halved sizes (P2 for resnet50: 0.125 x 256)
        sizes.insert(0, max(4, sizes[0] // 2))
    sizes = sizes[len(sizes) - n_maps :]
    return tuple((s,) for s in sizes)


def anchor_layout(cfg: dict) -> str:
    if cfg["anchor_layout"] != "auto":
        return cfg["anchor_layout"]
    return "all_levels" if cfg["backbone"] == "mobilenet_v3_large_fpn" else "per_level"


class PooledTwoMLPHead(nn.Module):
    """torchvision's TwoMLPHead after a k x k max-pool of the RoI crop (TF-1 API style).

    Parameter names (fc6, fc7) are those of ``TwoMLPHead`` so COCO weights load.
    """

    def __init__(self, in_channels: int, crop: int, pool: int, representation: int = 1024):
        super().__init__()
        side = crop // pool
        self.pool = pool
        self.fc6 = nn.Linear(in_channels * side * side, representation)
        self.fc7 = nn.Linear(representation, representation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.pool > 1:
            x = F.max_pool2d(x, self.pool, self.pool)
        x = x.flatten(start_dim=1)
        return F.relu(self.fc7(F.relu(self.fc6(x))))


def _pooled_convfc_head(in_channels: int, crop: int, pool: int):
    from torchvision.models.detection.faster_rcnn import FastRCNNConvFCHead

    class PooledConvFCHead(FastRCNNConvFCHead):
        """resnet50_fpn_v2's conv head after a k x k max-pool (keys as torchvision's)."""

        def forward(self, x):
            if self.pool > 1:
                x = F.max_pool2d(x, self.pool, self.pool)
            return super().forward(x)

    side = crop // pool
    head = PooledConvFCHead((in_channels, side, side), [256, 256, 256, 256], [1024], norm_layer=nn.BatchNorm2d)
    head.pool = pool
    return head


def _narrow_fpn(backbone, channels: int) -> None:
    """Rebuild a BackboneWithFPN's feature pyramid with ``channels`` per map (torchvision fixes 256).

    On a CPU the pyramid's and the RPN head's 3 x 3 convolutions at 256 channels cost as much as
    the MobileNetV3 body itself; ``train.detector.fpn_channels`` (an option beside torchvision's
    256; the paper's Inception-v2 detector had no pyramid) trades width for training steps.
    """
    from torchvision.ops.feature_pyramid_network import FeaturePyramidNetwork, LastLevelMaxPool

    old = backbone.fpn
    in_channels = [block[0].in_channels for block in old.inner_blocks]
    backbone.fpn = FeaturePyramidNetwork(in_channels, channels, extra_blocks=LastLevelMaxPool())
    backbone.out_channels = channels


def _backbone_and_heads(cfg: dict, size: int, pretrained: bool):
    """Backbone, feature-map names, anchor generator, RPN head and box head for ``cfg['backbone']``."""
    from torchvision.models.detection.anchor_utils import AnchorGenerator
    from torchvision.models.detection.rpn import RPNHead
    from torchvision.ops import misc as misc_nn_ops

    trainable = cfg["trainable_layers"]
    sizes = anchor_sizes(cfg, size)
    generator = AnchorGenerator(sizes, (tuple(cfg["aspect_ratios"]),) * len(sizes))
    if cfg["backbone"] == "mobilenet_v3_large_fpn":
        from torchvision.models.detection.backbone_utils import mobilenet_backbone

        # torchvision's COCO recipe: frozen BatchNorm; from scratch every layer trains
        norm = misc_nn_ops.FrozenBatchNorm2d if pretrained else nn.BatchNorm2d
        backbone = mobilenet_backbone(
            backbone_name="mobilenet_v3_large",
            weights=None,
            fpn=True,
            trainable_layers=6 if trainable is None else trainable,
            norm_layer=norm,
        )
        if int(cfg["fpn_channels"]) != backbone.out_channels:
            _narrow_fpn(backbone, int(cfg["fpn_channels"]))
        rpn_head = RPNHead(backbone.out_channels, generator.num_anchors_per_location()[0])
        box_head = PooledTwoMLPHead(backbone.out_channels, cfg["roi_crop_size"], cfg["roi_maxpool"])
        return backbone, ["0", "1"], generator, rpn_head, box_head
    from torchvision.models import resnet50
    from torchvision.models.detection.backbone_utils import _resnet_fpn_extractor

    trainable = (3 if pretrained else 5) if trainable is None else trainable
    backbone = _resnet_fpn_extractor(resnet50(weights=None), trainable, norm_layer=nn.BatchNorm2d)
    rpn_head = RPNHead(backbone.out_channels, generator.num_anchors_per_location()[0], conv_depth=2)
    box_head = _pooled_convfc_head(backbone.out_channels, cfg["roi_crop_size"], cfg["roi_maxpool"])
    return backbone, ["0", "1", "2", "3"], generator, rpn_head, box_head


#: The FasterRCNN keyword arguments that are train.detector keys of the same name.
_FASTER_RCNN_KEYS = (
    "rpn_pre_nms_top_n_train",
    "rpn_pre_nms_top_n_test",
    "rpn_post_nms_top_n_train",
    "rpn_post_nms_top_n_test",
    "rpn_nms_thresh",
    "rpn_fg_iou_thresh",
    "rpn_bg_iou_thresh",
    "rpn_batch_size_per_image",
    "rpn_positive_fraction",
    "box_score_thresh",
    "box_nms_thresh",
    "box_detections_per_img",
    "box_fg_iou_thresh",
    "box_bg_iou_thresh",
    "box_batch_size_per_image",
    "box_positive_fraction",
)


def _load_weights(model: nn.Module, cfg: dict) -> None:
    """``train.detector.weights``: none, torchvision's COCO weights, or a local state dict / model.pt."""
    weights = str(cfg["weights"])
    if weights == "coco":
        _load_partial(model, coco_state_dict(cfg["backbone"]), "COCO")
    elif weights != "none":
        path = Path(weights)
        if not path.is_file():
            raise DeepCeeError(
                f"config key 'train.detector.weights': no such file {weights!r} (use none, coco or a path)"
            )
        state = torch.load(path, map_location="cpu", weights_only=True)
        if isinstance(state, dict) and "model" in state and isinstance(state["model"], dict):
            state = state["model"]
        _load_partial(model, state, str(path))


@functools.cache
def _fixed_scale_transform():
    """The ``FixedScaleTransform`` class (one class, built on first use)."""
    from torchvision.models.detection.transform import (
        GeneralizedRCNNTransform,
        _resize_image_and_masks,
        resize_boxes,
    )

    class FixedScaleTransform(GeneralizedRCNNTransform):
        """torchvision's detection transform, resizing every image by ONE factor.

        The factor is ``network side / reference side`` (``min_size[-1] / reference_size``), the
        same for a 500 px and a 350 px image at the same sky pixel scale, so the network sees both
        skies at one scale. ``min_size`` and ``max_size`` stay the network side (readers of
        ``model.transform.min_size`` keep working). Output sides are integer arithmetic,
        ``floor(side * network / reference)``, passed to torchvision's ``_resize_image_and_masks``
        as its ``fixed_size``: the same bilinear call torchvision makes when it computes that size
        itself from ``min_size``/``max_size``, so a reference-side input is resized bit for bit as
        before. Boxes are mapped with torchvision's ``resize_boxes`` (and back in ``postprocess``).
        """

        def __init__(self, network_size: int, reference_size: int, image_mean, image_std, size_divisible=32):
            super().__init__(network_size, network_size, image_mean, image_std, size_divisible)
            self.reference_size = int(reference_size)

        def output_side(self, side: int, network: int | None = None) -> int:
            """The side an input of ``side`` px is resized to."""
            network = int(self.min_size[-1] if network is None else network)
            return max(1, (int(side) * network) // self.reference_size)

        def resize(self, image, target=None):
            h, w = image.shape[-2:]
            if self.training:
                if self._skip_resize:
                    return image, target
                # drawn as torchvision does (one torch random number), so the RNG stream is unchanged
                network = self.torch_choice(self.min_size)
            else:
                network = self.min_size[-1]
            out_h, out_w = self.output_side(h, network), self.output_side(w, network)
            image, target = _resize_image_and_masks(image, min(out_h, out_w), max(out_h, out_w), target, (out_w, out_h))
            if target is None:
                return image, target
            target["boxes"] = resize_boxes(target["boxes"], (h, w), image.shape[-2:])
            return image, target

        def batch_images(self, images, size_divisible: int = 32):
            """torchvision's batch, padded with each image's own median per band, not with 0.

            A side that is not a multiple of ``size_divisible`` after the resize is padded; 0 after
            normalisation is ImageNet's mean grey, a bright frame round a dark sky that no training
            image had. A from-scratch model then scores nothing anywhere in the image (a 350 px view
            at a 256 px network side: 179 px padded to 192, every score below 1e-20). The median is
            the sky level, so the border reads as empty sky. Unpadded images are unchanged.
            """
            batched = super().batch_images(images, size_divisible)
            for i, img in enumerate(images):
                h, w = img.shape[-2:]
                if h == batched.shape[-2] and w == batched.shape[-1]:
                    continue
                sky = img.flatten(1).median(dim=1).values[:, None, None]
                batched[i, :, h:, :] = sky
                batched[i, :, :h, w:] = sky
            return batched

        def __repr__(self) -> str:
            return (
                f"{self.__class__.__name__}(\n    Normalize(mean={self.image_mean}, std={self.image_std})"
                f"\n    Resize(x {self.min_size[-1]}/{self.reference_size}, mode='bilinear')\n)"
            )

    FixedScaleTransform.__qualname__ = "FixedScaleTransform"  # pickled by name: the module __getattr__ below
    FixedScaleTransform.__module__ = __name__
    return FixedScaleTransform


def __getattr__(name: str):
    """``deepcee.detector.model.FixedScaleTransform``, built on first use (torchvision imported lazily)."""
    if name == "FixedScaleTransform":
        return _fixed_scale_transform()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def fixed_scale_transform(network_size: int, reference_size: int, image_mean, image_std):
    """A ``FixedScaleTransform`` (torchvision imported lazily, as everywhere in this module)."""
    return _fixed_scale_transform()(network_size, reference_size, image_mean, image_std)


def build_detector(cfg: dict | None, image_size: int, load_weights: bool = True) -> nn.Module:
    """Build the Faster R-CNN described by ``train.detector`` for square images.

    ``image_size`` is the reference PNG side: the side of the images the model is trained on
    (the labels' ``output_size``; ``model.pt`` stores it as ``image_size``). ``cfg['image_size']``
    (if set) is the side the network works at; without it, the reference side. Every input, of
    any size, is resized by network side / reference side (``FixedScaleTransform``) and its boxes
    are mapped back to its own pixels.
    """
    from torchvision.models.detection import FasterRCNN
    from torchvision.ops import MultiScaleRoIAlign

    cfg = detector_config(cfg)
    size = int(cfg["image_size"] or image_size)
    backbone, featmaps, generator, rpn_head, box_head = _backbone_and_heads(cfg, size, cfg["weights"] == "coco")
    roi_pool = MultiScaleRoIAlign(featmap_names=featmaps, output_size=cfg["roi_crop_size"], sampling_ratio=2)
    model = FasterRCNN(
        backbone,
        num_classes=len(CLASSES),
        min_size=size,
        max_size=size,
        rpn_anchor_generator=generator,
        rpn_head=rpn_head,
        box_roi_pool=roi_pool,
        box_head=box_head,
        **{key: cfg[key] for key in _FASTER_RCNN_KEYS},
    )
    # Paper §2.1: RPN and DN weights ~ N(0, 0.01), biases 0. torchvision's RPNHead is
    # initialised so already; do the same for the DN's classification and box layers.
    predictor = model.roi_heads.box_predictor
    for layer in (predictor.cls_score, predictor.bbox_pred):
        nn.init.normal_(layer.weight, std=cfg["init_std"])
        nn.init.zeros_(layer.bias)
    # one pixel scale for every input size (the module holds no tensors: the state dict is unchanged)
    model.transform = fixed_scale_transform(
        size, int(image_size), model.transform.image_mean, model.transform.image_std
    )
    model.deepcee_config = cfg
    model.deepcee_image_size = size
    model.deepcee_reference_size = int(image_size)
    if load_weights:
        _load_weights(model, cfg)
    return model


def _load_partial(model: nn.Module, state: dict, source: str) -> list[str]:
    """Load every tensor whose name and shape match (the 2-class predictor never does)."""
    own = model.state_dict()
    usable = {k: v for k, v in state.items() if k in own and own[k].shape == v.shape}
    if not usable:
        raise DeepCeeError(f"weights {source}: no tensor matches this detector (another backbone?)")
    model.load_state_dict(usable, strict=False)
    skipped = sorted(set(own) - set(usable))
    model.deepcee_skipped_weights = skipped
    return skipped


def coco_weights_enum(backbone: str):
    from torchvision.models.detection import (
        FasterRCNN_MobileNet_V3_Large_FPN_Weights,
        FasterRCNN_ResNet50_FPN_V2_Weights,
    )

    return {
        "mobilenet_v3_large_fpn": FasterRCNN_MobileNet_V3_Large_FPN_Weights.COCO_V1,
        "resnet50_fpn_v2": FasterRCNN_ResNet50_FPN_V2_Weights.COCO_V1,
    }[backbone]


def coco_cache_path(backbone: str) -> Path:
    """Where torchvision caches the COCO weights (``$TORCH_HOME/hub/checkpoints``)."""
    url = coco_weights_enum(backbone).url
    return Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(url)


def coco_state_dict(backbone: str) -> dict:
    """torchvision's COCO weights (downloaded once into TORCH_HOME); offline → one line."""
    enum = coco_weights_enum(backbone)
    cached = coco_cache_path(backbone)
    try:
        return enum.get_state_dict(progress=False, check_hash=True)
    except Exception as err:  # URLError, socket errors, hash mismatch
        raise DeepCeeError(
            f"COCO weights for {backbone} are not in {cached} and could not be downloaded "
            f"({type(err).__name__}: {str(err)[:80]}); pre-fetch them on a machine with network with "
            f'`TORCH_HOME={Path(torch.hub.get_dir()).parent} python -c "import torchvision.models.detection as d; '
            f'd.{type(enum).__name__}.COCO_V1.get_state_dict()"` and copy {cached.name} there, '
            f"or set train.detector.weights: none"
        ) from None


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def describe(model: nn.Module) -> dict:
    """What the BUILT detector is, read back from its modules (Figure 1 is drawn from this).

    Feature-map strides come from one forward pass of the backbone on a blank image of the
    network's size, so the description holds for whatever backbone the config builds.
    """
    cfg = getattr(model, "deepcee_config", {})
    size = int(getattr(model, "deepcee_image_size", 0) or model.transform.min_size[0])
    was_training = model.training
    model.eval()
    with torch.no_grad():
        feats = model.backbone(torch.zeros(1, 3, size, size))
    model.train(was_training)
    gen = model.rpn.anchor_generator
    per_loc = gen.num_anchors_per_location()
    maps = []
    for k, (name, f) in enumerate(feats.items()):
        sizes = gen.sizes[k] if k < len(gen.sizes) else ()
        ratios = gen.aspect_ratios[k] if k < len(gen.aspect_ratios) else ()
        # the network's stride is a power of two; size / width is not when padding rounds up
        stride = int(2 ** round(math.log2(size / int(f.shape[3]))))
        maps.append(
            {
                "name": str(name),
                "channels": int(f.shape[1]),
                "height": int(f.shape[2]),
                "width": int(f.shape[3]),
                "stride": stride,
                "anchor_sizes": [int(s) for s in sizes],
                "aspect_ratios": [float(r) for r in ratios],
                "anchors_per_position": int(per_loc[k]) if k < len(per_loc) else 0,
            }
        )
    rpn, roi = model.rpn, model.roi_heads
    pool = roi.box_roi_pool
    crop = pool.output_size[0] if isinstance(pool.output_size, (tuple, list)) else int(pool.output_size)
    return {
        "backbone": str(cfg.get("backbone", type(model.backbone.body).__name__)),
        "image_size": size,
        "feature_maps": maps,
        "rpn": {
            "pre_nms_top_n_test": int(rpn._pre_nms_top_n["testing"]),
            "post_nms_top_n_test": int(rpn._post_nms_top_n["testing"]),
            "post_nms_top_n_train": int(rpn._post_nms_top_n["training"]),
            "nms_thresh": float(rpn.nms_thresh),
            "batch_size_per_image": int(rpn.fg_bg_sampler.batch_size_per_image),
            "positive_fraction": float(rpn.fg_bg_sampler.positive_fraction),
            "fg_iou_thresh": float(rpn.proposal_matcher.high_threshold),
            "bg_iou_thresh": float(rpn.proposal_matcher.low_threshold),
        },
        "detection": {
            "roi_featmaps": [str(n) for n in pool.featmap_names],
            "roi_crop": int(crop),
            "roi_maxpool": int(cfg.get("roi_maxpool", 1)),
            "box_head": type(roi.box_head).__name__,
            "classes": int(roi.box_predictor.cls_score.out_features),
            "batch_size_per_image": int(roi.fg_bg_sampler.batch_size_per_image),
            "positive_fraction": float(roi.fg_bg_sampler.positive_fraction),
            "fg_iou_thresh": float(roi.proposal_matcher.high_threshold),
            "nms_thresh": float(roi.nms_thresh),
            "score_thresh": float(roi.score_thresh),
            "detections_per_img": int(roi.detections_per_img),
        },
        "parameters": count_parameters(model),
    }
