-- notebook.lua -- notebook views: pandoc's ipynb reader keeps text/markdown outputs
-- (e.g. the pipe tables our chapters display) as raw markdown, which the HTML writer
-- drops; parse them so the tables show.
function RawBlock(raw)
  if raw.format == "markdown" then
    return pandoc.read(raw.text, "markdown").blocks
  end
end
