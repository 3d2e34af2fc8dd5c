-- Negative numbers with a typographic minus (U+2212) instead of the hyphen Python prints:
-- "CI -1.07 %" reads as a dash in HTML and PDF alike, and typst turned only some of them
-- into minus signs. A hyphen is a minus when it starts a word, or follows "(", "[", "=" or
-- "/", and a digit or a decimal point comes next; "0-100" (a range) and "1e-5" keep theirs.
-- Listed under `filters:` in _quarto.yml, so Quarto and the in-repo build both run it.
local MINUS = "\u{2212}"

function Str(el)
  local text = el.text:gsub("^%-([%d%.])", MINUS .. "%1")
  text = text:gsub("([%(%[=/])%-([%d%.])", "%1" .. MINUS .. "%2")
  if text ~= el.text then
    return pandoc.Str(text)
  end
end
