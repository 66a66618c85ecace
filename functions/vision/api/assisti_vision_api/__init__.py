"""The vision API function (zip): the animal and road-sign item routes. No model: the worker classifies."""
