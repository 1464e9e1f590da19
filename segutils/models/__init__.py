"""Models: U-Net (``unet``) and LinkNet (``linknet``). Taught in notebooks 02 and 03."""
