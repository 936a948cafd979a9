"""nerstudio: label, train and try named-entity recognition models in one offline desktop app."""
__version__ = "0.1.0"
