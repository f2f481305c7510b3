-- The user types above AND below a function while `:Tandem implement` streams it, with real
-- keystrokes (`nvim_feedkeys` in insert mode), some of them racing a chunk: every snapshot
-- of the buffer taken while streaming (a timer, every 20 ms) has as many `{` as `}`, the job
-- ends done, and the buffer ends with the user's lines where they typed them and the model's
-- function in place of the old one, character for character.
--
-- With TANDEM_TEST_STOCK_APPLY_EDIT set, Neovim's own applyEdit handler applies the edits (it
-- drops stale ones and still answers applied: true, and prints what it does): the same must
-- hold, and the messages the one job caused must fit on one screen.
local H = dofile(vim.fs.dirname(debug.getinfo(1, 'S').source:sub(2)) .. '/helpers.lua')
H.setup()

--- Most messages one job may leave in `:messages` (one screen).
local MAX_MESSAGES = 10

--- Types `keys` as the user would (through the typeahead, mappings off), from normal mode
--- back to normal mode.
local function type_keys(keys)
  vim.api.nvim_feedkeys(vim.keycode(keys), 'xtn', false)
end

--- Types `before`, staying in the mode it ends in (insert mode, mid-line); while the editor
--- waits there for the next key, `during()` runs (a chunk let out, its edit landing), then
--- `after` is typed, which must end in normal mode.
local function type_racing(before, during, after)
  vim.defer_fn(function()
    local ok, err = pcall(during)
    if not ok then
      H.fail(err)
    end
    vim.api.nvim_feedkeys(vim.keycode(after), 'tn', false)
  end, 0)
  -- With `!` the editor stays in insert mode after `before`, running timers and RPC, until
  -- `after` ends it.
  vim.api.nvim_feedkeys(vim.keycode(before), 'xtn!', false)
  H.check(vim.api.nvim_get_mode().mode == 'n', 'still in mode ' .. vim.api.nvim_get_mode().mode)
end

--- Types `keys` one key every `ms` milliseconds, as a steady typist does (the first key must
--- enter insert mode, the last leave it); `at_key[i]`, when given, runs just before key `i`.
local function type_steadily(keys, ms, at_key)
  local i = 1
  local function next_key()
    i = i + 1
    if at_key[i] then
      local ok, err = pcall(at_key[i])
      if not ok then
        H.fail(err)
      end
    end
    vim.api.nvim_feedkeys(vim.keycode(keys[i]), 'tn', false)
    if i < #keys then
      vim.defer_fn(next_key, ms)
    end
  end
  vim.defer_fn(next_key, ms)
  vim.api.nvim_feedkeys(vim.keycode(keys[1]), 'xtn!', false)
  H.check(vim.api.nvim_get_mode().mode == 'n', 'still in mode ' .. vim.api.nvim_get_mode().mode)
end

--- The keys of `o` (or `O`), `text` one character at a time, and Escape.
local function keys_of(open, text)
  local keys = { open }
  for char in text:gmatch('.') do
    table.insert(keys, char)
  end
  table.insert(keys, '<Esc>')
  return keys
end

--- Lets `n` more chunks out without waiting for the answer (the user keeps typing).
local function release_soon(n)
  local url = H.env('TANDEM_CONTROL_URL') .. '/__scripted/release'
  local body = vim.json.encode({ n = n })
  vim.system({ 'curl', '-sS', '--max-time', '10', '-X', 'POST', url, '--data-binary', body })
end

--- Puts the cursor on the first line that is exactly `line`.
local function cursor_on(buf, line)
  for i, text in ipairs(H.lines(buf)) do
    if text == line then
      vim.api.nvim_win_set_cursor(0, { i, 0 })
      return
    end
  end
  error('no line ' .. vim.inspect(line) .. ' in\n' .. H.text(buf))
end

--- Waits until the buffer holds `text` (streamed in).
local function wait_for(buf, text)
  H.wait(vim.inspect(text) .. ' to stream in', function()
    return H.text(buf):find(text, 1, true) ~= nil
  end)
end

local function count(text, char)
  local _, n = text:gsub(char, '')
  return n
end

