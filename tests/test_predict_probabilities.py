"""segutils.predict.predict_probabilities: the probability path under predict_masks (the explorer's)."""

import numpy as np

from segutils.predict import head_rule, predict_masks, predict_probabilities, to_probabilities

from .heads import head_model, ramp


def _sigmoid(z):
    return 1 / (1 + np.exp(-z))


def test_sigmoid_logits_and_softmax_heads_give_the_same_probability_of_class_1():
    image = ramp()
    expected = _sigmoid(4 * (image / 255.0 - 0.5))
    sigmoid = predict_probabilities(head_model("sigmoid", 1), image)
    logits = predict_probabilities(head_model("linear", 1), image)
    softmax = predict_probabilities(head_model("softmax", 2), image)  # softmax([0, z]) = [1 - sigmoid(z), sigmoid(z)]
    assert sigmoid.shape == (5, 7, 1) and sigmoid.dtype == np.float32
    np.testing.assert_allclose(sigmoid[..., 0], expected, atol=1e-6)
    np.testing.assert_allclose(logits[..., 0], expected, atol=1e-6)
    np.testing.assert_allclose(softmax[..., 1], expected, atol=1e-6)
    np.testing.assert_allclose(softmax.sum(axis=-1), 1.0, atol=1e-6)


def test_head_rule_of_the_probabilities_is_predict_masks_at_any_threshold():
    images = [ramp(), ramp(9, 40)]
    for activation in ("sigmoid", "linear"):
        model = head_model(activation, 1)
        probs = predict_probabilities(model, images)
        assert [p.shape for p in probs] == [(5, 7, 1), (9, 40, 1)]
        for threshold in (0.3, 0.5, 0.8):
            for p, m in zip(probs, predict_masks(model, images, threshold=threshold), strict=True):
                np.testing.assert_array_equal(head_rule(p, threshold), m)


def test_resized_probabilities_come_back_at_the_image_size_like_the_masks():
    model = head_model("sigmoid", 1, size=(8, 8))
    big = np.zeros((16, 16), np.uint8)
    big[:, 8:] = 255
    probs = predict_probabilities(model, np.stack([big, big]), resize=True)
    assert probs.shape == (2, 16, 16, 1)
    np.testing.assert_array_equal(head_rule(probs), predict_masks(model, np.stack([big, big]), resize=True))


def test_to_probabilities_hand_computed():
    np.testing.assert_allclose(to_probabilities(np.array([[0.0], [np.log(3.0)]]), from_logits=True), [[0.5], [0.75]])
    np.testing.assert_allclose(to_probabilities(np.array([0.0, np.log(3.0)]), from_logits=True), [0.25, 0.75])
    np.testing.assert_array_equal(to_probabilities(np.array([[0.25]]), from_logits=False), [[0.25]])
