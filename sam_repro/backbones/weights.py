"""One registry for every checkpoint of every method, keyed by (method, backbone), timm-style.

Each :class:`WeightsEntry` says what a file is and where it comes from: file name, URL (None for files
that ship with the package), sha256 where it is published or was measured, size, license, paper, the
``data_manifest.yaml`` entry of the same file, and for a small *parts-only* file (HQ-SAM's HQ parts,
later a Stable-SAM plug-in, Pi-SAM's decoder...) the sha256 of the base SAM weights it was trained on
(``tied_to``; the loader refuses any other base) and the command that regenerates it.

* SAM's own backbones (``sam:vit_b`` ...) are registered from :mod:`sam_repro.backbones.registry`;
* HQ-SAM: the official ``sam_hq_vit_{b,l,h}.pth`` (SysCV/sam-hq, mirrored on Hugging Face lkeab/hq-sam)
  and the embedded world's HQ-only ``hq_sam_tiny.pt``.

Where a publisher gives no checksum, the first download through :func:`fetch_weights` records the sha256
it saw in ``<weights dir>/recorded_sha256.json`` (trust on first use), and every later load checks the
file against that record (:func:`expected_sha256`), so a file swapped or damaged after it was fetched is
caught.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from sam_repro.backbones.checkpoints import CheckpointError, WeightsNotFoundError, cached_path
from sam_repro.backbones.registry import SHIPPED_WEIGHTS_DIR, get_backbone, list_backbones
from sam_repro.backbones.specs import CheckpointSpec
from sam_repro.files import write_json_atomic
from sam_repro.hashing import sha256_file
from sam_repro.paths import weights_dir

RECORDED_DIGESTS = "recorded_sha256.json"
"""File in the weights directory holding the digests seen at first download (files with no published sha256)."""


@dataclass(frozen=True)
class WeightsEntry:
    """A checkpoint of one method on one backbone.

    Attributes:
        method: registry name of the method (``sam``, ``hqsam``...).
        backbone: the SAM backbone whose architecture the file fits.
        checkpoint: file name, URL, sha256 (None: unpublished), size, license, paper, shipped path,
            regenerate command.
        manifest_name: the ``data_manifest.yaml`` checkpoint entry describing the same file, if any.
        tied_to: for a parts-only file, the sha256 of the SAM weights it was trained on (also recorded
            in the file's metadata and checked at load); None for a full model file.
        note: what a user should know about these weights.
    """

    method: str
    backbone: str
    checkpoint: CheckpointSpec
    manifest_name: str | None = None
    tied_to: str | None = None
    note: str = ""

    @property
    def name(self) -> str:
        """``METHOD:BACKBONE``, as ``load_segmenter`` and ``sam-repro weights fetch`` take it."""
        return f"{self.method}:{self.backbone}"


_WEIGHTS: dict[tuple[str, str], WeightsEntry] = {}


def register_weights(entry: WeightsEntry) -> WeightsEntry:
    """Add ``entry``; a second entry for the same (method, backbone) is an error."""
    key = (entry.method, entry.backbone)
    if key in _WEIGHTS:
        raise ValueError(f"weights {entry.name!r} are already registered")
    _WEIGHTS[key] = entry
    return entry


def get_weights(method: str, backbone: str) -> WeightsEntry | None:
    """The entry of ``method`` on ``backbone``, or None."""
    return _WEIGHTS.get((method, backbone))


def list_weights(method: str | None = None) -> list[WeightsEntry]:
    """Every entry (of one method), sorted by method then backbone."""
    return [e for key, e in sorted(_WEIGHTS.items()) if method is None or e.method == method]


def find_weights(name: str) -> WeightsEntry:
    """The entry named ``METHOD:BACKBONE`` (a bare backbone name means plain SAM).

    Raises:
        KeyError: unknown name; the message lists the registered ones.
    """
    method, _, backbone = name.partition(":") if ":" in name else ("sam", "", name)
    entry = get_weights(method, backbone)
    if entry is None:
        known = ", ".join(e.name for e in list_weights())
        raise KeyError(f"no weights registered as {name!r}; registered: {known}")
    return entry


def locate_weights(entry: WeightsEntry) -> Path | None:
    """The local file of ``entry`` (shipped with the package, else in the weights cache), or None."""
    ckpt = entry.checkpoint
    candidates = [ckpt.shipped] if ckpt.shipped is not None else []
    candidates.append(cached_path(ckpt))
    return next((p for p in candidates if p is not None and p.is_file()), None)


def weights_present(name: str) -> bool:
    """Whether the weights registered as ``METHOD:BACKBONE`` (bare backbone: plain SAM) are on this machine
    (False when none are registered)."""
    method, _, backbone = name.partition(":") if ":" in name else ("sam", "", name)
    entry = get_weights(method, backbone)
    return entry is not None and locate_weights(entry) is not None


def _digest_file() -> Path:
    return weights_dir() / RECORDED_DIGESTS


def recorded_digests() -> dict[str, str]:
    """File name -> sha256 recorded at first download (files without a published digest)."""
    path = _digest_file()
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text())
    except ValueError as error:
        raise CheckpointError(f"{path} is not valid JSON ({error}); delete it to record digests afresh") from None
    if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
        raise CheckpointError(f"{path} must map file names to sha256 strings; delete it to record digests afresh")
    return data


def record_digest(filename: str, sha256: str) -> None:
    """Remember the digest of a downloaded file that has no published one."""
    digests = recorded_digests()
    digests[filename] = sha256.lower()
    write_json_atomic(_digest_file(), digests)


def expected_sha256(entry: WeightsEntry) -> str | None:
    """The digest a file of ``entry`` must have: the published / measured one, else the one recorded at its
    first download, else None (never seen: nothing to check)."""
    if entry.checkpoint.sha256:
        return entry.checkpoint.sha256
    return recorded_digests().get(entry.checkpoint.filename)


def resolve_weights(entry: WeightsEntry, checkpoint: str | os.PathLike | None,
                    missing_hint: str = "") -> tuple[Path, str | None]:
    """Which file to load for ``entry`` and the sha256 it must have (None: unchecked).

    Args:
        checkpoint: an explicit file (checked against the entry's digest only when it carries the entry's
            file name: a fine-tuned file under another name is not), or None for the registered file.
        missing_hint: alternatives to suggest when the file is missing (e.g. ``random_init=True``).

    Raises:
        WeightsNotFoundError: no such file, or not on this machine; the message says how to get it.
    """
    ckpt = entry.checkpoint
    if checkpoint is not None:
        path = Path(checkpoint).expanduser()
        if not path.is_file():
            raise WeightsNotFoundError(f"checkpoint={str(checkpoint)!r}: no such file")
        return path, (expected_sha256(entry) if path.name == ckpt.filename else None)
    path = locate_weights(entry)
    if path is not None:
        return path, expected_sha256(entry)
    hint = f" Otherwise {missing_hint}." if missing_hint else ""
    if ckpt.url is None and ckpt.shipped is None and ckpt.regenerate is None:
        raise WeightsNotFoundError(_manual_download(entry) + hint)
    if ckpt.url is None:
        raise WeightsNotFoundError(f"the weights of {entry.name} are missing ({ckpt.shipped}): regenerate them with "
                                   f"`{ckpt.regenerate}`.{hint}")
    digest = "" if ckpt.sha256 else " (no sha256 is published: the first download records the one it sees)"
    raise WeightsNotFoundError(
        f"the weights of {entry.name} are not on this machine. Run `sam-repro weights fetch {entry.name}`, or "
        f"download {ckpt.url} yourself and put it at {cached_path(ckpt)} (set SAM_REPRO_WEIGHTS to move the "
        f"weights directory){digest}.{hint}"
    )


def resolve_method_weights(method: str, backbone: str, checkpoint: str | os.PathLike | None, *, label: str,
                           alternatives: str) -> tuple[Path, str | None]:
    """:func:`resolve_weights` for ``METHOD:BACKBONE``; a backbone without a registered file of ``method`` needs an
    explicit ``checkpoint`` (then unchecked).

    Args:
        label: the method's name in messages (``HQ-SAM``...); alternatives: what else the caller can pass.

    Raises:
        WeightsNotFoundError: nothing registered and no file given, the file missing, or not on this machine.
    """
    entry = get_weights(method, backbone)
    if entry is not None:
        return resolve_weights(entry, checkpoint, missing_hint=alternatives)
    if checkpoint is None:
        registered = ", ".join(e.backbone for e in list_weights(method)) or "none"
        raise WeightsNotFoundError(f"no {label} weights are registered for backbone {backbone!r} (registered: "
                                   f"{registered}); {alternatives}")
    path = Path(checkpoint).expanduser()
    if not path.is_file():
        raise WeightsNotFoundError(f"checkpoint={str(checkpoint)!r}: no such file")
    return path, None


def resolve_sam_weights(backbone: str, checkpoint: str | os.PathLike | None) -> tuple[Path, str | None]:
    """:func:`resolve_weights` for plain SAM on ``backbone`` (a backbone without registered weights needs an
    explicit ``checkpoint``)."""
    entry = get_weights("sam", backbone)
    if entry is not None:
        return resolve_weights(entry, checkpoint, missing_hint="pass checkpoint=PATH or random_init=True")
    if checkpoint is None:
        raise WeightsNotFoundError(f"backbone {backbone!r} has no registered weights; pass checkpoint=PATH or "
                                   "random_init=True")
    path = Path(checkpoint).expanduser()
    if not path.is_file():
        raise WeightsNotFoundError(f"checkpoint={str(checkpoint)!r}: no such file")
    return path, None


def fetch_weights(entry: WeightsEntry, timeout: float = 10.0, progressbar: bool = True) -> Path:
    """Download ``entry``'s file into the weights cache, verified against its digest (published, or recorded
    at a previous download; a first download of an unpublished file records the digest it saw).

    Raises:
        CheckpointError: nothing to download (shipped weights), or the download failed (the message names
            the URL and where to put a manually downloaded file).
        ChecksumError: a present or downloaded file has the wrong digest.
    """
    import pooch

    ckpt = entry.checkpoint
    if ckpt.url is None and ckpt.shipped is None and ckpt.regenerate is None:
        raise CheckpointError(_manual_download(entry))
    if ckpt.url is None:
        raise CheckpointError(f"{entry.name} has nothing to download (it ships with the package: {ckpt.shipped})")
    target = cached_path(ckpt)
    expected = expected_sha256(entry)
    if target.is_file() and expected is not None and sha256_file(target) == expected:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    downloader = pooch.HTTPDownloader(progressbar=progressbar, timeout=timeout)
    try:
        fetched = Path(pooch.retrieve(url=ckpt.url, known_hash=f"sha256:{expected}" if expected else None,
                                      fname=ckpt.filename, path=target.parent, downloader=downloader))
    except ValueError as error:  # pooch reports hash mismatches as ValueError and removes the file
        if "hash" in str(error).lower():
            raise CheckpointError(f"download of {ckpt.url} did not match sha256 {expected}: {error}") from error
        raise
    except Exception as error:  # requests' connection errors, timeouts, HTTP errors
        raise CheckpointError(
            f"could not download {ckpt.url} ({type(error).__name__}: {error}). If this machine has no network, "
            f"download the file elsewhere and put it at {target}"
            + (f" (sha256 {expected})." if expected else ".")) from error
    if expected is None:
        record_digest(ckpt.filename, sha256_file(fetched))
    return fetched


def _manual_download(entry: WeightsEntry) -> str:
    """What to say about a missing file that has no URL, ships with nothing and no command makes it."""
    where = f" (data_manifest.yaml, {entry.manifest_name})" if entry.manifest_name else ""
    note = f" Note: {entry.note}." if entry.note else ""
    return (f"the weights of {entry.name} are a manual download{where} and are not on this machine: download the file "
            f"by hand and put it at {cached_path(entry.checkpoint)} (set SAM_REPRO_WEIGHTS to move the weights "
            f"directory).{note}")


# -- the entries ---------------------------------------------------------------------------------------------
for _name in list_backbones():
    _spec = get_backbone(_name)
    if _spec.checkpoint is not None:
        register_weights(WeightsEntry("sam", _name, _spec.checkpoint, note=_spec.description))

HQ_PAPER = "Ke et al., Segment Anything in High Quality, NeurIPS 2023 (arXiv:2306.01567)"
HQ_TRAIN_COMMAND = "sam-repro train hqsam"
"""The command that trains the embedded world's HQ parts (writes ``hq_sam_tiny.pt``)."""
_HQ_URL = "https://huggingface.co/lkeab/hq-sam/resolve/main/"

