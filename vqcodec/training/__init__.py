"""The two training stages of VQ-VAE-2: the autoencoder, then the priors over its codes."""
