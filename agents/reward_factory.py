"""Build a :class:`RewardStack` from plain term dicts, and apply an edited list of terms to a live stack.

A term dict is what a reward spec holds, as plain data (agents never import the studio's types)::

    {"kind": "world", "name": "push", "key": "push", "weight": 1.0, "enabled": True}
    {"kind": "clip", "name": "clip", "goal_prompts": [...], "baseline_prompts": [...], "alpha": 0.5,
     "mode": "projection", "threshold": 0.5, "camera": None, "weight": 1.0, "enabled": True}
    {"kind": "shaping", "name": "shaping", "potential": "neg_object_goal_distance", "gamma": 0.99, ...}
    {"kind": "seek_names", "name": "seek_names", "cap": 1.0, "weight": 0.1, "enabled": True}

A ``seek_names`` term (:class:`agents.memory.SeekNamesTerm`) reads ``info["memory_new_name"]``, which only
:class:`agents.memory.DualCodingMemory` writes; :func:`build_stack` does not know the env, so a stack with it
on a world without the memory fails at its first step (the studio refuses such specs before building).

:func:`apply_terms` reconciles a live stack with a new list: a term with the same name and kind gets
``stack.update(name, weight=, enabled=, **params)`` (CLIP prompts are re-embedded by the stack's embedder,
which caches each prompt string; the model is never reloaded), a new name is added, a missing one removed,
and a changed kind is replaced. Every new parameter set is validated before the first change, so a bad edit
raises ``ValueError`` and leaves the stack as it was.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Mapping, Sequence

from agents.rewards.base import RewardTerm
from agents.rewards.stack import RewardStack
from agents.rewards.terms import PotentialShaping, WorldTerm

KINDS = ("world", "clip", "shaping", "seek_names")
COMMON = ("kind", "name", "weight", "enabled")
PARAMS = {"world": ("key",), "clip": ("goal_prompts", "baseline_prompts", "alpha", "mode", "threshold"),
          "shaping": ("potential", "gamma"), "seek_names": ("cap",)}
EmbedderProvider = Callable[[], Any]


def term_name(term: Mapping[str, Any]) -> str:
    """The stack name of a term dict: its ``name``, else ``key`` (world), or its kind (``"clip"``, ...)."""
    if term.get("name"):
        return str(term["name"])
    return str(term["key"]) if term.get("kind") == "world" else str(term.get("kind"))


def _kind(term: Mapping[str, Any]) -> str:
    kind = term.get("kind")
    if kind not in KINDS:
        raise ValueError(f"term {term.get('name')!r}: kind={kind!r} is unknown; choose one of {list(KINDS)}")
    return kind


def term_params(term: Mapping[str, Any]) -> dict[str, Any]:
    """The live parameters of a term dict (what ``RewardTerm.set_params`` takes)."""
    kind = _kind(term)
    return {k: term[k] for k in PARAMS[kind] if k in term}


def uses_embedder(terms: Sequence[Mapping[str, Any]]) -> bool:
    """Whether any term (enabled or not) is a CLIP term."""
    return any(t.get("kind") == "clip" for t in terms)


def reward_camera(terms: Sequence[Mapping[str, Any]]) -> str | None:
    """The camera the CLIP terms ask for, or ``None`` (the world's default reward camera)."""
    return next((t.get("camera") for t in terms if t.get("kind") == "clip" and t.get("camera")), None)


def build_term(term: Mapping[str, Any], embedder: EmbedderProvider | Any = None) -> RewardTerm:
    """One :class:`RewardTerm` from a term dict; ``embedder`` (or a zero-argument provider) for CLIP terms."""
    kind, name, params = _kind(term), term_name(term), term_params(term)
    if kind == "world":
        return WorldTerm(params["key"], name=name)
    if kind == "shaping":
        return PotentialShaping(params.get("potential", "neg_object_goal_distance"), params.get("gamma", 0.99),
                                name=name)
    if kind == "seek_names":
        from agents.memory.seek_names import SeekNamesTerm

        return SeekNamesTerm(name=name, cap=params.get("cap", 1.0))
    from agents.rewards.clip_term import ClipTerm

    model = embedder() if callable(embedder) and not hasattr(embedder, "embed_images") else embedder
    if model is None:
        raise ValueError(f"term {name!r} is a CLIP term but no embedder was given; pass embedder="
                         f"agents.vlm.embedder.default_embedder (or a ClipEmbedder)")
    return ClipTerm(params["goal_prompts"], params["baseline_prompts"], model, alpha=params.get("alpha", 0.0),
                    mode=params.get("mode", "projection"), threshold=params.get("threshold", 0.5), name=name)


def build_stack(terms: Sequence[Mapping[str, Any]], embedder: EmbedderProvider | Any = None) -> RewardStack:
    """A :class:`RewardStack` from term dicts, in order.

    Args:
        terms: term dicts (see module docstring).
        embedder: a ClipEmbedder, or a zero-argument callable returning one (called only when a CLIP term
            is present, so state-only stacks never load a model).
    """
    model = None
    if uses_embedder(terms):
        model = embedder() if callable(embedder) and not hasattr(embedder, "embed_images") else embedder
    return RewardStack([(build_term(t, model), float(t.get("weight", 1.0)), bool(t.get("enabled", True)))
                        for t in terms], embedder=model)


def apply_terms(stack: RewardStack, terms: Sequence[Mapping[str, Any]],
                embedder: EmbedderProvider | Any = None) -> int:
    """Make ``stack`` match ``terms`` (see module docstring); returns the stack's new version.

    Raises:
        ValueError: a term that does not validate (message names it); nothing was changed.
    """
    names = [term_name(t) for t in terms]
    if len(set(names)) != len(names):
        raise ValueError(f"term names {names} repeat; give each term a distinct name")
    current = {e.name: e for e in stack.entries}
    model = stack.embedder
    if model is None and uses_embedder(terms):
        model = embedder() if callable(embedder) and not hasattr(embedder, "embed_images") else embedder
    plan: list[tuple[str, Any]] = []
    for term, name in zip(terms, names):
        kind, params = _kind(term), term_params(term)
        _check_weight_enabled(name, term)
        entry = current.get(name)
        if entry is not None and _same_kind(entry.term, kind):
            changed = {k: v for k, v in params.items() if entry.term.params.get(k) != _normal(k, v)}
            if changed:
                entry.term.with_params(**changed)  # validate now; the stack repeats it (cached) on update
            weight, enabled = float(term.get("weight", 1.0)), bool(term.get("enabled", True))
            if changed or weight != entry.weight or enabled != entry.enabled:
                plan.append(("update", (name, weight, enabled, changed)))
        else:
            new = build_term(term, model)
            if entry is not None:
                plan.append(("remove", name))
            plan.append(("add", (new, float(term.get("weight", 1.0)), bool(term.get("enabled", True)))))
    plan += [("remove", name) for name in current if name not in names]
    if not plan and stack.entries:  # an identical spec still counts as a new version of the reward
        first = stack.entries[0]
        plan.append(("update", (first.name, first.weight, first.enabled, {})))
    for action, arg in plan:
        if action == "update":
            name, weight, enabled, changed = arg
            stack.update(name, weight=weight, enabled=enabled, **changed)
        elif action == "add":
            stack.add(*arg)
        else:
            stack.remove(arg)
    return stack.version


def _check_weight_enabled(name: str, term: Mapping[str, Any]) -> None:
    weight, enabled = term.get("weight", 1.0), term.get("enabled", True)
    if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not math.isfinite(weight):
        raise ValueError(f"term {name!r}: weight={weight!r} is not a finite number; use e.g. 1.0 (0 silences it)")
    if not isinstance(enabled, bool):
        raise ValueError(f"term {name!r}: enabled={enabled!r} must be true or false")


def _same_kind(term: RewardTerm, kind: str) -> bool:
    return type(term).__name__ == {"world": "WorldTerm", "clip": "ClipTerm", "shaping": "PotentialShaping",
                                   "seek_names": "SeekNamesTerm"}[kind]


def _normal(key: str, value: Any) -> Any:
    if key in ("goal_prompts", "baseline_prompts"):
        return [value] if isinstance(value, str) else list(value)
    if (key in ("alpha", "gamma", "threshold", "cap") and isinstance(value, (int, float))
            and not isinstance(value, bool)):
        return float(value)
    return value


__all__ = ["KINDS", "apply_terms", "build_stack", "build_term", "reward_camera", "term_name", "term_params",
           "uses_embedder"]