for _backbone in ("vit_b", "vit_l", "vit_h"):
    _file = f"sam_hq_{_backbone}.pth"
    register_weights(WeightsEntry(
        "hqsam", _backbone,
        CheckpointSpec(filename=_file, url=_HQ_URL + _file, sha256=None, size_bytes=None, license="Apache-2.0",
                       paper=HQ_PAPER),
        manifest_name=f"sam_hq_{_backbone}",
        note="official HQ-SAM checkpoint (SysCV/sam-hq, mirrored on Hugging Face lkeab/hq-sam); no sha256 is "
             "published: the first download records the one it sees and later loads check it",
    ))

register_weights(WeightsEntry(
    "hqsam", "tiny",
    CheckpointSpec(
        filename="hq_sam_tiny.pt", url=None,
        sha256="83a7d74c25f3e6685dd6d00a58101184c0f5f8ad27c43a605271f0e3f8e09306", size_bytes=368_299,
        license="Apache-2.0", paper="sam-repro embedded world (architecture of " + HQ_PAPER + ")",
        shipped=SHIPPED_WEIGHTS_DIR / "hq_sam_tiny.pt", regenerate=HQ_TRAIN_COMMAND,
    ),
    tied_to=get_backbone("tiny").checkpoint.sha256,
    note=f"HQ-only file: the HQ parts trained by `{HQ_TRAIN_COMMAND}` on top of the shipped tiny SAM (whose "
         "sha256 it records and checks at load time); 6,000 steps of 4 images, 18.4 min at one thread on 2 CPU cores "
         "(beside other runs)",
))

