"""s2slide: the helper package of the course *Landslides from space*.

Import the submodules by name, e.g. ``from s2slide import indices``; nothing heavy
(TensorFlow, Earth Engine) is imported until a function that needs it is called.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
