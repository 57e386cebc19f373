"""What defines a DIS-SAM second stage besides its weights (stored in a DIS-SAM file's metadata)."""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

MASK_CHOICES = ("first", "best", "single")


@dataclass(frozen=True)
class DisSamSettings:
    """The second stage's architecture and how its input is made.

    Attributes:
        width: IS-Net channel multiplier (1: the official 44M-parameter network; the embedded world: 1/4).
        in_ch: 5 (DIS-SAM) or 3 (plain IS-Net, prompt-free: Table 1's IS-Net and Table 2's row 1).
        input_size: the square side IS-Net runs at (official 1024; tiny 512).
        use_mask, use_box: feed SAM's mask / the box (False: an all-zero channel, Table 2's ablation rows).
        order: ``"code"`` (RGB, mask, box) or ``"paper"`` (RGB, box, mask).
        mask_choice: which SAM mask: ``"first"`` of the multimask output (the official code's ``masks[0]``),
            ``"best"`` (highest predicted IoU) or ``"single"`` (``multimask_output=False``).
        binary_mask: SAM's mask as 0/1 (the code saves binary masks) or its probability.
        normalization: ``"minmax"`` (the saved maps of the official code) or ``"sigmoid"``.
    """

    width: float = 0.25
    in_ch: int = 5
    input_size: int = 512
    use_mask: bool = True
    use_box: bool = True
    order: str = "code"
    mask_choice: str = "first"
    binary_mask: bool = True
    normalization: str = "minmax"

    def __post_init__(self) -> None:
        from sam_repro.methods.dissam.inputs import ORDERS
        from sam_repro.methods.dissam.refiner import NORMALIZATIONS

        if self.in_ch not in (3, 5):
            raise ValueError(f"in_ch must be 5 (DIS-SAM) or 3 (IS-Net), got {self.in_ch}")
        if self.mask_choice not in MASK_CHOICES:
            raise ValueError(f"mask_choice must be one of {MASK_CHOICES}, got {self.mask_choice!r}")
        if self.order not in ORDERS:
            raise ValueError(f"order must be one of {ORDERS}, got {self.order!r}")
        if self.normalization not in NORMALIZATIONS:
            raise ValueError(f"normalization must be one of {NORMALIZATIONS}, got {self.normalization!r}")
        if not self.width > 0 or self.input_size < 32:
            raise ValueError(f"width must be > 0 and input_size >= 32, got {self.width}, {self.input_size}")

    @property
    def prompted(self) -> bool:
        """Whether the second stage reads the prompt at all (False: IS-Net, or a row with neither input)."""
        return self.in_ch == 5 and (self.use_mask or self.use_box)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "DisSamSettings":
        known = {k: v for k, v in values.items() if k in cls.__dataclass_fields__}
        return cls(**known)


#: The official DIS-SAM file (``dis_sam.pth``): the full IS-Net at 1024 px with the code's choices.
OFFICIAL = DisSamSettings(width=1.0, in_ch=5, input_size=1024)