DIS_PAPER = "Liu et al., DIS-SAM: Segment Anything for Dichotomous Image Segmentation, ICME 2025 (arXiv:2401.00248)"
DIS_TRAIN_COMMAND = "sam-repro train dissam"
register_weights(WeightsEntry(
    "dissam", "tiny",
    CheckpointSpec(
        filename="dis_sam_tiny.pt", url=None,
        sha256="947e0a39aede5b3d5d5782727015052fa81743e2690c36789de5e760bce10a4d", size_bytes=5_798_623, license="MIT",
        paper="sam-repro embedded world (architecture of " + DIS_PAPER + ")",
        shipped=SHIPPED_WEIGHTS_DIR / "dis_sam_tiny.pt", regenerate=DIS_TRAIN_COMMAND,
    ),
    tied_to=get_backbone("tiny").checkpoint.sha256,
    note=f"the second-stage IS-Net (width 1/4, 512 px) trained by `{DIS_TRAIN_COMMAND}` on masks of the shipped "
         "tiny SAM, whose sha256 it records and checks at load time; Table 2's row 5 (float16, 2.9M parameters): GT "
         "encoder 1,500 steps, then 3,000 steps of 4 crops of 256 px, 25 min at one thread on 2 CPU cores",
))

# The official release: the second-stage IS-Net (ISNetDIS, 5 channels, width 1, 1024 px); its code runs SAM ViT-L
# (the paper does not say). A manual download (Google Drive), so no digest is known until a user records one.
register_weights(WeightsEntry(
    "dissam", "vit_l",
    CheckpointSpec(filename="dis_sam.pth", url=None, sha256=None, size_bytes=None, license="MIT", paper=DIS_PAPER),
    manifest_name="dissam_weights",
    note="the official DIS-SAM second stage (a plain 5-channel ISNetDIS state dict) for SAM ViT-L, the official "
         "code's backbone; download it by hand (data_manifest.yaml, dissam_weights) into the weights cache",
))

