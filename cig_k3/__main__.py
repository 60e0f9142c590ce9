import sys

from cig_k3.cli import main

sys.exit(main())
