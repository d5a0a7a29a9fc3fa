"""Typed errors of the package. Each message names the file (or input) and the problem; the
command line prints it without a traceback."""
from __future__ import annotations


class UserError(Exception):
    """Base class: bad input from the user, reported as one clear line."""


class ImageReadError(UserError, ValueError):
    """An image file is missing, empty, truncated, not an image, or of an unusable format."""


class AnnotationError(UserError, ValueError):
    """An annotation file or line is malformed (wrong point count, NaN, non-numeric, ...)."""


class ConfigError(UserError, ValueError):
    """A training/evaluation config has unknown keys or wrong types."""


class CheckpointError(UserError, ValueError):
    """A checkpoint or model file is unreadable or belongs to another model/landmark count."""


class NoFaceError(UserError):
    """No face was found in an image."""


class VideoReadError(UserError, ValueError):
    """A video cannot be opened or decoded."""


class BoxError(UserError, ValueError):
    """A face box is malformed: not 4 finite numbers, or of zero or negative size."""


class UnknownNameError(ConfigError, KeyError):
    """A model, scheme, loss or other name that is not registered (a KeyError too, for
    lookups; printed without KeyError's quotes)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""
