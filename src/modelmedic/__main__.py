"""Allow ``python -m modelmedic``."""

from modelmedic.cli import main

if __name__ == "__main__":
    main()
