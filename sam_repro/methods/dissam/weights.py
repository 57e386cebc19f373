"""DIS-SAM weights: the second-stage IS-Net, tied to the SAM weights whose masks it was trained on.

Two layouts load:

* the embedded world's parts file (``dis_sam_tiny.pt``, written by ``sam-repro train dissam``): the IS-Net's state
  dict under ``isnet.``, the :class:`~sam_repro.methods.dissam.settings.DisSamSettings` in its metadata, and the
  sha256 of the SAM file that made its training masks; it loads only on that SAM;
* the official ``dis_sam.pth`` (a plain ``ISNetDIS(in_ch=5)`` state dict, width 1, 1024 px): loaded strictly with
  :data:`~sam_repro.methods.dissam.settings.OFFICIAL` settings on the SAM backbone the user names (the code used
  ViT-L); a 3-channel IS-Net file (``isnet.pth``) is refused, saying so.
"""
from __future__ import annotations

import os
from typing import Any

import torch

from sam_repro.backbones.checkpoints import (
    CheckpointError, load_strict, read_checkpoint, read_state_dict, sha256_file,
)
from sam_repro.backbones.parts import PARTS_FORMAT, check_base, save_parts_checkpoint
from sam_repro.backbones.weights import (
    DIS_TRAIN_COMMAND, WeightsNotFoundError, get_weights, resolve_method_weights, resolve_sam_weights,
)
from sam_repro.methods.dissam.settings import OFFICIAL, DisSamSettings
from sam_repro.methods.isnet import ISNet

PREFIX = "isnet."

SHIPPED_ROWS: dict[int, str] = {
    1: "25b6770ce9495cb215e5f95289dc79476cdfaedcef3c18e3c855dca152f6dbbd",
    2: "73426dc7894a62f7f13538160faad541e11284dc920add6200cccbeff6ecc024",
    3: "a8907aa3d64427a85614b1bbf4472d5c4ef698cd3bdf00ceb1971b9ddb4d9940",
    4: "48ffde7e986ad98fa0e6250a45d1ad54258acc3c15b23656c89308a37b0eeb86",
}
"""sha256 of Table 2's rows 1-4 shipped for the tiny SAM (``dis_sam_tiny_row<k>.pt`` beside the registered
``dis_sam_tiny.pt``, which is row 5), each trained by ``sam-repro train dissam --row k`` at the shipped row 5's budget;
a row missing here is not shipped."""


def ablation_file(backbone: str, row: int) -> str:
    """The shipped file of Table 2's row ``row`` (1-4) for the tiny SAM, its sha256 checked.

    Raises:
        WeightsNotFoundError: another backbone, or a row not shipped (the message says how to train it).
        CheckpointError: the file's sha256 is not the registered one.
    """
    command = f"{DIS_TRAIN_COMMAND} --row {row}"
    if backbone != "tiny" or row not in SHIPPED_ROWS:
        raise WeightsNotFoundError(f"DIS-SAM's Table 2 row {row} is not shipped for backbone {backbone!r}; train it "
                                   f"with `{command}` and pass checkpoint=PATH")
    path = get_weights("dissam", "tiny").checkpoint.shipped.with_name(f"dis_sam_tiny_row{row}.pt")
    if not path.is_file():
        raise WeightsNotFoundError(f"{path} is missing; regenerate it with `{command}`")
    digest = sha256_file(path)
    if digest != SHIPPED_ROWS[row]:
        raise CheckpointError(f"{path}: sha256 {digest} is not the registered {SHIPPED_ROWS[row]}; regenerate it with "
                              f"`{command}`")
    return str(path)


def build_isnet(settings: DisSamSettings, seed: int | None = 0) -> ISNet:
    """A (seeded) IS-Net for ``settings``, in eval mode."""
    if seed is None:
        return ISNet(in_ch=settings.in_ch, width=settings.width).eval()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return ISNet(in_ch=settings.in_ch, width=settings.width).eval()


