"""Entry point of the desktop bundle (PyInstaller runs it as a script, so no relative import)."""
import sys

from nerstudio.cli import main

if __name__ == "__main__":
    sys.exit(main())
