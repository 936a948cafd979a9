"""Keep the cyclic garbage collector off long-lived objects."""
import gc


def freeze_heap() -> None:
    """torch, transformers, a loaded model and encoded data are millions of long-lived objects.
    Every full cyclic collection scans them all and stalls its thread (training, or the GUI) for
    100 ms or more. Collect once, then move everything alive to the permanent generation, which
    the collector skips; refcounting still frees these objects when they are released."""
    gc.collect()
    gc.freeze()


def release_heap() -> None:
    """After a training run: frozen objects in reference cycles (the Trainer, the model's
    modules, the run's callback classes and what they close over) are never collected, so a
    frozen run would stay in memory for the life of the process (the GUI trains many). Thaw,
    collect the run's cycles once, and freeze again what is still alive (torch, the GUI)."""
    gc.unfreeze()
    gc.collect()
    gc.freeze()
