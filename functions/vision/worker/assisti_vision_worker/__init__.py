"""The vision worker (container image): the animal and road-sign classifiers on onnxruntime."""
