--[[
crossref.lua -- Quarto-style cross references for plain pandoc.

Numbers figures (#fig-...), tables (#tbl-...), display equations ($$ ... $$ {#eq-...})
and sections (headings), then replaces every @fig-/@tbl-/@sec-/@eq- "citation" with a
link such as "Figure 2". It must run BEFORE --citeproc: pandoc parses @fig-x as a
citation and citeproc would otherwise print it as a missing reference ("??").
An unknown label is an error (pandoc exits non-zero), so no "??" ever reaches the output.

Also: normalises Quarto's author/affiliation metadata for pandoc's templates, and wraps
echoed code (Div .cell-code) in a collapsed <details> in HTML.
]]

local NAMES = { fig = "Figure", tbl = "Table", sec = "Section", eq = "Equation" }
local labels = {}        -- id -> { kind = "fig", number = "2" }
local label_order = {}   -- ids in document order, for error messages
local counters = { fig = 0, tbl = 0, eq = 0 }
local is_html = FORMAT:match("html") ~= nil

local function kind_of(id)
  local prefix = id and id:match("^(%a+)%-")
  if prefix and NAMES[prefix] then return prefix end
  return nil
end

local function register(id, kind, number)
  if labels[id] then
    error("grokpaper crossref: label '" .. id .. "' is defined twice")
  end
  labels[id] = { kind = kind, number = number }
  table.insert(label_order, id)
end

local function next_number(kind)
  counters[kind] = counters[kind] + 1
  return tostring(counters[kind])
end

local function caption_prefix(kind, number)
  return pandoc.Inlines({ pandoc.Str(NAMES[kind]), pandoc.Space(), pandoc.Str(number .. ":"), pandoc.Space() })
end

-- Inlines of a caption (pandoc.Caption long blocks flattened)
local function caption_inlines(blocks)
  local out = pandoc.Inlines({})
  for i, b in ipairs(blocks) do
    if i > 1 then out:insert(pandoc.Space()) end
    if b.content then out:extend(b.content) end
  end
  return out
end

local function number_figure(fig)
  local id = fig.identifier
  if kind_of(id) ~= "fig" or labels[id] then return nil end
  local n = next_number("fig")
  register(id, "fig", n)
  local inl = caption_prefix("fig", n)
  inl:extend(caption_inlines(fig.caption.long))
  fig.caption.long = { pandoc.Plain(inl) }
  return fig
end

local function number_table(tbl, id, caption_blocks)
  local n = next_number("tbl")
  register(id, "tbl", n)
  local inl = caption_prefix("tbl", n)
  inl:extend(caption_inlines(caption_blocks or tbl.caption.long))
  tbl.caption.long = { pandoc.Plain(inl) }
  return tbl
end

-- Quarto's div syntax: ::: {#fig-x} <content> <caption paragraph> :::
local function div_figure(div)
  local content = pandoc.Blocks({})
  for i, b in ipairs(div.content) do
    if i < #div.content then content:insert(b) end
  end
  local last = div.content[#div.content]
  local caption = {}
  if last and (last.t == "Para" or last.t == "Plain") then
    caption = { pandoc.Plain(last.content) }
  elseif last then
    content:insert(last)
  end
  local fig = pandoc.Figure(content, caption, div.attr)
  return number_figure(fig)
end

local function div_table(div)
  local tbl_index, caption = nil, nil
  for i, b in ipairs(div.content) do
    if b.t == "Table" and not tbl_index then tbl_index = i end
  end
  if not tbl_index then
    error("grokpaper crossref: div #" .. div.identifier .. " holds no table")
  end
  local last = div.content[#div.content]
  local blocks = pandoc.Blocks({})
  for i, b in ipairs(div.content) do
    if i == #div.content and i ~= tbl_index and (b.t == "Para" or b.t == "Plain") then
      caption = { pandoc.Plain(b.content) }
    else
      blocks:insert(b)
    end
  end
  local tbl = div.content[tbl_index]
  number_table(tbl, div.identifier, caption)
  if not is_html then
    -- typst: a label on the table's own figure (a wrapping block would shrink-wrap it)
    tbl.identifier = div.identifier
    return blocks
  end
  div.classes:insert("grokpaper-table")
  div.content = blocks
  return div
end

-- Section numbering: the shallowest heading level present is level 1 ("1", "1.1", ...).
local function number_sections(doc)
  local top = 99
  doc:walk({ Header = function(h)
    if not h.classes:includes("unnumbered") and h.level < top then top = h.level end
  end })
  local counts = {}
  return doc:walk({ Header = function(h)
    if h.classes:includes("unnumbered") then return nil end
    local depth = h.level - top + 1
    counts[depth] = (counts[depth] or 0) + 1
    for d = depth + 1, 10 do counts[d] = nil end
    local parts = {}
    for d = 1, depth do table.insert(parts, tostring(counts[d] or 0)) end
    local number = table.concat(parts, ".")
    if kind_of(h.identifier) == "sec" then register(h.identifier, "sec", number) end
    h.attributes["number"] = number
    local inl = pandoc.Inlines({ pandoc.Span({ pandoc.Str(number) }, { class = "header-section-number" }), pandoc.Space() })
    inl:extend(h.content)
    h.content = inl
    return h
  end })
end

-- $$ ... $$ {#eq-x}  ->  numbered display equation with an anchor
local function number_equations(para)
  local c = para.content
  local out = pandoc.Inlines({})
  local changed = false
  local i = 1
  while i <= #c do
    local el = c[i]
    if el.t == "Math" and el.mathtype == "DisplayMath" then
      local j = i + 1
      if c[j] and (c[j].t == "Space" or c[j].t == "SoftBreak") then j = j + 1 end
      local id = c[j] and c[j].t == "Str" and c[j].text:match("^{#(eq%-[%w%-_:.]+)}$")
      if id then
        local n = next_number("eq")
        register(id, "eq", n)
        local math = pandoc.Math("DisplayMath", el.text .. " \\qquad (" .. n .. ")")
        out:insert(pandoc.Span({ math }, { id = id, class = "equation" }))
        i = j + 1
        changed = true
      else
        out:insert(el)
        i = i + 1
      end
    else
      out:insert(el)
      i = i + 1
    end
  end
  if changed then para.content = out; return para end
  return nil
end

local function number_blocks(doc)
  return doc:walk({
    traverse = "topdown",
    Figure = function(fig) return number_figure(fig) end,
    Table = function(tbl)
      if kind_of(tbl.identifier) == "tbl" and not labels[tbl.identifier] then
        local id = tbl.identifier
        number_table(tbl, id)
        if not is_html then return tbl end
        tbl.identifier = ""
        return pandoc.Div({ tbl }, { id = id, class = "grokpaper-table" })
      end
    end,
    Div = function(div)
      local kind = kind_of(div.identifier)
      if kind == "fig" and not labels[div.identifier] then return div_figure(div) end
      if kind == "tbl" and not labels[div.identifier] then return div_table(div) end
    end,
    Para = number_equations,
  })
end

local function known_labels()
  local names = {}
  for _, id in ipairs(label_order) do table.insert(names, "@" .. id) end
  if #names == 0 then return "(none)" end
  return table.concat(names, ", ")
end

local function resolve_refs(doc)
  return doc:walk({ Cite = function(cite)
    local crossrefs = 0
    for _, c in ipairs(cite.citations) do
      if kind_of(c.id) then crossrefs = crossrefs + 1 end
    end
    if crossrefs == 0 then return nil end
    if crossrefs < #cite.citations then
      error("grokpaper crossref: " .. pandoc.utils.stringify(cite.content) ..
        " mixes cross references and citations; write them separately")
    end
    local out = pandoc.Inlines({})
    for i, c in ipairs(cite.citations) do
      local target = labels[c.id]
      if not target then
        error("grokpaper crossref: unknown reference @" .. c.id ..
          "; labels defined in the document: " .. known_labels())
      end
      if i > 1 then out:insert(pandoc.Str(",")); out:insert(pandoc.Space()) end
      out:extend(c.prefix or {})
      if c.prefix and #c.prefix > 0 then out:insert(pandoc.Space()) end
      local text
      if c.mode == "SuppressAuthor" then
        text = { pandoc.Str(target.number) }
      else
        text = { pandoc.Str(NAMES[target.kind]), pandoc.Space(), pandoc.Str(target.number) }
      end
      out:insert(pandoc.Link(text, "#" .. c.id, "", { class = "crossref" }))
      out:extend(c.suffix or {})
    end
    return out
  end })
end

-- Quarto author schema -> {name, affiliation, email} maps pandoc's templates understand.
local function affiliation_names(value, by_id)
  local names = {}
  local list = value
  if pandoc.utils.type(value) ~= "List" then list = { value } end
  for _, a in ipairs(list) do
    if pandoc.utils.type(a) == "table" then
      if a.ref and by_id[pandoc.utils.stringify(a.ref)] then
        table.insert(names, by_id[pandoc.utils.stringify(a.ref)])
      elseif a.name then
        table.insert(names, pandoc.utils.stringify(a.name))
      end
    else
      local s = pandoc.utils.stringify(a)
      table.insert(names, by_id[s] or s)
    end
  end
  return table.concat(names, "; ")
end

local function normalise_authors(meta)
  local authors = meta.author or meta.authors
  if not authors then return meta end
  if pandoc.utils.type(authors) ~= "List" then authors = { authors } end
  local by_id = {}
  if meta.affiliations and pandoc.utils.type(meta.affiliations) == "List" then
    for _, a in ipairs(meta.affiliations) do
      if a.id and a.name then by_id[pandoc.utils.stringify(a.id)] = pandoc.utils.stringify(a.name) end
    end
  end
  local out = pandoc.List({})
  for _, a in ipairs(authors) do
    if pandoc.utils.type(a) == "table" and a.name then
      local aff = a.affiliations or a.affiliation
      out:insert(pandoc.MetaMap({
        name = a.name,
        affiliation = pandoc.MetaInlines({ pandoc.Str(aff and affiliation_names(aff, by_id) or "") }),
        email = a.email or pandoc.MetaInlines({}),
      }))
    else
      out:insert(pandoc.MetaMap({ name = a, affiliation = pandoc.MetaInlines({}), email = pandoc.MetaInlines({}) }))
    end
  end
  meta.author = out
  meta.authors = nil
  return meta
end

local function fold_code(doc)
  if not is_html then return doc end
  return doc:walk({ Div = function(div)
    if div.classes:includes("cell-code") then
      local blocks = pandoc.Blocks({ pandoc.RawBlock("html", "<details class=\"code-fold\"><summary>Code</summary>") })
      blocks:extend(div.content)
      blocks:insert(pandoc.RawBlock("html", "</details>"))
      return blocks
    end
  end })
end

-- "Source: ..." lines under embeds: small and grey in the PDF (the CSS styles the HTML).
local function style_sources(doc)
  if not FORMAT:match("typst") then return doc end
  return doc:walk({ Div = function(div)
    if div.classes:includes("embed-source") then
      local inl = pandoc.Inlines({ pandoc.RawInline("typst", "#align(center, text(size: 8pt, fill: luma(90))[") })
      for _, b in ipairs(div.content) do
        if b.content then inl:extend(b.content) end
      end
      inl:insert(pandoc.RawInline("typst", "])"))
      return pandoc.Para(inl)
    end
  end })
end

function Pandoc(doc)
  doc.meta = normalise_authors(doc.meta)
  doc = number_sections(doc)
  doc = number_blocks(doc)
  doc = resolve_refs(doc)
  doc = fold_code(doc)
  doc = style_sources(doc)
  return doc
end
