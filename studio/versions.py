"""A run's reward versions for people: what changed from one version to the next, and a readable history.

:func:`diff_specs` compares two reward specs term by term (matched by name) and says what changed in words
("clip: goal prompts 'a' -> 'b'", "shaping: weight 10 -> 5", "success: added"). :func:`history` joins the
run's spec files with its edit and EPIC events into one row per version. :func:`spec_from_form` turns the
reward editor's plain values back into a validated spec, and :func:`readable_errors` turns a
:class:`~studio.spec.SpecError` into sentences that name the term instead of ``terms[1]``.
"""

from __future__ import annotations

import difflib
from typing import Any

import yaml

from studio.spec import RewardSpec, SpecError, parse_reward_spec

LABELS = {"goal_prompts": "goal prompts", "baseline_prompts": "baseline prompts", "alpha": "alpha",
          "weight": "weight", "enabled": "on", "mode": "mode", "threshold": "threshold", "potential": "potential",
          "gamma": "gamma", "key": "world term", "camera": "camera"}
KIND_TITLES = {"world": "world term", "clip": "CLIP prompt", "shaping": "potential shaping"}


def _show(value: Any) -> str:
    if isinstance(value, list):
        return " | ".join(f"'{v}'" for v in value)
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _terms(spec: RewardSpec) -> dict[str, dict[str, Any]]:
    return {t.term_name: t.model_dump(mode="json", exclude={"name"}) for t in spec.terms}


def diff_specs(old: RewardSpec, new: RewardSpec) -> list[str]:
    """What changed from ``old`` to ``new``, one sentence per change (empty when the terms are the same)."""
    before, after = _terms(old), _terms(new)
    out = []
    for name, term in after.items():
        if name not in before:
            out.append(f"{name}: added ({KIND_TITLES.get(term['kind'], term['kind'])}, weight {_show(term['weight'])})")
            continue
        prev = before[name]
        if prev.get("kind") != term.get("kind"):
            out.append(f"{name}: replaced by a {KIND_TITLES.get(term['kind'], term['kind'])} term")
            continue
        for key in term:
            if key == "enabled" and prev.get(key) != term.get(key):
                out.append(f"{name}: turned {'on' if term[key] else 'off'}")
            elif key != "kind" and prev.get(key) != term.get(key):
                out.append(f"{name}: {LABELS.get(key, key)} {_show(prev.get(key))} → {_show(term.get(key))}")
    out += [f"{name}: removed" for name in before if name not in after]
    if old.note != new.note and new.note:
        out.append(f"note: {new.note}")
    return out


def yaml_diff(old: RewardSpec, new: RewardSpec) -> str:
    """A unified diff of the two specs' terms as YAML (for people who want every detail)."""
    def text(spec: RewardSpec) -> list[str]:
        return yaml.safe_dump({"terms": [t.model_dump(mode="json", exclude_none=True) for t in spec.terms]},
                              sort_keys=False, width=100).splitlines()
    return "\n".join(difflib.unified_diff(text(old), text(new), f"v{old.version}", f"v{new.version}", lineterm=""))


def history(specs: list[RewardSpec], edits: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per version, oldest first: version, effective step, time, EPIC distance to the previous
    version (``None`` for v0 or while computing), note and the changes in words."""
    by_version = {e.get("new_version"): e for e in edits}
    rows = []
    for i, spec in enumerate(specs):
        edit = by_version.get(spec.version, {})
        rows.append({"version": spec.version, "step": spec.effective_step or 0, "created_at": spec.created_at,
                     "epic_distance": edit.get("epic_distance"), "epic_error": edit.get("epic_error"),
                     "note": spec.note, "changes": diff_specs(specs[i - 1], spec) if i else ["initial reward"]})
    return rows


def spec_from_form(terms: list[dict[str, Any]], note: str = "") -> RewardSpec:
    """A validated spec from the editor's values: term dicts whose prompts may be one multi-line string.

    Raises:
        SpecError: naming the bad field (see :func:`readable_errors` for a person-facing version).
    """
    clean = []
    for term in terms:
        term = dict(term)
        for key in ("goal_prompts", "baseline_prompts"):
            if isinstance(term.get(key), str):
                term[key] = [line.strip() for line in term[key].splitlines() if line.strip()]
        clean.append(term)
    return parse_reward_spec({"terms": clean, "note": note.strip()})


def readable_errors(exc: SpecError, terms: list[dict[str, Any]] | None = None) -> list[str]:
    """Each error of ``exc`` as a sentence naming the term (``clip: goal prompts: ...``) instead of
    ``terms[0].goal_prompts``; falls back to the exception's message."""
    if not exc.errors:
        return [str(exc)]
    out = []
    for path, message in exc.errors:
        where = path
        if path.startswith("terms[") and terms is not None:
            index = int(path[6:path.index("]")])
            rest = path[path.index("]") + 1:].lstrip(".")
            field = rest.split("[")[0]
            if index < len(terms):
                term = terms[index]
                name = term.get("name") or (term.get("key") if term.get("kind") == "world" else term.get("kind"))
                where = f"{name}: {LABELS.get(field, field)}" if field else str(name)
        elif path == "terms":
            where = "reward"
        message = message.replace("List should have at least 1 item after validation, not 0",
                                  "write at least one prompt")
        for name, label in (("goal_prompts", "goal prompts"), ("baseline_prompts", "baseline prompts")):
            message = message.replace(name, label)
        out.append(f"{where}: {message}")
    return out


__all__ = ["diff_specs", "history", "readable_errors", "spec_from_form", "yaml_diff"]
