import numpy as np
import pandas as pd
import pytest

from oncoplan.data import Cohort, CohortSpec, load_cohort
from oncoplan.errors import CohortError, DataSourceError
from tests.conftest import requires_shared


def test_colon_cohort_has_trial_arms_and_types(colon):
    assert colon.n_patients == 929
    assert colon.arms == ["Obs", "Lev", "Lev+5FU"]
    assert colon.treatment.value_counts().to_dict() == {"Obs": 315, "Lev": 310, "Lev+5FU": 304}
    assert colon.spec.numeric == ["age", "nodes"]
    assert "rx" not in colon.covariates.columns
    assert colon.y.dtype.names == ("event", "time")
    assert int(colon.event.sum()) == 452
    assert colon.features().columns[-1] == "treatment"
    assert "treatment" not in colon.features(include_treatment=False).columns


def test_subset_keeps_rows_aligned(colon):
    rows = np.array([5, 1, 700])
    sub = colon.subset(rows)
    assert list(sub.ids) == [colon.ids[5], colon.ids[1], colon.ids[700]]
    np.testing.assert_array_equal(sub.time, colon.time[rows])
    assert list(sub.treatment) == list(colon.treatment.iloc[rows])


def test_data_hash_is_stable_and_sensitive(colon):
    assert colon.data_hash() == load_cohort("survset:colon").data_hash()
    assert colon.subset(np.arange(100)).data_hash() != colon.data_hash()


def test_modality_block_keyed_by_patient_id(colon):
    block = pd.DataFrame({"gene": [1.0, 2.0]}, index=[colon.ids[0], colon.ids[3]])
    colon_copy = colon.subset(np.arange(colon.n_patients))
    colon_copy.add_block("genomic", block)
    sub = colon_copy.subset(np.array([0, 1]))
    assert list(sub.blocks["genomic"].index) == [colon.ids[0]]
    with pytest.raises(CohortError, match="not in cohort"):
        colon_copy.add_block("bad", pd.DataFrame({"g": [1.0]}, index=["no-such-patient"]))


def test_spec_rejects_contradictions():
    with pytest.raises(CohortError, match="both numeric and categorical"):
        CohortSpec.from_dict(
            {
                "id_column": "id",
                "time_column": "t",
                "event_column": "e",
                "numeric": ["a"],
                "categorical": ["a"],
            }
        )
    with pytest.raises(CohortError, match="outcome"):
        CohortSpec.from_dict({"id_column": "id"})


def test_infer_types_declares_what_it_found():
    df = pd.DataFrame(
        {
            "id": [1, 2, 3],
            "t": [1.0, 2.0, 3.0],
            "e": [1, 0, 1],
            "age": [50, 60, 70],
            "stage": ["I", "II", "I"],
        }
    )
    spec = CohortSpec(id_column="id", time_column="t", event_column="e", infer_types=True)
    cohort = Cohort.from_frame(df, spec)
    assert cohort.spec.numeric == ["age"] and cohort.spec.categorical == ["stage"]


def test_unknown_survset_name_is_a_clear_error():
    with pytest.raises(DataSourceError, match="no dataset 'colonn'"):
        load_cohort("survset:colonn")


@requires_shared
def test_deepsurv_gbsg_keeps_published_split():
    cohort = load_cohort("deepsurv:gbsg")
    assert cohort.split.value_counts().to_dict() == {"train": 1546, "test": 686}
    assert cohort.arms == ["no", "yes"]
    assert cohort.spec.time_unit == "months"


@requires_shared
@pytest.mark.parametrize("name,n", [("metabric", 1904), ("support", 8873), ("whas", 1638)])
def test_deepsurv_cohorts_load(name, n):
    cohort = load_cohort(f"deepsurv:{name}")
    assert cohort.n_patients == n
    assert set(cohort.split.unique()) == {"train", "test"}


def test_repeated_rows_are_counted_and_warned_without_patient_data(caplog):
    spec = CohortSpec(id_column="id", time_column="t", event_column="e", numeric=["age"], categorical=["arm"])
    df = pd.DataFrame(
        {
            "id": ["p1", "p2", "p3", "p4"],
            "t": [5.0, 5.0, 5.0, 2.0],
            "e": [1, 1, 0, 0],  # p3 differs from p1 only in the event: not a copy
            "age": [50.0, 50.0, 50.0, 60.0],
            "arm": ["a", "a", "a", "b"],
        }
    )
    with caplog.at_level("WARNING", logger="oncoplan.data.cohort"):
        cohort = Cohort.from_frame(df, spec)
    assert cohort.repeated_rows().tolist() == [False, True, False, False]
    assert cohort.summary()["repeated_rows"] == 1
    assert "1 of 4 rows repeat" in caplog.text and "p2" not in caplog.text and "50" not in caplog.text
    clean = Cohort.from_frame(df.drop(index=1), spec)
    assert "repeated_rows" not in clean.summary() and not clean.repeated_rows().any()


@requires_shared
def test_deepsurv_whas_repeats_903_rows():
    cohort = load_cohort("deepsurv:whas")
    assert int(cohort.repeated_rows().sum()) == 903  # 735 distinct (covariates, time, event) tuples
    assert cohort.subset(np.flatnonzero(~cohort.repeated_rows())).n_patients == 735


def test_copies_in_finds_test_patients_copied_from_training(colon):
    train, test = colon.subset(np.arange(0, 600)), colon.subset(np.arange(600, 929))
    assert not test.copies_in(train).any()  # colon has no repeated rows
    leaked = colon.subset(np.r_[np.arange(600, 610), np.arange(0, 5)])
    assert leaked.copies_in(train).tolist() == [False] * 10 + [True] * 5
    no_treatment = Cohort.from_frame(
        colon.covariates.reset_index().assign(t=colon.time, e=colon.event),
        CohortSpec(id_column="patient_id", time_column="t", event_column="e", infer_types=True),
    )
    assert not no_treatment.copies_in(train).any()  # other columns: nothing is compared


@pytest.mark.parametrize(
    "name,arms,unit",
    [
        ("veteran", ["1", "2"], "days"),
        ("prostate", ["placebo", "0.2 mg estrogen", "1.0 mg estrogen", "5.0 mg estrogen"], "months"),
        ("d.oropha.rec", ["1", "2"], "years"),  # SurvSet keeps the fac_/num_ prefixes here (names collide)
    ],
)
def test_further_survset_trials_declare_their_arms_and_time_unit(name, arms, unit):
    cohort = load_cohort(f"survset:{name}")
    assert cohort.arms == arms and cohort.spec.time_unit == unit
    assert set(cohort.treatment.unique()) == set(arms)
    assert (
        "treatment" not in cohort.covariates.columns
        and cohort.spec.treatment_column not in cohort.spec.categorical
    )


@pytest.mark.parametrize(
    "name,assignment",
    [("colon", "randomised"), ("veteran", "randomised"), ("GBSG2", "unknown"), ("rott2", "observational")],
)
def test_survset_cohorts_declare_how_arms_were_assigned(name, assignment):
    assert load_cohort(f"survset:{name}").spec.assignment == assignment


def test_assignment_must_be_a_known_design():
    with pytest.raises(ValueError, match="assignment"):
        CohortSpec(time_column="t", event_column="e", assignment="quasi-random")
