import json

import numpy as np
import pytest

from oncoplan.errors import ModelError
from oncoplan.store.bundle import ModelBundle
from oncoplan.train.workflow import train_survival_model


def test_save_load_roundtrip_identical_predictions(colon, tmp_path):
    bundle = train_survival_model(colon, np.arange(600), {"max_epochs": 5, "n_ensemble": 2}, seed=1)
    bundle.save(tmp_path / "model")
    loaded = ModelBundle.load(tmp_path / "model")
    frame = colon.features().iloc[600:]
    np.testing.assert_array_equal(bundle.predict_risk(frame), loaded.predict_risk(frame))
    np.testing.assert_array_equal(bundle.predict_survival(frame), loaded.predict_survival(frame))
    meta = json.loads((tmp_path / "model" / "metadata.json").read_text())
    assert meta["data_hash"] == colon.data_hash() and meta["seed"] == 1
    assert {"torch", "scikit-survival", "python"} <= set(meta["versions"])
    assert loaded.spec == colon.spec


class Payload:
    """A type skops does not trust: loading must refuse it instead of rebuilding it."""


def test_refuses_untrusted_or_foreign_preprocessor(colon, tmp_path):
    import skops.io as sio

    bundle = train_survival_model(colon, np.arange(300), {"max_epochs": 2}, seed=0)
    bundle.save(tmp_path / "m")
    sio.dump({"payload": Payload()}, tmp_path / "m" / "preprocessor.skops")
    with pytest.raises(ModelError, match="untrusted types"):
        ModelBundle.load(tmp_path / "m")
    sio.dump({"payload": [1, 2]}, tmp_path / "m" / "preprocessor.skops")
    with pytest.raises(ModelError, match="does not hold a TabularPreprocessor"):
        ModelBundle.load(tmp_path / "m")


def test_not_a_bundle(tmp_path):
    with pytest.raises(ModelError, match="not an oncoplan model bundle"):
        ModelBundle.load(tmp_path)


def test_treatment_never_filled_in(colon, tmp_path):
    from oncoplan.errors import CohortError

    bundle = train_survival_model(colon, np.arange(300), {"max_epochs": 2}, seed=0)
    with pytest.raises(CohortError, match="never fills in a treatment"):
        bundle.predict_risk(colon.features(include_treatment=False))
