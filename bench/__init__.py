"""The bench wing: every ``scotd bench`` benchmark, their shared harness (``harness``: worker
processes, interleaved rounds, medians, peak RSS) and where results go (``report``: JSON and a
marked docs section). It sits above the three floors and may import any of them; none imports it
(the CLI reaches it through the ``"module:function"`` strings of ``serve/cli/bench.py``).
"""
