-- :Tandem implement at the cursor sends the cursor's position and fills in the body. The model's
-- function streams in line by line (gated): the buffer keeps the old body below the new lines
-- until they pass it (the streaming diff), so the function never loses its closing brace.
local H = dofile(vim.fs.dirname(debug.getinfo(1, 'S').source:sub(2)) .. '/helpers.lua')
H.setup()
H.run(function()
  local buf = vim.api.nvim_get_current_buf()
  H.client(buf)
  local states = {}
  vim.api.nvim_buf_attach(buf, false, {
    on_lines = function()
      table.insert(states, H.text(buf))
    end,
  })
  vim.api.nvim_win_set_cursor(0, { 2, 6 })
  vim.cmd('Tandem implement')
  -- The preamble, the fence and the signature line (the same as the old one: nothing changes).
  H.release(3)
  H.release(1)
  H.wait('the new body line to stream in', function()
    return H.text(buf):find('x * 2', 1, true) ~= nil
  end)
  H.expect_lines(
    buf,
    { 'fn double(x: u32) -> u32 {', '    x * 2', '    todo!()', '}' },
    'the buffer while the old body is not passed yet'
  )
  H.release(10)
  local done = H.wait_finished(1)
  H.check(done.status == 'done' and done.action == 'implement', 'job ended ' .. vim.inspect(done))
  H.expect_lines(buf, { 'fn double(x: u32) -> u32 {', '    x * 2', '}' }, 'the implemented buffer')
  H.check(#H.marks(buf, 'TandemReview') == 1, 'the finished edit is not marked for review')
  H.check(#states >= 2, 'the buffer changed ' .. #states .. ' times')
  for _, state in ipairs(states) do
    H.check(vim.endswith(vim.trim(state), '}'), 'a state without the closing brace:\n' .. state)
  end
end)
