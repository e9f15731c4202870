"""ToyCar: zips end to end (MD5), vector counts, short/stereo/unlabelled files, metrics."""

from __future__ import annotations

import numpy as np
import pytest

from entronas._core.errors import InvalidParameterError
from entronas.data import ArrayDataset, get_dataset
from entronas.data.toyadmos import anomaly_scores_to_metrics


def test_end_to_end(toycar):
    ds = get_dataset("toyadmos", root=toycar["root"], download=True)
    assert ds.task == "anomaly" and ds.num_classes == 0 and ds.input_shape == (640,)
    # train files: 6 full + 2 s clip (9 vectors) + stereo (down-mixed, 196) + id_05 (196)
    total = 8 * 196 + 9
    assert len(ds.x_train) + len(ds.x_val) == total
    assert len(ds.x_train) == int(total * 0.9)
    assert ds.x_train.shape[1] == 640 and ds.x_train.dtype == np.float32
    assert np.isfinite(ds.x_train).all() and (ds.y_train == 0).all()
    g = ds.test_groups
    assert len(g["file_label"]) == 8 and len(ds.x_test) == 8 * 196  # id_05 eval file ignored
    assert g["machine"].tolist() == [1, 1, 1, 1, 2, 2, 2, 2]
    assert g["file_label"].tolist() == [0, 0, 1, 1, 0, 0, 1, 1]  # normal then anomaly per id
    np.testing.assert_array_equal(ds.y_test, g["file_label"][g["file"]])
    assert ds.info["test_files"][2].startswith("anomaly_id_01")
    # loud 3 kHz tone: a trivial "error" (energy in the 3 kHz mel band) separates perfectly
    from entronas.data._audio import mel_matrix_slaney

    band = int(np.argmax(mel_matrix_slaney()[:, 192]))  # bin 192 = 3 kHz
    err = np.asarray(ds.x_test).reshape(-1, 5, 128)[:, :, band].mean(axis=1)
    m = anomaly_scores_to_metrics(err, ds)
    assert m["auc"] == 1.0 and m["pauc"] == 1.0 and set(m["per_machine"]) == {"id_01", "id_02"}
    assert get_dataset("toyadmos", root=toycar["root"]).info["cache_hit"]


def test_without_additional_train(toycar):
    ds = get_dataset("toyadmos", root=toycar["root"], download=True, additional_train=False, val_fraction=0.0)
    assert len(ds.x_train) == 7 * 196 + 9 and len(ds.x_val) == 0


def _toy_ds(file_label, machine, per_file=2):
    nf = len(file_label)
    fidx = np.repeat(np.arange(nf), per_file)
    z = np.zeros((0, 640), np.float32)
    return ArrayDataset("toy", "anomaly", (640,), 0, z, np.zeros(0, np.int64), z, np.zeros(0, np.int64),
                        np.zeros((len(fidx), 640), np.float32), np.asarray(file_label)[fidx],
                        test_groups={"file": fidx, "file_label": np.asarray(file_label),
                                     "machine": np.asarray(machine)})


def test_metrics_known_values():
    pytest.importorskip("sklearn")
    # machine 1: scores normal [0.1, 0.4], anomaly [0.35, 0.8] -> 3 of 4 pairs ordered: AUC 0.75
    # machine 2: perfectly separated -> AUC 1
    ds = _toy_ds([0, 0, 1, 1, 0, 0, 1, 1], [1, 1, 1, 1, 2, 2, 2, 2])
    file_scores = np.array([0.1, 0.4, 0.35, 0.8, 0.1, 0.2, 0.5, 0.6])
    err = np.repeat(file_scores, 2) + np.tile([-0.01, 0.01], 8)  # file mean = score
    m = anomaly_scores_to_metrics(err, ds)
    assert m["per_machine"]["id_01"]["auc"] == pytest.approx(0.75)
    assert m["per_machine"]["id_02"]["auc"] == pytest.approx(1.0)
    assert m["auc"] == pytest.approx(0.875)
    assert m["per_machine"]["id_02"]["pauc"] == pytest.approx(1.0)
    from sklearn.metrics import roc_auc_score

    want = roc_auc_score([0, 0, 1, 1], file_scores[:4], max_fpr=0.1)
    assert m["per_machine"]["id_01"]["pauc"] == pytest.approx(want)
    assert m["pauc"] == pytest.approx((want + 1.0) / 2)


def test_metrics_input_checks():
    ds = _toy_ds([0, 1], [1, 1])
    with pytest.raises(InvalidParameterError, match="one per test vector"):
        anomaly_scores_to_metrics(np.zeros(3), ds)
    with pytest.raises(InvalidParameterError, match="NaN"):
        anomaly_scores_to_metrics(np.array([np.nan, 0, 0, 0]), ds)
