"""The networks: VQ-VAE, PixelCNN priors, quantizers, their configs, and a loaded codec model."""
