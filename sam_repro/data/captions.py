"""Captions of synthetic images: the corpus the tiny CLIP is trained on (AlignSAM's explicit branch, Table 4).

What a caption says decides what the tiny CLIP can localise, so the corpus is fixed here, once, by rule:

* ``synthetic/multiclass`` (VOC stand-in): the classes present, by name ("a fish, a ball and a star"), from
  ``meta['instance_classes']`` (the named instances that are visible);
* ``synthetic/shadow``: what is visible: objects standing on textured ground and their shadows;
* ``synthetic/glass``: glass panes, and a framed panel when the image has one (``meta['framed']``);
* ``synthetic/blur``: which layer is defocused: "a sharp object on a defocus background" (``meta['focus']`` =
  ``foreground``) or "a defocus object on a sharp background";
* ``synthetic/salient`` is **never captioned** and no caption says "salient": saliency is an implicit semantic
  (the paper's Fig. 2: CLIP maps "salient object" poorly), and the tiny CLIP must not learn it from us. Its text
  prompt "salient objects" therefore holds a word the tiny CLIP never saw (a warning says so at encoding).

Each caption is a content phrase put in one of :data:`TEMPLATES` (drawn at random during training, the first one
otherwise); the same templates form CLIP Surgery's prompt ensemble at inference
(:mod:`sam_repro.nn.clip_surgery`). :func:`corpus_vocabulary` is every word a caption can contain: text with
other words makes :meth:`sam_repro.nn.clip.TinyClip.tokenize` warn.
"""
from __future__ import annotations

import re
from collections.abc import Iterable

import numpy as np

from sam_repro.data.sample import Sample

CAPTIONED_FAMILIES = ("synthetic/multiclass", "synthetic/shadow", "synthetic/glass", "synthetic/blur")
"""Families the tiny CLIP trains on (never ``synthetic/salient``)."""

TEMPLATES: tuple[str, ...] = ("a photo of {}", "{}", "an image of {}", "a picture showing {}")
"""Caption templates; ``{}`` is the content phrase. Also CLIP Surgery's text ensemble."""

TEXT_PROMPTS: dict[str, str] = {
    "synthetic/blur": "defocus background",
    "synthetic/shadow": "shadow",
    "synthetic/glass": "glass",
    "synthetic/salient": "salient objects",
}
"""The explicit branch's text per binary task (AlignSAM Table 4); ``synthetic/multiclass`` uses each class name."""

_SHADOW = ("objects and the shadow they cast on the ground", "a shadow on textured ground")
_GLASS = ("a glass pane", "glass panes in a scene")
_GLASS_FRAMED = ("a glass pane and a framed panel", "glass next to a framed panel")
_BLUR_BACK = ("a sharp object on a defocus background", "a defocus background behind a sharp object")
_BLUR_FRONT = ("a defocus object on a sharp background", "a sharp background behind a defocus object")

WORD = re.compile(r"[a-z]+")


def words(text: str) -> list[str]:
    """The lowercase words of ``text`` (letters only: what :func:`corpus_vocabulary` is made of)."""
    return WORD.findall(text.lower())


def _article(name: str) -> str:
    return ("an " if name[:1] in "aeiou" else "a ") + name


def list_phrase(names: Iterable[str]) -> str:
    """"a fish", "a fish and a ball", "a fish, a ball and a star"."""
    items = [_article(n) for n in names]
    if not items:
        raise ValueError("a class list needs at least one name")
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def content_phrase(sample: Sample, family: str, rng: np.random.Generator | None = None) -> str:
    """What a caption of ``sample`` of ``family`` says (the first wording without ``rng``; a random wording and, for
    multiclass, a random class order with it).

    Raises:
        ValueError: a family that is not captioned (``synthetic/salient`` included) or a multiclass sample without
            visible named instances.
    """
    pick = (lambda options: options[0]) if rng is None else (lambda options: options[int(rng.integers(len(options)))])
    if family == "synthetic/multiclass":
        ids = sorted(set(int(i) for i in sample.meta.get("instance_classes", ())))
        names = [sample.class_names[i] for i in ids if 0 < i < len(sample.class_names)]
        if not names:
            raise ValueError(f"sample {sample.id!r} has no visible named instance to caption")
        if rng is not None:
            names = [names[i] for i in rng.permutation(len(names))]
        return list_phrase(names)
    if family == "synthetic/shadow":
        return pick(_SHADOW)
    if family == "synthetic/glass":
        return pick(_GLASS_FRAMED if sample.meta.get("framed") else _GLASS)
    if family == "synthetic/blur":
        return pick(_BLUR_BACK if sample.meta.get("focus") == "foreground" else _BLUR_FRONT)
    raise ValueError(f"family {family!r} is not captioned (captioned: {', '.join(CAPTIONED_FAMILIES)}); saliency is "
                     "an implicit semantic and is never put in words")


def caption(sample: Sample, family: str, rng: np.random.Generator | None = None) -> str:
    """A caption of ``sample``: :func:`content_phrase` in a template (the first without ``rng``)."""
    template = TEMPLATES[0] if rng is None else TEMPLATES[int(rng.integers(len(TEMPLATES)))]
    return template.format(content_phrase(sample, family, rng))


def corpus_vocabulary() -> frozenset[str]:
    """Every word a caption can contain (templates, fixed phrases, articles, every class name)."""
    from sam_repro.data.synthetic.multiclass import CLASS_NAMES

    texts = [*TEMPLATES, *_SHADOW, *_GLASS, *_GLASS_FRAMED, *_BLUR_BACK, *_BLUR_FRONT, "a an and",
             *CLASS_NAMES[1:]]
    return frozenset(w for text in texts for w in words(text.replace("{}", "")))


def text_prompt(family: str, class_name: str | None = None) -> str:
    """The explicit branch's text for a task: the class name for multiclass, else :data:`TEXT_PROMPTS`.

    Raises:
        ValueError: multiclass without a class name, or a family without a text prompt.
    """
    if family == "synthetic/multiclass":
        if not class_name:
            raise ValueError("synthetic/multiclass prompts with a class name: pass class_name")
        return class_name
    if family not in TEXT_PROMPTS:
        raise ValueError(f"no text prompt for {family!r}; known: {', '.join(TEXT_PROMPTS)} and synthetic/multiclass")
    return TEXT_PROMPTS[family]
