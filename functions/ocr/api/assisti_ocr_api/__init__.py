"""The OCR API function (zip): the OCR item routes. No model, no engine: the worker reads the text."""
