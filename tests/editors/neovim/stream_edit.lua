-- `:Tandem edit {instruction}` streams into the buffer: with every chunk held until released,
-- the buffer goes through several states before the job ends, the region is marked while it
-- streams, and progress arrives.
local H = dofile(vim.fs.dirname(debug.getinfo(1, 'S').source:sub(2)) .. '/helpers.lua')
H.setup()

local states = {}
local progress = 0
vim.api.nvim_create_autocmd('LspProgress', {
  callback = function()
    progress = progress + 1
  end,
})

H.run(function()
  local buf = vim.api.nvim_get_current_buf()
  H.client(buf)
  vim.api.nvim_buf_attach(buf, false, {
    on_lines = function()
      if #H.finished == 0 then
        local text = H.text(buf)
        if states[#states] ~= text then
          table.insert(states, text)
        end
      end
    end,
  })
  local reply = { '```rust\n', '    let a = 1;\n', '    let b = 2;\n', '    let c = 3;\n', '```\n' }
  H.push(reply, { gated = true })
  vim.cmd('2Tandem edit use three variables')
  -- The stream's preamble and the opening fence.
  H.release(2)
  for i, want in ipairs({ 'let a = 1;', 'let b = 2;', 'let c = 3;' }) do
    H.release(1)
    H.wait('"' .. want .. '" to stream in', function()
      return H.text(buf):find(want, 1, true) ~= nil
    end)
    H.check(#H.finished == 0, 'the job ended before the stream did: ' .. vim.inspect(H.finished[1]))
    local marks = H.marks(buf, 'TandemStreaming')
    H.check(#marks == 1, 'the streaming region is not marked')
    -- It covers the lines streamed so far and the old line they have not replaced yet (the
    -- streaming diff): rows 1 to 2 + i (exclusive), whole lines.
    local extent = { marks[1][2], marks[1][3], marks[1][4].end_row, marks[1][4].end_col }
    H.check(vim.deep_equal(extent, { 1, 0, 2 + i, 0 }), 'the streaming mark is at ' .. vim.inspect(extent))
    H.check(H.text(buf):find('let x = 1;', 1, true), 'the old line left before the stream ended')
  end
  -- The closing fence, the finish and usage chunks, and [DONE] (extra permits are harmless).
  H.release(10)
  local done = H.wait_finished(1)
  H.check(done.status == 'done', 'job ended ' .. vim.inspect(done))
  H.expect_lines(buf, {
    'fn main() {',
    '    let a = 1;',
    '    let b = 2;',
    '    let c = 3;',
    '    println!("{x}");',
    '}',
  }, 'the edited buffer')
  local final = H.text(buf)
  local intermediate = vim.tbl_filter(function(state)
    return state ~= final
  end, states)
  H.check(
    #intermediate >= 2,
    'the buffer went through ' .. #intermediate .. ' intermediate states before the job ended:\n'
      .. table.concat(states, '\n---\n')
  )
  -- The streaming diff: every state the buffer went through kept the function whole (the old
  -- code not replaced yet stays below the new), so its braces balance and it ends with `}`.
  for _, state in ipairs(states) do
    local _, opening = state:gsub('{', '')
    local _, closing = state:gsub('}', '')
    H.check(opening == closing and vim.endswith(vim.trim(state), '}'), 'a state without its closing brace:\n' .. state)
  end
  H.check(#H.marks(buf, 'TandemStreaming') == 0, 'the streaming mark outlived the job')
  H.check(#H.marks(buf, 'TandemReview') == 1, 'the finished edit is not marked for review')
  H.check(progress > 0, 'no $/progress reached LspProgress')
  local requests = H.requests()
  H.check(#requests == 1, 'model requests: ' .. #requests)
  local prompt = vim.json.encode(requests[1].body)
  H.check(prompt:find('use three variables', 1, true) ~= nil, 'the prompt lacks the instruction')
end)
