"""Entropy coding: the range coder and its tables, the exact integer prior and its wavefront
schedule, the rate-aware index choice and the rate search."""