STABLE_PAPER = "Fan et al., Stable Segment Anything Model, ICLR 2025 (arXiv:2311.15776)"
STABLE_TRAIN_COMMAND = "sam-repro train stablesam"
register_weights(WeightsEntry(
    "stablesam", "tiny",
    CheckpointSpec(
        filename="stable_sam_tiny.pt", url=None,
        sha256="eae1ccb0b421cc56c3db99bb6070fbbed81a40eea283a7ba739f90e41d979acc", size_bytes=69_453, license="Apache-2.0",
        paper="sam-repro embedded world (architecture reconstructed from " + STABLE_PAPER + ")",
        shipped=SHIPPED_WEIGHTS_DIR / "stable_sam_tiny.pt", regenerate=STABLE_TRAIN_COMMAND,
    ),
    tied_to=get_backbone("tiny").checkpoint.sha256,
    note=f"plug-ins only (parts file): DSP and DRP trained by `{STABLE_TRAIN_COMMAND}` on top of the shipped tiny "
         "SAM, whose sha256 they record and check at load time (1,350 steps of 4 images, 5.8 min at one thread on 2 "
         "CPU cores). No official Stable-SAM weights exist",
))
TUNING_TRAIN_COMMAND = "sam-repro train tuning"
_TUNED_FILES = {  # sha256 and size of the shipped files
    "ptsam": ("213379fd25cc056872b69989575a189edf9a101d45d6c5ce475dc49f62bfc2a1", 4_093),
    "lora": ("57de71f8084574ff202166ed159b9cf57e704d1b9ce49cc850808b579cf495ca", 468_353),
    "adapter": ("34cd646e85d47449bdc6732cf61dd024929ab2071215e0494dd098eb4da6ec30", 457_861),
}
for _method, _kind, _what in (("ptsam", "prompt", "PT-SAM's learnable prompt tokens (Stable-SAM's Table 5 baseline)"),
                              ("lora", "lora", "LoRA r=4 (peft) on the encoder's attention and the prediction layer"),
                              ("adapter", "adapter", "bottleneck adapters in the encoder's MLPs and the prediction layer")):
    register_weights(WeightsEntry(
        _method, "tiny",
        CheckpointSpec(
            filename=f"{_method}_tiny.pt", url=None, sha256=_TUNED_FILES.get(_method, (None, None))[0],
            size_bytes=_TUNED_FILES.get(_method, (None, None))[1], license="Apache-2.0",
            paper="sam-repro embedded world (the PEFT baselines of " + STABLE_PAPER + ")",
            shipped=SHIPPED_WEIGHTS_DIR / f"{_method}_tiny.pt", regenerate=f"{TUNING_TRAIN_COMMAND} --kind {_kind}",
        ),
        tied_to=get_backbone("tiny").checkpoint.sha256,
        note=f"parts file: {_what}, trained by `{TUNING_TRAIN_COMMAND} --kind {_kind}` on Stable-SAM's pool and "
             "steps with the tiny SAM frozen, whose sha256 it records and checks at load time",
    ))

