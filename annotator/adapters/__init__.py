"""Model adapters: the only modules that import torch, segment_anything, groundingdino or openai.

Each adapter family has a small Protocol and a registry chosen by settings; the web app and the
task modules import adapters lazily, inside functions, so that they never load the model stack.
"""
