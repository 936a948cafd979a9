"""The Qt-free core: domain, IOB2, tokenization, store, formats, training and inference.

Nothing under this package may import PySide6 (tests/test_architecture.py checks it), and
torch / transformers are imported lazily inside the training and inference modules only."""
