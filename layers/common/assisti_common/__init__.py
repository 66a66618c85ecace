"""Assisti's shared package: the common Lambda layer, installed as a package locally."""
