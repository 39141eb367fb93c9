"""`python3 -m edge --config devices/<id>.toml`: the agent alone (edge.command), the same as the
`floorwatch-edge` console script; it never loads the hub."""

import sys

from edge.command import main

if __name__ == "__main__":
    sys.exit(main())