H.run(function()
  local buf = vim.api.nvim_get_current_buf()
  local client = H.client(buf)
  local stock = os.getenv('TANDEM_TEST_STOCK_APPLY_EDIT') ~= nil
  if stock then
    client.handlers['workspace/applyEdit'] = nil
  end
  local file = { '// top', 'fn double(x: u32) -> u32 {', '    todo!()', '}', '// bottom' }
  H.expect_lines(buf, file, 'the file')
  -- New lines start with nothing the user did not type (no comment leader from `o`/`O`).
  vim.bo[buf].formatoptions = vim.bo[buf].formatoptions:gsub('[ro]', '')

  -- Snapshots: a timer on the event loop (between whole edits, as a user would see them).
  local snapshots, distinct, bad = 0, {}, nil
  local timer = assert(vim.uv.new_timer())
  timer:start(
    0,
    20,
    vim.schedule_wrap(function()
      if not vim.api.nvim_buf_is_valid(buf) then
        return
      end
      local text = H.text(buf)
      snapshots = snapshots + 1
      distinct[text] = true
      if not bad and count(text, '{') ~= count(text, '}') then
        bad = text
      end
    end)
  )

  H.push({
    '```rust\n',
    'fn double(x: u32) -> u32 {\n',
    '    let y = x;\n',
    '    y * 2\n',
    '}\n',
    '```\n',
  }, { gated = true })
  vim.cmd('messages clear')
  vim.api.nvim_win_set_cursor(0, { 3, 6 })
  vim.cmd('Tandem implement')
  -- The role chunk, the fence and the signature (the same as the old one).
  H.release(3)
  if os.getenv('TANDEM_TEST_TYPE_BEFORE_FIRST_EDIT') then
    -- Typed before the first edit arrives, which the server computes against the text
    -- Neovim opened with (version 0): both handlers apply an edit of version 0 whatever the
    -- buffer's version.
    cursor_on(buf, 'fn double(x: u32) -> u32 {')
    type_keys('O// above 1<Esc>')
    H.release(1)
    wait_for(buf, '    let y = x;')
  else
    H.release(1)
    wait_for(buf, '    let y = x;')
    cursor_on(buf, 'fn double(x: u32) -> u32 {')
    type_keys('O// above 1<Esc>')
  end
  -- Below, typed steadily (a key every 30 ms) while the next line comes: Neovim sends
  -- didChange at most every 150 ms (after a pause the first key at once, the next ones 150 ms
  -- later), so edits computed from one arrive after newer keys: refused by the plugin,
  -- dropped by the stock handler.
  vim.wait(300)
  cursor_on(buf, '// bottom')
  type_steadily(keys_of('o', '// below 1'), 30, { [4] = function()
    release_soon(1)
  end })
  wait_for(buf, '    y * 2')
  -- Above again, half typed while the closing brace comes and its edit lands.
  cursor_on(buf, 'fn double(x: u32) -> u32 {')
  type_racing('O// above', function()
    H.release(1)
    vim.wait(200)
  end, ' 2<Esc>')
  -- Below again, typed steadily while the rest of the stream comes.
  vim.wait(300)
  cursor_on(buf, '// below 1')
  type_steadily(keys_of('o', '// below 2'), 30, { [3] = function()
    release_soon(10)
  end })

  local done = H.wait_finished(1)
  timer:stop()
  timer:close()
  H.check(done.status == 'done' and done.action == 'implement', 'job ended ' .. vim.inspect(done))
  H.check(bad == nil, 'a snapshot while streaming lost a brace:\n' .. tostring(bad))
  local kinds = vim.tbl_count(distinct)
  H.check(kinds >= 4, 'only ' .. kinds .. ' distinct snapshots in ' .. snapshots)
  H.expect_lines(buf, {
    '// top',
    '// above 1',
    '// above 2',
    'fn double(x: u32) -> u32 {',
    '    let y = x;',
    '    y * 2',
    '}',
    '// bottom',
    '// below 1',
    '// below 2',
  }, 'the buffer after typing above and below the stream')

  local messages = vim.trim(vim.fn.execute('messages'))
  local lines = messages == '' and 0 or #vim.split(messages, '\n')
  local handler = stock and 'stock' or 'plugin'
  local report = '%s handler: %d snapshots (%d distinct); :messages after the job, %d line(s):\n%s'
  H.log(string.format(report, handler, snapshots, kinds, lines, messages))
  if stock then
    H.check(messages:find('Workspace edit', 1, true), 'the stock handler did not run: ' .. messages)
  end
  H.check(lines <= MAX_MESSAGES, 'the job printed ' .. lines .. ' lines:\n' .. messages)
end)
