"""The chat function (zip): categories, messages and LLM answers through the openai SDK."""
