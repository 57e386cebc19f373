"""Test-time adaptation of SAM's mask decoder during interactive use (Schön, Lorenz, Ludwig, Lienhart,
"Adapting the Segment Anything Model During Usage in Novel Situations"; paper 001).

Only the mask decoder adapts, with Adam, from what a user's session exposes (clicks and the masks
shown), never from the ground truth. The three sources of supervision of the paper (section 3.3):

* **click adaptation (CA)**: after every click, one step on the sparse BCE of eq. (2) over all clicks
  of the current image; ``reset`` restores the decoder (and Adam's state) when the image is done
  (R in the tables), ``continual`` keeps the updates (C);
* **result mask (RM)**: after the image, one step on the final mask, ``untreated`` (U) or ``eroded``
  (E): foreground and background eroded separately ``erosion_iterations`` times with the 3x3 cross,
  the band in between ignored (eq. 3-5);
* **click mask (CM)**: after the image, one step on the sparse mask of all its clicks; merged with the
  RM pseudo-label when both are on (click labels override the pseudo-label at their pixels).

Choices where the paper is silent (documented, and parameters where both readings are plausible):

* Losses are computed on the logits at the original image resolution (SAM's own upscaling, with
  gradient), so a click supervises exactly its pixel: no nearest-neighbour downsampling of a
  one-pixel click map, which drops most clicks in the follow-up code (research/methods.md §2).
* Eq. (2) as printed: mean BCE over the foreground-labelled pixels plus mean BCE over the
  background-labelled pixels (a term is dropped when no pixel has that label). The follow-up code
  halves the sum and divides by all pixels; that is not the paper's equation.
* The image-level step (RM/CM) runs after the CA reset, on the restored decoder, and by default
  only when the user reached the target (``adapt_on_failure=False``, as the follow-up code does: a
  failed image's mask is not trusted).
* The image-level step re-decodes the last click's prompts (all clicks and the mask input of that
  click) with gradient; CA steps re-decode the current click's prompts.
* Erosion treats pixels outside the image as neither foreground nor background (scipy's default
  ``border_value=0``), as the follow-up code does.
* One decoder copy (with its own Adam state) per annotated class when ``per_class`` is on and the
  loop passes a class name; otherwise one shared copy.
* Erosion depth: k = 5 iterations in the paper, on the result mask at the image's own resolution
  (``erosion_units="image"``, the paper's and the default). The paper's images meet SAM at a 1024 px input
  whose mask grid cell is 4 px; ``erosion_units="input"`` instead counts k in pixels of the model's input and
  scales it to the image (k * long side / input side), which keeps the ignored band the same share of a
  mask-grid cell when a model's input is smaller than the image (the tiny SAM's 256 px input on 1024 px
  images erodes 20 px). Both coincide when the image is as large as the model's input.
* Learning rate: the paper uses Adam 1e-6 for ViT-B (``PAPER_LR``); ``lr=None`` (the default) takes the
  backbone's value from :func:`default_lr`, so ``load_segmenter("tta:vit_b")`` adapts ViT-B at the paper's
  rate. The tiny backbone's decoder is
  ~10x smaller (0.43M vs 4.06M parameters) and trained from scratch at 1e-3; ``TINY_LR`` was chosen on the train split of a
  stand-in domain (see ``notebooks/sam_tta/tta_ablations.ipynb`` for the sweep).
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
import torch.nn.functional as F
from scipy import ndimage

from sam_repro.methods.base import SamBacked, Segmenter
from sam_repro.methods.hooks import ClickEvent, InteractionHooks, SampleEvent, SampleStart
from sam_repro.prompts import Click, clicks_to_prompts

if TYPE_CHECKING:
    from sam_repro.backbones.engine import ImageEmbedding, SamEngine

PAPER_LR = 1e-6
"""Adam learning rate of the paper (SAM ViT-B)."""
TINY_LR = 3e-4
"""Adam learning rate for the tiny backbone (v3): the lowest NoC20@85 of the sweep 1e-5 ... 3e-3 on the *train*
split of the TrashCan stand-in (``notebooks/sam_tta/tta_ablations.ipynb``, embedded profile: 7.07 at 3e-4 against
8.04 at 1e-3, 9.64 at 1e-4, 12.42 at 3e-3 and 14.87 without adaptation; FR 11.1% against 20.0%, 22.2%, 48.9% and
68.9%; 45 objects), so the test images stay unseen. The v2 tiny SAM's sweep had chosen 1e-3."""

