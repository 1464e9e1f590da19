"""Models: U-Net (``unet``) and LinkNet (``linknet``). Taught in notebooks 02 and 03.

Every model takes float32 images in [0, 1] and ends in a float32 layer named ``output``.
"""

from .build import MODEL_NAMES, EncoderNotPretrainedWarning, any_size, build_model, encoder_layers, output_channels
from .linknet import EncoderWeightsError, build_linknet, build_linknet_scratch, linknet_decoder_block
from .unet import build_unet

__all__ = [
    "MODEL_NAMES",
    "EncoderNotPretrainedWarning",
    "any_size",
    "build_model",
    "encoder_layers",
    "output_channels",
    "EncoderWeightsError",
    "build_linknet",
    "build_linknet_scratch",
    "build_unet",
    "linknet_decoder_block",
]
