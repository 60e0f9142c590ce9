import numpy as np
import pytest

from cig_k3.evaluation import segmentation

from .conftest import disc_instances, semantic3

pytestmark = pytest.mark.backend_independent


def test_dice_iou_per_class_hand_values():
    true = np.array([[0, 0, 1, 1],
                     [0, 0, 1, 1]])
    pred = np.array([[0, 1, 1, 1],
                     [0, 0, 0, 1]])
    scores = segmentation.dice_iou(true, pred, num_classes=3)
    # class 0: |T| 4, |P| 4, overlap 3 -> dice 6/8, iou 3/5; class 1: same; class 2 absent.
    np.testing.assert_allclose(scores["dice"][:2], [0.75, 0.75])
    np.testing.assert_allclose(scores["iou"][:2], [0.6, 0.6])
    assert np.isnan(scores["dice"][2]) and np.isnan(scores["iou"][2])
    # Binary: any non-zero label is foreground.
    foreground = segmentation.foreground_dice_iou(true * 7, pred)
    assert foreground == {"dice": 0.75, "iou": 0.6}


def test_iou_matrix_ignores_label_values_and_background():
    true = np.array([[5, 5, 0, 9]])
    pred = np.array([[2, 0, 0, 3]])
    iou, true_ids, pred_ids = segmentation.iou_matrix(true, pred)
    np.testing.assert_array_equal(true_ids, [5, 9])
    np.testing.assert_array_equal(pred_ids, [2, 3])
    np.testing.assert_allclose(iou, [[0.5, 0], [0, 1]])


def test_match_instances_hand_made():
    true = np.zeros((10, 20), np.int32)
    pred = np.zeros_like(true)
    true[0:4, 0:5] = 1; pred[0:4, 0:5] = 7            # exact: IoU 1
    true[5:10, 0:5] = 2; pred[5:10, 1:5] = 8          # IoU 20/25 = 0.8
    true[0:4, 8:12] = 3; pred[0:4, 10:14] = 9         # IoU 8/24: too low -> FN and FP
    pred[6:9, 15:18] = 4                               # nothing there: FP
    result = segmentation.match_instances(true, pred)
    assert (result["tp"], result["fp"], result["fn"]) == (2, 2, 1)
    assert result["f1"] == pytest.approx(4 / 7)
    assert result["ap"] == pytest.approx(2 / 5)  # TP / (TP + FP + FN)
    assert result["precision"] == pytest.approx(0.5) and result["recall"] == pytest.approx(2 / 3)
    assert result["mean_matched_iou"] == pytest.approx(0.9)
    # At a threshold of 0.3 the third pair matches too.
    assert segmentation.match_instances(true, pred, iou_threshold=0.3)["tp"] == 3


def test_match_instances_below_one_half_stays_one_to_one():
    # At IoU 0.35 a true object can pass with two predictions:
    # iou(1, A) = 3/8, iou(1, B) = 2/5, iou(2, A) = 3/7, iou(2, B) = 0.
    # One-to-one, the best assignment is 1-B and 2-A: two matches, no double counting.
    true = np.array([[1, 1, 1, 1, 1, 2, 2, 2, 2, 0]])
    pred = np.array([[5, 5, 5, 6, 6, 5, 5, 5, 0, 0]])  # A = 5, B = 6
    iou, _, _ = segmentation.iou_matrix(true, pred)
    np.testing.assert_allclose(iou, [[3 / 8, 2 / 5], [3 / 7, 0]])
    result = segmentation.match_instances(true, pred, iou_threshold=0.35)
    assert (result["tp"], result["fp"], result["fn"]) == (2, 0, 0)
    assert result["mean_matched_iou"] == pytest.approx((2 / 5 + 3 / 7) / 2)


def test_match_instances_dataset_sums_counts():
    true = disc_instances((16, 16), [(4, 4), (11, 11)], 3)
    empty = np.zeros_like(true)
    result = segmentation.match_instances_dataset([true, true], [true, empty])
    assert (result["tp"], result["fp"], result["fn"]) == (2, 0, 2)
    assert result["ap"] == pytest.approx(0.5)
    assert len(result["per_image"]) == 2
    nothing = segmentation.match_instances(empty, empty)
    assert nothing["tp"] == 0 and np.isnan(nothing["f1"])


def test_instances_from_semantic3_recovers_touching_cells():
    # Two discs that touch: only their boundaries meet, the interiors stay apart.
    true = disc_instances((24, 32), [(12, 9), (12, 20)], 6)
    assert len(np.unique(true)) == 3
    classes = semantic3(true)
    instances = segmentation.instances_from_semantic3(classes)
    assert instances.max() == 2
    result = segmentation.match_instances(true, instances)
    assert result["tp"] == 2 and result["mean_matched_iou"] == pytest.approx(1.0)
    # Scores (H, W, 3) give the same instances.
    scores = np.eye(3)[classes]
    np.testing.assert_array_equal(segmentation.instances_from_semantic3(scores), instances)


def test_instances_from_semantic3_drops_seedless_boundary_and_small_seeds():
    classes = np.zeros((12, 12), np.int32)
    classes[1:4, 1:4] = 2          # a ring of boundary with no interior
    classes[6:11, 6:11] = 2
    classes[7:10, 7:10] = 1        # a proper cell: 9 interior pixels
    classes[1, 10] = 1             # a single interior pixel
    instances = segmentation.instances_from_semantic3(classes)
    assert instances.max() == 2 and np.all(instances[1:4, 1:4] == 0)
    assert np.all(instances[6:11, 6:11] == instances[8, 8])
    filtered = segmentation.instances_from_semantic3(classes, min_size=2)
    assert filtered.max() == 1 and filtered[1, 10] == 0
