"""The words of the claims audit's verdicts and the significance level the paper uses.

They live apart from the auditor (``grokpaper.paper.audit``) because the article's values and
guards and ``paper.qmd`` name them too, without needing the auditor itself.

The categories (Methods and chapter 08 define them for the reader):

* **supported**: the data pin the value to the claim: the whole interval of the reproduced
  value lies within the claim's tolerance (its printed precision, or the practical margin of
  its kind of quantity, whichever is wider), or a claimed significant difference survives the
  family's correction at the claimed level, on the claimed side.
* **consistent, not confirmed**: the data hold the claim but cannot pin it: the interval
  contains the claim (within its tolerance) but reaches past it; a lower bound (censored runs)
  that the claim does not undercut; a claimed absence of a difference that a non-significant
  test cannot confirm; a difference significant at ``ALPHA`` but not at the claimed level.
* **contradicted by the data**: the interval excludes the claim and its tolerance, a bound
  fails, or a claimed significant difference does not survive the correction.
* **not established**: an effect the document asserts or predicts in words, with no number of
  its own ("Hypothesis: ...", "Grokking creates meta-structure"), whose test does not show it
  after the correction (not significant, or significant on a side censoring leaves open): the
  data do not show the effect, and these runs cannot show that it is absent. Such a claim is
  contradicted only by a significant effect on the other side.
* **inconsistent within the document**: the claim contradicts the document's own setup; what
  the data say is given beside it.
* **definitional**: true by the setup's arithmetic (1/113, p + 1 tokens).
* **not testable**: no rerun can produce the number (hardware, time, the original's code).
"""

from __future__ import annotations

SUPPORTED = "supported"
CONSISTENT = "consistent, not confirmed"
CONTRADICTED = "contradicted by the data"
NOT_ESTABLISHED = "not established"
INCONSISTENT = "inconsistent within the document"
DEFINITIONAL = "definitional"
NOT_TESTABLE = "not testable"
CATEGORIES = (SUPPORTED, CONSISTENT, CONTRADICTED, NOT_ESTABLISHED, INCONSISTENT, DEFINITIONAL, NOT_TESTABLE)
DATA_VERDICTS = (SUPPORTED, CONSISTENT, CONTRADICTED, NOT_ESTABLISHED, NOT_TESTABLE)

ALPHA = 0.05  # the family-wise significance level every test of the paper is judged at (after Holm)
