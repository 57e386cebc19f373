"""`sam-repro train ...`: train the models the package ships."""
from __future__ import annotations

import argparse
import dataclasses
from typing import Any


def register(subparsers: argparse._SubParsersAction) -> None:
    from sam_repro.train.hqsam import HqSamTrainConfig
    from sam_repro.train.tiny_sam import TinySamTrainConfig

    train = subparsers.add_parser("train", help="train the embedded world's models")
    models = train.add_subparsers(dest="model", metavar="MODEL")
    models.required = True
    tiny = models.add_parser("tiny-sam", help="the tiny SAM (default backbone) on the synthetic generic pool",
                             description="Train the tiny SAM; every hyperparameter of TinySamTrainConfig is an option.")
    _add_config_options(tiny, TinySamTrainConfig)
    _add_run_options(tiny)
    tiny.add_argument("--export-partial", default=None, metavar="PATH",
                      help="do not train: write the weights of run-dir's unfinished state to PATH (float16, with the "
                           "step and validation curve), a small file that --init-from continues from when the run "
                           "directory is lost")
    tiny.set_defaults(handler=_train_tiny_sam)
    # `hqsam` is the method's name everywhere; `hq-sam` is kept as an alias (the v2-era shipped file records it)
    hq = models.add_parser("hqsam", aliases=["hq-sam"],
                           help="HQ-SAM's HQ parts on top of the frozen tiny SAM (hq_sam_tiny.pt)",
                           description="Train HQ-SAM's HQ parts on the synthetic HQSeg-44K stand-in (thin + salient "
                                       "train splits); every hyperparameter of HqSamTrainConfig is an option.")
    _add_config_options(hq, HqSamTrainConfig)
    _add_run_options(hq)
    hq.set_defaults(handler=_train_hq_sam)
    from sam_repro.train.pisam import PiSamTrainConfig

    pi = models.add_parser("pisam", aliases=["pi-sam"],
                           help="Pi-SAM's HQ, HR-decoder and interactor parts on top of the frozen tiny SAM",
                           description="Train Pi-SAM in two stages (HR decoder with HQ parts, then the interactor) "
                                       "on the synthetic thin + salient train splits; every hyperparameter of "
                                       "PiSamTrainConfig is an option.")
    _add_config_options(pi, PiSamTrainConfig)
    _add_run_options(pi)
    pi.set_defaults(handler=_train_pi_sam)
    from sam_repro.train.stablesam import StableSamTrainConfig

    stable = models.add_parser("stablesam", aliases=["stable-sam"],
                               help="Stable-SAM's plug-ins (or a Table 8 ablation) on the frozen tiny SAM",
                               description="Train Stable-SAM's DSP and DRP on the HQSeg-44K stand-in with the robust "
                                           "prompt mix and occlusion synthesis; --variant trains an ablation. Every "
                                           "hyperparameter of StableSamTrainConfig is an option.")
    _add_config_options(stable, StableSamTrainConfig)
    _add_run_options(stable)
    stable.set_defaults(handler=_train_stable_sam)
    from sam_repro.train.tiny_clip import TinyClipTrainConfig

    clip = models.add_parser("tiny-clip", help="the tiny CLIP of AlignSAM's explicit branch (tiny_clip.pt)",
                             description="Train the tiny CLIP contrastively on captioned synthetic images (multiclass, "
                                         "shadow, glass, blur; never salient); every hyperparameter of "
                                         "TinyClipTrainConfig is an option.")
    _add_config_options(clip, TinyClipTrainConfig)
    _add_run_options(clip)
    clip.set_defaults(handler=_train_tiny_clip)
    from sam_repro.train.alignsam import AlignSamTrainConfig

    align = models.add_parser("alignsam", help="AlignSAM's agents and SRMs on the frozen tiny SAM and CLIP",
                              description="Train AlignSAM's per-task PPO agents and both SRM branches on one rollout "
                                          "(alignsam_tiny.pt); every hyperparameter of AlignSamTrainConfig is an "
                                          "option; --stop-after counts episodes.")
    _add_config_options(align, AlignSamTrainConfig)
    _add_run_options(align)
    align.set_defaults(handler=_train_alignsam)
    from sam_repro.train.dissam import DisSamTrainConfig

    dis = models.add_parser("dissam", aliases=["dis-sam"],
                            help="DIS-SAM's second stage (GT encoder, then the IS-Net of a Table 2 row)",
                            description="Train DIS-SAM's GT encoder (once) and the 5-channel IS-Net of Table 2's "
                                        "--row (1 IS-Net ... 5 DIS-SAM) on synthetic/thin_multi with the frozen tiny "
                                        "SAM's box masks; every hyperparameter of DisSamTrainConfig is an option.")
    _add_config_options(dis, DisSamTrainConfig)
    _add_run_options(dis)
    dis.set_defaults(handler=_train_dis_sam)
    from sam_repro.train.tuning import TuningTrainConfig

    tuning = models.add_parser("tuning", help="Stable-SAM's PEFT baselines: LoRA, adapters, PT-SAM (--kind)",
                               description="Train a parameter-efficient baseline (LoRA with peft, AdaptFormer "
                                           "adapters, or PT-SAM's prompt tokens) on Stable-SAM's data, prompts and "
                                           "steps; every hyperparameter of TuningTrainConfig is an option.")
    _add_config_options(tuning, TuningTrainConfig)
    _add_run_options(tuning)
    tuning.set_defaults(handler=_train_tuning)