IGNORE = -1
CROSS = ndimage.generate_binary_structure(2, 1)
"""The 3x3 cross of eq. (4)."""


@dataclass(frozen=True)
class TTAConfig:
    """One configuration row of the paper's tables.

    Attributes:
        click_adaptation: ``"reset"`` (R), ``"continual"`` (C) or None.
        result_mask: ``"eroded"`` (E), ``"untreated"`` (U) or None.
        click_mask: CM, one step on all clicks of the image after it is done.
        erosion_iterations: k of eq. (3-4) (paper: 5).
        erosion_units: ``"image"`` (k pixels of the image, the paper's) or ``"input"`` (k pixels of the model's
            input, scaled to the image; see the module docstring).
        lr: Adam learning rate; None for the backbone's default (:func:`default_lr`).
        per_class: one decoder copy per annotated class.
        adapt_on_failure: also take the image-level step when the user gave up.
    """

    click_adaptation: str | None = "reset"
    result_mask: str | None = "eroded"
    click_mask: bool = True
    erosion_iterations: int = 5
    lr: float | None = None
    per_class: bool = True
    adapt_on_failure: bool = False
    erosion_units: str = "image"

    def __post_init__(self) -> None:
        if self.click_adaptation not in (None, "reset", "continual"):
            raise ValueError(f"click_adaptation must be 'reset', 'continual' or None, got {self.click_adaptation!r}")
        if self.result_mask not in (None, "eroded", "untreated"):
            raise ValueError(f"result_mask must be 'eroded', 'untreated' or None, got {self.result_mask!r}")
        if self.erosion_iterations < 0:
            raise ValueError(f"erosion_iterations must be >= 0, got {self.erosion_iterations}")
        if self.lr is not None and not self.lr > 0:
            raise ValueError(f"lr must be > 0 (or None for the backbone's default), got {self.lr}")
        if self.erosion_units not in ("image", "input"):
            raise ValueError(f"erosion_units must be 'image' or 'input', got {self.erosion_units!r}")

    @property
    def adapts(self) -> bool:
        return self.click_adaptation is not None or self.result_mask is not None or self.click_mask

    @property
    def label(self) -> str:
        """The table's letters: CA (R/C/-), RM (E/U/-), CM (✓/-)."""
        ca = {"reset": "R", "continual": "C", None: "-"}[self.click_adaptation]
        rm = {"eroded": "E", "untreated": "U", None: "-"}[self.result_mask]
        return f"{ca} {rm} {'✓' if self.click_mask else '-'}"


#: The configuration rows of Tables 1-4 (row positions as reconstructed in paper_tables/sam_tta.yaml).
PAPER_CONFIGS: dict[str, TTAConfig] = {
    "baseline": TTAConfig(None, None, False),
    "complete": TTAConfig("reset", "eroded", True),
    "R": TTAConfig("reset", None, False),
    "C": TTAConfig("continual", None, False),
    "E": TTAConfig(None, "eroded", False),
    "CM": TTAConfig(None, None, True),
    "R+CM": TTAConfig("reset", None, True),
    "R/U/CM": TTAConfig("reset", "untreated", True),
}


def default_lr(backbone: str) -> float:
    """The Adam learning rate for ``backbone``: the paper's for the official SAMs, the tuned one for the
    embedded world's tiny backbones (``tiny*``, ``micro``)."""
    return TINY_LR if backbone.startswith("tiny") or backbone == "micro" else PAPER_LR


def erosion_depth(config: TTAConfig, image_shape: tuple[int, int], input_side: int) -> int:
    """Iterations of the erosion for an image of ``image_shape`` (see ``TTAConfig.erosion_units``)."""
    if config.erosion_units == "image":
        return config.erosion_iterations
    return int(round(config.erosion_iterations * max(image_shape) / input_side))