for _backbone in ("vit_b", "vit_l", "vit_h"):
    # No official Stable-SAM weights exist: at full scale the user trains the plug-ins (on HQSeg-44K, GPU) and puts
    # the file in the weights cache, where the full profile's `requires: weights` looks for it.
    _file = f"stable_sam_{_backbone}.pt"
    register_weights(WeightsEntry(
        "stablesam", _backbone,
        CheckpointSpec(filename=_file, url=None, sha256=None, size_bytes=None, license="Apache-2.0",
                       paper="sam-repro reconstruction of " + STABLE_PAPER,
                       regenerate=f"{STABLE_TRAIN_COMMAND} --backbone {_backbone} --datasets hqseg44k --train-split "
                                  f"train --eval-dataset hqseg44k --eval-split dis_vd --output "
                                  f"$SAM_REPRO_WEIGHTS/{_file} (GPU)"),
        manifest_name="stablesam_weights",
        note="user-trained plug-ins for the official SAM (no official Stable-SAM weights were released)",
    ))


PI_PAPER = "Liu et al., Segment Anything with Precise Interaction (Pi-SAM), ACM MM 2024"
PI_TRAIN_COMMAND = "sam-repro train pisam"
"""The command that trains the embedded world's Pi-SAM parts (writes ``pi_sam_tiny.pt``)."""

register_weights(WeightsEntry(
    "pisam", "tiny",
    CheckpointSpec(
        filename="pi_sam_tiny.pt", url=None,
        sha256="2ca0bea4ba395e06fc75cd1390ff5dc154689861ebce06a3a73753077bdeaa0a", size_bytes=917589, license="MIT",
        paper="sam-repro embedded world (architecture of " + PI_PAPER + ")",
        shipped=SHIPPED_WEIGHTS_DIR / "pi_sam_tiny.pt", regenerate=PI_TRAIN_COMMAND,
    ),
    tied_to=get_backbone("tiny").checkpoint.sha256,
    note=f"Pi-only file (HQ + HR decoder + interactor parts) trained by `{PI_TRAIN_COMMAND}` (5,000 HR steps with the "
         "HQ parts started from hq_sam_tiny.pt, then 2,000 interactor steps, 4 images each; 73 min at one thread) on "
         "top of the shipped tiny SAM, whose sha256 it records and checks at load time",
))

