-- :'<,'>Tandem explain on a characterwise selection sends that range, and shows the model's
-- explanation in a Markdown float that q closes.
local H = dofile(vim.fs.dirname(debug.getinfo(1, 'S').source:sub(2)) .. '/helpers.lua')
H.setup()

local function explanation_window()
  for _, win in ipairs(vim.api.nvim_list_wins()) do
    if vim.api.nvim_win_get_config(win).relative ~= '' then
      local text = H.text(vim.api.nvim_win_get_buf(win))
      if text:find('the sum of `a` and `b`', 1, true) then
        return win
      end
    end
  end
end

H.run(function()
  local buf = vim.api.nvim_get_current_buf()
  H.client(buf)
  -- The command's argument, as the plugin sends it.
  local sent
  local lsp = require('tandem.lsp')
  local execute = lsp.execute
  lsp.execute = function(client, command, argument, ...)
    if command == 'tandem.explain' then
      sent = argument
    end
    return execute(client, command, argument, ...)
  end
  -- A characterwise selection of `a + b`, then :'<,'>Tandem explain.
  vim.cmd('normal! 2G5|v4l\27')
  vim.cmd("'<,'>Tandem explain")
  local want = { start = { line = 1, character = 4 }, ['end'] = { line = 1, character = 9 } }
  H.check(sent and vim.deep_equal(sent.range, want), 'the range sent: ' .. vim.inspect(sent))
  local done = H.wait_finished(1)
  H.check(done.status == 'done' and done.action == 'explain', 'job ended ' .. vim.inspect(done))
  local win
  H.wait('a float with the explanation', function()
    win = explanation_window()
    return win ~= nil
  end)
  local float_buf = vim.api.nvim_win_get_buf(win)
  H.check(vim.bo[float_buf].filetype == 'markdown', 'the float is ' .. vim.bo[float_buf].filetype)
  H.check(vim.api.nvim_get_current_win() == win, 'the float is not focused')
  local source = { 'fn add(a: i32, b: i32) -> i32 {', '    a + b', '}' }
  H.expect_lines(buf, source, 'the explained buffer')
  vim.api.nvim_feedkeys('q', 'mx', false)
  H.wait('q to close the float', function()
    return not vim.api.nvim_win_is_valid(win)
  end)
end)
