import numpy as np

from oncoplan.data.splits import Split, holdout_split, kfold_split


def test_kfold_is_seeded_stratified_and_partitions(colon):
    a, b = kfold_split(colon, 5, seed=0), kfold_split(colon, 5, seed=0)
    for (_tr1, te1), (_tr2, te2) in zip(a.folds, b.folds, strict=False):
        np.testing.assert_array_equal(te1, te2)
    tests = np.concatenate([te for _, te in a.folds])
    assert sorted(tests) == list(range(colon.n_patients))
    rate = colon.event.mean()
    for _, te in a.folds:
        assert abs(colon.event[te].mean() - rate) < 0.02
        for arm in colon.arms:
            share = (colon.treatment.iloc[te] == arm).mean()
            assert abs(share - (colon.treatment == arm).mean()) < 0.03
    c = kfold_split(colon, 5, seed=1)
    assert not np.array_equal(a.folds[0][1], c.folds[0][1])


def test_holdout_fractions_and_roundtrip(colon, tmp_path):
    split = holdout_split(colon, (0.7, 0.15, 0.15), seed=3)
    sizes = {k: len(v) for k, v in split.parts.items()}
    assert sum(sizes.values()) == colon.n_patients
    assert abs(sizes["train"] / colon.n_patients - 0.7) < 0.01
    split.to_json(tmp_path / "split.json")
    again = Split.from_json(tmp_path / "split.json", colon)
    for key in split.parts:
        np.testing.assert_array_equal(split.parts[key], again.parts[key])
    two = holdout_split(colon, (0.7, 0.3), seed=0)
    assert set(two.parts) == {"train", "test"}
