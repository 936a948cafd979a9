"""Keep the cyclic garbage collector off long-lived objects."""
import gc


def freeze_heap() -> None:
    """torch, transformers, a loaded model and encoded data are millions of long-lived objects.
    Every full cyclic collection scans them all and stalls its thread (training, or the GUI) for
    100 ms or more. Collect once, then move everything alive to the permanent generation, which
    the collector skips; refcounting still frees these objects when they are released."""
    gc.collect()
    gc.freeze()