def sparse_bce(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Eq. (2): mean BCE over pixels labelled 1 plus mean BCE over pixels labelled 0.

    Args:
        logits: (..., H, W) float logits; labels: same shape, int in {1, 0, -1 (ignored)}.

    Returns:
        scalar loss; a term is left out when no pixel carries its label (0 when none is labelled).
    """
    if logits.shape != labels.shape:
        raise ValueError(f"logits {tuple(logits.shape)} and labels {tuple(labels.shape)} must have the same shape")
    loss = logits.new_zeros(())
    for value in (1, 0):
        selected = labels == value
        if selected.any():
            target = torch.full_like(logits[selected], float(value))
            loss = loss + F.binary_cross_entropy_with_logits(logits[selected], target)
    return loss


def click_label_map(clicks: tuple[Click, ...] | list[Click], shape: tuple[int, int]) -> np.ndarray:
    """Eq. (1): (H, W) int8 map, 1 at positive clicks, 0 at negative clicks, -1 elsewhere (a later
    click on the same pixel wins)."""
    labels = np.full(shape, IGNORE, dtype=np.int8)
    for click in clicks:
        labels[int(click.y), int(click.x)] = 1 if click.positive else 0
    return labels


def eroded_pseudo_label(mask: np.ndarray, iterations: int = 5) -> np.ndarray:
    """Eq. (3-5): (H, W) bool result mask -> int8 map, 1 = eroded foreground, 0 = eroded background,
    -1 = the band between them (ignored)."""
    mask = np.asarray(mask, dtype=bool)
    if mask.ndim != 2:
        raise ValueError(f"mask must be (H, W), got shape {mask.shape}")
    labels = np.full(mask.shape, IGNORE, dtype=np.int8)
    if iterations == 0:
        return mask.astype(np.int8)
    labels[ndimage.binary_erosion(mask, CROSS, iterations=iterations)] = 1
    labels[ndimage.binary_erosion(~mask, CROSS, iterations=iterations)] = 0
    return labels


def image_level_labels(config: TTAConfig, final_mask: np.ndarray, clicks: tuple[Click, ...],
                       erosion_iterations: int | None = None) -> np.ndarray | None:
    """The label map of the step after an image (RM and/or CM), or None when neither is on
    (``erosion_iterations``: the depth for this image, :func:`erosion_depth`; None: the configuration's)."""
    if config.result_mask is None and not config.click_mask:
        return None
    if config.result_mask == "eroded":
        depth = config.erosion_iterations if erosion_iterations is None else erosion_iterations
        labels = eroded_pseudo_label(final_mask, depth)
    elif config.result_mask == "untreated":
        labels = np.asarray(final_mask, dtype=np.int8)
    else:
        labels = np.full(final_mask.shape, IGNORE, dtype=np.int8)
    if config.click_mask:
        clicked = click_label_map(clicks, final_mask.shape)
        labels = np.where(clicked != IGNORE, clicked, labels)
    return labels


class TestTimeAdaptation(SamBacked, InteractionHooks):
    """The paper's method: a segmenter that wraps a SAM-backed one and adapts its mask decoder through
    the interactive session's hooks.

    It predicts exactly like the wrapped segmenter (whose decoder it adapts in place) and lists itself
    in ``interactive_hooks``, which every interactive session (the simulated user's NoC loop, the
    harness, a person's clicks in the widgets) fires after every click and sample. Outside a session it
    is the wrapped segmenter. It is itself :class:`SamBacked` (every member delegated), so it composes
    with any method that wraps a SAM-backed segmenter.

    Args:
        segmenter: any :class:`SamBacked` segmenter (plain SAM, HQ-SAM...).
        config: which adaptations run (:data:`PAPER_CONFIGS`).
    """

    __test__ = False  # not a pytest class

    def __init__(self, segmenter: Segmenter, config: TTAConfig = TTAConfig()):
        if not isinstance(segmenter, SamBacked):
            raise TypeError(f"{getattr(segmenter, 'name', segmenter)!r} is not SAM-backed (a SamBacked segmenter "
                            "with a SAM-style mask decoder), so there is no decoder to adapt")
        model = segmenter.model
        if config.lr is None:
            config = replace(config, lr=default_lr(str(segmenter.info().get("backbone", ""))))
        self.segmenter = segmenter
        self.config = config
        self.name = f"tta[{config.label}]:{segmenter.name}"
        self.decoder: torch.nn.Module = segmenter.mask_decoder
        self._initial = self._snapshot_decoder()
        self._optimizer = self._new_optimizer()
        self._per_class: dict[str | None, tuple[dict, dict]] = {}
        self._active_class: str | None = None
        self._image_start: tuple[dict, dict] | None = None
        self._last_click: ClickEvent | None = None
        self.steps = {"click": 0, "image": 0}
        for parameter in model.parameters():
            parameter.requires_grad_(False)
        for parameter in self.decoder.parameters():
            parameter.requires_grad_(True)

    # -- state -----------------------------------------------------------------------------------
    def _new_optimizer(self) -> torch.optim.Adam:
        return torch.optim.Adam(self.decoder.parameters(), lr=self.config.lr)

    def _snapshot_decoder(self) -> dict[str, torch.Tensor]:
        return {k: v.detach().clone() for k, v in self.decoder.state_dict().items()}

    def _snapshot(self) -> tuple[dict, dict]:
        return self._snapshot_decoder(), copy.deepcopy(self._optimizer.state_dict())

    def _restore(self, state: tuple[dict, dict]) -> None:
        self.decoder.load_state_dict(state[0])
        self._optimizer.load_state_dict(copy.deepcopy(state[1]))

    def reset(self) -> None:
        """Back to the unadapted decoder, for every class."""
        self.decoder.load_state_dict(self._initial)
        self._optimizer = self._new_optimizer()
        self._per_class.clear()
        self._active_class = None
        self.steps = {"click": 0, "image": 0}

    def decoder_state(self) -> dict[str, torch.Tensor]:
        """A copy of the current decoder weights."""
        return self._snapshot_decoder()

    # -- the Segmenter interface (delegated) ---------------------------------------------------------
    def set_image(self, image: np.ndarray) -> None:
        self.segmenter.set_image(image)

    def reset_image(self) -> None:
        self.segmenter.reset_image()

    def predict(self, points: np.ndarray | None = None, labels: np.ndarray | None = None,
                box: np.ndarray | None = None, mask_input: np.ndarray | None = None, multimask: bool = False):
        return self.segmenter.predict(points=points, labels=labels, box=box, mask_input=mask_input,
                                      multimask=multimask)

    @property
    def capabilities(self) -> frozenset[str]:  # type: ignore[override]
        return self.segmenter.capabilities | ({"adapts"} if self.config.adapts else set())

    @property
    def interactive_hooks(self) -> tuple[InteractionHooks, ...]:
        own = (self,) if self.config.adapts else ()
        return (*self.segmenter.interactive_hooks, *own)

    # -- SamBacked, delegated ------------------------------------------------------------------------
    @property
    def model(self) -> torch.nn.Module:  # type: ignore[override]
        return self.segmenter.model

    @property
    def engine(self) -> "SamEngine":  # type: ignore[override]
        return self.segmenter.engine

    @property
    def embedding(self) -> "ImageEmbedding":
        return self.segmenter.embedding

    @property
    def decoder_options(self) -> dict[str, Any]:
        return self.segmenter.decoder_options

    @property
    def low_res_size(self) -> int:
        return self.segmenter.low_res_size

    def decode(self, *args: Any, **kwargs: Any):
        return self.segmenter.decode(*args, **kwargs)

    def upscale(self, low_res: torch.Tensor) -> torch.Tensor:
        return self.segmenter.upscale(low_res)

    # -- hooks -----------------------------------------------------------------------------------
    def before_sample(self, segmenter: Segmenter, event: SampleStart) -> None:
        key = event.class_name if self.config.per_class else None
        if key != self._active_class:  # swap in this class's decoder copy
            self._per_class[self._active_class] = self._snapshot()
            if key in self._per_class:
                self._restore(self._per_class[key])
            else:
                self.decoder.load_state_dict(self._initial)
                self._optimizer = self._new_optimizer()
            self._active_class = key
        self._image_start = self._snapshot() if self.config.click_adaptation == "reset" else None
        self._last_click = None

    def after_click(self, segmenter: Segmenter, event: ClickEvent) -> None:
        self._last_click = event
        if self.config.click_adaptation is None:
            return
        labels = click_label_map(event.clicks, event.mask.shape)
        self.adapt_step(event, labels)
        self.steps["click"] += 1

    def after_sample(self, segmenter: Segmenter, event: SampleEvent) -> None:
        if self._image_start is not None:
            self._restore(self._image_start)  # R: undo the deliberate over-fitting to this image
            self._image_start = None
        if self._last_click is None or (event.failed and not self.config.adapt_on_failure):
            return
        depth = erosion_depth(self.config, event.final_mask.shape, self.segmenter.engine.transform.target_length)
        labels = image_level_labels(self.config, event.final_mask, event.clicks, depth)
        if labels is not None:
            self.adapt_step(self._last_click, labels)
            self.steps["image"] += 1

    # -- one Adam step -----------------------------------------------------------------------------
    def adaptation_loss(self, event: ClickEvent, labels: np.ndarray) -> torch.Tensor:
        """Sparse BCE of the decoder's logits for ``event``'s prompts against ``labels`` (H, W)."""
        points, point_labels = clicks_to_prompts(event.clicks)
        low_res, _ = self.segmenter.decode(points=points[None], labels=point_labels[None],
                                           mask_input=None if event.mask_input is None else event.mask_input[None],
                                           multimask=event.multimask, grad=True)
        logits = self.segmenter.upscale(low_res)  # (1, K, H, W), differentiable
        chosen = event.prediction.best if event.multimask else 0
        target = torch.as_tensor(labels, device=logits.device)
        return sparse_bce(logits[0, chosen], target)

    def adapt_step(self, event: ClickEvent, labels: np.ndarray) -> None:
        """One Adam step of the decoder on the sparse loss of ``labels`` ((H, W) int8 map: 1 foreground,
        0 background, IGNORE elsewhere) for the prompt of ``event``; nothing when no pixel is labelled.
        The hooks call it; it is public so the cost of one step can be timed on its own."""
        if not (labels != IGNORE).any():
            return
        self.decoder.train()
        loss = self.adaptation_loss(event, labels)
        self._optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self._optimizer.step()
        self.decoder.eval()

    def diagnostics(self) -> dict[str, float]:
        return self.segmenter.diagnostics()  # the wrapped method's (e.g. Stable-SAM's alpha_1 per click)

    def info(self) -> dict[str, Any]:
        return {"method": "tta", "name": self.name, "tta": {"label": self.config.label, **vars(self.config)},
                "wrapped": self.segmenter.info()}


def from_backbone(backbone: str, checkpoint: Any = None, device: str = "auto", config: TTAConfig | str = "complete",
                  base: str = "sam", **kwargs: Any) -> TestTimeAdaptation:
    """``load_segmenter("tta:BACKBONE", config=..., base="sam"|"hqsam")``: adaptation around the
    ``base`` method on ``backbone``; ``config`` is a :class:`TTAConfig` or a key of
    :data:`PAPER_CONFIGS`."""
    from sam_repro.methods import load_segmenter

    if isinstance(config, str):
        if config not in PAPER_CONFIGS:
            raise KeyError(f"unknown TTA configuration {config!r}; known: {', '.join(PAPER_CONFIGS)}")
        config = PAPER_CONFIGS[config]
    if base == "tta":
        raise ValueError("base must be a non-adapting method such as 'sam' or 'hqsam'")
    return TestTimeAdaptation(load_segmenter(f"{base}:{backbone}", checkpoint=checkpoint, device=device, **kwargs),
                              config)
