"""Text-GAN utilities: evaluation metrics for generated token sequences."""
