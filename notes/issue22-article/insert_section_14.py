"""APPLIED in paper version 2.8 (ninth sitting); kept as the record of what it inserted. Inserts the article's section on chapter 14 (replay), between chapter 13's and chapter 15's (which compares
with its runs), once chapter 14 is executed."""
from pathlib import Path

p = Path("paper.qmd")
s = p.read_text()
anchor = "{{< embed chapters/13-task-tokens.ipynb#fig-task-token-readout >}}\n"
section = '''
### Replay {#sec-task-replay}

Replay puts addition examples, on addition's token, into every full batch of subtraction training, as a
share of `{python} fmt(100 * R.replay.replay_share)` % of the batch (the document's "10 % addition
replay"; each example weighs the same in the loss, chapter 14). With replay, the grokked transfers answered
`{python} tv.addition_at_end(R, "grokked", "replay")` (@fig-replay-retention, @tbl-replay-retention); their
gain in addition over the transfers without replay, each pair compared at its common epoch, was
`{python} tv.replay_gain(R, "grokked")`, and the memorized-fixed transfers'
`{python} tv.replay_gain(R, "memorized-fixed")` (@tbl-replay-gain). With replay, the memorized-fixed
transfers answered `{python} tv.addition_at_end(R, "memorized-fixed", "replay")`, above what their sources
answered`{python} guard.replay_ends_above_start("memorized-fixed")`: trained on the replayed training pairs,
they learned addition's test pairs, so their gain mixes retention with learning. The document's hypothesis, "`{python} R.replay.hypothesis.hypothesis`", is tested on
the difference of those two gains, per seed: `{python} tv.hypothesis_effect(R, "replay")`, so it is
*`{python} tv.hypothesis_verdict(R, "replay")`* (@tbl-replay-hypothesis). Subtraction's epochs to
`{python} top` without replay over those with it, per seed, were `{python} tv.replay_speedup(R, "grokked")` for the
grokked source, `{python} tv.replay_speedup(R, "memorized-fixed")` for the memorized-fixed source and
`{python} tv.replay_speedup(R, "random")` from random initialisation (@tbl-replay-speed; below 1, replay was the
slower). The document's own design,
replay without a task token, gives one input two labels wherever addition and subtraction differ, so its
training loss cannot reach 0: its floor is `{python} tv.loss_floor(R)` (@fig-ill-posed).

{{< embed chapters/14-replay.ipynb#fig-replay-retention >}}

{{< embed chapters/14-replay.ipynb#tbl-replay-retention >}}

{{< embed chapters/14-replay.ipynb#tbl-replay-gain >}}

{{< embed chapters/14-replay.ipynb#tbl-replay-hypothesis >}}

{{< embed chapters/14-replay.ipynb#tbl-replay-speed >}}

{{< embed chapters/14-replay.ipynb#fig-ill-posed >}}
'''
assert s.count(anchor) == 1
s = s.replace(anchor, anchor + section, 1)
old = "with replay of addition (chapter 14's runs), per seed"
assert s.count(old) == 1
s = s.replace(old, "with replay of addition (@sec-task-replay), per seed", 1)
p.write_text(s)
print("chapter 14 inserted")
