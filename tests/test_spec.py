"""Reward spec and run config: round trips, errors that name the field, and hundreds of malformed specs refused."""

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from studio.spec import (RewardSpec, RunConfig, SpecError, default_reward_spec, parse_reward_spec,
                         parse_run_config)

VALID = {"terms": [{"kind": "world", "key": "reach", "weight": 1.0},
                   {"kind": "clip", "goal_prompts": ["a red cube on the green pad"],
                    "baseline_prompts": ["a red cube on a table"], "alpha": 0.5, "camera": "workspace"},
                   {"kind": "shaping", "potential": "neg_tcp_object_distance", "gamma": 0.99, "weight": 2.0}]}


def test_valid_spec_round_trips_through_yaml_and_json():
    spec = parse_reward_spec(VALID)
    assert spec.names == ["reach", "clip", "shaping"]
    assert spec.camera == "workspace"
    assert parse_reward_spec(json.dumps(spec.model_dump(mode="json"))) == spec
    config = RunConfig(world_id="studio/Push-v0", reward=spec, algo_kwargs={"n_steps": 64})
    assert parse_run_config(config.to_yaml()) == config
    params = spec.term_params()
    assert params[0] == {"kind": "world", "key": "reach", "name": "reach", "weight": 1.0, "enabled": True}


def test_spec_and_config_are_frozen():
    spec = parse_reward_spec(VALID)
    with pytest.raises(Exception):
        spec.version = 3
    assert spec.bump(3, 1.0, 10).version == 3 and spec.version == 0


@pytest.mark.parametrize("change, field", [
    (lambda d: d["terms"][1].update(alpha=1.5), "terms[1].alpha"),
    (lambda d: d["terms"][0].update(weight="heavy"), "terms[0].weight"),
    (lambda d: d["terms"][2].update(potential="nope"), "terms[2].potential"),
    (lambda d: d["terms"][1].update(baseline_prompts=["a", "b"]), "terms[1]"),
    (lambda d: d["terms"][0].update(colour="red"), "terms[0].colour"),
    (lambda d: d["terms"][0].update(enabled="yes"), "terms[0].enabled"),
    (lambda d: d["terms"].append({"kind": "world", "key": "reach"}), "distinct `name`"),
])
def test_errors_name_the_field(change, field):
    data = json.loads(json.dumps(VALID))
    change(data)
    with pytest.raises(SpecError) as info:
        parse_reward_spec(data)
    assert field in str(info.value)
    assert isinstance(info.value, ValueError)


def test_duplicate_names_and_world_terms_are_explained():
    data = {"terms": [{"kind": "world", "key": "reach"}, {"kind": "world", "key": "reach"}]}
    with pytest.raises(SpecError, match="distinct `name`"):
        parse_reward_spec(data)
    spec = parse_reward_spec({"terms": [{"kind": "world", "key": "pushh"}]})
    with pytest.raises(SpecError, match=r"terms\[0\].key: 'pushh' is not a term of this world"):
        spec.check_world_terms(["reach", "push", "success"])


def test_run_config_checks_world_algo_arguments_and_overrides():
    with pytest.raises(SpecError, match="world_id"):
        parse_run_config({"world_id": "studio/Nope-v0", "reward": VALID})
    with pytest.raises(SpecError, match=r"n_stepz.*not ppo arguments"):
        parse_run_config({"reward": VALID, "algo_kwargs": {"n_stepz": 3}})
    config = parse_run_config({"reward": VALID})
    varied = config.with_overrides(["algo_kwargs.learning_rate=1e-3", "seed=3", "telemetry.step_every=2"])
    assert (varied.algo_kwargs, varied.seed, varied.telemetry.step_every) == ({"learning_rate": 1e-3}, 3, 2)
    with pytest.raises(SpecError, match="telemetry.frame_size"):
        config.with_overrides({"telemetry.frame_size": 2})
    assert RunConfig.model_fields["n_envs"].description  # every field documents itself


def test_default_spec_is_the_worlds_own_terms():
    assert default_reward_spec("studio/Push-v0").names == ["reach", "push", "success"]


# ---------------------------------------------------------------------------------------------- hypothesis
words = st.text(alphabet="abcdefghij_", min_size=1, max_size=8).filter(lambda s: s[0] != "_")
junk = st.one_of(st.none(), st.booleans(), st.integers(-10**12, 10**12), st.floats(allow_nan=True),
                 st.text(max_size=20), st.lists(st.integers(), max_size=3), st.dictionaries(words, st.integers(),
                                                                                              max_size=2))
world_term = st.builds(lambda k, w: {"kind": "world", "key": k, "weight": w}, st.sampled_from(["reach", "push"]),
                       st.floats(-5, 5))
clip_term = st.builds(lambda a, g: {"kind": "clip", "name": "clip", "goal_prompts": [g],
                                    "baseline_prompts": [g + " not"], "alpha": a},
                      st.floats(0, 1), st.text(alphabet="abc ", min_size=1, max_size=10).filter(str.strip))
