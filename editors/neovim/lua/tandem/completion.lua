--- Inline completion: while you type in Insert mode, the server's suggestion
--- (`textDocument/inlineCompletion`) shows as ghost text at the cursor; a key accepts it, and
--- moving away or leaving Insert mode dismisses it. The server tells the two apart only through
--- the commands the plugin runs (`tandem.completion.accept` / `tandem.completion.dismiss`).
--- Where Neovim has its own inline completion (`vim.lsp.inline_completion`, 0.12), that shows
--- the suggestions instead and the key accepts through it.
local lsp = require('tandem.lsp')

local M = {}

M.ns = vim.api.nvim_create_namespace('tandem.completion')

local METHOD = 'textDocument/inlineCompletion'
--- `InlineCompletionTriggerKind.Automatic`: asked for because the user typed, not by a key.
local AUTOMATIC = 2

--- @class tandem.Suggestion
--- @field client_id integer
--- @field id integer? the server's id, the argument of its accept and dismiss commands
--- @field text string the whole text to insert (`\n` line ends)
--- @field row integer where it goes (0-based)
--- @field col integer byte column where it goes
--- @field command lsp.Command? what the server wants run when it is accepted
--- @field mark integer? the extmark showing what is left of it

--- @class tandem.CompletionState
--- @field client_id integer
--- @field augroup integer
--- @field timer uv.uv_timer_t the client-side debounce
--- @field request integer? the request in flight
--- @field seen string? changedtick and cursor last handled: TextChangedI and CursorMovedI of one
--- keystroke count once
--- @field tick integer? the changedtick last handled
--- @field shown tandem.Suggestion?

--- @type table<integer, tandem.CompletionState>
local states = {}

local function options()
  return require('tandem').config.completion
end

--- Whether this Neovim has its own inline completion (0.12 and later).
function M.native()
  local inline = vim.lsp.inline_completion
  return type(inline) == 'table'
    and type(inline.enable) == 'function'
    and type(inline.get) == 'function'
end

--- The cursor as (0-based row, byte column) when `bufnr` is the current window's buffer.
--- @return integer? row, integer col
local function cursor(bufnr)
  local win = vim.api.nvim_get_current_win()
  if vim.api.nvim_win_get_buf(win) ~= bufnr then
    return nil, 0
  end
  local pos = vim.api.nvim_win_get_cursor(win)
  return pos[1] - 1, pos[2]
end

local function inserting()
  return vim.api.nvim_get_mode().mode:sub(1, 1) == 'i'
end

