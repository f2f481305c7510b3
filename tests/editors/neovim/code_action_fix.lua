-- A "Tandem: Fix this" code action runs through vim.lsp.buf.code_action (resolved, then its
-- tandem.fix command), the model's fix lands in the buffer, and the accept key keeps it.
local H = dofile(vim.fs.dirname(debug.getinfo(1, 'S').source:sub(2)) .. '/helpers.lua')
H.setup()
H.run(function()
  local buf = vim.api.nvim_get_current_buf()
  H.client(buf)
  local line = H.lines(buf)[1]
  vim.lsp.buf.code_action({
    apply = true,
    filter = function(action)
      return action.title == 'Tandem: Fix this'
    end,
    range = { start = { 1, 0 }, ['end'] = { 1, #line } },
  })
  local done = H.wait_finished(1)
  H.check(done.status == 'done' and done.action == 'fix', 'job ended ' .. vim.inspect(done))
  local fixed = { 'fn add(a: i32, b: i32) -> i32 {', '    a + b', '}' }
  H.expect_lines(buf, fixed, 'the fixed buffer')
  H.check(#H.marks(buf, 'TandemReview') == 1, 'the finished fix is not marked for review')

  -- The buffer-local accept key (the default <leader>ta) keeps it and drops the marks.
  H.check(vim.fn.maparg('<leader>ta', 'n', false, true).buffer == 1, 'no buffer-local accept key')
  vim.api.nvim_feedkeys(vim.keycode('<leader>ta'), 'mx', false)
  H.wait('the review mark to go after accept', function()
    return #H.marks(buf, 'TandemReview') == 0
  end)
  local key = vim.fn.maparg('<leader>ta', 'n', false, true)
  H.check(key.buffer == nil, 'the accept key outlived the review')
  H.expect_lines(buf, fixed, 'the accepted buffer')
end)