# The official release (lmzpai/pi-sam): decoder files ({"model_state_dict": MaskDecoderAE.state_dict()}) in a Google
# Drive folder linked from its README, whose table reports Pi-SAM-b, -l and -h; the folder's file names are not
# published, so these entries name the files the user saves. A manual download: no digest is known.
for _backbone in ("vit_b", "vit_l", "vit_h"):
    register_weights(WeightsEntry(
        "pisam", _backbone,
        CheckpointSpec(filename=f"pi_sam_{_backbone}.pth", url=None, sha256=None, size_bytes=None, license="MIT",
                       paper=PI_PAPER),
        manifest_name=f"pisam_{_backbone}",
        note=f"the official Pi-SAM decoder for SAM {_backbone} (lmzpai/pi-sam; SAM's own {_backbone} weights load "
             "under it); download it by hand from the Google Drive folder linked in the repository's README and save "
             "it under this name in the weights cache. Official files hold no RGB embedding: the loader redraws the "
             "official one (seed 42, rank 0) and records that in the provenance",
    ))


ALIGN_PAPER = "Huang et al., AlignSAM: Aligning Segment Anything Model to Open Context via Reinforcement Learning, CVPR 2024"
ALIGN_TRAIN_COMMAND = "sam-repro train alignsam"
"""The command that trains the embedded world's AlignSAM parts (writes ``alignsam_tiny.pt``)."""
CLIP_TRAIN_COMMAND = "sam-repro train tiny-clip"
"""The command that trains the embedded world's CLIP (writes ``tiny_clip.pt``)."""

register_weights(WeightsEntry(
    "clip", "tiny",
    CheckpointSpec(
        filename="tiny_clip.pt", url=None,
        sha256="a3d21feed8ceb1322e02c43dbff75b379d7ac43f0ddc38662ea2dfb1c7df6d15", size_bytes=8_372_125, license="MIT",
        paper="sam-repro embedded world (open_clip's CLIP architecture, custom tiny config)",
        shipped=SHIPPED_WEIGHTS_DIR / "tiny_clip.pt", regenerate=CLIP_TRAIN_COMMAND,
    ),
    note=f"the tiny CLIP of AlignSAM's explicit branch, trained by `{CLIP_TRAIN_COMMAND}` contrastively on captioned "
         "synthetic images (multiclass with its VOC-sized pool, shadow, glass, blur; never salient), half the "
         "multiclass pairs region crops captioned by the classes they hold; float16; 3,000 steps of 64 images, 48 min "
         "at one thread beside another job on 2 CPU cores",
))

# No official AlignSAM weights or code exist: at full scale the user trains the parts (GPU) into the weights cache,
# where the full profile's `requires: weights` looks for them.
register_weights(WeightsEntry(
    "alignsam", "vit_b",
    CheckpointSpec(filename="alignsam_vit_b.pt", url=None, sha256=None, size_bytes=None, license="MIT",
                   paper="sam-repro reconstruction of " + ALIGN_PAPER,
                   regenerate=f"{ALIGN_TRAIN_COMMAND} --backbone vit_b --output $SAM_REPRO_WEIGHTS/alignsam_vit_b.pt "
                              "(GPU; with the official CLIP ViT-B/16: --clip-checkpoint)"),
    manifest_name="alignsam_weights",
    note="user-trained AlignSAM parts for SAM ViT-B (the paper's backbone); no official weights were released",
))

register_weights(WeightsEntry(
    "alignsam", "tiny",
    CheckpointSpec(
        filename="alignsam_tiny.pt", url=None,
        sha256="b6a6e49549dc6ba6c4f94f3b0a450669f69b3aebb9e86a6a2f8123f62bef38c3", size_bytes=2_143_695, license="MIT",
        paper="sam-repro embedded world (architecture reconstructed from " + ALIGN_PAPER + ")",
        shipped=SHIPPED_WEIGHTS_DIR / "alignsam_tiny.pt", regenerate=ALIGN_TRAIN_COMMAND,
    ),
    tied_to=get_backbone("tiny").checkpoint.sha256,
    note=f"parts file: per task an agent and both SRM branches, trained by `{ALIGN_TRAIN_COMMAND}` on top of the frozen "
         "tiny SAM and tiny CLIP, whose sha256 it records and checks at load time; no official AlignSAM weights or "
         "code exist; float16; 5,000 episodes (50 train images per task, 20 epochs), 74 min at one thread beside other "
         "jobs on 2 CPU cores (v2 stand-ins: blur v2, multiclass voc_train; the region-crop tiny CLIP)",
))
