"""segutils.speed: the timing helper, FLOPs counted from the layers, benchmark's fields."""

import keras
import numpy as np
import pytest
from keras import layers

from segutils.speed import benchmark, count_flops, layer_flops, time_calls


def test_time_calls_warms_up_untimed_then_times_each_call():
    calls = []
    times = time_calls(lambda: calls.append(1), repeats=4, warmup=2)
    assert len(calls) == 6 and len(times) == 4 and all(t >= 0 for t in times)
    with pytest.raises(ValueError, match=r"^repeats must be a whole number >= 1, got 0 \(int\)$"):
        time_calls(lambda: None, repeats=0)
    with pytest.raises(ValueError, match=r"^warmup must be a whole number >= 0, got -1 \(int\)$"):
        time_calls(lambda: None, warmup=-1)


def test_flops_of_a_single_convolution_equal_the_formula():
    inputs = keras.Input((16, 12, 3))
    model = keras.Model(inputs, layers.Conv2D(5, 3, strides=2, padding="same")(inputs))
    # output 8x6, kernel 3x3x3x5: 2 * 8 * 6 * 3 * 3 * 3 * 5 = 12,960
    assert count_flops(model) == 2 * 8 * 6 * 3 * 3 * 3 * 5 == 12_960


def test_transposed_separable_dense_and_batchnorm_flops():
    inputs = keras.Input((4, 4, 2))
    up = layers.Conv2DTranspose(3, 2, strides=2)(inputs)  # kernel once per input pixel: 2*16*2*2*2*3
    sep = layers.SeparableConv2D(4, 3, padding="same")(up)  # 8x8: 2*64*(9*3 + 3*4)
    bn = layers.BatchNormalization()(sep)  # 2 per element: 2*8*8*4
    dense = layers.Dense(2)(bn)  # per position: 2*64*4*2
    model = keras.Model(inputs, dense)
    expected = 2 * 16 * 2 * 2 * 2 * 3 + 2 * 64 * (9 * 3 + 3 * 4) + 2 * 64 * 4 * 2
    assert count_flops(model) == expected
    assert count_flops(model, batchnorm=True) == expected + 2 * 8 * 8 * 4
    assert layer_flops(model.layers[-2]) == 0


def test_nested_models_are_counted_and_a_model_of_any_size_is_refused():
    inner_in = keras.Input((32, 64, 1))
    inner = keras.Model(inner_in, layers.Conv2D(2, 3, padding="same")(inner_in), name="inner")
    outer_in = keras.Input((32, 64, 1))
    assert count_flops(keras.Model(outer_in, layers.Conv2D(1, 1)(inner(outer_in)))) == 2 * 32 * 64 * (9 * 2 + 2)
    any_in = keras.Input((None, None, 1))
    with pytest.raises(ValueError, match=r"the model takes any size \(None, None, None, 1\): FLOPs grow with"):
        count_flops(keras.Model(any_in, layers.Conv2D(1, 1)(any_in)))


def test_benchmark_reports_latency_throughput_parameters_and_flops():
    inputs = keras.Input((8, 8, 1))
    model = keras.Model(inputs, layers.Conv2D(1, 3, padding="same", activation="sigmoid")(inputs))
    result = benchmark(model, batch_size=2, repeats=3, warmup=1)
    assert result["parameters"] == 10 and result["flops"] == 2 * 64 * 9
    assert result["latency_p90_ms"] >= result["latency_ms"] > 0 and result["images_per_s"] > 0
    assert result["input_shape"] == (8, 8, 1) and result["batch_size"] == 2
    assert np.isfinite(list(v for k, v in result.items() if k != "input_shape")).all()


def test_median_ms_is_the_median_of_the_timed_calls_in_milliseconds(monkeypatch):
    from segutils import speed

    calls = []

    def timed(fn, repeats, warmup):
        calls.append((repeats, warmup))
        return [0.3, 0.1, 0.2]

    monkeypatch.setattr(speed, "time_calls", timed)
    assert speed.median_ms(lambda: None, repeats=3, warmup=2) == pytest.approx(200.0)
    assert calls == [(3, 2)]
