-- :4Tandem task {instruction} in main.rs: the plugin sends the instruction, the buffer and the
-- line; the scripted model edits util.rs (on disk, not open) and then main.rs, and summarises.
-- Both buffers hold the edits, each step was told with vim.notify, the summary opens in a
-- Markdown float that names both files, and :Tandem reject puts both buffers back exactly.
local H = dofile(vim.fs.dirname(debug.getinfo(1, 'S').source:sub(2)) .. '/helpers.lua')
H.setup()

local MAIN_EDITED = {
  'mod util;',
  '',
  'fn main() {',
  '    let x = util::double(1);',
  '    println!("{x}");',
  '}',
}
local UTIL_EDITED = { 'pub fn double(x: i32) -> i32 {', '    x * 2', '}' }
local INSTRUCTION = 'rename twice to double everywhere'

local function summary_window()
  for _, win in ipairs(vim.api.nvim_list_wins()) do
    if vim.api.nvim_win_get_config(win).relative ~= '' then
      local text = H.text(vim.api.nvim_win_get_buf(win))
      if text:find('Renamed `twice` to `double`', 1, true) then
        return win
      end
    end
  end
end

H.run(function()
  local buf = vim.api.nvim_get_current_buf()
  H.client(buf)
  local main_original = H.lines(buf)
  local util_path = vim.fs.joinpath(vim.fs.dirname(vim.api.nvim_buf_get_name(buf)), 'util.rs')
  local util_original = vim.fn.readfile(util_path)
  H.check(vim.fn.bufloaded(util_path) == 0, 'util.rs is open before the task')
  -- What the plugin tells the user, and the command's argument as it sends it.
  local said = {}
  local notify = vim.notify
  vim.notify = function(message, ...)
    table.insert(said, message)
    return notify(message, ...)
  end
  local sent
  local lsp = require('tandem.lsp')
  local execute = lsp.execute
  lsp.execute = function(client, command, argument, ...)
    if command == 'tandem.task' then
      sent = argument
    end
    return execute(client, command, argument, ...)
  end

  vim.cmd('4Tandem task ' .. INSTRUCTION)
  H.check(sent ~= nil, 'no tandem.task was sent')
  H.check(sent.instruction == INSTRUCTION, 'the instruction sent: ' .. vim.inspect(sent))
  H.check(sent.uri == vim.uri_from_bufnr(buf), 'the uri sent: ' .. vim.inspect(sent))
  local line4 = { start = { line = 3, character = 0 }, ['end'] = { line = 4, character = 0 } }
  H.check(vim.deep_equal(sent.range, line4), 'the range sent: ' .. vim.inspect(sent))

  local done = H.wait_finished(1)
  H.check(done.status == 'done' and done.action == 'task', 'the task ended ' .. vim.inspect(done))
  local files = done.result and done.result.files or {}
  H.check(#files == 2, 'the task names the files it touched: ' .. vim.inspect(done.result))
  H.expect_lines(buf, MAIN_EDITED, 'main.rs after the task')
  local util = vim.fn.bufnr(util_path)
  H.check(util > 0 and vim.api.nvim_buf_is_loaded(util), 'util.rs has no loaded buffer')
  H.expect_lines(util, UTIL_EDITED, 'util.rs after the task')

  -- Every step was told as it happened.
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
  local all_said = table.concat(said, '\n')
  H.check(told('task step 1', 'edit_file', 'util.rs'), 'step 1 was not told:\n' .. all_said)
  H.check(told('task step 2', 'edit_file', 'main.rs'), 'step 2 was not told:\n' .. all_said)

  -- The summary, in a float like an explanation's, with the files.
  local win
  H.wait('a float with the summary', function()
    win = summary_window()
    return win ~= nil
  end)
  local float_buf = vim.api.nvim_win_get_buf(win)
  H.check(vim.bo[float_buf].filetype == 'markdown', 'the float is ' .. vim.bo[float_buf].filetype)
  local summary = H.text(float_buf)
  H.check(
    summary:find('`main.rs`', 1, true) and summary:find('`util.rs`', 1, true),
    'the summary does not name the files:\n' .. summary
  )
  H.check(told('task done', '2 file(s) changed'), 'the end was not told:\n' .. all_said)
  -- Both buffers wait for the decision, with the keys.
  for _, b in ipairs({ buf, util }) do
    local key
    vim.api.nvim_buf_call(b, function()
      key = vim.fn.maparg('<leader>tr', 'n', false, true)
    end)
    H.check(key.buffer == 1, 'no reject key in buffer ' .. vim.api.nvim_buf_get_name(b))
  end
  if vim.api.nvim_get_current_win() == win then
    vim.api.nvim_feedkeys('q', 'mx', false)
  end
  H.wait('q to close the float', function()
    return not vim.api.nvim_win_is_valid(win)
  end)
  H.check(vim.api.nvim_get_current_buf() == buf, 'back in main.rs')

  vim.cmd('Tandem reject')
  H.wait('both files to come back', function()
    local main_back = vim.deep_equal(H.lines(buf), main_original)
    return main_back and vim.deep_equal(H.lines(util), util_original)
  end)
  H.expect_lines(buf, main_original, 'main.rs after the reject')
  H.expect_lines(util, util_original, 'util.rs after the reject')
  H.wait('the reject keys to go', function()
    for _, b in ipairs({ buf, util }) do
      local key
      vim.api.nvim_buf_call(b, function()
        key = vim.fn.maparg('<leader>tr', 'n', false, true)
      end)
      if key.buffer == 1 then
        return false
      end
    end
    return true
  end)
  H.wait('the reject to be told', function()
    return told('job ' .. tostring(done.jobId) .. ' rejected')
  end)
  vim.notify = notify
end)
