--- What the plugin draws: the extmarks over job regions, notifications, and the floating
--- window of an explanation.
local lsp = require('tandem.lsp')

local M = {}

M.ns = vim.api.nvim_create_namespace('tandem')

--- Tells the user something, through vim.notify (so notification plugins show it).
function M.notify(message, level)
  vim.notify(message, level or vim.log.levels.INFO, { title = 'Tandem' })
end

--- The extent of an extmark, normalised (a replaced region can leave its ends swapped).
--- @return integer? srow, integer scol, integer erow, integer ecol
function M.extent(bufnr, mark)
  if not (mark and vim.api.nvim_buf_is_valid(bufnr)) then
    return nil, 0, 0, 0
  end
  local m = vim.api.nvim_buf_get_extmark_by_id(bufnr, M.ns, mark, { details = true })
  if not m or #m == 0 then
    return nil, 0, 0, 0
  end
  local sr, sc = m[1], m[2]
  local er, ec = m[3].end_row or sr, m[3].end_col or sc
  if lsp.before(er, ec, sr, sc) then
    sr, sc, er, ec = er, ec, sr, sc
  end
  return sr, sc, er, ec
end

--- Sets (or moves, given `mark`) a highlight over a region; `extra` overrides the options.
--- @return integer mark
function M.set_mark(bufnr, mark, srow, scol, erow, ecol, extra)
  local opts = {
    id = mark,
    end_row = erow,
    end_col = ecol,
    hl_group = 'TandemStreaming',
    hl_eol = true,
    strict = false,
    priority = 150,
  }
  opts = vim.tbl_extend('force', opts, extra or {})
  return vim.api.nvim_buf_set_extmark(bufnr, M.ns, srow, scol, opts)
end

function M.del_mark(bufnr, mark)
  if mark and vim.api.nvim_buf_is_valid(bufnr) then
    pcall(vim.api.nvim_buf_del_extmark, bufnr, M.ns, mark)
  end
end

--- Shows Markdown in a floating window (filetype markdown), entered when the user is in
--- Normal mode so that `q` closes it at once.
function M.show_markdown(markdown)
  local lines = vim.split(markdown, '\n', { plain = true })
  local _, win = vim.lsp.util.open_floating_preview(lines, 'markdown', {
    focus_id = 'tandem_explanation',
    border = 'rounded',
    title = ' Tandem ',
    max_width = math.max(40, math.floor(vim.o.columns * 0.7)),
    max_height = math.max(8, math.floor(vim.o.lines * 0.6)),
  })
  if win and vim.api.nvim_win_is_valid(win) and vim.api.nvim_get_mode().mode == 'n' then
    vim.api.nvim_set_current_win(win)
  end
  return win
end

return M
