"""Models: U-Net, LinkNet and U-Net on LinkNet's encoder; float32 images in [0, 1], a float32 ``output``. Taught in
notebooks 02, 03 and 05."""

from .build import MODEL_NAMES, EncoderNotPretrainedWarning, any_size, build_model, encoder_layers, output_channels
from .linknet import build_linknet, build_linknet_scratch, build_unet_encoder, linknet_decoder_block
from .unet import build_unet
from .weights import EncoderWeightsError