def _add_run_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--no-resume", action="store_true", help="start over even if run-dir holds a state")
    parser.add_argument("--stop-after", type=int, default=None, metavar="STEPS",
                        help="stop after this many steps of this call (the state is saved; run the same command "
                             "again to resume): how a long run is split across sessions")


def _parse_bool(text: str) -> bool:
    value = text.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


def _add_config_options(parser: argparse.ArgumentParser, config_class: type) -> None:
    """One ``--field-name`` option per field of a training config dataclass (``extra`` excepted)."""
    defaults = config_class()
    for field in dataclasses.fields(config_class):
        if field.name == "extra":
            continue
        value = getattr(defaults, field.name)
        kind: Any = _parse_bool if isinstance(value, bool) else (str if value is None else type(value))
        parser.add_argument(f"--{field.name.replace('_', '-')}", type=kind, default=value, help=f"(default: {value})")


def _config_from(args: argparse.Namespace, config_class: type) -> Any:
    names = {f.name for f in dataclasses.fields(config_class)} - {"extra"}
    return config_class(**{name: getattr(args, name) for name in names})


def _train_tiny_sam(args: argparse.Namespace) -> int:
    from sam_repro.train.tiny_sam import TinySamTrainConfig, export_partial_weights, train_tiny_sam

    if args.export_partial:
        from sam_repro.backbones.checkpoints import read_checkpoint_meta, sha256_file

        path = export_partial_weights(_config_from(args, TinySamTrainConfig), args.export_partial)
        print(f"wrote {path} at step {read_checkpoint_meta(path)['steps']} (sha256 {sha256_file(path)})")
        return 0
    path = train_tiny_sam(_config_from(args, TinySamTrainConfig), resume=not args.no_resume,
                          stop_after=args.stop_after)
    return _report(path, args)


def _train_hq_sam(args: argparse.Namespace) -> int:
    from sam_repro.train.hqsam import HqSamTrainConfig, train_hq_sam

    path = train_hq_sam(_config_from(args, HqSamTrainConfig), resume=not args.no_resume, stop_after=args.stop_after)
    return _report(path, args)


def _train_stable_sam(args: argparse.Namespace) -> int:
    from sam_repro.train.stablesam import StableSamTrainConfig, train_stable_sam

    path = train_stable_sam(_config_from(args, StableSamTrainConfig), resume=not args.no_resume,
                            stop_after=args.stop_after)
    return _report(path, args)


def _train_pi_sam(args: argparse.Namespace) -> int:
    from sam_repro.train.pisam import PiSamTrainConfig, train_pi_sam

    path = train_pi_sam(_config_from(args, PiSamTrainConfig), resume=not args.no_resume, stop_after=args.stop_after)
    return _report(path, args)


def _train_dis_sam(args: argparse.Namespace) -> int:
    from sam_repro.train.dissam import DisSamTrainConfig, train_dis_sam

    path = train_dis_sam(_config_from(args, DisSamTrainConfig), resume=not args.no_resume, stop_after=args.stop_after)
    return _report(path, args)


def _train_tiny_clip(args: argparse.Namespace) -> int:
    from sam_repro.train.tiny_clip import TinyClipTrainConfig, train_tiny_clip

    path = train_tiny_clip(_config_from(args, TinyClipTrainConfig), resume=not args.no_resume,
                           stop_after=args.stop_after)
    return _report(path, args)


def _train_alignsam(args: argparse.Namespace) -> int:
    from sam_repro.train.alignsam import AlignSamTrainConfig, train_alignsam

    path = train_alignsam(_config_from(args, AlignSamTrainConfig), resume=not args.no_resume,
                          stop_after=args.stop_after)
    return _report(path, args)


def _train_tuning(args: argparse.Namespace) -> int:
    from sam_repro.train.tuning import TuningTrainConfig, train_tuning

    path = train_tuning(_config_from(args, TuningTrainConfig), resume=not args.no_resume, stop_after=args.stop_after)
    return _report(path, args)


def _report(path, args: argparse.Namespace) -> int:
    from sam_repro.backbones.checkpoints import sha256_file

    if path is None:
        print(f"stopped after {args.stop_after} steps; the state is in {args.run_dir}: run the same command to resume")
    else:
        print(f"wrote {path} (sha256 {sha256_file(path)})")
    return 0
