import os
import sys

# Make ``import tolerances`` work from any test folder.
sys.path.insert(0, os.path.dirname(__file__))