def save_dissam_parts(isnet: ISNet, path: str | os.PathLike, *, settings: DisSamSettings, base_sha256: str,
                      backbone: str, meta: dict[str, Any] | None = None, dtype: torch.dtype | None = None) -> str:
    """Write the IS-Net (under ``isnet.``) with ``settings`` and the base SAM's sha256; return the file's sha256."""
    state = {PREFIX + key: value for key, value in isnet.state_dict().items()}
    info = {**dict(meta or {}), "settings": settings.to_dict()}
    return save_parts_checkpoint(state, path, method="dissam", backbone=backbone, base_sha256=base_sha256,
                                 meta=info, dtype=dtype)


def load_isnet_state(isnet: ISNet, state: dict[str, torch.Tensor], source: str | os.PathLike) -> None:
    """Load an IS-Net state dict strictly; a channel mismatch is named (a 3-channel IS-Net file offered to DIS-SAM's
    5-channel network, or the reverse)."""
    weight = state.get("conv_in.weight")
    if weight is not None and weight.shape[1] != isnet.in_ch:
        kind = {3: "an IS-Net (RGB only) checkpoint", 5: "a DIS-SAM (5-channel) checkpoint"}.get(
            int(weight.shape[1]), f"a {weight.shape[1]}-channel checkpoint")
        raise CheckpointError(f"checkpoint {source} is {kind}: conv_in.weight takes {weight.shape[1]} input channels, "
                              f"but this network takes {isnet.in_ch}")
    load_strict(isnet, state, source)


def load_dissam_parts(backbone: str, checkpoint: str | os.PathLike | None, *,
                      base_checkpoint: str | os.PathLike | None = None
                      ) -> tuple[ISNet, DisSamSettings, dict[str, Any]]:
    """The IS-Net, its settings and provenance of a DIS-SAM file for ``backbone`` (the registry's ``dissam:BACKBONE``
    or an explicit file), checked against the SAM weights it will sit on (parts files only).

    Raises:
        WeightsNotFoundError: nothing registered or given. CheckpointError: a file that does not fit (named).
    """
    path, expected = _resolve(backbone, checkpoint)
    state, meta = read_checkpoint(path, expected_sha256=expected)
    provenance: dict[str, Any] = {"checkpoint": str(path), "checkpoint_sha256": expected or sha256_file(path)}
    if meta.get("format") == PARTS_FORMAT:
        if meta.get("method") != "dissam" or meta.get("backbone") != backbone:
            raise CheckpointError(f"checkpoint {path} holds {meta.get('method')} parts for backbone "
                                  f"{meta.get('backbone')!r}, not DIS-SAM for {backbone!r}")
        settings = DisSamSettings.from_dict(meta.get("settings") or {})
        base_path, base_expected = resolve_sam_weights(backbone, base_checkpoint)
        base_sha = (base_expected or sha256_file(base_path)).lower()
        check_base(path, meta, base_path, base_sha, DIS_TRAIN_COMMAND)
        if not all(key.startswith(PREFIX) for key in state):
            raise CheckpointError(f"DIS-SAM file {path}: every key must start with {PREFIX!r}")
        state = {key[len(PREFIX):]: value for key, value in state.items()}
        provenance.update(weights="DIS-SAM parts", base_checkpoint_sha256=base_sha)
    else:
        settings = OFFICIAL
        provenance.update(weights="official DIS-SAM state dict")
    isnet = build_isnet(settings, seed=None)
    load_isnet_state(isnet, state, path)
    provenance["settings"] = settings.to_dict()
    return isnet, settings, provenance



def _resolve(backbone: str, checkpoint: str | os.PathLike | None) -> tuple[Any, str | None]:
    return resolve_method_weights(
        "dissam", backbone, checkpoint, label="DIS-SAM",
        alternatives="pass checkpoint=PATH (a DIS-SAM file: ours or the official dis_sam.pth) or "
                     "random_init_isnet=True")


def read_isnet_file(path: str | os.PathLike, in_ch: int = 3, width: float = 1.0) -> ISNet:
    """An IS-Net from a plain state-dict file (the official ``isnet.pth`` at width 1, or one this package saved)."""
    isnet = ISNet(in_ch=in_ch, width=width).eval()
    load_isnet_state(isnet, read_state_dict(path), path)
    return isnet
