-- Preview mode: the job's one edit asks for confirmation. Declined, the buffer stays as it was
-- and the job ends cancelled; applied, the edit lands.
local H = dofile(vim.fs.dirname(debug.getinfo(1, 'S').source:sub(2)) .. '/helpers.lua')
H.setup({ settings = { edits = { mode = 'preview' } } })
H.run(function()
  local buf = vim.api.nvim_get_current_buf()
  H.client(buf)
  local original = H.lines(buf)
  local answers = { 2, 1 } -- Decline, then Apply.
  local asked = {}
  vim.fn.confirm = function(question)
    table.insert(asked, question)
    return table.remove(answers, 1)
  end

  vim.cmd('2Tandem edit use two variables')
  local declined = H.wait_finished(1)
  H.check(declined.status == 'cancelled', 'a declined preview ended ' .. vim.inspect(declined))
  H.check(#asked == 1 and asked[1]:find('Tandem', 1, true), 'confirm() was asked: ' .. vim.inspect(asked))
  H.check(vim.deep_equal(H.lines(buf), original), 'a declined preview changed the buffer')

  vim.cmd('2Tandem edit use two variables')
  local applied = H.wait_finished(2)
  H.check(applied.status == 'done', 'an applied preview ended ' .. vim.inspect(applied))
  H.expect_lines(
    buf,
    { 'fn main() {', '    let a = 1;', '    let b = 2;', '    println!("{x}");', '}' },
    'the buffer after the applied preview'
  )
end)
