"""python -m twin"""

from twin.entry import main

if __name__ == "__main__":
    main()
