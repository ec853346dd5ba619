"""python -m twin"""

from twin.cli import main

if __name__ == "__main__":
    main()
