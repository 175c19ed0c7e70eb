"""Feedback that closes the loop (R-6.3.6): 好差评 ratings and their rectification."""
