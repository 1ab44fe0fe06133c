"""Shipping what passed: the browser demo with the run's models, and the Android sample's assets."""
