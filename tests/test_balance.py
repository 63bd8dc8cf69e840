from collections import Counter

import pytest

from prefit.stages.augment.balance import (
    BalancePolicy,
    format_plan,
    plan_class_targets,
    plan_sources,
)
from prefit.stages.augment.imbalance import plan_imbalance, select
from prefit.stages.augment.sentences import join_sentences, split_sentences


@pytest.mark.parametrize(
    "policy,expected",
    [("max", {"a": 10, "b": 10, "c": 10}), ("6", {"a": 10, "b": 6, "c": 6}), ("none", {"a": -1, "b": -1, "c": -1})],
    ids=["max", "count", "none"],
)
def test_targets(policy, expected):
    assert plan_class_targets({"a": 10, "b": 5, "c": 1}, BalancePolicy.parse(policy)) == expected


@pytest.mark.parametrize("bad", ["0", "-3", "maximum", "1.5"])
def test_policy_rejects(bad):
    with pytest.raises(ValueError):
        BalancePolicy.parse(bad)


def test_sources_per_class_and_even_reuse():
    labels = ["a"] * 10 + ["b"] * 5 + ["c"] * 1
    plans = plan_sources(labels, BalancePolicy.parse("max"), outputs_per_draw=2, seed=0)
    # b needs 5 -> ceil(5/2)=3 draws, all distinct; c needs 9 -> 5 draws of its single record.
    assert (plans["a"].needed, len(plans["a"].sources)) == (0, 0)
    assert (plans["b"].needed, len(plans["b"].sources)) == (5, 3)
    assert len(set(plans["b"].sources)) == 3 and set(plans["b"].sources) <= set(range(10, 15))
    assert plans["c"].needed == 9 and plans["c"].sources == [15] * 5
    # headroom: ceil(5 * 1.5 / 2) = 4 draws
    assert len(plan_sources(labels, BalancePolicy.parse("max"), 2, seed=0, headroom=1.5)["b"].sources) == 4
    # a class drawn more often than its size uses every record before repeating one
    many = plan_sources(["x"] * 3 + ["y"] * 20, BalancePolicy.parse("max"), 1, seed=1)["x"].sources
    assert len(many) == 17 and max(Counter(many).values()) - min(Counter(many).values()) <= 1


def test_sources_deterministic_for_seed():
    labels = ["a"] * 30 + ["b"] * 7
    p1 = plan_sources(labels, BalancePolicy.parse("max"), 1, seed=5)
    p2 = plan_sources(labels, BalancePolicy.parse("max"), 1, seed=5)
    p3 = plan_sources(labels, BalancePolicy.parse("max"), 1, seed=6)
    assert p1["b"].sources == p2["b"].sources != p3["b"].sources
    table = format_plan(p1)
    assert "b" in table and "total" in table.splitlines()[-1] and "37" in table.splitlines()[-1]


def test_step_imbalance():
    counts = {f"c{i}": 100 for i in range(10)}
    plan = plan_imbalance(counts, "step", 0.1, seed=3)
    assert len(plan.minority) == 5
    assert sorted(plan.keep.values()) == [10] * 5 + [100] * 5
    fixed = plan_imbalance(counts, "step", 0.1, seed=3, minority=["c0", "c1"])
    assert fixed.keep["c0"] == 10 and fixed.keep["c2"] == 100


def test_longtail_imbalance():
    counts = {f"c{i}": 100 for i in range(5)}
    plan = plan_imbalance(counts, "longtail", 0.01, seed=0)
    # class i keeps 100 * 0.01 ** (i / 4): 100, 32, 10, 3, 1
    assert [plan.keep[c] for c in plan.order] == [100, 32, 10, 3, 1]
    labels = [c for c in sorted(counts) for _ in range(100)]
    kept = select(labels, plan, seed=0)
    assert Counter(labels[i] for i in kept) == Counter(plan.keep)
    assert kept == sorted(kept)


@pytest.mark.parametrize(
    "text,n",
    [("One. Two! Three?", 3), ("Dr. Smith came. He left.", 2), ("line one\nline two", 2), ("  lead. x", 3),
     ("no end", 1), ("a.\n\nb. ", 2), ("", 0)],
    ids=["punct", "abbrev", "newline", "leading-space", "plain", "blank-lines", "empty"],
)
def test_split_rejoin_exact(text, n):
    parts = split_sentences(text)
    assert join_sentences(parts) == text
    assert len(parts) == n
