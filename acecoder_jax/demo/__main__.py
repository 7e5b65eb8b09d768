"""`python -m acecoder_jax.demo` (what `make demo` runs); see acecoder_jax/demo/run.py."""

import sys

from acecoder_jax.demo.run import main

sys.exit(main())
