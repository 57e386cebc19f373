"""Every evaluation metric of the five papers, with one API.

Per sample, a plain function takes ``pred`` and ``gt``:

* ``pred``: (H, W) float probability map in [0, 1] or bool mask (never rescaled; integer maps are
  refused: convert with :func:`prob_from_uint8` or ``logits > 0``);
* ``gt``: (H, W) bool mask (:func:`mask_from_uint8` converts a 0/255 PNG), or an integer class map
  with ignore label 255 for :class:`VOCMeanIoU`.

Per dataset, an accumulator object: ``update(...)`` one sample (returns its value),
``compute() -> dict``, ``reset()``. Each docstring names its aggregation (per-image mean or counts
accumulated over the dataset) after the paper's reference, and what happens with empty masks
(NaN where the reference divides 0 by 0; per-image means take ``nan_policy="propagate"|"omit"``).

============================  ==========================================  =====================================
metric                        per sample                                  dataset
============================  ==========================================  =====================================
S-measure                     :func:`s_measure`                           :class:`SMeasure`
E-measure (adp/mean/max)      :func:`e_measure`                           :class:`EMeasure`
F-measure (adp/mean/max)      :func:`f_measure`                           :class:`FMeasure`
weighted F                    :func:`weighted_f_measure`                  :class:`WeightedFMeasure`
MAE                           :func:`mae`                                 :class:`MAE`
HCE_gamma                     :func:`hce` (+ :func:`gt_skeleton`)         :class:`HCE`
all of the above              --                                          :class:`SODMetrics`
IoU                           :func:`iou`, :func:`iou_counts`             :class:`IoU` (per image / dataset)
VOC mIoU                      :func:`intersect_and_union`                 :class:`VOCMeanIoU`
BER (percent)                 :func:`ber`, :func:`ber_counts`             :class:`BER` (dataset / per image)
Boundary IoU                  :func:`boundary_iou`                        :class:`BoundaryIoU` (mBIoU)
mBA                           :func:`mba` (+ :func:`mba_radii`)           :class:`MBA`
NoC_n / FR_n                  :func:`noc`, :func:`is_failure`             :class:`NoCFR`
SAM stability score           :func:`stability_score`                     --
Stable-SAM ST (reconstructed) :func:`stable_sam_st_reconstruction`        :class:`StableSAMSTReconstruction`
============================  ==========================================  =====================================

Which paper reports what (paper_tables/*.yaml):

* DIS-SAM, Pi-SAM (DIS5K): maxF_beta, F^w_beta, MAE, S_alpha, mean E_phi, HCE_gamma ->
  ``SODMetrics().compute()`` keys ``fm_max, wfm, mae, sm, em_mean, hce``; Pi-SAM also IoU,
  boundary IoU and mBA.
* Stable-SAM: mIoU and mBIoU as HQ-SAM (per-image means: ``IoU()``, ``BoundaryIoU()``), ST (only
  as our reconstruction), MESS class-wise mIoU (``VOCMeanIoU`` with that dataset's classes).
* AlignSAM: E_phi, F_beta, MAE (saliency, glass, blur), BER (shadow), PASCAL VOC mIoU over the
  20 categories (``VOCMeanIoU(mean_over=range(1, 21))``). Its code is not public: which E/F
  variant and which IoU aggregation it used is unknown; report the one chosen.
* SAM test-time adaptation (Schön et al.): NoC_20@85 / FR_20@85 and NoC_30@90 / FR_30@90
  (``NoCFR``).
"""
from __future__ import annotations

from sam_repro.metrics._base import Metric
from sam_repro.metrics._validate import IGNORE_INDEX, mask_from_uint8, prob_from_uint8
from sam_repro.metrics.boundary import (
    MBA,
    MBA_THRESHOLD,
    BoundaryIoU,
    boundary_dilation,
    boundary_iou,
    mask_to_boundary,
    mba,
    mba_radii,
)
from sam_repro.metrics.interactive import FR_MODES, NoCFR, is_failure, noc, reaches
from sam_repro.metrics.region import (
    BER,
    BER_THRESHOLD,
    IoU,
    VOCMeanIoU,
    ber,
    ber_counts,
    intersect_and_union,
    iou,
    iou_counts,
)
from sam_repro.metrics.sod import (
    HCE,
    MAE,
    SOD_METRICS,
    EMeasure,
    FMeasure,
    SMeasure,
    SODMetrics,
    WeightedFMeasure,
    e_measure,
    f_measure,
    gt_skeleton,
    hce,
    mae,
    s_measure,
    weighted_f_measure,
)
from sam_repro.metrics.stability import StableSAMSTReconstruction, stability_score, stable_sam_st_reconstruction

__all__ = [
    # conventions
    "IGNORE_INDEX",
    "Metric",
    "mask_from_uint8",
    "prob_from_uint8",
    # sod
    "s_measure",
    "e_measure",
    "f_measure",
    "weighted_f_measure",
    "mae",
    "gt_skeleton",
    "hce",
    "SMeasure",
    "EMeasure",
    "FMeasure",
    "WeightedFMeasure",
    "MAE",
    "HCE",
    "SODMetrics",
    "SOD_METRICS",
    # region
    "iou",
    "iou_counts",
    "IoU",
    "intersect_and_union",
    "VOCMeanIoU",
    "BER_THRESHOLD",
    "ber",
    "ber_counts",
    "BER",
    # boundary
    "boundary_dilation",
    "mask_to_boundary",
    "boundary_iou",
    "BoundaryIoU",
    "MBA_THRESHOLD",
    "mba_radii",
    "mba",
    "MBA",
    # interactive
    "FR_MODES",
    "noc",
    "reaches",
    "is_failure",
    "NoCFR",
    # stability
    "stability_score",
    "stable_sam_st_reconstruction",
    "StableSAMSTReconstruction",
]
