"""The sequence example learns its rule (examples/sequence_rule.py, no download)."""

import os
import sys

EXAMPLES = os.path.join(os.path.dirname(__file__), "..", "..", "examples")


def test_sequence_example_learns_the_rule(capsys):
    sys.path.insert(0, EXAMPLES)
    try:
        import sequence_rule
    finally:
        sys.path.remove(EXAMPLES)
    accuracy = sequence_rule.main([])
    out = capsys.readouterr().out
    assert f"test accuracy: {accuracy:.4f}" in out
    # Chance is 0.5; the seeded run reaches about 0.95.
    assert accuracy >= 0.9
    assert out.count("P(last == first)") == 3
