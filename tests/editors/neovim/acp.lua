-- :Tandem fix run by an ACP agent (model.provider = "acp", the scripted agent whose command is
-- TANDEM_ACP_COMMAND, a JSON list): the agent reads add.rs, asks leave to edit it (the stock
-- window/showMessageRequest handler asks through vim.ui.select, answered "Allow"), writes the
-- fix and says what it did. The buffer holds the fix, the question named the agent's title and
-- offered its options, the finished fix ends like a task (the agent's words and the file in a
-- float, the reject key in the buffer), and :Tandem reject puts the buffer back exactly.
local H = dofile(vim.fs.dirname(debug.getinfo(1, 'S').source:sub(2)) .. '/helpers.lua')
H.setup({
  settings = {
    model = { provider = 'acp', command = vim.json.decode(H.env('TANDEM_ACP_COMMAND')) },
  },
})

local FIXED = { 'fn add(a: i32, b: i32) -> i32 {', '    a + b', '}' }

--- Whether `buf` has the buffer-local reject key.
local function reject_key(buf)
  local key
  vim.api.nvim_buf_call(buf, function()
    key = vim.fn.maparg('<leader>tr', 'n', false, true)
  end)
  return key.buffer == 1
end

local function summary_window()
  for _, win in ipairs(vim.api.nvim_list_wins()) do
    if vim.api.nvim_win_get_config(win).relative ~= '' then
      local text = H.text(vim.api.nvim_win_get_buf(win))
      if text:find('Fixed `add`', 1, true) then
        return win
      end
    end
  end
end

H.run(function()
  local buf = vim.api.nvim_get_current_buf()
  H.client(buf)
  local original = H.lines(buf)
  -- The permission question as the stock handler asks it, answered "Allow".
  local asked = {}
  vim.ui.select = function(items, opts, on_choice)
    local titles = {}
    local allow
    for i, item in ipairs(items) do
      table.insert(titles, item.title)
      if item.title == 'Allow' then
        allow = i
      end
    end
    table.insert(asked, { prompt = opts.prompt, titles = titles })
    on_choice(allow and items[allow] or nil, allow)
  end
  -- What the plugin tells the user.
  local said = {}
  local notify = vim.notify
  vim.notify = function(message, ...)
    table.insert(said, message)
    return notify(message, ...)
  end
  local function told(...)
    for _, message in ipairs(said) do
      local all = true
      for _, part in ipairs({ ... }) do
        all = all and message:find(part, 1, true) ~= nil
      end
      if all then
        return true
      end
    end
    return false
  end

  vim.cmd('1Tandem fix')
  local done = H.wait_finished(1)
  H.check(done.status == 'done' and done.action == 'fix', 'the fix ended ' .. vim.inspect(done))
  H.expect_lines(buf, FIXED, 'add.rs after the fix')

  H.check(#asked == 1, 'one permission question: ' .. vim.inspect(asked))
  H.check(
    asked[1].prompt:find('asks to Edit add.rs', 1, true),
    'the question names the title: ' .. asked[1].prompt
  )
  H.check(
    vim.deep_equal(asked[1].titles, { 'Allow', 'Always allow', 'Reject' }),
    "the agent's options: " .. vim.inspect(asked[1].titles)
  )
  local answer = done.result and done.result.markdown or ''
  H.check(answer:find('permission: allow-once', 1, true), 'the agent heard: ' .. answer)
  local read = 'read: fn add(a: i32, b: i32) -> i32 { a + }'
  H.check(answer:find(read, 1, true), 'it read: ' .. answer)
  local files = done.result.files
  local expected = { { uri = vim.uri_from_bufnr(buf), created = false } }
  H.check(vim.deep_equal(files, expected), 'the files it changed: ' .. vim.inspect(files))

  -- Ended like a task: the agent's words and the file in a float, the decision in the buffer.
  local win
  H.wait('a float with the summary', function()
    win = summary_window()
    return win ~= nil
  end)
  local summary = H.text(vim.api.nvim_win_get_buf(win))
  -- Named relative to Neovim's folder, the project's parent.
  H.check(summary:find('add.rs`', 1, true), 'the summary does not name the file:\n' .. summary)
  local all_said = table.concat(said, '\n')
  H.check(told('fix done', '1 file(s) changed (add.rs)'), 'the end was not told:\n' .. all_said)
  H.check(told('fix step', 'permission'), 'the permission step was not told:\n' .. all_said)
  H.check(reject_key(buf), 'no reject key in add.rs')
  if vim.api.nvim_get_current_win() == win then
    vim.api.nvim_feedkeys('q', 'mx', false)
  end
  H.wait('q to close the float', function()
    return not vim.api.nvim_win_is_valid(win)
  end)
  H.check(vim.api.nvim_get_current_buf() == buf, 'back in add.rs')

  vim.cmd('Tandem reject')
  H.wait('the original text to come back', function()
    return vim.deep_equal(H.lines(buf), original)
  end)
  H.expect_lines(buf, original, 'add.rs after the reject')
  H.wait('the reject key to go', function()
    return not reject_key(buf)
  end)
  H.wait('the reject to be told', function()
    return told('job ' .. tostring(done.jobId) .. ' rejected')
  end)
  vim.notify = notify
end)
