-- Inline completion with the plugin's own ghost text (Neovim 0.11 has no built-in one), in the
-- empty body of `double`: typing `l` asks the server, and <BS> while the model still thinks
-- about it cancels that request. The suggestion for the blank line shows as an extmark at the
-- cursor (its first line inline, the next one below); typing its first characters keeps the
-- rest shown (the server answers the rest from its cache); <M-l> inserts the rest with the
-- cursor after it, and the server counts it accepted. The next suggestion, shown after the
-- accepted text, goes away when the cursor moves up, and the server counts it dismissed. Back
-- in Normal mode, `u` takes back the accepted text and leaves what was typed.
--
-- The Rust side queues the three model answers (the first held back until its request is
-- cancelled) and checks the prefix and suffix the model got.
local H = dofile(vim.fs.dirname(debug.getinfo(1, 'S').source:sub(2)) .. '/helpers.lua')
H.setup({
  settings = {
    completion = {
      provider = 'openai',
      baseUrl = H.env('TANDEM_CONTROL_URL') .. '/v1',
      name = 'test-model',
      debounceMs = 0,
    },
  },
})

local completion = require('tandem.completion')

--- The plugin's ghost text extmarks in `buf`: { row, col, details }.
local function ghosts(buf)
  local found = {}
  local marks = vim.api.nvim_buf_get_extmarks(buf, completion.ns, 0, -1, { details = true })
  for _, mark in ipairs(marks) do
    table.insert(found, { mark[2], mark[3], mark[4] })
  end
  return found
end

