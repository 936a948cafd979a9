"""What the Train view and the Playground share: finding the window's project session."""
from __future__ import annotations


class SessionView:
    """A view that follows ``self.window.session`` (a ``ProjectSession`` or None). The view
    defines ``set_session`` (subscribe / unsubscribe) and keeps ``self._session``."""

    def session(self):
        """The window's project session (binding to it on first sight), or None."""
        s = getattr(self.window, "session", None)
        if s is not self._session:
            self.set_session(s)
        return s

    def store(self):
        s = self.session()
        return s.store if s is not None else getattr(self.window, "store", None)
