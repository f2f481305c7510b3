-- The user types above the region while the edit streams: their line stays, and the job's
-- final text lands below it.
local H = dofile(vim.fs.dirname(debug.getinfo(1, 'S').source:sub(2)) .. '/helpers.lua')
H.setup()
H.run(function()
  local buf = vim.api.nvim_get_current_buf()
  local client = H.client(buf)
  -- With TANDEM_TEST_STOCK_APPLY_EDIT set, Neovim's own applyEdit handler applies the edits
  -- (it drops stale ones and still answers applied: true): the server must converge anyway.
  local stock = os.getenv('TANDEM_TEST_STOCK_APPLY_EDIT') ~= nil
  if stock then
    client.handlers['workspace/applyEdit'] = nil
  end
  local reply = { '```rust\n', '    let a = 1;\n', '    let b = 2;\n', '    let c = 3;\n', '```\n' }
  H.push(reply, { gated = true })
  vim.cmd('2Tandem edit use three variables')
  H.release(3)
  H.wait('the first line to stream in', function()
    return H.text(buf):find('let a = 1;', 1, true) ~= nil
  end)
  vim.api.nvim_buf_set_lines(buf, 0, 0, false, { '// typed by the user' })
  H.release(1)
  H.wait('the second line to stream in', function()
    return H.text(buf):find('let b = 2;', 1, true) ~= nil
  end)
  if not stock then
    -- The region moved down with the typed line, and grew over the streamed lines (followed
    -- by the old line they have not replaced yet: the streaming diff).
    local marks = H.marks(buf, 'TandemStreaming')
    H.check(#marks == 1, 'the streaming region is not marked')
    local extent = { marks[1][2], marks[1][3], marks[1][4].end_row, marks[1][4].end_col }
    H.check(vim.deep_equal(extent, { 2, 0, 5, 0 }), 'the streaming mark is at ' .. vim.inspect(extent))
  end
  vim.api.nvim_buf_set_text(buf, 0, 0, 0, 0, { '// and more ' })
  H.release(10)
  local done = H.wait_finished(1)
  H.check(done.status == 'done', 'job ended ' .. vim.inspect(done))
  H.expect_lines(buf, {
    '// and more // typed by the user',
    'fn main() {',
    '    let a = 1;',
    '    let b = 2;',
    '    let c = 3;',
    '    println!("{x}");',
    '}',
  }, 'the buffer after typing during the stream')
  if stock then
    local messages = vim.fn.execute('messages')
    H.check(messages:find('Workspace edit', 1, true), 'the stock handler did not run: ' .. messages)
    -- Quiet: the stock client prints the label of every edit it gets; only the first carries
    -- one. (It also prints "newer than edits" for each edit the typing made stale.)
    local _, labels = messages:gsub('Workspace edit', '')
    H.check(labels == 1, 'labels printed: ' .. labels .. '\n' .. messages)
    local lines = #vim.split(vim.trim(messages), '\n')
    H.check(lines <= 5, 'the job printed ' .. lines .. ' lines:\n' .. messages)
  end
end)