--- What the server counted (`tandem.status`'s `completion`).
local function counted(client, buf)
  local answer = client:request_sync(
    'workspace/executeCommand',
    { command = 'tandem.status', arguments = { vim.empty_dict() } },
    5000,
    buf
  )
  H.check(answer and answer.result, 'tandem.status failed: ' .. vim.inspect(answer))
  return answer.result.completion or {}
end

--- Runs `steps` one after the other from timers, while the editor waits for keys in Insert mode
--- (a wait inside a callback would hold the keys back): each step's `ready()` is polled every
--- 20 ms, then its `act()` runs (and may press keys). Fails after H.WAIT without `ready()`.
local function run_steps(steps)
  local i, deadline = 1, vim.uv.now() + H.WAIT
  local function poll()
    local step = steps[i]
    local ok, ready = pcall(step.ready)
    if ok and ready then
      ok, ready = pcall(step.act)
      i, deadline = i + 1, vim.uv.now() + H.WAIT
    elseif ok and vim.uv.now() > deadline then
      ok, ready = false, 'timed out waiting for ' .. step.what
    end
    if not ok then
      H.fail(ready)
    elseif steps[i] then
      vim.defer_fn(poll, 20)
    end
  end
  vim.defer_fn(poll, 20)
end

--- Records the `tandem.completion.*` commands the plugin sends through `client`, and the
--- requests it cancels. The server also counts a suggestion the next request passes over as
--- dismissed, and cancels a request a newer one replaces: only this shows the plugin did.
local function spy(client)
  local sent, cancelled = {}, {}
  local request, cancel = client.request, client.cancel_request
  client.request = function(self, method, params, ...)
    local command = method == 'workspace/executeCommand' and params.command or ''
    if vim.startswith(command, 'tandem.completion.') then
      table.insert(sent, { command, params.arguments[1] })
    end
    return request(self, method, params, ...)
  end
  client.cancel_request = function(self, id)
    table.insert(cancelled, id)
    return cancel(self, id)
  end
  return sent, cancelled
end

local function press(keys, remap)
  vim.api.nvim_feedkeys(vim.keycode(keys), remap and 'mt' or 'nt', false)
end

H.run(function()
  local buf = vim.api.nvim_get_current_buf()
  local client = H.client(buf)
  local offered = client.server_capabilities.inlineCompletionProvider
  H.check(offered, 'the server offers no inline completion')
  local map = vim.fn.maparg('<M-l>', 'i', false, true)
  H.check(map.buffer == 1, 'no buffer-local <M-l> in Insert mode: ' .. vim.inspect(map))
  local link = vim.api.nvim_get_hl(0, { name = 'TandemSuggestion' }).link
  H.check(link == 'Comment', 'TandemSuggestion links to ' .. tostring(link))

  local sent, cancelled = spy(client)
  local shown -- the suggestion shown, as the plugin has it
  local first = 'fn double(x: u32) -> u32 {'
  local accepted = { first, '    let y = x * 2;', '    y', '}' }
  run_steps({
    {
      what = 'the model to be asked after `l`',
      ready = function()
        return #H.requests() == 1
      end,
      act = function()
        press('<BS>')
      end,
    },
    {
      what = 'the suggestion for the blank line to show',
      ready = function()
        return #ghosts(buf) > 0
      end,
      act = function()
        local marks = ghosts(buf)
        H.check(#marks == 1, 'ghost marks: ' .. vim.inspect(marks))
        local row, col, details = unpack(marks[1])
        H.check(row == 1 and col == 4, 'the suggestion is at ' .. row .. ':' .. col)
        H.check(details.virt_text_pos == 'inline', 'shown ' .. tostring(details.virt_text_pos))
        H.check(
          vim.deep_equal(details.virt_text, { { 'let y = x * 2;', 'TandemSuggestion' } }),
          'the first line shows ' .. vim.inspect(details.virt_text)
        )
        H.check(
          vim.deep_equal(details.virt_lines, { { { '    y', 'TandemSuggestion' } } }),
          'the lines below show ' .. vim.inspect(details.virt_lines)
        )
        H.expect_lines(buf, { first, '    ', '}' }, 'the buffer while shown')
        local c = counted(client, buf)
        H.check(c.cancelled == 1, 'the request before <BS> was not cancelled: ' .. vim.inspect(c))
        H.check(#cancelled == 1, 'the plugin cancelled ' .. vim.inspect(cancelled))
        press('let')
      end,
    },
    {
      what = 'the rest of the suggestion, from the cache, after typing `let`',
      ready = function()
        local marks = ghosts(buf)
        return #marks == 1 and marks[1][2] == 7 and counted(client, buf).cacheHits >= 1
      end,
      act = function()
        local text = ghosts(buf)[1][3].virt_text
        H.check(
          vim.deep_equal(text, { { ' y = x * 2;', 'TandemSuggestion' } }),
          'the rest shows ' .. vim.inspect(text)
        )
        shown = completion.shown(buf)
        H.check(shown and shown.id, 'the plugin has no id for it: ' .. vim.inspect(shown))
        press('<M-l>', true)
      end,
    },
    {
      what = '<M-l> to insert the rest of the suggestion',
      ready = function()
        return vim.deep_equal(H.lines(buf), accepted)
      end,
      act = function()
        local pos = vim.api.nvim_win_get_cursor(0)
        H.check(pos[1] == 3 and pos[2] == #accepted[3], 'the cursor is at ' .. vim.inspect(pos))
        H.check(vim.api.nvim_get_mode().mode == 'i', 'mode ' .. vim.api.nvim_get_mode().mode)
      end,
    },
    {
      what = 'the server to count the suggestion accepted',
      ready = function()
        return counted(client, buf).accepted == 1
      end,
      act = function()
        local accept = { 'tandem.completion.accept', { id = shown.id } }
        H.check(vim.deep_equal(sent, { accept }), 'the plugin sent ' .. vim.inspect(sent))
      end,
    },
    {
      what = 'the next suggestion after the accepted text',
      ready = function()
        local marks = ghosts(buf)
        return #marks == 1 and marks[1][1] == 2 and marks[1][2] == #accepted[3]
      end,
      act = function()
        local text = ghosts(buf)[1][3].virt_text
        H.check(
          vim.deep_equal(text, { { ' // doubled', 'TandemSuggestion' } }),
          'the next suggestion shows ' .. vim.inspect(text)
        )
        shown = completion.shown(buf)
        press('<Up>')
      end,
    },
    {
      what = 'moving away to dismiss the suggestion',
      ready = function()
        return #ghosts(buf) == 0 and counted(client, buf).dismissed == 1
      end,
      act = function()
        local c = counted(client, buf)
        H.check(c.accepted == 1 and c.dismissed == 1, 'counted ' .. vim.inspect(c))
        local dismiss = { 'tandem.completion.dismiss', { id = shown.id } }
        H.check(vim.deep_equal(sent[2], dismiss), 'the plugin sent ' .. vim.inspect(sent))
        H.check(vim.deep_equal(H.lines(buf), accepted), 'moving changed the buffer')
        press('<Esc>')
      end,
    },
  })
  -- Line 2's end (a blank line in an empty body), then type in Insert mode; the steps above
  -- end it with <Esc>.
  vim.api.nvim_win_set_cursor(0, { 2, 0 })
  vim.api.nvim_feedkeys(vim.keycode('Al'), 'xtn!', false)
  H.check(vim.api.nvim_get_mode().mode == 'n', 'still in mode ' .. vim.api.nvim_get_mode().mode)
  H.expect_lines(buf, accepted, 'the buffer after Insert mode')

  vim.api.nvim_feedkeys('u', 'xtn', false)
  H.expect_lines(buf, { first, '    let', '}' }, 'the buffer after undo')
end)
