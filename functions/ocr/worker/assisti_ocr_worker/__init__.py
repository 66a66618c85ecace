"""The OCR worker (container image): easyocr's CRAFT and english_g2, exported to ONNX, on onnxruntime."""