shaping_term = st.builds(lambda g: {"kind": "shaping", "gamma": g}, st.floats(0, 1))
valid_terms = st.lists(st.one_of(world_term, clip_term, shaping_term), min_size=1, max_size=3,
                       unique_by=lambda t: t.get("name", t.get("key", t["kind"])))

# Values that are invalid for a field whatever else the spec holds.
BAD_VALUES = {
    "weight": st.one_of(st.text(alphabet="xyz", min_size=1), st.just(float("nan")), st.just(float("inf")),
                        st.floats(min_value=1e7, max_value=1e300), st.none(), st.lists(st.integers(), min_size=1)),
    "enabled": st.one_of(st.integers(2, 100), st.text(alphabet="xyz", min_size=1), st.none(), st.floats(0.1, 0.9)),
    "name": st.one_of(st.text(alphabet="ABC -!", min_size=1), st.just("terms"), st.just("total"),
                      st.integers(), st.just("")),
    "kind": st.one_of(st.text(alphabet="xyz", min_size=1), st.integers(), st.none()),
    "key": st.one_of(st.just(""), st.text(alphabet="ABC -", min_size=1), st.integers(), st.none()),
    "alpha": st.one_of(st.floats(1.0001, 1e9), st.floats(-1e9, -0.0001), st.text(alphabet="xyz", min_size=1)),
    "gamma": st.one_of(st.floats(1.0001, 1e9), st.floats(-1e9, -0.0001), st.none()),
    "goal_prompts": st.one_of(st.just([]), st.just([""]), st.just(["   "]), st.integers(), st.lists(st.integers(),
                                                                                               min_size=1)),
    "threshold": st.one_of(st.just(0.0), st.just(1.0), st.floats(1.5, 10), st.none()),
    "mode": st.one_of(st.text(alphabet="xyz", min_size=1), st.none()),
    "potential": st.one_of(st.text(alphabet="xyz", min_size=1), st.integers()),
}
APPLIES = {"world": {"weight", "enabled", "name", "kind", "key"},
           "clip": {"weight", "enabled", "name", "kind", "alpha", "goal_prompts", "threshold", "mode"},
           "shaping": {"weight", "enabled", "name", "kind", "gamma", "potential"}}
REQUIRED = {"world": ["key"], "clip": ["goal_prompts", "baseline_prompts"], "shaping": []}


@st.composite
def malformed_specs(draw):
    spec = {"terms": draw(valid_terms)}
    how = draw(st.sampled_from(["field", "unknown", "missing", "terms", "top", "duplicate", "document"]))
    i = draw(st.integers(0, len(spec["terms"]) - 1))
    term = spec["terms"][i]
    if how == "field":
        field = draw(st.sampled_from(sorted(APPLIES[term["kind"]])))
        term[field] = draw(BAD_VALUES[field])
    elif how == "unknown":
        term[draw(words.filter(lambda w: w not in ("name", "kind", "key", "weight", "enabled", "gamma",
                                                   "potential", "alpha", "mode", "threshold", "camera")))] = 1
    elif how == "missing":
        fields = REQUIRED[term["kind"]] + ["kind"]
        del term[draw(st.sampled_from(fields))]
    elif how == "terms":
        spec["terms"] = draw(st.one_of(st.just([]), st.none(), st.integers(), st.text(max_size=5),
                                       st.lists(junk.filter(lambda v: not isinstance(v, dict) or v == {}),
                                                min_size=1, max_size=3)))
    elif how == "top":
        field = draw(st.sampled_from(["version", "created_at", "effective_step", "note", "extra"]))
        spec[field] = draw(st.lists(st.integers(), min_size=1) if field == "note" else
                           st.one_of(st.integers(-10**6, -1), st.text(alphabet="xyz", min_size=1)))
    elif how == "duplicate":
        spec["terms"].append(dict(term))
    else:
        return draw(st.one_of(junk.filter(lambda v: not isinstance(v, dict)),
                              st.dictionaries(words.filter(lambda w: w != "terms"), junk, max_size=4)))
    return spec


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(malformed_specs())
def test_malformed_specs_are_refused_with_a_spec_error(data):
    with pytest.raises(SpecError) as info:
        parse_reward_spec(data)
    assert str(info.value).startswith("invalid")


@settings(max_examples=60, deadline=None)
@given(st.recursive(junk, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                   st.dictionaries(words, inner, max_size=3)), max_leaves=8))
def test_arbitrary_documents_never_raise_anything_but_spec_error(data):
    try:
        parse_reward_spec(data)
    except SpecError:
        pass
    try:
        parse_run_config(data)
    except SpecError:
        pass


def test_reward_spec_schema_is_exportable():
    schema = RewardSpec.model_json_schema()
    assert "terms" in schema["properties"]