--- How many bytes of `s` the user has typed since it was shown (0 when none): nil when the
--- cursor is not on its line after its start, or the text between its start and the cursor is
--- not how it begins.
--- @return integer?
local function typed(bufnr, s)
  local row, col = cursor(bufnr)
  if row ~= s.row or col < s.col then
    return nil
  end
  local line = vim.api.nvim_buf_get_lines(bufnr, row, row + 1, false)[1] or ''
  local prefix = line:sub(s.col + 1, col)
  if s.text:sub(1, #prefix) ~= prefix then
    return nil
  end
  return #prefix
end

--- Shows what is left of `s` after its first `skip` bytes: the first line inline at the cursor,
--- the others as virtual lines below it.
local function draw(bufnr, s, skip)
  local lines = vim.split(s.text:sub(skip + 1), '\n', { plain = true })
  local below = {}
  for i = 2, #lines do
    table.insert(below, { { lines[i], 'TandemSuggestion' } })
  end
  local opts = {
    id = s.mark,
    virt_text_pos = 'inline',
    hl_mode = 'combine',
    priority = 200,
  }
  if lines[1] ~= '' then
    opts.virt_text = { { lines[1], 'TandemSuggestion' } }
  end
  if #below > 0 then
    opts.virt_lines = below
  end
  s.mark = vim.api.nvim_buf_set_extmark(bufnr, M.ns, s.row, s.col + skip, opts)
end

--- Hides the suggestion shown, if any, and returns it.
--- @return tandem.Suggestion?
local function clear(bufnr, state)
  local s = state.shown
  state.shown = nil
  if s and s.mark and vim.api.nvim_buf_is_valid(bufnr) then
    pcall(vim.api.nvim_buf_del_extmark, bufnr, M.ns, s.mark)
  end
  return s
end

--- Hides the suggestion shown and tells the server it was not taken.
local function dismiss(bufnr, state)
  local s = clear(bufnr, state)
  local client = s and s.id and vim.lsp.get_client_by_id(s.client_id)
  if client then
    lsp.execute(client, 'tandem.completion.dismiss', { id = s.id }, function() end, bufnr)
  end
end

--- Stops the debounce and cancels the request in flight (the server then drops its model
--- stream).
local function cancel(state)
  state.timer:stop()
  local id = state.request
  state.request = nil
  local client = id and vim.lsp.get_client_by_id(state.client_id)
  if client then
    lsp.cancel(client, id)
  end
end

--- Shows the first item of the server's answer to a request made at `tick` (the buffer's
--- changedtick, the version the server saw) and (row, col), unless the buffer or the cursor moved
--- on since.
local function on_answer(bufnr, state, client, result, tick, row, col)
  if
    states[bufnr] ~= state
    or not inserting()
    or vim.api.nvim_buf_get_changedtick(bufnr) ~= tick
  then
    return
  end
  local now_row, now_col = cursor(bufnr)
  if now_row ~= row or now_col ~= col then
    return
  end
  local items = type(result) == 'table' and (result.items or result) or {}
  local item = items[1]
  local text = item and item.insertText
  if type(text) == 'table' then
    text = text.value
  end
  if type(text) ~= 'string' or text == '' then
    return
  end
  local s = { client_id = client.id, text = (text:gsub('\r\n?', '\n')), row = row, col = col }
  if item.range then
    local encoding = client.offset_encoding
    s.row, s.col = lsp.to_buf_pos(bufnr, item.range.start, encoding)
    local end_row, end_col = lsp.to_buf_pos(bufnr, item.range['end'], encoding)
    -- Tandem's suggestions go at the cursor (or start before it, over what was typed); one that
    -- would replace text after the cursor is not one this ghost text can show.
    if end_row ~= row or end_col ~= col or s.row ~= row or s.col > col then
      return
    end
  end
  local command = item.command
  s.command = type(command) == 'table' and command or nil
  local argument = s.command and type(command.arguments) == 'table' and command.arguments[1]
  s.id = type(argument) == 'table' and argument.id or nil
  local skip = typed(bufnr, s)
  if not skip or skip >= #s.text then
    return
  end
  -- A newer answer takes the place of the one shown (the server answers the rest of a
  -- suggestion being typed through from its cache): it was neither taken nor turned down.
  clear(bufnr, state)
  state.shown = s
  draw(bufnr, s, skip)
end

--- Asks the server for a suggestion at the cursor, cancelling the request before.
local function request(bufnr)
  local state = states[bufnr]
  local client = state and vim.lsp.get_client_by_id(state.client_id)
  local row, col = cursor(bufnr)
  if not (client and row and inserting()) then
    return
  end
  cancel(state)
  local params = vim.lsp.util.make_position_params(0, client.offset_encoding)
  params.context = { triggerKind = AUTOMATIC }
  local tick = vim.api.nvim_buf_get_changedtick(bufnr)
  local id
  local ok, sent = lsp.request(client, METHOD, params, function(err, result)
    if state.request == id then
      state.request = nil
    end
    if not err then
      on_answer(bufnr, state, client, result, tick, row, col)
    end
  end, bufnr)
  id = ok and sent or nil
  state.request = id
end

--- After a keystroke (or a cursor move) in Insert mode: keeps a suggestion being typed through
--- (showing what is left of it), dismisses one the cursor left, and asks again soon.
local function on_change(bufnr)
  local state = states[bufnr]
  local row, col = cursor(bufnr)
  if not (state and row) then
    return
  end
  local tick = vim.api.nvim_buf_get_changedtick(bufnr)
  local seen = string.format('%d:%d:%d', tick, row, col)
  if state.seen == seen then
    return
  end
  state.seen = seen
  local s = state.shown
  if s then
    -- The cursor moved without typing: the suggestion is left behind.
    local skip = tick ~= state.tick and typed(bufnr, s)
    if skip and skip < #s.text then
      draw(bufnr, s, skip)
    else
      dismiss(bufnr, state)
    end
  end
  state.tick = tick
  cancel(state)
  state.timer:start(
    options().debounce_ms,
    0,
    vim.schedule_wrap(function()
      if states[bufnr] == state then
        request(bufnr)
      end
    end)
  )
end

--- Leaving Insert mode (or the buffer): nothing more is asked for, and what is shown is
--- dismissed.
local function stop(bufnr)
  local state = states[bufnr]
  if state then
    cancel(state)
    dismiss(bufnr, state)
    state.seen = nil
  end
end

--- The clients whose suggestions Neovim's own inline completion shows.
--- @type table<integer, true>
local native_clients = {}

