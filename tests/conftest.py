"""Suite-wide settings: verify the IR after every pass, keep hypothesis quick."""

import os

os.environ.setdefault("LAYERC_VERIFY", "1")
os.environ.setdefault("KERAS_BACKEND", "torch")

from hypothesis import settings  # noqa: E402

settings.register_profile("layerc", deadline=None, max_examples=30, derandomize=True,
                          print_blob=True)
settings.load_profile("layerc")
