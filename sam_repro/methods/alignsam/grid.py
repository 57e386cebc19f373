"""Where things are: the action grid on the original image (eq. 3), SAM's embedding grid, and the maps between them.

Three frames meet in AlignSAM:

* the **original image** (H, W): actions are the centres of a G x G grid of patches on it (eq. 3; the paper resizes
  to 800 x 800 and cuts 80 x 80 patches, i.e. G = 10; we keep the image as it is and cut G x G patches of
  W/G x H/G pixels, which is the same grid in the image's own coordinates). Rewards and prompts live here;
* SAM's **input frame** (S x S): the image resized by ``ResizeLongestSide`` to (h, w) and zero-padded;
* the **embedding grid** (g x g cells of S/g input pixels): E_I(x), SAM's probability pooled to it (M of eq. 4),
  the states, the SRM's output y_r and the CLIP map M_c all live here.

:class:`Geometry` converts between them; every conversion is linear and documented with its convention, so the
tests can check it by hand (a 300 x 200 image in ``tests/test_alignsam_grid.py``).
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from sam_repro.data.sample import IGNORE_INDEX


def _overlaps(starts: np.ndarray, ends: np.ndarray, cells: int) -> np.ndarray:
    """(len(starts), cells): length of [start, end) inside each unit cell [c, c + 1)."""
    c = np.arange(cells, dtype=np.float64)
    return np.clip(np.minimum(ends[:, None], c[None] + 1) - np.maximum(starts[:, None], c[None]), 0.0, None)


@dataclass(frozen=True)
class Geometry:
    """The frames of one image.

    Attributes:
        original_size: (H, W) of the image as given.
        input_size: (h, w) after SAM's ``ResizeLongestSide`` (before padding to ``img_size``).
        img_size: S, side of SAM's padded input.
        grid: g, side of the embedding grid (S / encoder stride).
        actions: G, side of the action grid (G x G actions).
    """

    original_size: tuple[int, int]
    input_size: tuple[int, int]
    img_size: int
    grid: int
    actions: int = 10

    def __post_init__(self) -> None:
        if self.actions < 1 or self.grid < 1:
            raise ValueError(f"action grid G and embedding grid g must be >= 1, got {self.actions}, {self.grid}")

    @property
    def stride(self) -> float:
        """Input pixels per embedding cell (S / g)."""
        return self.img_size / self.grid

    @property
    def num_actions(self) -> int:
        return self.actions * self.actions

    def to_input(self, points: np.ndarray) -> np.ndarray:
        """(N, 2) original xy -> input-frame xy (SAM's ``apply_coords``: x * w / W, y * h / H)."""
        (height, width), (h, w) = self.original_size, self.input_size
        points = np.asarray(points, dtype=np.float64).reshape(-1, 2)
        return points * np.array([w / width, h / height])

    def to_cells(self, points: np.ndarray) -> np.ndarray:
        """(N, 2) original xy -> continuous embedding-grid xy (cell c spans [c, c + 1), its centre is c + 0.5)."""
        return self.to_input(points) / self.stride

    def centres(self) -> np.ndarray:
        """(G*G, 2) float64 xy of the patch centres in original pixels, row-major: action k is patch
        (row k // G, column k % G) with centre ((col + 0.5) W / G, (row + 0.5) H / G)."""
        height, width = self.original_size
        g = self.actions
        rows, cols = np.divmod(np.arange(g * g), g)
        return np.stack([(cols + 0.5) * width / g, (rows + 0.5) * height / g], axis=1)

    @cached_property
    def valid_cells(self) -> np.ndarray:
        """(g, g) float32: fraction of each embedding cell covered by the image (0 in the padding)."""
        h, w = self.input_size
        ys = _overlaps(np.array([0.0]), np.array([h / self.stride]), self.grid)[0]
        xs = _overlaps(np.array([0.0]), np.array([w / self.stride]), self.grid)[0]
        return (ys[:, None] * xs[None, :]).astype(np.float32)

    @cached_property
    def patch_pooling(self) -> torch.Tensor:
        """(G*G, g*g) float32: row k averages an embedding-grid map over patch k (weights = the area of each cell
        inside the patch, normalised to sum 1). The actor's per-cell logits become per-patch logits through it,
        so the actor stays fully convolutional on any image size."""
        height, width = self.original_size
        (h, w), g = self.input_size, self.actions
        edges_x = np.arange(g + 1) * width / g * (w / width) / self.stride
        edges_y = np.arange(g + 1) * height / g * (h / height) / self.stride
        ox = _overlaps(edges_x[:-1], edges_x[1:], self.grid)  # (G, g)
        oy = _overlaps(edges_y[:-1], edges_y[1:], self.grid)
        weights = np.einsum("ic,jd->ijcd", oy, ox).reshape(g * g, self.grid * self.grid)
        weights /= weights.sum(axis=1, keepdims=True)
        return torch.as_tensor(weights, dtype=torch.float32)

    def cell_centres(self) -> np.ndarray:
        """(g*g, 2) xy in original pixels of every embedding cell's centre (row-major)."""
        (height, width), (h, w) = self.original_size, self.input_size
        rows, cols = np.divmod(np.arange(self.grid * self.grid), self.grid)
        x = (cols + 0.5) * self.stride * width / w
        y = (rows + 0.5) * self.stride * height / h
        return np.stack([x, y], axis=1)

    def sample(self, grid_map: torch.Tensor, points: np.ndarray) -> torch.Tensor:
        """Bilinear values of a (g, g) (or (..., g, g)) embedding-grid map at (N, 2) original xy points: (N,)."""
        cells = torch.as_tensor(self.to_cells(points), dtype=grid_map.dtype, device=grid_map.device)
        normalised = 2.0 * cells / self.grid - 1.0  # align_corners=False: cell c's centre is at (2c + 1) / g - 1
        values = F.grid_sample(grid_map.reshape(1, 1, self.grid, self.grid), normalised[None, None],
                               mode="bilinear", padding_mode="border", align_corners=False)
        return values[0, 0, 0]

    def pool_image_map(self, image_map: np.ndarray) -> np.ndarray:
        """An (H, W) float map on the original image -> (g, g) float32 area averages on the embedding grid
        (resized into the input frame with area interpolation, zero in the padding)."""
        h, w = self.input_size
        resized = cv2.resize(np.asarray(image_map, dtype=np.float32), (w, h), interpolation=cv2.INTER_AREA)
        padded = np.zeros((self.img_size, self.img_size), np.float32)
        padded[:h, :w] = resized
        pooled = F.adaptive_avg_pool2d(torch.from_numpy(padded)[None, None], self.grid)
        return pooled[0, 0].numpy()

    def probability_grid(self, low_res_logits: torch.Tensor) -> torch.Tensor:
        """M of eq. 4: SAM's probability (sigmoid of (1, 1, 4g, 4g) low-res logits over the padded input) averaged
        over each embedding cell, times the cell's image coverage (the padding is no foreground): (g, g)."""
        probability = torch.sigmoid(low_res_logits.reshape(1, 1, *low_res_logits.shape[-2:]).float())
        pooled = F.adaptive_avg_pool2d(probability, self.grid)[0, 0]
        return pooled * torch.as_tensor(self.valid_cells, device=pooled.device)

    def target_grid(self, gt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """SRM targets y' (eq. 13) from an (H, W) uint8 ground truth in {0, 1, 255}: (g, g) foreground fraction
        of each cell's labelled pixels, and (g, g) weights = the cell's labelled fraction (255 and padding: 0)."""
        labelled = (gt != IGNORE_INDEX).astype(np.float32)
        foreground = (gt == 1).astype(np.float32)
        weight = self.pool_image_map(labelled)
        fg = self.pool_image_map(foreground)
        target = np.where(weight > 1e-6, fg / np.maximum(weight, 1e-6), 0.0).astype(np.float32)
        return np.clip(target, 0.0, 1.0), weight.astype(np.float32)


def geometry_of(embedding, model: torch.nn.Module, actions: int) -> Geometry:
    """The :class:`Geometry` of an :class:`~sam_repro.backbones.engine.ImageEmbedding` of ``model`` (a ``Sam``)."""
    return Geometry(original_size=tuple(embedding.original_size), input_size=tuple(embedding.input_size),
                    img_size=int(model.image_encoder.img_size), grid=int(embedding.features.shape[-1]),
                    actions=actions)


def state(features: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Eq. 4 / eq. 11: E_I(x) (1, C, g, g) times a (g, g) map (M_{t-1} or M_c), broadcast over channels."""
    return features * weights.to(features.dtype)[None, None]


def pixel_at(point: np.ndarray, size: tuple[int, int]) -> tuple[int, int]:
    """(row, col) of the pixel containing xy ``point`` (pixel (r, c) spans [c, c + 1) x [r, r + 1)), clamped."""
    height, width = size
    return min(max(int(np.floor(point[1])), 0), height - 1), min(max(int(np.floor(point[0])), 0), width - 1)


def reward_at(gt: np.ndarray, point: np.ndarray) -> float:
    """AlignSAM's reward: +1 if ``point`` (xy) falls on foreground of the (H, W) ground truth, -1 on background,
    0 on the ignore label 255 (VOC's borders: neither right nor wrong)."""
    value = int(gt[pixel_at(point, gt.shape[:2])])
    return 0.0 if value == IGNORE_INDEX else (1.0 if value == 1 else -1.0)
