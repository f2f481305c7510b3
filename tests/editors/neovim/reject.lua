-- :Tandem edit without an instruction asks for it; :Tandem reject after the finished edit puts
-- the region back as it was, and :Tandem status lists the job as rejected.
local H = dofile(vim.fs.dirname(debug.getinfo(1, 'S').source:sub(2)) .. '/helpers.lua')
H.setup()
H.run(function()
  local buf = vim.api.nvim_get_current_buf()
  H.client(buf)
  local original = H.lines(buf)
  -- Without an instruction, :Tandem edit asks for one.
  local asked
  vim.ui.input = function(opts, on_confirm)
    asked = opts.prompt
    on_confirm('use two variables')
  end
  vim.cmd('2Tandem edit')
  H.check(asked and asked:find('Tandem edit', 1, true), 'vim.ui.input was not asked: ' .. tostring(asked))
  local done = H.wait_finished(1)
  H.check(done.status == 'done', 'job ended ' .. vim.inspect(done))
  local edited = { 'fn main() {', '    let a = 1;', '    let b = 2;', '    println!("{x}");', '}' }
  H.expect_lines(buf, edited, 'the edited buffer')
  H.check(#H.marks(buf, 'TandemReview') == 1, 'the finished edit is not marked for review')
  vim.cmd('Tandem reject')
  H.wait('the original text to come back', function()
    return vim.deep_equal(H.lines(buf), original)
  end)
  H.wait('the review mark to go', function()
    return #H.marks(buf, 'TandemReview') == 0
  end)
  local key = vim.fn.maparg('<leader>tr', 'n', false, true)
  H.check(key.buffer == nil, 'the reject key outlived the review')
  -- :Tandem status lists the job as rejected, not as the server's "done".
  local said = {}
  local notify = vim.notify
  vim.notify = function(message, ...)
    table.insert(said, message)
    return notify(message, ...)
  end
  vim.cmd('Tandem status')
  H.wait(':Tandem status to answer', function()
    return #said > 0 and said[#said]:find('Tandem: model', 1, true) ~= nil
  end)
  vim.notify = notify
  H.check(said[#said]:find('job 1 edit rejected', 1, true), ':Tandem status said ' .. said[#said])
end)
