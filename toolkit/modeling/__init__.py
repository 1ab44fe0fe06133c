"""Models: architectures, training, quantization-aware training, ensembles, loading Keras files, search, clusters."""