--- Accepts the suggestion shown in `bufnr` (default: the current buffer): inserts what is left
--- of it at the cursor (an undo step of its own), puts the cursor after it and runs the server's
--- command for it. With Neovim's own inline completion, accepts through it.
--- @return boolean accepted false when there is none
function M.accept(bufnr)
  bufnr = bufnr or vim.api.nvim_get_current_buf()
  if next(native_clients) and M.native() then
    return vim.lsp.inline_completion.get({ bufnr = bufnr })
  end
  local state = states[bufnr]
  local s = state and state.shown
  if not s then
    return false
  end
  local skip = typed(bufnr, s)
  if not skip or skip >= #s.text then
    dismiss(bufnr, state)
    return false
  end
  cancel(state)
  clear(bufnr, state)
  local rest = s.text:sub(skip + 1)
  local row, col = cursor(bufnr)
  -- Setting 'undolevels' (even to its own value) closes the undo block of the typing so far:
  -- `u` then takes back the accepted text alone.
  vim.o.undolevels = vim.o.undolevels
  vim.api.nvim_buf_set_text(bufnr, row, col, row, col, vim.split(rest, '\n', { plain = true }))
  local end_row, end_col = lsp.end_of_insert(row, col, rest)
  vim.api.nvim_win_set_cursor(0, { end_row + 1, end_col })
  local client = s.command and vim.lsp.get_client_by_id(s.client_id)
  if client then
    local params = { command = s.command.command, arguments = s.command.arguments }
    lsp.request(client, 'workspace/executeCommand', params, function() end, bufnr)
  end
  return true
end

--- The suggestion shown in `bufnr` (its text, where it goes, the server's id), or nil.
--- @return {text: string, row: integer, col: integer, id: integer?}?
function M.shown(bufnr)
  local state = states[bufnr or vim.api.nvim_get_current_buf()]
  local s = state and state.shown
  if s then
    return { text = s.text, row = s.row, col = s.col, id = s.id }
  end
end

--- The accept key mapped in each buffer (what `detach` takes away).
--- @type table<integer, string>
local mapped = {}

--- Maps the accept key in `bufnr`; when there is nothing to accept, the key does what it does
--- unmapped.
local function map_accept(bufnr)
  local key = options().accept
  if not key then
    return
  end
  vim.keymap.set('i', key, function()
    if not M.accept(bufnr) then
      vim.api.nvim_feedkeys(vim.keycode(key), 'n', false)
    end
  end, { buffer = bufnr, desc = 'Tandem: accept the suggestion' })
  mapped[bufnr] = key
end

local function unmap_accept(bufnr)
  local key = mapped[bufnr]
  mapped[bufnr] = nil
  if key and vim.api.nvim_buf_is_valid(bufnr) then
    pcall(vim.keymap.del, 'i', key, { buffer = bufnr })
  end
end

--- Starts inline completion in `bufnr` for the Tandem `client` (on `LspAttach`), when it is on
--- and the server offers it.
function M.attach(client, bufnr)
  if not options().enabled or not lsp.supports(client, METHOD, bufnr) then
    return
  end
  M.detach(bufnr)
  if M.native() then
    native_clients[client.id] = true
    vim.lsp.inline_completion.enable(true, { client_id = client.id })
    map_accept(bufnr)
    return
  end
  local augroup = vim.api.nvim_create_augroup('tandem.completion.' .. bufnr, { clear = true })
  states[bufnr] = { client_id = client.id, augroup = augroup, timer = assert(vim.uv.new_timer()) }
  vim.api.nvim_create_autocmd({ 'TextChangedI', 'CursorMovedI' }, {
    group = augroup,
    buffer = bufnr,
    callback = function()
      on_change(bufnr)
    end,
  })
  vim.api.nvim_create_autocmd({ 'InsertLeave', 'BufLeave' }, {
    group = augroup,
    buffer = bufnr,
    callback = function()
      stop(bufnr)
    end,
  })
  vim.api.nvim_create_autocmd('BufUnload', {
    group = augroup,
    buffer = bufnr,
    callback = function()
      M.detach(bufnr)
    end,
  })
  map_accept(bufnr)
end

--- Stops inline completion in `bufnr` (the client left, or setup runs again).
function M.detach(bufnr)
  unmap_accept(bufnr)
  local state = states[bufnr]
  if not state then
    return
  end
  stop(bufnr)
  states[bufnr] = nil
  state.timer:close()
  pcall(vim.api.nvim_del_augroup_by_id, state.augroup)
end

--- Stops it everywhere (before setup applies new options).
function M.detach_all()
  for bufnr in pairs(vim.tbl_extend('force', {}, states, mapped)) do
    M.detach(bufnr)
  end
  for client_id in pairs(native_clients) do
    if vim.lsp.get_client_by_id(client_id) then
      vim.lsp.inline_completion.enable(false, { client_id = client_id })
    end
  end
  native_clients = {}
end

return M
