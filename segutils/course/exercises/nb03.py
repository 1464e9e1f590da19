"""Checks for the exercises of ``notebooks/03_linknet.ipynb``: each returns None or a hint.

The right answers come from hand formulas; ``tests/test_exercises_nb03.py`` pins each to
the real models (``linknet_decoder_block``, ``sm.Linknet``).

Taught in notebooks/03_linknet.ipynb.
"""

from __future__ import annotations

#: sm's LinkNet-ResNet34 links, deepest first: decoder_stage{i}_add adds LINKS[i].
LINKS = ("stage4_unit1_relu1", "stage3_unit1_relu1", "stage2_unit1_relu1", "relu0")
#: Channels each of sm's five decoder stages squeezes to (a quarter of its input).
SQUEEZED = (128, 64, 32, 16, 16)


def _is_count(answer) -> bool:
    return isinstance(answer, int) and not isinstance(answer, bool)


def decoder_block_parameters(m: int, n: int, *, kernel: int = 3, squeeze: int = 4, batchnorm: int = 4) -> int:
    """Parameters of the paper's decoder block m -> n; the keywords give the usual slips."""
    q = m // squeeze
    return m * q + kernel * kernel * q * q + q * n + batchnorm * (q + q + n)


def check_decoder_parameters(answer) -> str | None:
    """Exercise 1: parameters of ``linknet_decoder_block`` for m = 512 channels in and n = 256 out."""
    if not _is_count(answer):
        return "Give the count as a whole number (an int)."
    if answer == decoder_block_parameters(512, 256):
        return None
    if answer == decoder_block_parameters(512, 256, batchnorm=0):
        return "The convolutions are right; each is followed by a BatchNorm with 4 numbers per channel."
    if answer == decoder_block_parameters(512, 256, batchnorm=2):
        return "count_params counts BatchNorm's moving mean and variance too, not only gamma and beta."
    if answer == decoder_block_parameters(512, 256, kernel=4):
        return "The paper's full convolution is 3x3 (sm's own decoder uses 4x4)."
    if answer == decoder_block_parameters(512, 256, squeeze=1):
        return "The block first squeezes m channels to m / 4 with its 1x1 conv, and works at m / 4 until the last conv."
    return ("Three convolutions without bias (1x1 to m/4, 3x3 transposed at m/4, 1x1 to n), each followed by a "
            "BatchNorm: add their weights.")


def link(img_size: int) -> tuple[str, tuple[int, int, int]]:
    """The encoder layer added in ``decoder_stage2_add`` and its shape for a square ``img_size`` input."""
    return LINKS[2], (img_size // 4, img_size // 4, 64)


def check_link(answer, img_size: int) -> str | None:
    """Exercise 2: ``(layer_name, shape)`` of the link added in ``decoder_stage2_add``."""
    if not (isinstance(answer, tuple) and len(answer) == 2 and isinstance(answer[0], str)):
        return "Store a pair (layer_name, shape), the name a str as model.get_layer takes it."
    name, shape = answer
    if name not in LINKS:
        return "That layer is not one of the encoder's links: sm.Backbones.get_feature_layers lists them."
    if name != LINKS[2]:
        return "That link feeds another decoder stage: the stages count from the deepest link, starting at 0."
    if not isinstance(shape, tuple) or tuple(shape) != link(img_size)[1]:
        return "The layer is right; give its shape without the batch axis as a tuple: (height, width, channels)."
    return None


def check_upsampling_saving(answer) -> str | None:
    """Exercise 3: parameters saved by ``decoder_block_type="upsampling"`` in sm's LinkNet-ResNet34."""
    if not _is_count(answer):
        return "Give the count as a whole number (an int)."
    right = sum((16 - 9) * q * q for q in SQUEEZED)
    if answer == right:
        return None
    if answer == -right:
        return "The sign: give what is saved, a positive number."
    if answer in ((16 - 9) * q * q for q in SQUEEZED):
        return "That is one decoder stage; every one of the five changes its kernel."
    if answer in (sum(16 * q * q for q in SQUEEZED), sum(9 * q * q for q in SQUEEZED)):
        return "That is all the weights of one kind of kernel; the saving is the difference between the two."
    return "Per stage a q -> q kernel goes from 4x4 to 3x3: count the weights that go, and add the five stages."
